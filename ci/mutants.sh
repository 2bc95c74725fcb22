#!/usr/bin/env bash
# ci/mutants.sh: proof that the fuzz targets catch real heap bugs.
#
# Each mutant is one deliberate bug planted in the heap behind HW_MUTATE(id,
# ...) or `HW_MUTANT == id` (grep src/ for the id), compiled in only when the
# build sets -DHW_MUTANT=id. For each mutant this script builds the libFuzzer
# targets with ASan+UBSan and that bug, then fuzzes from the seed corpus for
# a fixed budget per target, and reports caught (a target crashed: its oracle,
# the validator or a sanitizer fired) or missed.
#
# Usage: bash ci/mutants.sh [--seconds N] [id ...]
#   --seconds N   budget per target and mutant (default 60, the cap)
#   id ...        mutants to run (default: all)
# Exit status: 0 when every mutant run was caught, 1 otherwise.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$HW_ROOT

seconds=60
ids=()
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=$2; shift 2 ;;
	-h | --help) sed -n '2,15p' "$0"; exit 0 ;;
	*) ids+=("$1"); shift ;;
	esac
done

names=(
	""
	"new memory not counted as released (the seed's bug)"
	"released not lowered when released pages are allocated"
	"reuse across chunks loses one side's released count"
	"off-by-one in a summary merge"
	"scavenge touches an in-use page"
	"free does not clear an allocation bit"
	"a stat counted twice on grow"
	"Prepared->Ready call skipped when reusing released pages"
	"fault-on-free not applied"
	"scavenged range not rounded to whole OS pages"
	"memory limit ignored on the allocation path"
	"failed grow leaves partial accounting"
)
[ ${#ids[@]} -gt 0 ] || ids=($(seq 1 $((${#names[@]} - 1))))
targets=(heap_sim_fuzzer pagebits_fuzzer heap_os_fuzzer)

bash "$root/ci/deps.sh" >/dev/null
hw_require cmake cmake
cc=$(hw_clang)
hw_sanitizer_env
# Leaks are the harness's own business (LSan cannot see heap pages); a
# planted bug must be caught by the oracle, the validator or a sanitizer.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
out=$HW_BUILD_ROOT/mutants
mkdir -p "$out"

declare -A verdict by took why
caught=0

# build ID: the fuzz targets with mutant ID (0 = none) into $out/mID.
build() {
	local b="$out/m$1"
	{ hw_configure "$b" -DCMAKE_C_COMPILER="$cc" -DHW_MUTANT="$1" \
		-DHW_FUZZ_ENGINE=libfuzzer '-DHW_SANITIZE=address;undefined' \
		-DHW_BUILD_TESTS=OFF -DHW_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		hw_build "$b" "${targets[@]}"; } >"$out/m$1.log" 2>&1
}

# fuzz ID TARGET: fuzz TARGET of build ID from the corpus for the budget;
# fails when the target crashed.
fuzz() {
	local work="$out/m$1-$2"
	rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
	# Replaying the seeds first catches most mutants in milliseconds;
	# fuzzing from them catches the rest within the budget.
	"$out/m$1/fuzz/$2" -seed=1 -max_total_time="$seconds" -artifact_prefix="$work/artifacts/" \
		"$work/corpus" "$root/corpus/$2/seed" "$root/corpus/$2/regress" >"$work/fuzz.log" 2>&1
}

# The control: without a planted bug every target must survive the same
# budget, or a "caught" below would mean nothing.
build 0 || { tail -20 "$out/m0.log"; hw_die "the unmutated build failed"; }
for t in "${targets[@]}"; do
	fuzz 0 "$t" || { grep -m5 -E 'ERROR|runtime error|SUMMARY' "$out/m0-$t/fuzz.log" >&2 || true
		hw_die "control: $t crashes without any planted bug ($out/m0-$t/fuzz.log)"; }
done
echo "  control   survived ${#targets[@]} targets x ${seconds}s with no planted bug"

for id in "${ids[@]}"; do
	if ! build "$id"; then
		verdict[$id]="BUILD-FAILED"
		tail -20 "$out/m$id.log"
		continue
	fi
	verdict[$id]=missed
	by[$id]=-
	start=$(date +%s)
	for t in "${targets[@]}"; do
		if ! fuzz "$id" "$t"; then
			verdict[$id]=caught
			by[$id]=$t
			# What fired: the harness's report, the validator, a sanitizer.
			why[$id]=$(grep -m1 -oE '(ERROR: heapward[^:]*: |runtime error: |ERROR: AddressSanitizer: |heapward: ).{0,70}' \
				"$out/m$id-$t/fuzz.log" || echo "deadly signal")
			break
		fi
	done
	took[$id]=$(($(date +%s) - start))
	[ "${verdict[$id]}" = caught ] && caught=$((caught + 1))
	printf '  mutant %2d  %-7s  %-16s %4ss  %s\n             %s\n' "$id" "${verdict[$id]}" \
		"${by[$id]}" "${took[$id]}" "${names[$id]}" "${why[$id]:-}"
done

echo
echo "mutant  verdict  caught by        time  bug"
for id in "${ids[@]}"; do
	printf '%6d  %-7s  %-16s %4ss  %s\n' "$id" "${verdict[$id]}" "${by[$id]:--}" \
		"${took[$id]:-0}" "${names[$id]}"
done
echo "score: $caught of ${#ids[@]} mutants caught"
missed=$((${#ids[@]} - caught))
echo "mutants: $caught passed, $missed failed"
[ "$missed" -eq 0 ]

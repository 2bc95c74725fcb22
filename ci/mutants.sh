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

declare -A verdict by took
caught=0
for id in "${ids[@]}"; do
	b="$out/m$id"
	log="$out/m$id.log"
	if ! { hw_configure "$b" -DCMAKE_C_COMPILER="$cc" -DHW_MUTANT="$id" \
		-DHW_FUZZ_ENGINE=libfuzzer '-DHW_SANITIZE=address;undefined' \
		-DHW_BUILD_TESTS=OFF -DHW_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		hw_build "$b" "${targets[@]}"; } >"$log" 2>&1; then
		verdict[$id]="BUILD-FAILED"
		tail -20 "$log"
		continue
	fi
	verdict[$id]=missed
	by[$id]=-
	start=$(date +%s)
	for t in "${targets[@]}"; do
		work="$out/m$id-$t"
		rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
		# Replaying the seeds first catches most mutants in milliseconds;
		# fuzzing from them catches the rest within the budget.
		if ! "$b/fuzz/$t" -seed=1 \
			-max_total_time="$seconds" -artifact_prefix="$work/artifacts/" \
			"$work/corpus" "$root/corpus/$t/seed" "$root/corpus/$t/regress" \
			>"$work/fuzz.log" 2>&1; then
			verdict[$id]=caught
			by[$id]=$t
			break
		fi
	done
	took[$id]=$(($(date +%s) - start))
	[ "${verdict[$id]}" = caught ] && caught=$((caught + 1))
	printf '  mutant %2d  %-7s  %-16s %4ss  %s\n' "$id" "${verdict[$id]}" "${by[$id]}" \
		"${took[$id]}" "${names[$id]}"
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

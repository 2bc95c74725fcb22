#!/usr/bin/env bash
# ci/mutants.sh: proof that the fuzz targets catch real bugs (in the heap, the
# OS layer, the malloc layer and the options parser).
#
# Each mutant is one deliberate bug, a patch ci/mutants/NN-name.patch against
# the sources (production code carries no planted-bug switch). For each
# mutant this script copies the tree to a scratch folder, applies the patch
# (a patch that no longer applies is reported as BUILD-FAILED, never
# skipped), builds the libFuzzer targets with ASan+UBSan there, then fuzzes
# from the seed corpus for a fixed budget per target, and reports caught (a
# target crashed: its oracle, the validator or a sanitizer fired) or missed.
#
# Usage: bash ci/mutants.sh [--seconds N | --replay] [id ...]
#   --seconds N   budget per target and mutant (default 60, the cap; at
#                 least 1)
#   --replay      no fuzzing (CI's mode, ci/job-mutants.sh): one scratch
#                 tree and build, each patch applied, built incrementally
#                 and reverted in turn; a mutant counts as caught only when
#                 replaying the committed corpus (corpus/<target>/seed and
#                 regress) crashes a target. Deterministic, and minutes
#                 instead of hours; a mutant only fuzzing finds needs a
#                 regression input that catches it.
#   id ...        mutants to run, by number, with or without the patch's
#                 leading zero (8 or 08; default: all)
# Exit status: 0 when every mutant run was caught, 1 otherwise, 2 for a
# usage error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$HW_ROOT

seconds=60
replay=0
ids=()
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds)
		[ $# -ge 2 ] || { echo "mutants.sh: --seconds needs a value" >&2; exit 2; }
		seconds=$2
		shift 2
		;;
	--replay)
		replay=1
		shift
		;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "mutants.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*)
		case "$1" in
		'' | *[!0-9]*) echo "mutants.sh: a mutant is a number, not '$1'" >&2; exit 2 ;;
		esac
		ids+=("$((10#$1))")
		shift
		;;
	esac
done
# At least 1: libFuzzer reads -max_total_time=0 as no limit at all.
case "$seconds" in
'' | *[!0-9]* | 0 | 00*)
	echo "mutants.sh: --seconds wants a whole number of at least 1, not '$seconds'" >&2
	exit 2
	;;
esac

# Mutant N is ci/mutants/NN-*.patch; its name is the patch's file name.
declare -A patch_of
for f in "$root"/ci/mutants/[0-9][0-9]-*.patch; do
	n=${f##*/}
	patch_of[$((10#${n%%-*}))]=$f
done
[ ${#patch_of[@]} -gt 0 ] || hw_die "no patches in ci/mutants/"
[ ${#ids[@]} -gt 0 ] || mapfile -t ids < <(printf '%s\n' "${!patch_of[@]}" | sort -n)
for id in "${ids[@]}"; do
	[ -n "${patch_of[$id]:-}" ] || hw_die "no mutant $id in ci/mutants/"
done
name_of() { local n=${patch_of[$1]##*/}; n=${n#*-}; echo "${n%.patch}"; }
targets=(heap_sim_fuzzer pagebits_fuzzer platform_fuzzer heap_os_fuzzer options_fuzzer suppress_fuzzer
	malloc_fuzzer)

# targets_for ID: the targets in the order to try them on mutant ID: the one
# whose code the patch plants its bug in first (so the budget goes to it),
# then the rest.
targets_for() {
	local file first=
	file=$(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "${patch_of[$1]}" | head -n 1)
	case "$file" in
	src/malloc/options.c) first=options_fuzzer ;;
	src/malloc/suppress.c) first=suppress_fuzzer ;;
	src/malloc/*) first=malloc_fuzzer ;;
	esac
	[ -n "$first" ] && echo "$first"
	for t in "${targets[@]}"; do
		[ "$t" = "$first" ] || echo "$t"
	done
}

bash "$root/ci/deps.sh" >/dev/null
hw_require cmake cmake patch patch tar tar
cc=$(hw_clang)
hw_sanitizer_env
# Leaks are the harness's own business (LSan cannot see heap pages); a
# planted bug must be caught by the oracle, the validator or a sanitizer.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
out=$HW_BUILD_ROOT/mutants
mkdir -p "$out"

declare -A verdict by took why
caught=0

# decided ID TARGET LOG: records that TARGET caught mutant ID (TARGET -: it
# was missed) and prints its line.
decided() {
	if [ "$2" != - ]; then
		verdict[$1]=caught
		by[$1]=$2
		caught=$((caught + 1))
		# What fired: the harness's report, the validator, a sanitizer;
		# else the heap's own report (a target's seeds may make expected
		# reports too, so those come last).
		why[$1]=$(grep -m1 -oE '(ERROR: heapward[^:]*: |runtime error: |ERROR: AddressSanitizer: ).{0,70}' "$3" ||
			grep -m1 -oE 'heapward: .{0,70}' "$3" || echo "deadly signal")
	fi
	printf '  mutant %2d  %-7s  %-16s %4ss  %s\n             %s\n' "$1" "${verdict[$1]}" \
		"${by[$1]:--}" "${took[$1]:-0}" "$(name_of "$1")" "${why[$1]:-}"
}

# The table, the score, and the exit status.
summary() {
	echo
	echo "mutant  verdict  caught by        time  bug"
	for id in "${ids[@]}"; do
		printf '%6d  %-7s  %-16s %4ss  %s\n' "$id" "${verdict[$id]}" "${by[$id]:--}" \
			"${took[$id]:-0}" "$(name_of "$id")"
	done
	echo "score: $caught of ${#ids[@]} mutants caught"
	local missed=$((${#ids[@]} - caught))
	echo "mutants: $caught passed, $missed failed"
	[ "$missed" -eq 0 ]
}

flags=(-DCMAKE_C_COMPILER="$cc" -DHW_FUZZ_ENGINE=libfuzzer '-DHW_SANITIZE=address;undefined'
	-DHW_BUILD_TESTS=OFF -DHW_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo)

if [ $replay = 1 ]; then
	t="$out/replay-tree" b="$out/replay-build" log="$out/replay-build.log"
	# replay TARGET: runs TARGET once over the committed corpus (an
	# empty scratch folder first, the one libFuzzer would write to);
	# fails when it crashed. Its output is in $out/replay-TARGET.log.
	replay() {
		rm -rf "$out/replay-new" && mkdir -p "$out/replay-new"
		"$b/fuzz/$1" -runs=0 -timeout=25 -rss_limit_mb=2560 "$out/replay-new" \
			"$t/corpus/$1/seed" "$t/corpus/$1/regress" >"$out/replay-$1.log" 2>&1
	}
	hw_log "control: a clean build replays every target's corpus"
	# A fresh build too: tar keeps the sources' times, so objects left by
	# an earlier run (a mutant's among them) would look up to date.
	{
		rm -rf "$t" "$b" && mkdir -p "$t" &&
			tar -C "$root" --exclude='./build*' --exclude=./.git --exclude=./out \
				--exclude=./fuzz-work -cf - . | tar -C "$t" -xf - &&
			HW_ROOT=$t hw_configure "$b" "${flags[@]}" && hw_build "$b" "${targets[@]}"
	} >"$log" 2>&1 || { tail -20 "$log"; hw_die "the unmutated build failed ($log)"; }
	for tg in "${targets[@]}"; do
		replay "$tg" || { grep -m5 -E 'ERROR|runtime error|SUMMARY' "$out/replay-$tg.log" >&2 || true
			hw_die "control: $tg crashes on its corpus without any planted bug"; }
	done
	echo "  control   ${#targets[@]} targets replay their corpus with no planted bug"
	for id in "${ids[@]}"; do
		start=$(date +%s)
		verdict[$id]=missed
		if ! patch -s -p1 -d "$t" -i "${patch_of[$id]}" >>"$log" 2>&1; then
			verdict[$id]=BUILD-FAILED
			decided "$id" - -
			continue
		fi
		# Build only the targets tried, the one the bug is in first.
		for tg in $(targets_for "$id"); do
			if ! hw_build "$b" "$tg" >>"$log" 2>&1; then
				verdict[$id]=BUILD-FAILED
				tail -20 "$log"
				break
			fi
			if ! replay "$tg"; then
				took[$id]=$(($(date +%s) - start))
				decided "$id" "$tg" "$out/replay-$tg.log"
				break
			fi
		done
		took[$id]=$(($(date +%s) - start))
		[ "${verdict[$id]}" = caught ] || decided "$id" - -
		patch -s -R -p1 -d "$t" -i "${patch_of[$id]}" >>"$log" 2>&1 ||
			hw_die "mutant $id: its patch did not revert ($log)"
	done
	summary
	exit
fi

# build ID: the fuzz targets with mutant ID (0 = none) into $out/mID, from a
# copy of the tree at $out/tID with the mutant's patch applied.
build() {
	local b="$out/m$1" t="$out/t$1"
	{
		rm -rf "$t" && mkdir -p "$t" &&
			tar -C "$root" --exclude='./build*' --exclude=./.git --exclude=./out \
				--exclude=./fuzz-work -cf - . | tar -C "$t" -xf - &&
			if [ "$1" != 0 ]; then patch -p1 -d "$t" -i "${patch_of[$1]}"; fi &&
			HW_ROOT=$t hw_configure "$b" "${flags[@]}" && hw_build "$b" "${targets[@]}"
	} >"$out/m$1.log" 2>&1
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
	start=$(date +%s)
	mapfile -t order < <(targets_for "$id")
	caught_by=- caught_log=-
	for t in "${order[@]}"; do
		if ! fuzz "$id" "$t"; then
			caught_by=$t caught_log="$out/m$id-$t/fuzz.log"
			break
		fi
	done
	took[$id]=$(($(date +%s) - start))
	decided "$id" "$caught_by" "$caught_log"
done
summary

#!/usr/bin/env bash
# ci/fuzz.sh: a libFuzzer campaign over heapward's fuzz targets, on this
# machine, with every core.
#
# Usage: bash ci/fuzz.sh [--seconds N] [--no-install] [TARGET...]
#   --seconds N     fuzzing time per target (default $FUZZ_SECONDS, else 60)
#   --no-install    never call apt-get (fail when a tool is missing)
#   TARGET          any of the fuzz/<target>.options names (default: all)
#
# Steps, in order:
#   1. Installs what it lacks (apt-get: cmake, clang-14, libclang-rt-14-dev,
#      llvm-14), only when missing.
#   2. Builds the libFuzzer targets with ASan and UBSan (HW_TRACKING=asan,
#      HW_DEBUG=1) in build-fuzz/: the named ones only, so a ctest of
#      build-fuzz afterwards reports the others' replays as "Not Run"
#      until they are built (cmake --build build-fuzz).
#   3. Per target: a working corpus in fuzz-work/<target>/corpus, kept from
#      run to run and seeded from corpus/<target>/seed and regress; fuzzes it
#      with -fork=$(nproc) for the time budget (options from
#      fuzz/<target>.options); merges the result (-merge=1) so only inputs
#      that add coverage stay.
#   4. On a finding (crash, leak, timeout, out-of-memory): keeps the input,
#      minimizes it (-minimize_crash=1), copies it into
#      corpus/<target>/regress/ and prints the command that replays it.
#   5. Prints one table: execs/s, coverage (cov/ft), corpus size, new
#      inputs, findings.
#
# Invariants:
#   Z1. The committed corpus is only ever added to by a finding (step 4);
#       fuzzing itself writes only under fuzz-work/ and build-fuzz/.
#   Z2. Exit status: 0 when no target found anything, 1 on any finding, 2
#       when a tool is missing or the build fails.
#
# Locking: one campaign at a time per checkout (fuzz-work/ is shared).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"
work_root="$root/fuzz-work"
seconds=${FUZZ_SECONDS:-60}
install=1
targets=()

while [ $# -gt 0 ]; do
	case "$1" in
	--seconds)
		if [ $# -lt 2 ]; then
			echo "fuzz.sh: --seconds needs a value (see --help)" >&2
			exit 2
		fi
		seconds=$2
		shift 2
		;;
	--seconds=*)
		seconds=${1#--seconds=}
		shift
		;;
	--no-install)
		install=0
		shift
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	-*)
		echo "fuzz.sh: unknown option $1 (see --help)" >&2
		exit 2
		;;
	*)
		targets+=("$1")
		shift
		;;
	esac
done
# At least 1: libFuzzer reads -max_total_time=0 as no limit at all.
case "$seconds" in
'' | *[!0-9]* | 0 | 00*)
	echo "fuzz.sh: --seconds wants a whole number of at least 1, not '$seconds'" >&2
	exit 2
	;;
esac

log() { printf '== %s\n' "$*"; }

# ---- 1. tools ----
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v clang-14 >/dev/null 2>&1 || missing+=(clang-14)
command -v llvm-symbolizer-14 >/dev/null 2>&1 || missing+=(llvm-14)
dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || missing+=(libclang-rt-14-dev)
if [ ${#missing[@]} -gt 0 ]; then
	if [ $install -eq 0 ] || [ "$(id -u)" -ne 0 ]; then
		echo "fuzz.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 2
	fi
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

all_targets=()
for f in "$root"/fuzz/*.options; do
	f=${f##*/}
	all_targets+=("${f%.options}")
done
if [ ${#targets[@]} -eq 0 ]; then
	targets=("${all_targets[@]}")
fi
for t in "${targets[@]}"; do
	if [ ! -f "$root/fuzz/$t.options" ]; then
		echo "fuzz.sh: no target '$t' (have: ${all_targets[*]})" >&2
		exit 2
	fi
done

# ---- 2. build ----
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^HW_FUZZ_ENGINE:STRING=libfuzzer$' "$build/CMakeCache.txt"; then
	echo "fuzz.sh: $build is not a libFuzzer build; remove it first" >&2
	exit 2
fi
log "build $build (clang-14, libFuzzer, ASan+UBSan)"
mkdir -p "$build"
cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_C_COMPILER=clang-14 \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DHW_DEBUG=1 "-DHW_SANITIZE=address;undefined" \
	-DHW_TRACKING=asan -DHW_FUZZ_ENGINE=libfuzzer -DHW_BUILD_TESTS=OFF \
	-DHW_BUILD_BENCH=OFF >"$build/configure.log" 2>&1 || {
	cat "$build/configure.log" >&2
	exit 2
}
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" || exit 2

export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer-14)}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The [libfuzzer] section of fuzz/T.options as -key=value flags; a
# dictionary is named relative to fuzz/.
options_flags() {
	awk -v fuzzdir="$root/fuzz" '
		/^[ \t]*\[/ { sec = $0; gsub(/[][ \t]/, "", sec); next }
		sec != "libfuzzer" || /^[ \t]*([#;]|$)/ { next }
		{
			i = index($0, "="); if (i == 0) next
			k = substr($0, 1, i - 1); v = substr($0, i + 1)
			gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
			if (k == "dict") v = fuzzdir "/" v
			print "-" k "=" v
		}' "$root/fuzz/$1.options"
}

# Content hashes of the files in a directory, one per line, sorted.
hashes() { find "$1" -maxdepth 1 -type f -exec sha1sum {} + 2>/dev/null | cut -d' ' -f1 | sort -u; }

# ---- 3-4. fuzz each target ----
jobs=$(nproc)
findings_total=0
rows=()
for t in "${targets[@]}"; do
	bin="$build/fuzz/$t"
	work="$work_root/$t"
	corpus="$work/corpus"
	art="$work/artifacts"
	mkdir -p "$corpus" "$art"
	rm -f "$art"/*
	for kind in seed regress; do
		src="$root/corpus/$t/$kind"
		[ -d "$src" ] || continue
		for f in "$src"/*; do
			[ -f "$f" ] && [ "${f##*/}" != README ] && cp -n "$f" "$corpus/$kind-${f##*/}"
		done
	done
	before=$(mktemp)
	hashes "$corpus" >"$before"
	mapfile -t flags < <(options_flags "$t")
	log "fuzz $t for ${seconds}s on $jobs cores (${flags[*]})"
	status=0
	"$bin" -fork="$jobs" -max_total_time="$seconds" -artifact_prefix="$art/" \
		"${flags[@]}" "$corpus" >"$work/fuzz.log" 2>&1 || status=$?

	# Merge: keep only what adds coverage (and every seed and regression
	# input, which the merge also keeps when they add coverage).
	merged="$work/merged"
	rm -rf "$merged"
	mkdir -p "$merged"
	if "$bin" -merge=1 -timeout=25 "$merged" "$corpus" >"$work/merge.log" 2>&1; then
		rm -rf "$corpus"
		mv "$merged" "$corpus"
	else
		log "warning: merge of $t failed (see $work/merge.log); corpus left unmerged"
		rm -rf "$merged"
	fi
	size=$(find "$corpus" -maxdepth 1 -type f | wc -l)
	new=$(hashes "$corpus" | comm -13 "$before" - | wc -l)
	rm -f "$before"

	# The fork mode's last status line: "#N: cov: C ft: F corp: K exec/s: E ..."
	last=$(grep -E '^#[0-9]+: cov: ' "$work/fuzz.log" | tail -n 1 || true)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	execs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' <<<"$last")
	# The line's exec/s is the last job's; the campaign's is execs / time.
	secs=$(sed -n 's/.* time: \([0-9]*\)s.*/\1/p' <<<"$last")
	eps=
	if [ -n "$execs" ] && [ -n "$secs" ] && [ "$secs" -gt 0 ]; then
		eps=$((execs / secs))
	fi

	# Parallel jobs often report one bug several times: keep one input per
	# distinct SUMMARY line of its minimized replay.
	found=0
	seen=()
	shopt -s nullglob
	for a in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
		kind=${a##*/}
		kind=${kind%%-*}
		min="$work/minimized-${a##*/}"
		log "$t: $kind input $a; minimizing"
		"$bin" -minimize_crash=1 -runs=20000 -max_total_time=120 -timeout=25 \
			-exact_artifact_path="$min" "$a" >"$work/minimize-${a##*/}.log" 2>&1 || true
		[ -s "$min" ] || cp "$a" "$min"
		what=$( ("$bin" -timeout=25 "$min" 2>&1 || true) | grep -m1 -E '^SUMMARY: |ERROR: libFuzzer' || true)
		[ -n "$what" ] || what=$kind
		what=$(sed -e 's/==[0-9]*==//' -e 's/0x[0-9a-f]*/ADDR/g' <<<"$what")
		dup=0
		for w in "${seen[@]+"${seen[@]}"}"; do
			[ "$w" = "$what" ] && dup=1
		done
		if [ $dup -eq 1 ]; then
			echo "  (same as an earlier finding: $what)"
			continue
		fi
		seen+=("$what")
		found=$((found + 1))
		dest="$root/corpus/$t/regress/$kind-$(sha1sum "$min" | cut -c1-16)"
		cp "$min" "$dest"
		echo "FINDING $t ($kind): ${dest#"$root"/} ($(wc -c <"$dest") bytes)"
		echo "  what:    $what"
		echo "  replay:  ${bin#"$root"/} ${dest#"$root"/}"
		# Only the targets on difftest's drivers print their ops.
		case "$t" in
		heap_sim_fuzzer | heap_os_fuzzer | malloc_fuzzer)
			echo "  as C:    HW_FUZZ_TRACE=1 ${bin#"$root"/} ${dest#"$root"/}"
			;;
		esac
		echo "  log:     ${work#"$root"/}/fuzz.log"
	done
	shopt -u nullglob
	if [ $found -eq 0 ] && [ $status -ne 0 ]; then
		echo "fuzz.sh: $t: libFuzzer exited $status without an artifact; see $work/fuzz.log" >&2
		tail -n 30 "$work/fuzz.log" >&2
		found=1
	fi
	findings_total=$((findings_total + found))
	rows+=("$(printf '%-18s %9s %10s %7s %8s %7s %6s %8s' "$t" "${execs:-?}" "${eps:-?}" \
		"${cov:-?}" "${ft:-?}" "$size" "$new" "$found")")
done

# ---- 5. the table ----
echo
printf '%-18s %9s %10s %7s %8s %7s %6s %8s\n' target execs execs/s cov ft corpus new findings
for r in "${rows[@]}"; do
	echo "$r"
done
echo "(${seconds}s per target on $jobs cores; corpora in ${work_root#"$root"/}/<target>/corpus)"
if [ $findings_total -gt 0 ]; then
	echo "fuzz.sh: $findings_total finding(s): minimized inputs copied into corpus/<target>/regress/"
	exit 1
fi
exit 0

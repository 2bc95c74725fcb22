#!/usr/bin/env bash
# run_preload.sh: one real program, run without and then under
# libheapward-malloc.so (through the `heapward` launcher), must print the
# same; and the library must really have served it.
#
# Owns: the skip rule, the comparison and the proof of loading for every
# test labelled preload (tests/preload/CMakeLists.txt).
#
# Invariants:
#   PL1. Skipped (exit 77, ctest's SKIP_RETURN_CODE) only when the program
#        is not installed (or, with --leaks=lsan, gcc's AddressSanitizer
#        runtime), with a line naming the Debian package; any other problem
#        fails.
#   PL2. The first run has no LD_PRELOAD and no HEAPWARD_OPTIONS; the second
#        differs only by the launcher's two variables (stats_at_exit=1).
#        Their standard outputs must be byte for byte the same and both
#        runs must exit 0.
#   PL3. Loaded and used: the second run's error output must hold heapward's
#        "stats at exit" line with a non-zero "in use" count, or guarded or
#        quarantined objects (the launcher guards every allocation), which
#        only the library's destructor writes, and only after the program
#        allocated from heapward (without the library, or with glibc serving
#        the program, the line is missing or its heaps are empty).
#   PL4. The launcher's leak check is on. With --leaks=none (the default)
#        the run must print no leak report (and exit 0, PL2: a leak would
#        make it exit 23). With --leaks=reported, for a program that does
#        leak at exit (tests/preload/CMakeLists.txt says which and what
#        LeakSanitizer reports for it), the run gets --exitcode=0 (so a
#        process that leaks keeps its status and its parent goes on) and
#        its error output must hold a leak report that ends in heapward's
#        SUMMARY line. With --leaks=any (a build whose tools may or may not
#        leak at exit), --exitcode=0 as well, and nothing is required of
#        the reports.
#   PL5. With --leaks=lsan, as with reported, and a third run under
#        AddressSanitizer's LeakSanitizer (gcc's libasan preloaded, reports
#        to files by log_path) must find the same leaks: the SUMMARY lines
#        of every process, bytes and allocation counts, compared as sorted
#        lists. Both are conservative scans of the same roots, so they
#        agree where the program's leaks do not depend on stale words; the
#        programs given this mode were checked to agree run after run.
#   PL6. Each --option=KEY=VALUE is passed to the launcher as --KEY=VALUE
#        (PL2's second run differs by it too).
#
# Usage: bash run_preload.sh LAUNCHER PROGRAM PACKAGE
#          [--leaks=none|reported|lsan|any] [--option=KEY=VALUE ...] -- COMMAND [ARG ...]
#   PROGRAM is the program under test, whose absence skips the test
#   (COMMAND may reach it through env, bash, ...).
set -euo pipefail
launcher=$1 prog=$2 package=$3
shift 3
leaks=none
case "$1" in
--leaks=none | --leaks=reported | --leaks=lsan | --leaks=any)
	leaks=${1#--leaks=}
	shift
	;;
esac
extra=()
while [[ "$1" == --option=* ]]; do
	extra+=("--${1#--option=}")
	shift
done
[ "$1" = "--" ] && shift
[ "$leaks" != none ] && extra+=(--exitcode=0)
if ! command -v "$prog" >/dev/null 2>&1; then
	echo "SKIP: $prog is not installed (Debian package $package; bash ci/deps.sh installs it)"
	exit 77
fi
asan=
if [ "$leaks" = lsan ]; then
	asan=$(gcc -print-file-name=libasan.so 2>/dev/null || true)
	if [ ! -e "$asan" ]; then
		echo "SKIP: no libasan.so from gcc (Debian package libasan8; bash ci/deps.sh installs gcc)"
		exit 77
	fi
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HW_PRELOAD_TMP=$tmp

rc=0
env -u LD_PRELOAD -u HEAPWARD_OPTIONS "$@" >"$tmp/plain.out" 2>"$tmp/plain.err" || rc=$?
if [ $rc -ne 0 ]; then
	cat "$tmp/plain.err" >&2
	echo "FAIL: $* exited with status $rc without the library"
	exit 1
fi
rc=0
env -u LD_PRELOAD -u HEAPWARD_OPTIONS "$launcher" run --stats_at_exit=1 "${extra[@]}" -- "$@" \
	>"$tmp/heapward.out" 2>"$tmp/heapward.err" || rc=$?
if [ $rc -ne 0 ]; then
	tail -n 20 "$tmp/heapward.err" >&2
	echo "FAIL: $* exited with status $rc under heapward"
	exit 1
fi
if ! cmp -s "$tmp/plain.out" "$tmp/heapward.out"; then
	diff "$tmp/plain.out" "$tmp/heapward.out" | head -n 20
	echo "FAIL: $* printed something else under heapward (lines marked >)"
	exit 1
fi
if ! grep -Eq '^heapward: stats at exit: (heap mapped [0-9]+, in use [1-9]|.*; [1-9][0-9]* guarded objects|.* [1-9][0-9]* quarantined)' \
	"$tmp/heapward.err"; then
	tail -n 20 "$tmp/heapward.err" >&2
	echo "FAIL: no heapward stats line with memory in use: the library was not loaded or not used"
	exit 1
fi
leak_summary='^SUMMARY: heapward: [0-9]+ byte\(s\) leaked in [0-9]+ allocation\(s\)\.$'
if [ "$leaks" = none ] && grep -q 'ERROR: heapward: detected memory leaks' "$tmp/heapward.err"; then
	grep -A 12 'detected memory leaks' "$tmp/heapward.err" | head -n 40 >&2
	echo "FAIL: $* leaked under heapward (a false report unless it really leaks)"
	exit 1
fi
if { [ "$leaks" = reported ] || [ "$leaks" = lsan ]; } && ! grep -Eq "$leak_summary" "$tmp/heapward.err"; then
	tail -n 20 "$tmp/heapward.err" >&2
	echo "FAIL: $* should report its leaks at exit, and no leak report was printed"
	exit 1
fi
if [ "$leaks" = lsan ]; then
	env -u HEAPWARD_OPTIONS LD_PRELOAD="$asan" \
		ASAN_OPTIONS="detect_leaks=1:verify_asan_link_order=0:symbolize=0:log_path=$tmp/lsan" \
		"$@" >/dev/null 2>&1 || true
	ours=$(grep -E "$leak_summary" "$tmp/heapward.err" | sed 's/^SUMMARY: heapward: //' | sort)
	theirs=$(cat "$tmp"/lsan.* 2>/dev/null | grep -E '^SUMMARY: AddressSanitizer: [0-9]+ byte' |
		sed 's/^SUMMARY: AddressSanitizer: //' | sort)
	if [ "$ours" != "$theirs" ]; then
		printf 'heapward:\n%s\nLeakSanitizer:\n%s\n' "$ours" "${theirs:-(no report)}" >&2
		echo "FAIL: $* leaks differently under heapward and under LeakSanitizer"
		exit 1
	fi
	echo "LeakSanitizer agrees: $(echo "$theirs" | tr '\n' ' ')"
fi
echo "PASS: $prog: $(wc -c <"$tmp/plain.out") bytes of output, the same under heapward"
grep -E "$leak_summary" "$tmp/heapward.err" | sed 's/^/leak report: /' || true
grep -E '^heapward: stats at exit' "$tmp/heapward.err" | tail -n 1

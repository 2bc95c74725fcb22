#!/bin/bash
# limited.sh: programs under an address-space limit (`ulimit -v`, RLIMIT_AS;
# platform.h P12) with libheapward-malloc.so, which must run as they run
# without it: the page heap sizes its window and arenas, and the debug mode
# its guarded heap, stack depot and quarantine, to fit in the limit.
#
# Usage: limited.sh LAUNCHER LIBRARY DIR (DIR holds alloc_heavy.py and
# table.sql). Exit 0 when every run matched, 1 on a mismatch, 77 (skip)
# when python3 is missing.
#
#   LM1. python3 (PYTHONMALLOC=malloc) running alloc_heavy.py under a
#        150000 KiB limit prints the same with the library preloaded
#        (stats_at_exit=1: its statistics line proves it was loaded) as
#        without it.
#   LM2. sort under a 100000 KiB limit prints the same under `heapward run`
#        (the debug mode, leak check off: sort leaks a block at exit) as
#        without it, and exits 0.
set -u
launcher=$1 lib=$2 dir=$3
command -v python3 >/dev/null || { echo "python3 is not installed: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

limited() { (ulimit -v "$1" && shift && exec "$@"); }

limited 150000 env PYTHONMALLOC=malloc python3 "$dir/alloc_heavy.py" >"$work/py.plain" 2>&1
limited 150000 env LD_PRELOAD="$lib" HEAPWARD_OPTIONS=stats_at_exit=1 PYTHONMALLOC=malloc \
	python3 "$dir/alloc_heavy.py" >"$work/py.lib" 2>"$work/py.err"
if ! grep -q '^done$' "$work/py.plain"; then
	echo "LM1: python3 does not finish under the limit even without the library:"
	cat "$work/py.plain"
	fail=1
elif ! cmp -s "$work/py.plain" "$work/py.lib" || ! grep -q '^heapward: stats at exit' "$work/py.err"; then
	echo "LM1: python3 under a 150000 KiB limit, preloaded, differs:"
	diff "$work/py.plain" "$work/py.lib" | head -20
	head -20 "$work/py.err"
	fail=1
fi

limited 100000 sort "$dir/table.sql" >"$work/sort.plain" 2>&1
limited 100000 "$launcher" run --detect_leaks=0 -- sort "$dir/table.sql" >"$work/sort.run" 2>"$work/sort.err"
rc=$?
if [ $rc -ne 0 ] || ! cmp -s "$work/sort.plain" "$work/sort.run"; then
	echo "LM2: sort under a 100000 KiB limit and heapward run: status $rc, output differs or:"
	head -20 "$work/sort.err"
	fail=1
fi
[ $fail -eq 0 ] && echo "limited: python3 preloaded and sort under heapward run match their runs without the library"
exit $fail

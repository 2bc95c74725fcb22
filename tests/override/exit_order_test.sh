#!/usr/bin/env bash
# exit_order_test.sh: the leak check at exit runs after every library's
# destructors (src/malloc/debug.c DM5, platform/console.h CN5).
#
# exit_order_prog leaks 37 bytes; the library it links keeps a line of
# output to write in its destructor (as libgfortran keeps its units'
# buffers) and frees there a 100-byte object only it can find. Under the
# launcher (leaks on, exit status 23 on a leak) the line must still be
# written, only the 37 bytes reported, and the status be 23: when the
# check ran in the layer's own destructor, before the library's, the
# leaks ended the process first, the line was lost and the 100 bytes were
# reported too.
#
# Usage: bash exit_order_test.sh PATH-TO-heapward PATH-TO-exit_order_prog
set -uo pipefail
hw=$1
prog=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

check() {
	local name=$1
	shift
	local rc=0
	"$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	local why=""
	[ "$rc" -eq 23 ] || why="status $rc, expected 23"
	[ "$(cat "$tmp/out")" = "written by a library's destructor" ] ||
		why="$why; stdout lost the destructor's line"
	grep -q '^Direct leak of 37 byte(s) in 1 object(s) allocated from:' "$tmp/err" ||
		why="$why; no report of the 37-byte leak"
	grep -q '^SUMMARY: heapward: 37 byte(s) leaked in 1 allocation(s)\.$' "$tmp/err" ||
		why="$why; the summary counts more than the 37-byte leak"
	if [ -n "$why" ]; then
		echo "FAIL $name: ${why#; }"
		echo "--- stdout:"
		cat "$tmp/out"
		echo "--- stderr:"
		cat "$tmp/err"
		fails=$((fails + 1))
	else
		echo "PASS $name"
	fi
}

check "heapward run" "$hw" run -- "$prog"
check "guard=none" "$hw" run --guard=none -- "$prog"
exit $((fails > 0))

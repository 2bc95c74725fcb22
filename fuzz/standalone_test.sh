#!/usr/bin/env bash
# standalone_test.sh: the no-engine replay driver's command line
# (fuzz/standalone_main.c SA1, SA2).
#
# Owns: the checks that an unreadable entry does not stop the rest of its
# directory, that README files in a directory are not inputs, and that a
# command line naming no input is refused.
#
# Usage: bash standalone_test.sh PATH-TO-A-TARGET ONE-INPUT-FILE
set -euo pipefail
target=$1
input=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

rc=0
out=$("$target" -runs=1 2>&1) || rc=$?
[ "$rc" -eq 2 ] && grep -q '^usage: ' <<<"$out" || fail "no input: status $rc: $out"

# a-missing sorts first: a dangling link must not stop z-input.
ln -s "$tmp/nowhere" "$tmp/a-missing"
cp "$input" "$tmp/z-input"
echo "not an input" >"$tmp/README"
rc=0
out=$("$target" "$tmp" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "unreadable entry: status $rc: $out"
grep -q "cannot stat $tmp/a-missing" <<<"$out" || fail "not reported: $out"
grep -q "Running: $tmp/z-input" <<<"$out" || fail "the next entry did not run: $out"
! grep -q "Running: $tmp/README" <<<"$out" || fail "README replayed: $out"
grep -q 'standalone: 1 inputs replayed, some unreadable' <<<"$out" || fail "count: $out"
echo "PASS standalone driver"

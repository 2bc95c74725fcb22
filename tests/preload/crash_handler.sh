#!/bin/bash
# crash_handler.sh: a program's own crash handler under `heapward run`
# (src/override/signals.c, platform/fault.h FH6): Python's faulthandler
# (`python3 -X faulthandler`, which pytest turns on) installs its SIGSEGV
# handler after heapward's. The heap bug's report must still be printed,
# and first; then faulthandler's traceback; then the process dies of the
# SIGSEGV, as it would without heapward.
#
# Usage: crash_handler.sh LAUNCHER DIR (DIR holds stale_write.py). Exit 0
# when both bugs are reported so, 1 otherwise, 77 (skip) when python3 or
# its ctypes is missing.
#
#   CH1. For each bug (overflow, uaf): the report's ERROR line names it,
#        before faulthandler's "Fatal Python error: Segmentation fault",
#        which is followed by the script's line; the status is 139 (128 +
#        SIGSEGV, through the launcher).
set -u
launcher=$1 dir=$2
python3 -c 'import ctypes' 2>/dev/null || { echo "python3 with ctypes is not installed: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
for bug in overflow uaf; do
	case $bug in
	overflow) kind=heap-buffer-overflow ;;
	uaf) kind=heap-use-after-free ;;
	esac
	"$launcher" run -- python3 -X faulthandler "$dir/stale_write.py" $bug >"$work/out" 2>"$work/err"
	rc=$?
	rep=$(grep -n "ERROR: heapward: $kind" "$work/err" | head -1 | cut -d: -f1)
	fh=$(grep -n '^Fatal Python error: Segmentation fault' "$work/err" | head -1 | cut -d: -f1)
	if [ $rc -ne 139 ] || [ -z "$rep" ] || [ -z "$fh" ] || [ "$rep" -ge "$fh" ] ||
		! grep -q 'stale_write.py", line' "$work/err"; then
		echo "CH1: $bug under faulthandler: status $rc (want 139), report at line ${rep:-none}, faulthandler at ${fh:-none}:"
		head -30 "$work/err"
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "crash_handler: both bugs reported before faulthandler's traceback"
exit $fail

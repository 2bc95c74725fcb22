#!/usr/bin/env bash
# jvm.sh: the Java virtual machine under `heapward run`: a runtime that
# takes SIGSEGV as part of its work (its JIT's null checks, among others),
# and a JNI library with heap bugs (src/override/signals.c, platform/fault.h
# FH6: the JVM installs its SIGSEGV handler after heapward's, and heapward's
# stays first).
#
# Invariants:
#   JV1. JvmWork's output under `heapward run` (the launcher's defaults and
#        --exitcode=0, since the JVM leaks at exit) is byte for byte its
#        output without, both runs exit 0, heapward reports no heap error,
#        and heapward served the JVM (its stats line counts guarded
#        objects). Where strace can trace, the run under heapward is traced
#        for signals and must have taken a SIGSEGV at least: a fault of the
#        JVM's own, handed to the JVM's handler through heapward's.
#   JV2. For each bug of jvm_bugs.c (overflow, uaf), with 13-byte objects
#        guarded (only they: the JVM's start-up alone holds more live
#        objects than the default guard budget): the fault traps, and
#        heapward's report names the bug, the object (13 bytes, and where
#        the access fell) and the JNI function's frame at its @marker's
#        file:line; it comes before the JVM's own fatal error log and is
#        the only report: the reads of the faulting page that the JVM's log
#        makes (SafeFetch, its handler recovering) are not reported
#        (fault.h FH8); and the JVM does not exit 0.
#
# Usage: jvm.sh LAUNCHER DIR (DIR holds JvmWork.java and jvm_bugs.c). Exit 0
# when JV1-JV2 hold, 1 otherwise, 77 (skip) when there is no java with the
# JDK's jni.h (Debian package openjdk-17-jdk-headless) or no C compiler.
set -u
launcher=$1 dir=$2
if ! command -v java >/dev/null 2>&1; then
	echo "SKIP: java is not installed (Debian package openjdk-17-jdk-headless)"
	exit 77
fi
jhome=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.home = //p')
if [ ! -e "$jhome/include/jni.h" ] || ! command -v cc >/dev/null 2>&1; then
	echo "SKIP: no jni.h under '$jhome' or no cc (Debian packages openjdk-17-jdk-headless, gcc)"
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
# The JVM's fatal error log goes to its standard output, with its details in
# a file: kept in $work, with no core dump attempted.
jopts=(-XX:ErrorFile="$work/hs_err_%p.log" -XX:-CreateCoredumpOnCrash)
fail=0

# JV1
env -u LD_PRELOAD -u HEAPWARD_OPTIONS java "${jopts[@]}" "$dir/JvmWork.java" \
	>plain.out 2>plain.err
rc=$?
trace=()
if command -v strace >/dev/null 2>&1 && strace -f -qq -o /dev/null true 2>/dev/null; then
	trace=(strace -f -qq -e trace=none -e signal=SIGSEGV -o "$work/signals")
else
	echo "note: strace cannot trace here; the JVM's own faults are not counted"
fi
env -u LD_PRELOAD -u HEAPWARD_OPTIONS "${trace[@]}" "$launcher" run --exitcode=0 \
	--stats_at_exit=1 -- java "${jopts[@]}" "$dir/JvmWork.java" >heapward.out 2>heapward.err
hrc=$?
faults=$( ((${#trace[@]})) && grep -c 'SIGSEGV' signals)
if [ $rc -ne 0 ] || [ $hrc -ne 0 ] || ! cmp -s plain.out heapward.out ||
	grep 'ERROR: heapward' heapward.err | grep -vq 'detected memory leaks' ||
	! grep -Eq '^heapward: stats at exit: .*; [1-9][0-9]* guarded objects' heapward.err ||
	{ ((${#trace[@]})) && [ "${faults:-0}" -lt 1 ]; }; then
	echo "JV1: status $rc without heapward, $hrc under it; SIGSEGVs taken: ${faults:-not counted}"
	diff plain.out heapward.out | head -n 10
	grep -v '^    #' heapward.err | head -n 30
	fail=1
else
	echo "JV1: the same output ($(tr '\n' ' ' <plain.out)), ${faults:-uncounted} SIGSEGV(s) of the JVM's own passed through"
fi

# JV2
cc -g -O0 -fno-omit-frame-pointer -shared -fPIC -I"$jhome/include" -I"$jhome/include/linux" \
	-o libjvmbugs.so "$dir/jvm_bugs.c" || exit 1
for bug in overflow uaf; do
	case $bug in
	overflow) want='heap-buffer-overflow' where='0 bytes after the end of 13-byte region' ;;
	uaf) want='heap-use-after-free' where='0 bytes inside of a freed 13-byte region' ;;
	esac
	line=$(grep -n "@$bug" "$dir/jvm_bugs.c" | cut -d: -f1)
	env -u LD_PRELOAD -u HEAPWARD_OPTIONS "$launcher" run --guard_align=1 --guard_min=13 \
		--guard_max=13 --detect_leaks=0 -- java "${jopts[@]}" -Djava.library.path="$work" \
		"$dir/JvmWork.java" $bug >$bug.out 2>&1
	brc=$?
	rep=$(grep -n "ERROR: heapward: $want on address" $bug.out | head -n 1 | cut -d: -f1)
	jvm=$(grep -n 'A fatal error has been detected by the Java Runtime Environment' $bug.out |
		head -n 1 | cut -d: -f1)
	reports=$(grep -c 'ERROR: heapward' $bug.out)
	if [ $brc -eq 0 ] || [ -z "$rep" ] || [ -z "$jvm" ] || [ "$rep" -ge "$jvm" ] ||
		[ "$reports" -ne 1 ] ||
		! grep -q "$where" $bug.out ||
		! grep -Eq "^    #0 0x[0-9a-f]+ in Java_JvmWork_$bug .*jvm_bugs.c:$line:" $bug.out ||
		! grep -q "^SUMMARY: heapward: $want .*jvm_bugs.c:$line:.* in Java_JvmWork_$bug" \
			$bug.out; then
		echo "JV2: $bug: status $brc, heapward's report at line ${rep:-none}" \
			"($reports in all), the JVM's log at ${jvm:-none}:"
		head -n 40 $bug.out
		fail=1
	else
		echo "JV2: $bug: $want at jvm_bugs.c:$line reported before the JVM's log (status $brc)"
	fi
done
exit $fail

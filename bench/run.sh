#!/bin/sh
# run.sh: builds the benchmarks (gcc -O2 release) and runs them all,
# printing their tables: heap scaling (heap_bench), scavenge overhead
# (scavenge_bench), what scavenges cost later allocations (refault_bench),
# background scavenger pacing (pacing_bench), the malloc layer against
# glibc malloc (malloc_bench), what the debug mode costs per pair
# (debug_bench), how soon freed memory leaves the resident set
# under heapward's preload library and its peers (memreturn.sh, peers whose
# library is missing are skipped), the preload tests' real programs under
# the same allocators (realprog.sh), and heap_bench's workload on Go's page
# allocator (go_pagealloc.sh, skipped when go is not installed). About
# eight minutes on a 2-core machine; docs/benchmarks.md explains every
# figure.
#
# Usage: bench/run.sh [--no-go]   (env: BUILD_DIR, default build-bench)
# Exit status: non-zero when a build or a benchmark's own checks fail; a
# MISS against a target is a result, not a failure.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
go=1
for a in "$@"; do
	case $a in
	--no-go) go=0 ;;
	*) echo "usage: bench/run.sh [--no-go]" >&2; exit 2 ;;
	esac
done

. "$root/bench/build.sh"
bench_build run.sh "$build" heap_bench scavenge_bench refault_bench pacing_bench malloc_bench \
	debug_bench memreturn_bench heapward_malloc

echo "== heapward benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
	"$(gcc -dumpfullversion 2>/dev/null | sed 's/^/gcc /') -O2, kernel $(uname -r)," \
	"$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo
"$build/bench/heap_bench"
echo
"$build/bench/scavenge_bench"
echo
"$build/bench/refault_bench"
echo
"$build/bench/pacing_bench"
echo
"$build/bench/malloc_bench"
echo
"$build/bench/debug_bench"
echo
BUILD_DIR=$build "$root/bench/memreturn.sh"
echo
BUILD_DIR=$build "$root/bench/realprog.sh"
if [ "$go" = 1 ]; then
	echo
	rc=0
	"$root/bench/go_pagealloc.sh" || rc=$?
	# 3: go is not installed; the comparison is skipped, not failed.
	[ "$rc" = 0 ] || [ "$rc" = 3 ] || exit "$rc"
fi

#!/bin/sh
# memreturn.sh: memreturn_bench (how soon about 1 GiB of freed objects leaves
# the resident set, 16 MiB staying live) under glibc malloc, heapward's
# preload library, jemalloc, mimalloc, tcmalloc and Scudo, in one table.
#
# Each allocator runs the same binary with the same seed (the request stream
# does not change); all but glibc are LD_PRELOADed. The allocators take turns
# (glibc, heapward, jemalloc, ..., then the same order again: ROUNDS rounds,
# default 2), so drift of a shared machine hits all of them. Every peer runs
# with its defaults; jemalloc runs a second time with its background purging
# thread on (MALLOC_CONF=background_thread:true), its documented way to return
# memory while the program is idle. A peer whose library is missing is
# installed with apt-get when this runs as root (bench/peers.sh), and
# otherwise skipped with a note. About 5 s per run, a minute in all; about 1.1 GiB of memory at the
# peak of each run.
#
# Usage: bench/memreturn.sh   (env: BUILD_DIR, default build-bench; ROUNDS;
#                              MEMRETURN_ARGS, extra memreturn_bench options;
#                              HEAPWARD_LIB, another libheapward-malloc.so)
# Exit status: non-zero when the build or a run fails; a MISS is a result.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
rounds=${ROUNDS:-2}

. "$root/bench/build.sh"
bench_build memreturn.sh "$build" memreturn_bench heapward_malloc
bin=$build/bench/memreturn_bench
hwlib=${HEAPWARD_LIB:-$build/lib/libheapward-malloc.so}

PEERS_SCUDO=1
. "$root/bench/peers.sh"
peers_install memreturn.sh
# A peer that is not installed keeps a name that is not a file (skipped).
jemalloc=${peer_jemalloc:-libjemalloc2-not-installed}
mimalloc=${peer_mimalloc:-libmimalloc2.0-not-installed}
tcmalloc=${peer_tcmalloc:-libtcmalloc-minimal4-not-installed}
scudo=${peer_scudo:-libclang-rt-dev-not-installed}

# run NAME ROUND PRELOAD [VAR=VALUE]: one row; skipped when PRELOAD is given
# and is not a file.
run() {
	name=$1 round=$2 lib=$3
	shift 3
	if [ -z "$lib" ]; then
		"$bin" --name "$name" --round "$round" ${MEMRETURN_ARGS:-}
	elif [ -f "$lib" ]; then
		env "$@" LD_PRELOAD="$lib" "$bin" --name "$name" --round "$round" \
			${MEMRETURN_ARGS:-}
	elif [ "$round" = 1 ]; then
		echo "memreturn.sh: $name skipped: no $lib" >&2
	fi
}

echo "== memory return, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
	"kernel $(uname -r), $(nproc) CPUs," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "MiB; peak = VmHWM; base = RSS before the live set; goal = base + live * 1.10;"
echo "@Ns = RSS N s after the last free; at goal = first 50 ms sample <= goal"
"$bin" --header
r=1
while [ "$r" -le "$rounds" ]; do
	run glibc "$r" ""
	run heapward "$r" "$hwlib"
	run jemalloc "$r" "$jemalloc"
	run jemalloc-bg "$r" "$jemalloc" MALLOC_CONF=background_thread:true
	run mimalloc "$r" "$mimalloc"
	run tcmalloc "$r" "$tcmalloc"
	run scudo "$r" "$scudo"
	r=$((r + 1))
done

#!/usr/bin/env bash
# realprog.sh: the preload tests' real programs (tests/preload/) timed under
# glibc malloc, heapward's preload library, jemalloc, mimalloc, tcmalloc and
# Scudo, in one run: wall time, CPU time and peak RSS, as ratios to glibc.
#
# Workloads (the preload tests' own inputs):
#   python   PYTHONMALLOC=malloc python3 alloc_heavy.py
#   sqlite   sqlite3 -init table.sql :memory: .quit
#   perl     perl hash.pl
#   gcc      gcc -O2 -Wall on the file gen_and_compile.sh generates (made
#            once, before the rounds; the compile and link are measured)
#   cxx-mt   the multi-threaded C++ program threads.cc, 8 threads of
#            CXX_ROUNDS (500000) rounds each
#
# Method. ROUNDS rounds (default 5); in each round every workload runs once
# under every allocator, the allocators' order rotating by one each round,
# so the drift of a shared machine hits all alike. A figure is the median
# over the rounds; a ratio is heapward's (or a peer's) median over glibc's.
# Each run is measured by proc_measure (bench/proc_measure.c): wall time of
# the process tree, its CPU time (user + system), and the largest peak RSS
# of any process in it (for gcc: cc1's). A warm-up run of each workload
# under glibc comes first and is not counted; every run's standard output
# must be the same as the warm-up's: a difference is reported and, for heapward,
# fails the script. The peers run with their defaults (LD_PRELOAD of their
# Debian package's library; bench/peers.sh installs the packages, and the
# programs, when run as root), heapward with no HEAPWARD_OPTIONS.
# Targets (issue 12): heapward's wall time at most 1.00x glibc's and its
# peak RSS at most 1.10x, on each workload (PASS or MISS: a result, not a
# failure).
#
# The debug allocators (issue 13), measured when ALLOCATORS names them:
#   heapward-debug  the program under `heapward run --exitcode=0 --` (the
#                   launcher's defaults: guarded objects, quarantine, leak
#                   check at exit), every process keeping its own exit
#                   status: the leaks are the programs' (perl's and as's,
#                   so says Valgrind too), and a pipeline goes on past a
#                   process that leaks (with status 23, gcc's driver
#                   stopped after as and never linked); the reports'
#                   SUMMARY lines are printed once per workload.
#   heapward-debug-20k  the same with guard_budget_count=20000: at most
#                   20000 live guarded objects, GWP-ASan's bound below
#   heapward-debug-protnone  the same with guard_regions=0: the guard
#                   pages of a kernel without guard regions (before Linux
#                   6.13), PROT_NONE mappings, as GWP-ASan's are
#   heapward-debug-base  heapward-debug with HEAPWARD_BASE's build (its
#                   launcher beside it, ../bin/heapward): a before/after
#                   comparison of the debug mode in one run
#   scudo-gwp       Scudo with GWP-ASan sampling every allocation
#                   (SCUDO_OPTIONS=GWP_ASAN_SampleRate=1:
#                   GWP_ASAN_MaxSimultaneousAllocations=20000)
# Target: heapward-debug's wall time at most half of scudo-gwp's (and
# heapward-debug-20k's, the like-for-like bound, is shown beside it).
#
# Usage: bench/realprog.sh [WORKLOAD ...]   (default: all five)
#        ALLOCATORS="heapward-debug heapward-debug-20k scudo-gwp" for the
#        debug allocators
#   env: BUILD_DIR (default build-bench), ROUNDS (5), CXX_ROUNDS (500000),
#        HEAPWARD_LIB (another libheapward-malloc.so to measure as heapward),
#        HEAPWARD_BASE (one more, measured as heapward-base in the same
#        rounds: an older build, for a before/after comparison in one run),
#        ALLOCATORS (a subset of: glibc heapward jemalloc mimalloc tcmalloc
#        scudo; glibc is always measured), KEEP=1 keeps the raw samples dir
# Exit status: non-zero when a build fails, a program fails, or heapward
# changes a program's output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
rounds=${ROUNDS:-5}
cxx_rounds=${CXX_ROUNDS:-500000}
pre=$root/tests/preload

for w in "$@"; do
	case $w in
	python | sqlite | perl | gcc | cxx-mt) ;;
	*)
		echo "usage: bench/realprog.sh [python|sqlite|perl|gcc|cxx-mt ...]" >&2
		exit 2
		;;
	esac
done

. "$root/bench/build.sh"
bench_build realprog.sh "$build" heapward_malloc heapward_launcher proc_measure \
	realprog_threads
measure=$build/bench/proc_measure
hwlib=${HEAPWARD_LIB:-$build/lib/libheapward-malloc.so}

PEERS_SCUDO=1
. "$root/bench/peers.sh"
peers_install realprog.sh python3 sqlite3 perl gcc

# The workloads' commands. python3 by its Debian path when it is there (a
# version manager's shim on PATH would be a shell script run under the
# allocator too).
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3 || echo python3)
tmp=$(mktemp -d)
if [ "${KEEP:-0}" = 1 ]; then
	echo "realprog.sh: samples kept in $tmp" >&2
else
	trap 'rm -rf "$tmp"' EXIT
fi
declare -A cmd need
cmd[python]="env PYTHONMALLOC=malloc $python $pre/alloc_heavy.py"
need[python]=$python
cmd[sqlite]="sqlite3 -init $pre/table.sql :memory: .quit"
need[sqlite]=sqlite3
cmd[perl]="perl $pre/hash.pl"
need[perl]=perl
cmd[gcc]="gcc -O2 -Wall -o $tmp/generated $tmp/generated.c"
need[gcc]=gcc
cmd[cxx-mt]="$build/bench/realprog_threads $cxx_rounds"
need[cxx-mt]=$build/bench/realprog_threads

workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(python sqlite perl gcc cxx-mt)
run_w=()
for w in "${workloads[@]}"; do
	if command -v "${need[$w]}" >/dev/null 2>&1; then
		run_w+=("$w")
	else
		echo "realprog.sh: $w skipped: ${need[$w]} is not installed" >&2
	fi
done
if [[ " ${run_w[*]} " == *" gcc "* ]]; then
	HW_PRELOAD_TMP=$tmp bash "$pre/gen_and_compile.sh" >/dev/null
fi

# The allocators: name and library (empty for glibc).
declare -A lib
lib[glibc]=
lib[heapward]=$hwlib
lib[jemalloc]=$peer_jemalloc
lib[mimalloc]=$peer_mimalloc
lib[tcmalloc]=$peer_tcmalloc
lib[scudo]=$peer_scudo
lib[heapward-base]=${HEAPWARD_BASE:-}
lib[heapward-debug]=$hwlib
lib[heapward-debug-20k]=$hwlib
lib[heapward-debug-protnone]=$hwlib
lib[heapward-debug-base]=${HEAPWARD_BASE:-}
lib[scudo-gwp]=$peer_scudo
# What runs the program instead of LD_PRELOAD (the launcher), and the
# allocator's own environment.
declare -A via envs
via[heapward-debug]="$(dirname "$hwlib")/../bin/heapward run --exitcode=0 --"
via[heapward-debug-20k]="$(dirname "$hwlib")/../bin/heapward run --exitcode=0 --guard_budget_count=20000 --"
via[heapward-debug-protnone]="$(dirname "$hwlib")/../bin/heapward run --exitcode=0 --guard_regions=0 --"
via[heapward-debug-base]="$(dirname "${HEAPWARD_BASE:-.}")/../bin/heapward run --exitcode=0 --"
envs[scudo-gwp]="SCUDO_OPTIONS=GWP_ASAN_SampleRate=1:GWP_ASAN_MaxSimultaneousAllocations=20000"
default_allocs="heapward jemalloc mimalloc tcmalloc scudo"
[ -z "${HEAPWARD_BASE:-}" ] || default_allocs="heapward heapward-base ${default_allocs#heapward }"
allocs=(glibc)
for a in ${ALLOCATORS:-$default_allocs}; do
	[ "$a" = glibc ] && continue
	if [ -z "${lib[$a]+x}" ]; then
		echo "realprog.sh: unknown allocator $a" >&2
		exit 2
	fi
	if [ -n "${lib[$a]}" ] && [ -f "${lib[$a]}" ]; then
		allocs+=("$a")
	else
		echo "realprog.sh: $a skipped: library not found" >&2
	fi
done

echo "== real programs under each allocator, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
	"kernel $(uname -r), $(nproc) CPUs," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?');" \
	"$rounds rounds, median; heapward: $hwlib"
for a in "${allocs[@]:1}"; do
	echo "  $a: ${lib[$a]}"
done

# One run: appends "workload allocator round wall cpu rss_kib" to samples.
fail=0
samples=$tmp/samples
: >"$samples"
run_one() {
	local w=$1 a=$2 r=$3
	local out=$tmp/out.$w.$a err=$tmp/err.$w.$a m=$tmp/m
	local rc=0
	if [ -z "${lib[$a]}" ]; then
		# shellcheck disable=SC2086
		"$measure" -o "$m" -- env -u LD_PRELOAD -u HEAPWARD_OPTIONS ${cmd[$w]} \
			>"$out" 2>"$err" || rc=$?
	elif [ -n "${via[$a]:-}" ]; then
		# shellcheck disable=SC2086
		"$measure" -o "$m" -- env -u LD_PRELOAD -u HEAPWARD_OPTIONS ${via[$a]} ${cmd[$w]} \
			>"$out" 2>"$err" || rc=$?
		if [ "$r" = 0 ] && grep -q '^SUMMARY: heapward: .* leaked' "$err"; then
			echo "realprog.sh: $w under $a: $(grep '^SUMMARY' "$err" | tr '\n' ' ')" >&2
		fi
	else
		# shellcheck disable=SC2086
		"$measure" -o "$m" -- env -u HEAPWARD_OPTIONS LD_PRELOAD="${lib[$a]}" ${envs[$a]:-} ${cmd[$w]} \
			>"$out" 2>"$err" || rc=$?
	fi
	if [ $rc -ne 0 ]; then
		tail -n 5 "$err" >&2
		echo "realprog.sh: $w under $a exited with status $rc" >&2
		fail=1
		return
	fi
	if [ ! -f "$tmp/ref.$w" ]; then
		cp "$out" "$tmp/ref.$w"
	elif ! cmp -s "$out" "$tmp/ref.$w"; then
		echo "realprog.sh: $w under $a printed something else than under glibc" >&2
		diff "$tmp/ref.$w" "$out" | head -n 5 >&2 || true
		[[ $a == heapward* ]] && fail=1
	fi
	read -r wall cpu rss _ <"$m"
	echo "$w $a $r $wall $cpu $rss" >>"$samples"
}

# A warm-up run of each workload under glibc, not counted: its output is
# the reference, and it brings the programs' files into the page cache.
for w in "${run_w[@]}"; do
	run_one "$w" glibc warmup
done
: >"$samples"
n=${#allocs[@]}
for ((r = 0; r < rounds; r++)); do
	for w in "${run_w[@]}"; do
		for ((k = 0; k < n; k++)); do
			run_one "$w" "${allocs[$(((k + r) % n))]}" "$r"
		done
	done
done

# Medians and ratios; the targets apply to heapward.
awk -v order="${allocs[*]}" -v wl="${run_w[*]}" '
function wd(name) { return length(name) > 9 ? length(name) : 9 }
function median(key, c, i, j, t, m, v) {
	m = cnt[key]
	for (i = 1; i <= m; i++) v[i] = val[key, c, i]
	for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
		t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
	}
	return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
}
{
	key = $1 SUBSEP $2
	cnt[key]++
	val[key, "wall", cnt[key]] = $4
	val[key, "cpu", cnt[key]] = $5
	val[key, "rss", cnt[key]] = $6 / 1024
}
END {
	na = split(order, al, " ")
	nw = split(wl, ws, " ")
	for (i = 1; i <= nw; i++) for (j = 1; j <= na; j++) {
		key = ws[i] SUBSEP al[j]
		if (!(key in cnt)) continue
		med[key, "wall"] = median(key, "wall")
		med[key, "cpu"] = median(key, "cpu")
		med[key, "rss"] = median(key, "rss")
	}
	split("wall cpu rss", what, " ")
	title["wall"] = "wall time / glibc"
	title["cpu"] = "CPU time (user + system) / glibc"
	title["rss"] = "peak RSS / glibc"
	for (q = 1; q <= 3; q++) {
		c = what[q]
		printf "\n%s (glibc: %s)\n", title[c], c == "rss" ? "MiB" : "s"
		printf "%-8s %9s", "workload", "glibc"
		for (j = 2; j <= na; j++) printf " %*s", wd(al[j]), al[j]
		printf "\n"
		for (i = 1; i <= nw; i++) {
			g = med[ws[i] SUBSEP "glibc", c]
			printf "%-8s %9.3f", ws[i], g
			for (j = 2; j <= na; j++) {
				key = ws[i] SUBSEP al[j]
				if ((key in cnt) && g > 0) printf " %*.2f", wd(al[j]), med[key, c] / g
				else printf " %*s", wd(al[j]), "-"
			}
			printf "\n"
		}
	}
	ndbg = split("heapward-debug heapward-debug-20k heapward-debug-protnone", dbg, " ")
	for (k = 1; k <= ndbg; k++) {
		have = 0
		for (j = 2; j <= na; j++) if (al[j] == dbg[k] || al[j] == "scudo-gwp") have++
		if (have < 2) continue
		printf "\n%s against the target (wall <= 0.50x scudo-gwp)\n", dbg[k]
		printf "%-8s %8s %6s %8s\n", "workload", "wall", "", "rss"
		for (i = 1; i <= nw; i++) {
			d = ws[i] SUBSEP dbg[k]
			g = ws[i] SUBSEP "scudo-gwp"
			if (!(d in cnt) || !(g in cnt)) continue
			tw = med[d, "wall"] / med[g, "wall"]
			printf "%-8s %8.2f %6s %8.2f\n", ws[i], tw, tw <= 0.5 ? "PASS" : "MISS",
				med[d, "rss"] / med[g, "rss"]
		}
	}
	hw = "heapward"
	have = 0
	for (j = 2; j <= na; j++) if (al[j] == hw) have = 1
	if (!have) exit
	printf "\nheapward against the targets (wall <= 1.00x, peak RSS <= 1.10x glibc)\n"
	printf "%-8s %8s %6s %8s %6s\n", "workload", "wall", "", "rss", ""
	for (i = 1; i <= nw; i++) {
		key = ws[i] SUBSEP hw
		g = ws[i] SUBSEP "glibc"
		if (!(key in cnt) || !(g in cnt)) continue
		tw = med[key, "wall"] / med[g, "wall"]
		tr = med[key, "rss"] / med[g, "rss"]
		printf "%-8s %8.2f %6s %8.2f %6s\n", ws[i], tw, tw <= 1.0 ? "PASS" : "MISS",
			tr, tr <= 1.10 ? "PASS" : "MISS"
	}
}' "$samples"
exit $fail

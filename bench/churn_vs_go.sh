#!/bin/sh
# churn_vs_go.sh: heap_bench's 1p-churn workload beside Go's page allocator,
# as a ratio per heap size.
#
# Runs ROUNDS (default 3) rounds; each round runs heap_bench --workload 2
# and then the Go test on the same layouts (HW_BENCH_WORKLOAD=3), one after
# the other, so both sides of a round's ratio see the same machine minutes.
# Prints, per round and size, the mean over layouts of each side and
# heapward / Go; then the median ratio per size over the rounds.
#
# Usage: bench/churn_vs_go.sh [ROUNDS]   (env: BUILD_DIR, default build-bench;
#        heap_bench must be built there, as bench/run.sh builds it)
# Exit status: 1 when a run fails, 3 when go is missing.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
rounds=${1:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
r=1
while [ "$r" -le "$rounds" ]; do
	"$build/bench/heap_bench" --workload 2 >"$tmp/hw.$r"
	HW_BENCH_WORKLOAD=3 "$root/bench/go_pagealloc.sh" >"$tmp/go.$r"
	r=$((r + 1))
done
# Rows of the 1p-churn table: workload, size, unit, live runs, fastest,
# slowest, mean.
for r in $(seq 1 "$rounds"); do
	grep '^1p-churn .*[MG]iB' "$tmp/hw.$r" | awk -v r="$r" '{print r, $2 " " $3, $NF}' >"$tmp/h"
	grep '^1p-churn .*[MG]iB' "$tmp/go.$r" | awk '{print $NF}' >"$tmp/g"
	paste -d' ' "$tmp/h" "$tmp/g"
done | awk '
	{ k = $2 " " $3; hw = $4; go = $5; ratio = hw / go
	  printf "round %s %8s: heapward %6.1f ns  go %6.1f ns  heapward/go %.2f\n", $1, k, hw, go, ratio
	  n[k]++; v[k, n[k]] = ratio; if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
	END {
	  print ""
	  for (i = 1; i <= m; i++) {
	    k = order[i]; c = n[k]
	    for (a = 1; a <= c; a++) for (b = a + 1; b <= c; b++)
	      if (v[k, b] < v[k, a]) { t = v[k, a]; v[k, a] = v[k, b]; v[k, b] = t }
	    med = c % 2 ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
	    printf "1p-churn %8s: median heapward/go over %d rounds %.2f  target <= 1.00  %s\n", k, c, med, med <= 1.0 ? "PASS" : "MISS"
	  }
	}'

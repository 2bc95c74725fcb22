#!/bin/sh
# go_pagealloc.sh: heap_bench's workload on the Go runtime's page allocator.
#
# The Go runtime exposes its page allocator only to its own tests (through
# export_test.go), so this compiles bench/go/heapward_pagealloc_test.go into
# the installed runtime's test package with `go test -overlay`: GOROOT is not
# modified and nothing is copied out of it. The first run builds the runtime
# test binary (about 20 s on 2 cores); later runs reuse Go's build cache.
#
# Usage: bench/go_pagealloc.sh   (env: HW_BENCH_PAIRS, HW_BENCH_MAX_GIB)
# Needs: go (Debian: apt-get install golang-go). Exit 3 when go is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v go >/dev/null 2>&1; then
	echo "go_pagealloc.sh: 'go' not found (apt-get install golang-go); skipped" >&2
	exit 3
fi
goroot=$(go env GOROOT)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# Overlay paths are JSON strings: GOROOT and this checkout must not contain
# quotes or backslashes (they do not on any sane install).
printf '{"Replace":{"%s/src/runtime/heapward_pagealloc_test.go":"%s/go/heapward_pagealloc_test.go"}}\n' \
	"$goroot" "$here" >"$tmp/overlay.json"
# -vet=off: vet does not read overlays and would fail to find the file.
# -count=1: never report a cached result as a new measurement.
go test -vet=off -overlay "$tmp/overlay.json" -count=1 -v -timeout 20m \
	-run '^TestHeapwardPageAlloc(Scavenge)?$' runtime >"$tmp/out" 2>&1 || {
	cat "$tmp/out" >&2
	exit 1
}
grep -v -e '^=== RUN' -e '^--- PASS' -e '^PASS$' -e '^ok ' "$tmp/out"

// heapward_pagealloc_test.go: heap_bench's workload on the Go runtime's own
// page allocator, so the two can be compared on one machine.
//
// Owns: one test, TestHeapwardPageAlloc, meant to be compiled into the Go
// runtime's test package by bench/go_pagealloc.sh (go test -overlay), since
// the runtime exposes its page allocator (NewPageAlloc, PageAlloc.Alloc and
// Free) only to its own tests through export_test.go. Nothing of the Go tree
// is copied here; this file only calls those exported hooks.
//
// It mirrors bench/heap_bench.c exactly (bench/bench.h): the same splitmix64
// stream and seed, hence the same layouts and the same request sequence;
// the same fragmented setup (the whole heap allocated in runs, a random half
// of the runs freed), the same timed alloc+free pairs, the same harness
// sample, the same median of 5 samples of thread CPU time taken round-robin,
// and the same 1p-churn workload (allocate 1 page, free it at once) over the
// same 8 layouts per size, reported the same way (mean over layouts).
// Geometry matches too: Go's pages are 8 KiB and its chunks 512 pages, as in
// heapward's default config. Every chunk starts all free and unscavenged, as
// heapward's pages are after its setup.
//
// Invariants:
//
//	G1. Setup checks that first fit tiled the empty allocator in layout
//	    order, and the timed loop fails the test if an allocation fails, so
//	    a figure always comes from the intended heap state.
//
// Locking: the test locks itself to one OS thread, so thread CPU time is the
// allocator's own; PageAlloc takes its own lock on every call.
package runtime_test

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/internal/sys"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"unsafe"
)

const (
	hwSeed = 0x6865617077617264
	hwReps = 5
	// heap_bench's CHURN_LAYOUTS
	hwChurnLayouts = 8
	hwMiB          = 1 << 20
	hwGiB          = 1 << 30
)

type hwRng struct{ s uint64 }

func (r *hwRng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *hwRng) below(n uint64) uint64 { return r.next() % n }

func (r *hwRng) runPages(max uint64) uint64 {
	if max == 1 {
		return 1
	}
	return 1 + r.below(max)
}

type hwRun struct{ first, pages uint64 }

// hwLayout is bench_layout_make: runs tiling [0, total), half of them free.
func hwLayout(r *hwRng, total, max uint64) ([]hwRun, []bool) {
	var runs []hwRun
	for at := uint64(0); at < total; {
		n := r.runPages(max)
		if n > total-at {
			n = total - at
		}
		runs = append(runs, hwRun{at, n})
		at += n
	}
	order := make([]int, len(runs))
	for i := range order {
		order[i] = i
	}
	free := make([]bool, len(runs))
	for i := 0; i < len(runs)/2; i++ {
		j := i + int(r.below(uint64(len(runs)-i)))
		order[i], order[j] = order[j], order[i]
		free[order[i]] = true
	}
	return runs, free
}

func hwThreadCPU() int64 {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3
	_, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	if e != 0 {
		panic(e)
	}
	return ts.Nano()
}

// hwLive is heap_bench's live_run: a run's first page from the heap's base
// (26 bits) and its size - 1 (6 bits), so the live set takes 4 bytes a run.
type hwLive uint32

var hwBase = runtime.PageBase(runtime.BaseChunkIdx, 0)

func hwPack(p, pages uintptr) hwLive {
	return hwLive((p-hwBase)/runtime.PageSize<<6 | (pages - 1))
}

func (l hwLive) p() uintptr     { return hwBase + uintptr(l>>6)*runtime.PageSize }
func (l hwLive) pages() uintptr { return uintptr(l&63) + 1 }

type hwCase struct {
	workload string
	max      uint64
	bytes    uint64
	churn    bool // 1p-churn: free the page just allocated
	layout   uint64
	pa       *runtime.PageAlloc
	live     []hwLive
	r        hwRng
	setup    int64
	samples  [hwReps]int64
	harness  [hwReps]int64
}

var hwSink uintptr

func (c *hwCase) build(t *testing.T) {
	t0 := hwThreadCPU()
	total := c.bytes / runtime.PageSize
	nchunks := total / runtime.PallocChunkPages
	chunks := make(map[runtime.ChunkIdx][]runtime.BitRange, nchunks)
	for i := uint64(0); i < nchunks; i++ {
		chunks[runtime.BaseChunkIdx+runtime.ChunkIdx(i)] = []runtime.BitRange{}
	}
	c.pa = runtime.NewPageAlloc(chunks, nil)
	c.r = hwRng{hwSeed ^ c.bytes ^ c.max ^ c.layout*0x9e3779b97f4a7c15}
	runs, free := hwLayout(&c.r, total, c.max)
	at := make([]uintptr, len(runs))
	for i, run := range runs {
		at[i], _ = c.pa.Alloc(uintptr(run.pages))
		if at[i] != hwBase+uintptr(run.first)*runtime.PageSize {
			t.Fatalf("%s %d MiB: first fit did not tile the empty allocator in order", c.workload, c.bytes/hwMiB)
		}
	}
	c.live = make([]hwLive, 0, len(runs)+1)
	for i, run := range runs {
		if free[i] {
			c.pa.Free(at[i], uintptr(run.pages))
		} else {
			c.live = append(c.live, hwPack(at[i], uintptr(run.pages)))
		}
	}
	c.setup = hwThreadCPU() - t0
}

// timePairs is heap_bench's time_pairs: the victim is drawn one pair ahead
// and its entry prefetched (sys.Prefetch is the compiler's intrinsic).
func (c *hwCase) timePairs(t *testing.T, pairs int) int64 {
	if c.churn {
		return c.timeChurn(t, pairs)
	}
	v := c.r.below(uint64(len(c.live) + 1))
	t0 := hwThreadCPU()
	for k := 0; k < pairs; k++ {
		n := uintptr(c.r.runPages(c.max))
		p, _ := c.pa.Alloc(n)
		if p == 0 {
			t.Fatalf("%s %d MiB: Alloc failed in the timed loop", c.workload, c.bytes/hwMiB)
		}
		c.live = append(c.live, hwPack(p, n))
		c.pa.Free(c.live[v].p(), c.live[v].pages())
		c.live[v] = c.live[len(c.live)-1]
		c.live = c.live[:len(c.live)-1]
		v = c.r.below(uint64(len(c.live) + 1))
		if v < uint64(cap(c.live)) {
			sys.Prefetch(uintptr(unsafe.Pointer(&c.live[:cap(c.live)][v])))
		}
	}
	return hwThreadCPU() - t0
}

// timeChurn is heap_bench's time_churn: allocate one page, free it.
func (c *hwCase) timeChurn(t *testing.T, pairs int) int64 {
	t0 := hwThreadCPU()
	for k := 0; k < pairs; k++ {
		p, _ := c.pa.Alloc(1)
		if p == 0 {
			t.Fatalf("%s %d MiB: Alloc failed in the timed loop", c.workload, c.bytes/hwMiB)
		}
		c.pa.Free(p, 1)
	}
	return hwThreadCPU() - t0
}

// timeHarness is heap_bench's time_harness: draws and chained lookups of
// entries that stay in cache (the first hwHotEntries), without the
// allocator.
const hwHotEntries = 512

func (c *hwCase) timeHarness(pairs int) int64 {
	r := c.r
	chain := uintptr(0)
	zero := uintptr(len(os.Args) >> 62) // 0, but not a constant
	t0 := hwThreadCPU()
	for k := 0; k < pairs && !c.churn; k++ {
		n := uintptr(r.runPages(c.max))
		v := (r.below(uint64(len(c.live)+1)) ^ uint64(chain&zero)) % hwHotEntries
		victim := hwPack(hwBase, n)
		if v < uint64(len(c.live)) {
			victim = c.live[v]
		}
		chain = victim.p() + victim.pages()
	}
	ns := hwThreadCPU() - t0
	hwSink = chain
	return ns
}

func hwMedian(v []int64) int64 {
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func hwEnvInt(name string, def int) int {
	if s := os.Getenv(name); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			panic(name + " must be a positive integer")
		}
		return v
	}
	return def
}

func hwSizeName(b uint64) string {
	if b >= hwGiB {
		return fmt.Sprintf("%d GiB", b/hwGiB)
	}
	return fmt.Sprintf("%d MiB", b/hwMiB)
}

// TestHeapwardPageAlloc prints heap_bench's tables for Go's page allocator.
// HW_BENCH_PAIRS and HW_BENCH_MAX_GIB set the pairs per sample (200000) and
// the largest heap (64 GiB); HW_BENCH_WORKLOAD (1-based here: 1 1-page,
// 2 1..64-page, 3 1p-churn; default all) is heap_bench's --workload plus 1.
func TestHeapwardPageAlloc(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	pairs := hwEnvInt("HW_BENCH_PAIRS", 200000)
	maxGiB := uint64(hwEnvInt("HW_BENCH_MAX_GIB", 64))
	only := hwEnvInt("HW_BENCH_WORKLOAD", 4) - 1
	var cases []*hwCase
	for wi, w := range []struct {
		name  string
		max   uint64
		churn bool
		mib   []uint64
	}{
		{"1-page", 1, false, []uint64{64, 1024, 0}},
		{"1..64-page", 64, false, []uint64{64, 1024, 0}},
		{"1p-churn", 64, true, []uint64{64, 128, 256, 1024, 0}},
	} {
		if only != 3 && only != wi {
			continue
		}
		layouts := uint64(1)
		if w.churn {
			layouts = hwChurnLayouts
		}
		for _, mib := range w.mib {
			b := mib * hwMiB
			if mib == 0 {
				b = maxGiB * hwGiB
			}
			for l := uint64(0); l < layouts; l++ {
				c := &hwCase{workload: w.name, max: w.max, bytes: b, churn: w.churn, layout: l}
				c.build(t)
				cases = append(cases, c)
			}
		}
	}
	defer func() {
		for _, c := range cases {
			runtime.FreePageAlloc(c.pa)
		}
	}()
	for rep := 0; rep < hwReps; rep++ {
		for _, c := range cases {
			n := pairs
			if c.churn {
				n = pairs / hwChurnLayouts
			}
			c.harness[rep] = c.timeHarness(n)
			c.samples[rep] = c.timePairs(t, n)
		}
	}

	fmt.Printf("go pagealloc (%s): alloc+free pairs on a fragmented heap (~50%% of pages in use)\n",
		runtime.Version())
	fmt.Printf("page %d B, chunk %d pages, test PageAlloc; %d pairs per sample\n"+
		"ns per pair, median of %d samples of thread CPU time (min: fastest sample);\n"+
		"harness = random draws + a cached victim lookup (the timed loop prefetches\n"+
		"each victim one pair ahead); heap = median - harness\n\n",
		runtime.PageSize, runtime.PallocChunkPages, pairs, hwReps)
	fmt.Printf("%-11s %8s %10s %8s %8s %8s %8s %8s\n", "workload", "heap", "live runs", "setup s",
		"min", "median", "harness", "heap")
	net := make([]float64, len(cases))
	for i, c := range cases {
		n := pairs
		if c.churn {
			n = pairs / hwChurnLayouts
		}
		min := c.samples[0]
		for _, s := range c.samples {
			if s < min {
				min = s
			}
		}
		tot := float64(hwMedian(c.samples[:])) / float64(n)
		har := float64(hwMedian(c.harness[:])) / float64(n)
		net[i] = tot - har
		if c.churn {
			continue
		}
		fmt.Printf("%-11s %8s %10d %8.2f %8.1f %8.1f %8.1f %8.1f\n", c.workload, hwSizeName(c.bytes),
			len(c.live), float64(c.setup)/1e9, float64(min)/float64(n), tot, har, net[i])
	}
	// 1p-churn: the mean over layouts, as heap_bench prints it.
	first, last, churnMean := -1, -1, map[int]float64{}
	for i := 0; i < len(cases); i++ {
		c := cases[i]
		if !c.churn || c.layout != 0 {
			continue
		}
		if first < 0 {
			fmt.Printf("\n1p-churn: allocate 1 page, free it at once; %d layouts per size,\n"+
				"%d pairs per layout and sample; ns per pair (harness ~0)\n\n"+
				"%-11s %8s %10s %8s %8s %8s\n", hwChurnLayouts, pairs/hwChurnLayouts,
				"workload", "heap", "live runs", "fastest", "slowest", "mean")
			first = i
		}
		last = i
		lo, hi, sum := net[i], net[i], 0.0
		for j := i; j < i+hwChurnLayouts; j++ {
			if net[j] < lo {
				lo = net[j]
			}
			if net[j] > hi {
				hi = net[j]
			}
			sum += net[j]
		}
		churnMean[i] = sum / hwChurnLayouts
		fmt.Printf("%-11s %8s %10d %8.1f %8.1f %8.1f\n", c.workload, hwSizeName(c.bytes),
			len(c.live), lo, hi, churnMean[i])
	}
	fmt.Println()
	for i := 0; i+2 < len(cases); i++ {
		lo, hi := cases[i], cases[i+2]
		if lo.churn || i%3 != 0 || hi.workload != lo.workload {
			continue
		}
		fmt.Printf("ratio cost(%s)/cost(64 MiB), %-10s: heap %5.2fx\n", hwSizeName(hi.bytes),
			lo.workload, net[i+2]/net[i])
	}
	if first >= 0 && last > first {
		fmt.Printf("ratio cost(%s)/cost(64 MiB), %-10s: heap %5.2fx\n",
			hwSizeName(cases[last].bytes), "1p-churn", churnMean[last]/churnMean[first])
	}
}

// TestHeapwardPageAllocScavenge times Go's Scavenge of scavenge_bench's
// layouts (same seed, same runs freed). A test PageAlloc never makes the
// system call (its addresses are not mapped), so this is Go's scavenging
// policy and bookkeeping alone: the figure to set beside scavenge_bench's
// "policy" column, not beside its heap or raw columns. HW_BENCH_SCAV_MIB
// sets the layout size (512).
func TestHeapwardPageAllocScavenge(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	const reps = 9 // scavenge_bench's SCAV_REPS
	mib := uint64(hwEnvInt("HW_BENCH_SCAV_MIB", 512))
	total := mib * hwMiB / runtime.PageSize
	fmt.Printf("\ngo pagealloc scavenge (%s): Scavenge(all) of scavenge_bench's %d MiB layouts;\n"+
		"policy and bookkeeping only (a test PageAlloc makes no system call);\n"+
		"ms of thread CPU time over %d samples\n\n", runtime.Version(), mib, reps)
	fmt.Printf("%-11s %6s %8s %8s\n", "layout", "MiB", "min", "median")
	for _, max := range []uint64{1, 64} {
		r := hwRng{hwSeed ^ max}
		runs, free := hwLayout(&r, total, max)
		var ns [reps]int64
		var freed uintptr
		for rep := 0; rep < reps; rep++ {
			chunks := make(map[runtime.ChunkIdx][]runtime.BitRange)
			for i := uint64(0); i < total/runtime.PallocChunkPages; i++ {
				chunks[runtime.BaseChunkIdx+runtime.ChunkIdx(i)] = []runtime.BitRange{}
			}
			pa := runtime.NewPageAlloc(chunks, nil)
			base := runtime.PageBase(runtime.BaseChunkIdx, 0)
			freed = 0
			for _, run := range runs {
				if p, _ := pa.Alloc(uintptr(run.pages)); p != base+uintptr(run.first)*runtime.PageSize {
					t.Fatalf("first fit did not tile the empty allocator in order")
				}
			}
			for i, run := range runs {
				if free[i] {
					pa.Free(base+uintptr(run.first)*runtime.PageSize, uintptr(run.pages))
					freed += uintptr(run.pages) * runtime.PageSize
				}
			}
			t0 := hwThreadCPU()
			got := pa.Scavenge(^uintptr(0))
			ns[rep] = hwThreadCPU() - t0
			runtime.FreePageAlloc(pa)
			if got != freed {
				t.Fatalf("Scavenge released %d bytes, want %d", got, freed)
			}
		}
		min := ns[0]
		for _, v := range ns {
			if v < min {
				min = v
			}
		}
		name := "1-page"
		if max != 1 {
			name = "1..64-page"
		}
		fmt.Printf("%-11s %6.1f %8.3f %8.3f\n", name, float64(freed)/hwMiB, float64(min)/1e6,
			float64(hwMedian(ns[:]))/1e6)
	}
}

/* scavenge_bench.c: what the heap's scavenger costs over the system calls
 * it makes.
 *
 * Owns: the scavenge-overhead benchmark. For each layout (1-page runs;
 * random 1..64-page runs; bench.h BH2) it builds, SCAV_REPS times each,
 * two copies of the same byte pattern on one private Linux platform
 * instance:
 *   heap  a heap grown to the layout's size, every run allocated and
 *         every OS page written (so it is resident), then the free half of
 *         the runs freed; timed: hw_heap_scavenge(h, SIZE_MAX).
 *   raw   a region from hw_sys_reserve/map/use of the same size and
 *         alignment, every OS page written; timed: hw_sys_unuse on each
 *         maximal free range of the layout, from the highest address down
 *         (the order the heap releases in, so only its work differs).
 * Both release exactly the same bytes with the same system call (MADV_DONTNEED
 * through the platform's unuse), so raw is the cost of the calls without the
 * heap's policy and bookkeeping, and overhead = heap / raw - 1 on the
 * fastest of SCAV_REPS samples of each side (BH3), against the target "at
 * most 10%". One sample is a single scavenge of a few tens of ms, almost all
 * of it in the kernel, and on a loaded 2-core machine two back-to-back
 * samples differ by up to 30%; interference only adds time, so the minimum
 * is the stable estimate. The median of the paired ratios is printed too,
 * and so is the heap's own work measured alone ("policy": the same scavenge
 * on a platform whose unuse does nothing), which is what the overhead is
 * made of besides extra system calls.
 * Touching pages is setup, never timed. The two sides alternate which goes
 * first, so the kernel's state (free page lists, caches) does not favour
 * one.
 *
 * Invariants:
 *   SB1. Each side is checked after its timed call: the heap released exactly
 *        the free bytes it held (and hw_heap_validate passes); on both sides
 *        exactly the in-use bytes stay resident (mincore). A side that
 *        released less would look cheaper, so a failed check ends the run.
 *   SB2. Real memory in use stays below about twice the layout size (one side
 *        at a time, the other torn down first); the default layout is
 *        512 MiB.
 *
 * Usage: scavenge_bench [--mib M] [--seed S]
 *   --mib M  layout size in MiB (default 512; 64 to 2048, a multiple of 64)
 * Exit status: 0 when every side checked out (PASS or MISS alike), 1 when a
 * setup step or a check failed, 2 on a usage error or no platform.
 *
 * Locking: single-threaded.
 */
#include "bench.h"
#include "heapward.h"
#include "inspect.h"
#include "platform.h"
#include "wrap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#define MIB ((size_t)1 << 20)
#define ALIGN ((size_t)64 << 20) /* the heap's default arena alignment */
#define SCAV_REPS 9

typedef struct side_result {
	uint64_t ns;
	uint64_t calls; /* unuse calls made */
} side_result;

static int fail(const char *layout, const char *side, const char *what)
{
	fprintf(stderr, "scavenge_bench: %s, %s: %s\n", layout, side, what);
	return 1;
}

/* Writes one byte in every OS page of [p, p + n): makes it resident. */
static void touch(uintptr_t p, size_t n, size_t os_page)
{
	for (size_t off = 0; off < n; off += os_page)
		*(volatile unsigned char *)(p + off) = 1;
}

static size_t live_bytes(const bench_layout *L, size_t page)
{
	return (L->total - L->free_pages) * page;
}

/* A platform whose unuse does nothing and whose other transitions are the
 * real instance's: a heap scavenge on it is the heap's policy and
 * bookkeeping alone, without the system calls. That part is a few percent
 * of a sample at most, far below the machine's noise on the two full-size
 * sides, so it is measured on its own. */
/* The dry platform: wrap.h's forwarder whose unuse hook skips the call. */
static bool skip_unuse(wrap_platform *w, hw_sys_kind k, void *p, size_t n)
{
	(void)w;
	(void)p;
	(void)n;
	return k != HW_SYS_UNUSE;
}

/* One heap-side sample. dry: pf is the dry platform; pages are not touched
 * (its scavenge makes no system call) and residency is not checked. */
static int run_heap(hw_platform *pf, bool dry, const bench_layout *L, const char *name,
		    side_result *out)
{
	hw_heap_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.platform = pf;
	hw_heap *h = hw_heap_create(&cfg);
	if (!h)
		return fail(name, "heap", "hw_heap_create failed");
	int rc = 0;
	size_t page = hw_heap_page_size(h), os_page = pf->caps.page_size;
	void *base;
	size_t size;
	void **at = bench_xmalloc(L->nruns * sizeof *at);
	if (hw_heap_grow(h, L->total) != 0 || hw_heap_arena_count(h) != 1) {
		rc = fail(name, "heap", "cannot grow the heap to the layout's size");
		goto out;
	}
	hw_heap_arena_get(h, 0, &base, &size);
	for (size_t i = 0; i < L->nruns && !rc; i++) {
		at[i] = hw_heap_alloc(h, L->runs[i].pages);
		if ((uintptr_t)at[i] != (uintptr_t)base + L->runs[i].first * page)
			rc = fail(name, "heap",
				  "first fit did not tile the empty heap in order (bench.h BH2)");
	}
	for (size_t i = 0; i < L->nruns && !rc && !dry; i++)
		touch((uintptr_t)at[i], L->runs[i].pages * page, os_page);
	for (size_t i = 0; i < L->nruns && !rc; i++)
		if (L->is_free[i] && hw_heap_free(h, at[i], L->runs[i].pages) != 0)
			rc = fail(name, "heap", "free of a setup run failed");
	if (rc)
		goto out;
	hw_heap_stats st;
	hw_heap_stats_get(h, &st);
	uint64_t calls0 = st.platform_calls[HW_CALL_UNUSE];
	size_t want = L->free_pages * page;
	if (st.released != 0 || st.idle != want) {
		rc = fail(name, "heap", "the free runs are not all Ready before the scavenge");
		goto out;
	}

	uint64_t t0 = bench_clock_ns();
	size_t got = hw_heap_scavenge(h, SIZE_MAX);
	out->ns = bench_clock_ns() - t0;

	hw_heap_stats_get(h, &st);
	out->calls = st.platform_calls[HW_CALL_UNUSE] - calls0;
	char msg[256];
	if (got != want || st.released != want)
		rc = fail(name, "heap", "did not release exactly the free bytes (SB1)");
	else if (hw_heap_validate(h, msg, sizeof msg) != 0)
		rc = fail(name, "heap", msg);
	else if (!dry && hw_platform_resident_bytes(base, size) != live_bytes(L, page))
		rc = fail(name, "heap",
			  "resident bytes after the scavenge are not the in-use bytes (SB1)");
out:
	free(at);
	hw_heap_destroy(h);
	return rc;
}

static int run_raw(hw_platform *pf, const bench_layout *L, size_t page, const char *name,
		   side_result *out)
{
	size_t bytes = L->total * page, os_page = pf->caps.page_size;
	void *res;
	/* Over-reserve so the range can share the heap arena's alignment
	 * (huge-page placement depends on it). */
	if (hw_sys_reserve(pf, NULL, bytes + ALIGN, &res) != 0)
		return fail(name, "raw", "hw_sys_reserve failed");
	uintptr_t a = ((uintptr_t)res + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
	int rc = 0;
	if (hw_sys_map(pf, (void *)a, bytes) != 0 || hw_sys_use(pf, (void *)a, bytes) != 0) {
		rc = fail(name, "raw", "hw_sys_map/use failed");
		goto out;
	}
	touch(a, bytes, os_page);
	/* The maximal free ranges, found before the clock starts. */
	bench_run *ranges = bench_xmalloc(L->nfree * sizeof *ranges);
	size_t nr = 0;
	for (size_t i = 0; i < L->nruns; i++) {
		if (!L->is_free[i])
			continue;
		if (nr && ranges[nr - 1].first + ranges[nr - 1].pages == L->runs[i].first)
			ranges[nr - 1].pages += L->runs[i].pages;
		else
			ranges[nr++] = L->runs[i];
	}

	uint64_t t0 = bench_clock_ns();
	for (size_t i = nr; i-- > 0;)
		hw_sys_unuse(pf, (void *)(a + ranges[i].first * page), ranges[i].pages * page);
	out->ns = bench_clock_ns() - t0;
	out->calls = nr;

	free(ranges);
	if (hw_platform_resident_bytes((void *)a, bytes) != live_bytes(L, page))
		rc = fail(name, "raw", "resident bytes after unuse are not the in-use bytes (SB1)");
out:
	hw_sys_release(pf, res, bytes + ALIGN);
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: scavenge_bench [--mib M] [--seed S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	uint64_t mib = 512, seed = BENCH_SEED;
	for (int i = 1; i < argc; i++) {
		uint64_t *dst = !strcmp(argv[i], "--mib")    ? &mib
				: !strcmp(argv[i], "--seed") ? &seed
							     : NULL;
		if (!dst || i + 1 == argc || bench_parse_u64(argv[++i], dst) != 0)
			return usage();
	}
	if (mib < 64 || mib > 2048 || mib % 64)
		return usage();
	hw_platform *pf = hw_platform_linux_create(false, false);
	if (!pf) {
		fprintf(stderr, "scavenge_bench: cannot create a platform instance\n");
		return 2;
	}
	/* The heap's page, from a throwaway heap with the same config. */
	hw_heap_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.platform = pf;
	hw_heap *probe = hw_heap_create(&cfg);
	if (!probe) {
		fprintf(stderr, "scavenge_bench: hw_heap_create failed\n");
		hw_platform_destroy(pf);
		return 2;
	}
	size_t page = hw_heap_page_size(probe);
	hw_heap_destroy(probe);

	static const struct {
		const char *name;
		size_t max_pages;
	} layouts[] = {{"1-page", 1}, {"1..64-page", 64}};
	enum { NL = 2 };
	uint64_t heap_ns[NL][SCAV_REPS], raw_ns[NL][SCAV_REPS], dry_ns[NL][SCAV_REPS];
	wrap_platform dry;
	wrap_init(&dry, pf, true);
	dry.pf.name = "dry";
	dry.before = skip_unuse;
	uint64_t heap_calls[NL], raw_calls[NL];
	size_t freed[NL];
	int rc = 0;
	for (int l = 0; l < NL && !rc; l++) {
		bench_rng r = {seed ^ layouts[l].max_pages};
		bench_layout L =
			bench_layout_make(&r, (size_t)mib * MIB / page, layouts[l].max_pages);
		freed[l] = L.free_pages * page;
		for (int rep = 0; rep < SCAV_REPS && !rc; rep++) {
			side_result hs = {0, 0}, rs = {0, 0}, ds = {0, 0};
			if (rep % 2 == 0) {
				rc = run_heap(pf, false, &L, layouts[l].name, &hs);
				rc = rc ? rc : run_raw(pf, &L, page, layouts[l].name, &rs);
			} else {
				rc = run_raw(pf, &L, page, layouts[l].name, &rs);
				rc = rc ? rc : run_heap(pf, false, &L, layouts[l].name, &hs);
			}
			rc = rc ? rc : run_heap(&dry.pf, true, &L, layouts[l].name, &ds);
			heap_ns[l][rep] = hs.ns;
			raw_ns[l][rep] = rs.ns;
			dry_ns[l][rep] = ds.ns;
			heap_calls[l] = hs.calls;
			raw_calls[l] = rs.calls;
		}
		bench_layout_free(&L);
	}
	hw_platform_destroy(pf);
	if (rc)
		return rc;

	printf("scavenge_bench: release all free Ready pages of a %" PRIu64
	       " MiB layout, half free\n",
	       mib);
	printf("heap = hw_heap_scavenge(SIZE_MAX); raw = hw_sys_unuse (MADV_DONTNEED) per maximal\n"
	       "free range; policy = the heap's scavenge with a no-op unuse (its own work alone);\n"
	       "ms of thread CPU time over %d samples per side; page %zu B\n\n",
	       SCAV_REPS, page);
	printf("%-11s %6s %8s %8s %8s %8s %8s %7s %7s\n", "layout", "MiB", "heap min", "raw min",
	       "heap med", "raw med", "policy", "h calls", "r calls");
	double over[NL], paired[NL], policy[NL];
	for (int l = 0; l < NL; l++) {
		uint64_t ratio[SCAV_REPS];
		for (int rep = 0; rep < SCAV_REPS; rep++)
			ratio[rep] =
				heap_ns[l][rep] * 1000000 / (raw_ns[l][rep] ? raw_ns[l][rep] : 1);
		paired[l] = (double)bench_median(ratio, SCAV_REPS) / 1e6 - 1.0;
		double hmin = (double)bench_min(heap_ns[l], SCAV_REPS) / 1e6;
		double rmin = (double)bench_min(raw_ns[l], SCAV_REPS) / 1e6;
		double dmed = (double)bench_median(dry_ns[l], SCAV_REPS) / 1e6;
		over[l] = hmin / rmin - 1.0;
		policy[l] = dmed / rmin;
		printf("%-11s %6.1f %8.2f %8.2f %8.2f %8.2f %8.3f %7" PRIu64 " %7" PRIu64 "\n",
		       layouts[l].name, (double)freed[l] / (double)MIB, hmin, rmin,
		       (double)bench_median(heap_ns[l], SCAV_REPS) / 1e6,
		       (double)bench_median(raw_ns[l], SCAV_REPS) / 1e6, dmed, heap_calls[l],
		       raw_calls[l]);
	}
	printf("\n");
	for (int l = 0; l < NL; l++)
		printf("overhead heap/raw - 1 (fastest samples), %-10s: %+6.1f%%  target <= 10%%  "
		       "%s\n"
		       "    median of paired ratios %+.1f%%; policy alone = %.1f%% of raw\n",
		       layouts[l].name, over[l] * 100.0, bench_verdict(over[l] <= 0.10),
		       paired[l] * 100.0, policy[l] * 100.0);
	return 0;
}

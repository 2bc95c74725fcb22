/* heap_bench.c: how the cost of alloc+free grows with the heap.
 *
 * Owns: the scaling benchmark. For each workload and each heap size, it
 * builds a fragmented heap on a private Linux platform instance: the whole
 * heap allocated in runs of the workload's layout sizes, then a random half
 * of the runs freed, so free runs are scattered over every chunk (bench.h,
 * BH2). The workloads:
 *   1-page      1-page layout; pairs of (allocate 1 page; free a random
 *               live run); 64 MiB, 1 GiB, 64 GiB.
 *   1..64-page  1..64-page layout; pairs of (allocate a random 1..64-page
 *               run; free a random live run); same sizes.
 *   1p-churn    1..64-page layout; pairs of (allocate 1 page; free that
 *               page at once), what a malloc layer taking and returning a
 *               span does; 64, 128, 256 MiB, 1 GiB, 64 GiB. The heap's
 *               state is the same before every pair, so one layout says
 *               little: whether the lowest free page opens a chunk, or
 *               splits its longest run, is fixed by the layout for the
 *               whole run. Each size is therefore CHURN_LAYOUTS heaps
 *               (seeds differing by layout index; layout 0 is the
 *               1..64-page workload's), each timed for pairs/CHURN_LAYOUTS
 *               pairs per sample; the figure is the mean over layouts of
 *               each layout's median, with the fastest and slowest layout
 *               beside it.
 * The random-victim pairs keep occupancy near 50%. The figure is ns per
 * pair, the median of BENCH_REPS samples taken round-robin over every case
 * (BH3), less the harness's own instructions (time_harness), and the ratio
 * cost(largest) / cost(64 MiB) of that figure is checked against the target
 * "at most 2x".
 *
 * The live set is the harness's own data, and at 64 GiB it is tens of MiB:
 * a random victim's entry is a cache miss that has nothing to do with the
 * heap. The timed loop draws each victim one pair ahead and prefetches its
 * entry, so that miss overlaps the allocation instead of adding to the
 * pair; time_harness times the draws and lookups with the entries in cache.
 * Whatever the prefetch fails to hide is therefore charged to the heap.
 *
 * Memory: the heap never touches its pages and neither does this program, so
 * 64 GiB of address space costs only metadata (a few MiB) and page tables
 * are never filled. Every case checks that its arena stayed non-resident,
 * that the heap did not grow past the layout, and that hw_heap_validate
 * passes: a figure from a heap that misbehaved is not printed as a result.
 *
 * Invariants:
 *   H1. A case's live set is exactly the heap's allocated runs: inuse ==
 *       sum of live pages, checked after setup and after the timed pairs.
 *   H2. Timed loops contain only hw_heap_alloc, hw_heap_free and the
 *       bookkeeping of the live set (an array; O(1) per pair).
 *
 * Usage: heap_bench [--pairs N] [--seed S] [--max-gib G] [--case I]
 *                   [--workload W]
 *   --pairs N     alloc+free pairs per sample (default 200000; 1p-churn
 *                 splits them among a size's layouts)
 *   --max-gib G   largest heap in GiB (default 64; 1 to 512)
 *   --case I      run only case I (0-2: 1-page, 3-5: 1..64-page, small to
 *                 large; 6 + 8 * size + layout: 1p-churn, size 0-4 small
 *                 to large, layout 0-7), for profiling; no ratio is
 *                 printed
 *   --workload W  run only workload W's cases (0: 1-page, 1: 1..64-page,
 *                 2: 1p-churn)
 * Exit status: 0 when every case ran and checked out (PASS or MISS alike),
 * 1 when a setup step or a heap check failed, 2 on a usage error.
 *
 * Locking: single-threaded.
 */
#include "bench.h"
#include "heapward.h"
#include "inspect.h"
#include "platform.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define MIB ((size_t)1 << 20)
#define GIB ((size_t)1 << 30)

/* A live run in 4 bytes: its first page counted from the arena base (26
 * bits: 512 GiB of 8 KiB pages) and its size - 1 (6 bits: 1..64 pages). At
 * 64 GiB the live set holds 4M runs read at random; at 16 bytes a run it
 * would be 64 MiB, twice the last-level cache, and would evict the heap's
 * metadata between two pairs, charging the harness's footprint to the heap. */
typedef uint32_t live_run;

typedef struct bench_case {
	const char *workload;
	size_t max_pages; /* the layout's and the requests' largest run */
	bool churn;       /* pairs free the page just allocated (1p-churn) */
	unsigned layout;  /* 1p-churn: which of the size's CHURN_LAYOUTS */
	size_t heap_bytes;
	hw_platform *pf;
	hw_heap *h;
	uintptr_t base;
	size_t page;
	live_run *live;
	size_t nlive, cap;
	bench_rng rng;
	uint64_t setup_ns;
	uint64_t samples[BENCH_REPS];
	uint64_t harness[BENCH_REPS];
} bench_case;

static live_run live_pack(const bench_case *c, void *p, size_t pages)
{
	return (uint32_t)(((uintptr_t)p - c->base) / c->page) << 6 | (uint32_t)(pages - 1);
}

static void *live_ptr(const bench_case *c, live_run r)
{
	return (void *)(c->base + (uintptr_t)(r >> 6) * c->page);
}

static size_t live_size(live_run r) { return (r & 63) + 1; }

static int fail(const bench_case *c, const char *what)
{
	fprintf(stderr, "heap_bench: %s, %zu MiB: %s\n", c->workload, c->heap_bytes / MIB, what);
	return 1;
}

static size_t live_pages(const bench_case *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->nlive; i++)
		n += live_size(c->live[i]);
	return n;
}

/* H1, the heap's own validator, no growth, and no resident arena pages. */
static int check_case(bench_case *c)
{
	hw_heap_stats st;
	hw_heap_stats_get(c->h, &st);
	if (st.inuse != live_pages(c) * c->page)
		return fail(c, "inuse does not match the live runs (H1)");
	if (st.mapped != c->heap_bytes)
		return fail(c, "the heap grew past its layout: the workload found no fit");
	char msg[256];
	if (hw_heap_validate(c->h, msg, sizeof msg) != 0)
		return fail(c, msg);
	size_t res = hw_platform_resident_bytes((void *)c->base, c->heap_bytes);
	if (res != 0)
		return fail(c, "arena pages became resident: the figure would include page faults");
	return 0;
}

static int setup_case(bench_case *c, uint64_t seed)
{
	uint64_t t0 = hw_now_ns();
	c->pf = hw_platform_linux_create(false, false);
	if (!c->pf)
		return fail(c, "cannot create a platform instance");
	hw_heap_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.platform = c->pf; /* default page (8 KiB), arena (64 MiB), window (1 TiB) */
	c->h = hw_heap_create(&cfg);
	if (!c->h)
		return fail(c, "hw_heap_create failed");
	c->page = hw_heap_page_size(c->h);
	size_t total = c->heap_bytes / c->page;
	/* One grow reserves the whole heap, so the layout has one base. */
	if (hw_heap_grow(c->h, total) != 0 || hw_heap_arena_count(c->h) != 1)
		return fail(c, "cannot grow the heap to its size");
	void *base;
	size_t size;
	hw_heap_arena_get(c->h, 0, &base, &size);
	c->base = (uintptr_t)base;

	c->rng.s = seed ^ c->heap_bytes ^ c->max_pages ^ (c->layout * 0x9e3779b97f4a7c15ull);
	bench_layout L = bench_layout_make(&c->rng, total, c->max_pages);
	c->cap = L.nruns + 1;
	c->live = bench_xmalloc(c->cap * sizeof *c->live);
	void **at = bench_xmalloc(L.nruns * sizeof *at);
	for (size_t i = 0; i < L.nruns; i++) {
		at[i] = hw_heap_alloc(c->h, L.runs[i].pages);
		if ((uintptr_t)at[i] != c->base + L.runs[i].first * c->page)
			return fail(c,
				    "first fit did not tile the empty heap in order (bench.h BH2)");
	}
	for (size_t i = 0; i < L.nruns; i++) {
		if (L.is_free[i]) {
			if (hw_heap_free(c->h, at[i], L.runs[i].pages) != 0)
				return fail(c, "free of a setup run failed");
		} else {
			c->live[c->nlive++] = live_pack(c, at[i], L.runs[i].pages);
		}
	}
	free(at);
	bench_layout_free(&L);
	c->setup_ns = hw_now_ns() - t0;
	return check_case(c);
}

/* One 1p-churn sample: `pairs` times, allocate one page and free it (H2).
 * The live set is untouched. */
static int time_churn(bench_case *c, size_t pairs, uint64_t *ns)
{
	uint64_t t0 = bench_clock_ns();
	for (size_t k = 0; k < pairs; k++) {
		void *p = hw_heap_alloc(c->h, 1);
		if (!p)
			return fail(c, "hw_heap_alloc failed in the timed loop");
		if (hw_heap_free(c->h, p, 1) != 0)
			return fail(c, "hw_heap_free failed in the timed loop");
	}
	*ns = bench_clock_ns() - t0;
	return 0;
}

/* One sample: ns for `pairs` alloc+free pairs (H2). The victim of each
 * pair is uniform over the live set including the run just allocated; it
 * is drawn one pair ahead so that its entry can be prefetched. */
static int time_pairs(bench_case *c, size_t pairs, uint64_t *ns)
{
	if (c->churn)
		return time_churn(c, pairs, ns);
	bench_rng *r = &c->rng;
	size_t v = (size_t)bench_below(r, c->nlive + 1);
	uint64_t t0 = bench_clock_ns();
	for (size_t k = 0; k < pairs; k++) {
		size_t n = bench_run_pages(r, c->max_pages);
		void *p = hw_heap_alloc(c->h, n);
		if (!p)
			return fail(c, "hw_heap_alloc failed in the timed loop");
		c->live[c->nlive++] = live_pack(c, p, n);
		if (hw_heap_free(c->h, live_ptr(c, c->live[v]), live_size(c->live[v])) != 0)
			return fail(c, "hw_heap_free failed in the timed loop");
		c->live[v] = c->live[--c->nlive];
		v = (size_t)bench_below(r, c->nlive + 1);
		__builtin_prefetch(&c->live[v]);
	}
	*ns = bench_clock_ns() - t0;
	return 0;
}

/* The harness alone: the same random draws as time_pairs and a read of a
 * victim's entry, without the heap calls. The entries read are the first
 * HOT_ENTRIES of the live set, which stay in cache, as the prefetched
 * entries of time_pairs should; a prefetch that comes too late shows up as
 * heap time, never as harness time. Each lookup is chained to the previous
 * one (through `zero`, which the compiler cannot see is 0), so the loads
 * cannot overlap. The live set is only read, so the heap's state is
 * untouched. A 1p-churn pair draws nothing: its harness is the clock
 * reads alone. */
#define HOT_ENTRIES 512
static uint64_t time_harness(bench_case *c, size_t pairs)
{
	bench_rng r = c->rng;
	size_t zero = 0, chain = 0;
	__asm__ volatile(""
			 : "+r"(zero));
	uint64_t t0 = bench_clock_ns();
	for (size_t k = 0; k < pairs && !c->churn; k++) {
		size_t n = bench_run_pages(&r, c->max_pages);
		size_t v = ((size_t)bench_below(&r, c->nlive + 1) ^ (chain & zero)) % HOT_ENTRIES;
		live_run victim = v < c->nlive ? c->live[v] : live_pack(c, (void *)c->base, n);
		chain = (uintptr_t)live_ptr(c, victim) + live_size(victim);
	}
	uint64_t ns = bench_clock_ns() - t0;
	__asm__ volatile(""
			 :
			 : "r"(chain));
	return ns;
}

static void destroy_case(bench_case *c)
{
	if (c->h)
		hw_heap_destroy(c->h);
	if (c->pf)
		hw_platform_destroy(c->pf);
	free(c->live);
}

static int usage(void)
{
	fprintf(stderr, "usage: heap_bench [--pairs N] [--seed S] [--max-gib G] [--case I]"
			" [--workload W]\n");
	return 2;
}

static const char *size_name(size_t bytes, char *buf, size_t len)
{
	if (bytes >= GIB)
		snprintf(buf, len, "%zu GiB", bytes / GIB);
	else
		snprintf(buf, len, "%zu MiB", bytes / MIB);
	return buf;
}

#define CHURN_LAYOUTS 8
enum { NW = 3,
       MAX_SIZES = 5,
       NCASES = 3 + 3 + 5 * CHURN_LAYOUTS };

/* Heap sizes by workload in MiB, smallest first; 0 is --max-gib. */
static const struct {
	const char *name;
	size_t max_pages;
	bool churn;
	unsigned nsizes;
	size_t mib[MAX_SIZES];
} workloads[NW] = {
	{"1-page", 1, false, 3, {64, 1024, 0}},
	{"1..64-page", 64, false, 3, {64, 1024, 0}},
	{"1p-churn", 64, true, 5, {64, 128, 256, 1024, 0}},
};

/* The mean over layouts of the figures of the 1p-churn size whose layout
 * 0 is case i; 0 when a layout did not run. */
static double churn_mean(const bench_case *cases, const double *net, size_t i)
{
	double sum = 0;
	for (size_t j = i; j < i + CHURN_LAYOUTS; j++) {
		if (!cases[j].h)
			return 0;
		sum += net[j];
	}
	return sum / CHURN_LAYOUTS;
}

static void print_churn(const bench_case *cases, const double *net, uint64_t pairs)
{
	bool head = false;
	for (size_t i = 0; i < NCASES; i++) {
		const bench_case *c = &cases[i];
		if (!c->churn || c->layout != 0 || churn_mean(cases, net, i) == 0)
			continue;
		if (!head)
			printf("\n1p-churn: allocate 1 page, free it at once; %d layouts per "
			       "size,\n"
			       "%" PRIu64
			       " pairs per layout and sample; ns per pair (harness ~0)\n\n"
			       "%-11s %8s %10s %8s %8s %8s\n",
			       CHURN_LAYOUTS, pairs / CHURN_LAYOUTS, "workload", "heap",
			       "live runs", "fastest", "slowest", "mean");
		head = true;
		double lo = net[i], hi = net[i];
		for (size_t j = i; j < i + CHURN_LAYOUTS; j++) {
			lo = net[j] < lo ? net[j] : lo;
			hi = net[j] > hi ? net[j] : hi;
		}
		char nb[32];
		printf("%-11s %8s %10zu %8.1f %8.1f %8.1f\n", c->workload,
		       size_name(c->heap_bytes, nb, sizeof nb), c->nlive, lo, hi,
		       churn_mean(cases, net, i));
	}
}

static void print_table(bench_case *cases, uint64_t pairs)
{
	size_t page = 0;
	for (size_t i = 0; i < NCASES && !page; i++)
		page = cases[i].page;
	printf("heap_bench: alloc+free pairs on a fragmented heap (~50%% of pages in use)\n");
	printf("page %zu B, arena 64 MiB, window 1 TiB, Linux platform; %" PRIu64
	       " pairs per sample\n"
	       "ns per pair, median of %d samples of thread CPU time (min: fastest sample);\n"
	       "harness = random draws + a cached victim lookup (the timed loop prefetches\n"
	       "each victim one pair ahead); heap = median - harness\n\n",
	       page, pairs, BENCH_REPS);
	bool plain = false; /* a case of the random-victim workloads ran */
	for (size_t i = 0; i < NCASES; i++)
		plain |= cases[i].h && !cases[i].churn;
	if (plain)
		printf("%-11s %8s %10s %8s %8s %8s %8s %8s\n", "workload", "heap", "live runs",
		       "setup s", "min", "median", "harness", "heap");
	double tot[NCASES], net[NCASES];
	for (size_t i = 0; i < NCASES; i++) {
		bench_case *c = &cases[i];
		if (!c->h)
			continue;
		char nb[32];
		uint64_t n = c->churn ? pairs / CHURN_LAYOUTS : pairs;
		tot[i] = (double)bench_median(c->samples, BENCH_REPS) / (double)n;
		net[i] = tot[i] - (double)bench_median(c->harness, BENCH_REPS) / (double)n;
		if (c->churn)
			continue;
		printf("%-11s %8s %10zu %8.2f %8.1f %8.1f %8.1f %8.1f\n", c->workload,
		       size_name(c->heap_bytes, nb, sizeof nb), c->nlive, (double)c->setup_ns / 1e9,
		       (double)bench_min(c->samples, BENCH_REPS) / (double)pairs, tot[i],
		       tot[i] - net[i], net[i]);
	}
	print_churn(cases, net, pairs);
	bool first = true;
	for (size_t w = 0; w < NW; w++) {
		size_t lo = NCASES, hi = NCASES;
		for (size_t i = 0; i < NCASES; i++) {
			if (cases[i].workload != workloads[w].name || cases[i].layout != 0)
				continue;
			lo = lo == NCASES ? i : lo;
			hi = i;
		}
		if (lo == NCASES || !cases[lo].h || !cases[hi].h || lo == hi)
			continue;
		char big[32];
		double rn = net[hi] / net[lo], rt = tot[hi] / tot[lo];
		if (cases[lo].churn) /* the figure is the mean over layouts */
			rn = rt = churn_mean(cases, net, hi) / churn_mean(cases, net, lo);
		printf("%sratio cost(%s)/cost(64 MiB), %-10s: heap %5.2fx  target <= 2.00x  %s"
		       "  (with harness %.2fx)\n",
		       first ? "\n" : "", size_name(cases[hi].heap_bytes, big, sizeof big),
		       workloads[w].name, rn, bench_verdict(rn <= 2.0), rt);
		first = false;
	}
}

int main(int argc, char **argv)
{
	uint64_t pairs = 200000, seed = BENCH_SEED, max_gib = 64, only = UINT64_MAX;
	uint64_t only_w = UINT64_MAX;
	for (int i = 1; i < argc; i++) {
		uint64_t *dst = !strcmp(argv[i], "--pairs")      ? &pairs
				: !strcmp(argv[i], "--seed")     ? &seed
				: !strcmp(argv[i], "--max-gib")  ? &max_gib
				: !strcmp(argv[i], "--case")     ? &only
				: !strcmp(argv[i], "--workload") ? &only_w
								 : NULL;
		if (!dst || i + 1 == argc || bench_parse_u64(argv[++i], dst) != 0)
			return usage();
	}
	if (pairs < CHURN_LAYOUTS || max_gib == 0 || max_gib > 512 ||
	    (only != UINT64_MAX && only >= NCASES) || (only_w != UINT64_MAX && only_w >= NW))
		return usage();

	bench_case cases[NCASES];
	memset(cases, 0, sizeof cases);
	int rc = 0;
	size_t at = 0;
	for (size_t w = 0; w < NW; w++) {
		unsigned layouts = workloads[w].churn ? CHURN_LAYOUTS : 1;
		for (unsigned k = 0; k < workloads[w].nsizes * layouts && !rc; k++, at++) {
			bench_case *c = &cases[at];
			size_t mib = workloads[w].mib[k / layouts];
			c->workload = workloads[w].name;
			c->max_pages = workloads[w].max_pages;
			c->churn = workloads[w].churn;
			c->layout = k % layouts;
			c->heap_bytes = mib ? mib * MIB : (size_t)max_gib * GIB;
			if ((only == UINT64_MAX || only == at) &&
			    (only_w == UINT64_MAX || only_w == w))
				rc = setup_case(c, seed);
		}
	}
	/* BH3: samples round-robin over the cases, so drift hits all alike. */
	for (int rep = 0; rep < BENCH_REPS && !rc; rep++) {
		for (size_t i = 0; i < NCASES && !rc; i++) {
			if (!cases[i].h)
				continue;
			size_t n = (size_t)(cases[i].churn ? pairs / CHURN_LAYOUTS : pairs);
			cases[i].harness[rep] = time_harness(&cases[i], n);
			rc = time_pairs(&cases[i], n, &cases[i].samples[rep]);
		}
	}
	for (size_t i = 0; i < NCASES && !rc; i++)
		if (cases[i].h)
			rc = check_case(&cases[i]);
	if (!rc)
		print_table(cases, pairs);
	for (size_t i = 0; i < NCASES; i++)
		destroy_case(&cases[i]);
	return rc;
}

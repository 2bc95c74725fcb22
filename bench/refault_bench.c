/* refault_bench.c: what the scavenger's release order costs the allocations
 * that follow it.
 *
 * Owns: the refault benchmark. Memory a scavenge releases and a later
 * allocation takes again must be made Ready again (a "use" call, and on
 * Linux a page fault per OS page, zero-filled, when the run is written):
 * work that bought nothing. This program runs one alloc/free/scavenge
 * workload per scavenging mode and reports, for the heap's release order,
 *   scav    bytes the scavenges released;
 *   refault bytes allocations made Ready again (released pages they took),
 *           and the ratio refault / scav;
 *   use     platform "use" calls those allocations made;
 *   ready   mean Ready bytes over the run (what the scavenges saved);
 *   ns/op   thread CPU time per op (alloc + write, free, scavenge), system
 *           calls and page faults included, median of REPS runs (BH3).
 *
 * Workload (bench.h BH1: a pure function of the seed). A heap of 8 KiB pages
 * and 4 MiB arenas is grown to HEAP_MIB and every page is made Ready and
 * written once (setup, not timed), so every release the run sees comes from
 * a scavenge and every reacquire is a refault. Then OPS ops: the live bytes
 * follow a sawtooth between LOW_MIB and HIGH_MIB (PHASE ops up, PHASE ops
 * down: allocations win 3 to 1 on the way up, frees on the way down), 90% of
 * runs 1-16 pages and 10% 64-320 pages, a random live run freed, and one
 * byte written in every OS page of each new run. Modes:
 *   steps     after every 32 ops, hw_heap_scavenger_step until it returns 0
 *             (at most 4): the background scavenger keeping the goal;
 *   explicit  every 512 ops, hw_heap_scavenge(h, n), n = 8 KiB << k with k
 *             uniform in 0..9 (8 KiB to 4 MiB);
 *   one       every 128 ops, hw_heap_scavenge(h, 1): the smallest request.
 * The heap never grows during the ops (the sawtooth peak fits with room to
 * spare); the program checks that, and hw_heap_validate at the end.
 *
 * The counts depend only on the heap's policy, the seed and the platform's
 * page and huge page sizes (printed); the times depend on the machine.
 *
 * Usage: refault_bench [--sim] [--ops N] [--seed S]
 *   --sim    the checked simulator with 4 KiB pages and 2 MiB huge pages
 *            instead of the Linux backend (exact counts on any kernel;
 *            times include the simulator's bookkeeping)
 * Exit status: 0, 1 when a check failed, 2 on a usage error or no platform.
 *
 * Locking: single-threaded.
 */
#include "bench.h"
#include "heapward.h"
#include "inspect.h"
#include "platform.h"
#include "sim.h"

#include <string.h>

#define MIB ((size_t)1 << 20)
#define PAGE ((size_t)8 << 10)
#define HEAP_MIB 64
#define LOW_MIB 12
#define HIGH_MIB 40
#define PHASE 6000
#define REPS 3

typedef enum mode { MODE_STEPS,
		    MODE_EXPLICIT,
		    MODE_ONE,
		    MODE_COUNT } mode;
static const char *const mode_name[MODE_COUNT] = {"steps", "explicit", "one"};

typedef struct result {
	uint64_t scav, refault, use, ready_sum, ready_samples, ns;
} result;

typedef struct obj {
	char *p;
	size_t pages;
} obj;

static hw_platform *make_platform(bool sim)
{
	if (!sim)
		return hw_platform_linux_create(false, false);
	hw_sim_config sc = {.backing_bytes = 2 * HEAP_MIB * MIB,
			    .huge_page_size = 2 * MIB,
			    .released_reads_zero = true};
	return hw_platform_sim_create(&sc);
}

static void touch(char *p, size_t n, size_t os_page)
{
	for (size_t off = 0; off < n; off += os_page)
		p[off] = 1;
}

static int fail(const char *m, const char *what)
{
	fprintf(stderr, "refault_bench: %s: %s\n", m, what);
	return 1;
}

static void scavenge_for(hw_heap *h, mode m, size_t op, bench_rng *r)
{
	if (m == MODE_STEPS && op % 32 == 0)
		for (int k = 0; k < 4 && hw_heap_scavenger_step(h) != 0; k++)
			;
	if (m == MODE_EXPLICIT && op % 512 == 0)
		hw_heap_scavenge(h, PAGE << bench_below(r, 10));
	if (m == MODE_ONE && op % 128 == 0)
		hw_heap_scavenge(h, 1);
}

static int run(bool sim, mode m, uint64_t seed, size_t ops, result *out)
{
	hw_platform *pf = make_platform(sim);
	if (!pf)
		return fail(mode_name[m], "no platform");
	hw_heap_config cfg = {0};
	cfg.platform = pf;
	cfg.arena_size = 4 * MIB;
	cfg.address_space = 4 * HEAP_MIB * MIB;
	hw_heap *h = hw_heap_create(&cfg);
	size_t total = HEAP_MIB * MIB / PAGE, os_page = pf->caps.page_size;
	obj *live = bench_xmalloc(total * sizeof *live);
	size_t nlive = 0, live_bytes = 0;
	int rc = 0;
	char *all = NULL;
	if (!h || hw_heap_grow(h, total) != 0 || !(all = hw_heap_alloc(h, total))) {
		rc = fail(mode_name[m], "setup");
		goto out;
	}
	touch(all, total * PAGE, os_page);
	hw_heap_free(h, all, total);

	bench_rng r = {seed};
	hw_heap_stats s0, s;
	hw_heap_stats_get(h, &s0);
	result res = {0};
	uint64_t t0 = bench_clock_ns();
	for (size_t op = 0; op < ops; op++) {
		bool up = (op / PHASE) % 2 == 0;
		size_t target = (up ? HIGH_MIB : LOW_MIB) * MIB;
		bool want_alloc = live_bytes < target ? bench_below(&r, 4) != 0
						      : bench_below(&r, 4) == 0;
		if (want_alloc || nlive == 0) {
			size_t n = bench_below(&r, 10) != 0 ? 1 + bench_below(&r, 16)
							    : 64 + bench_below(&r, 257);
			hw_heap_stats_get(h, &s);
			size_t rel0 = s.released;
			char *p = hw_heap_alloc(h, n);
			if (!p) {
				rc = fail(mode_name[m], "allocation failed");
				goto out;
			}
			hw_heap_stats_get(h, &s);
			res.refault += rel0 - s.released;
			touch(p, n * PAGE, os_page);
			live[nlive++] = (obj){p, n};
			live_bytes += n * PAGE;
		} else {
			size_t k = bench_below(&r, nlive);
			hw_heap_free(h, live[k].p, live[k].pages);
			live_bytes -= live[k].pages * PAGE;
			live[k] = live[--nlive];
		}
		scavenge_for(h, m, op, &r);
		if (op % 64 == 0) {
			hw_heap_stats_get(h, &s);
			res.ready_sum += s.ready;
			res.ready_samples++;
		}
	}
	res.ns = bench_clock_ns() - t0;
	hw_heap_stats_get(h, &s);
	if (s.grows != s0.grows) {
		rc = fail(mode_name[m], "the heap grew during the ops");
		goto out;
	}
	res.scav = s.scavenged_bytes - s0.scavenged_bytes;
	res.use = s.platform_calls[HW_CALL_USE] - s0.platform_calls[HW_CALL_USE];
	char msg[256];
	if (hw_heap_validate(h, msg, sizeof msg) != 0)
		rc = fail(mode_name[m], msg);
	*out = res;
out:
	free(live);
	if (h)
		hw_heap_destroy(h);
	hw_platform_destroy(pf);
	return rc;
}

int main(int argc, char **argv)
{
	bool sim = false;
	uint64_t seed = BENCH_SEED, ops = 60000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sim")) {
			sim = true;
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc &&
			   bench_parse_u64(argv[i + 1], &ops) == 0 && ops > 0) {
			i++;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc &&
			   bench_parse_u64(argv[i + 1], &seed) == 0) {
			i++;
		} else {
			fprintf(stderr, "usage: refault_bench [--sim] [--ops N] [--seed S]\n");
			return 2;
		}
	}
	hw_platform *pf = make_platform(sim);
	if (!pf) {
		fprintf(stderr, "refault_bench: no platform\n");
		return 2;
	}
	printf("refault_bench: %s, OS page %zu KiB, huge page %zu KiB, %llu ops, seed %#llx\n",
	       sim ? "simulator" : "linux", pf->caps.page_size >> 10, pf->caps.huge_page_size >> 10,
	       (unsigned long long)ops, (unsigned long long)seed);
	hw_platform_destroy(pf);
	printf("%-9s %10s %10s %8s %8s %10s %8s\n", "mode", "scav MiB", "refault", "ratio",
	       "use", "ready MiB", "ns/op");
	int rc = 0;
	for (int m = 0; m < MODE_COUNT; m++) {
		result res[REPS];
		uint64_t ns[REPS];
		for (int k = 0; k < REPS; k++) {
			if (run(sim, (mode)m, seed, ops, &res[k]) != 0)
				return 1;
			ns[k] = res[k].ns;
			/* BH1: the counts are the same every time. */
			if (memcmp(&res[k], &res[0], offsetof(result, ns)) != 0)
				rc = fail(mode_name[m], "counts differ between repetitions");
		}
		const result *x = &res[0];
		printf("%-9s %10.1f %10.1f %8.3f %8llu %10.1f %8.0f\n", mode_name[m],
		       (double)x->scav / MIB, (double)x->refault / MIB,
		       x->scav ? (double)x->refault / (double)x->scav : 0.0,
		       (unsigned long long)x->use,
		       (double)x->ready_sum / (double)(x->ready_samples ? x->ready_samples : 1) /
			       MIB,
		       (double)bench_median(ns, REPS) / (double)ops);
	}
	return rc;
}

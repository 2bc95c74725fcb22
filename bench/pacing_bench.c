/* pacing_bench.c: how fast the background scavenger gives freed memory
 * back, and what it costs a program that is busy.
 *
 * Owns: the pacing benchmark. Three cases, each on a fresh heap with the
 * default configuration (8 KiB pages, 64 MiB arenas, retained goal 10% over
 * inuse, CPU budget 1%) on a private Linux platform instance, with the
 * background scavenger started before the program's work, as a program
 * would:
 *   idle   keep 1 MiB live, allocate M MiB more (default 1024) in 512 KiB
 *          runs and write every OS page, free those runs, then do nothing.
 *          Timed from the last free: until Ready <= the retained goal, and
 *          until the heap's resident bytes (mincore) are; MiB/s of the
 *          freed bytes. Target: 1 GiB within about 1 s.
 *   limit  the same with a 16 MiB memory limit and M = 256 (the soft limit
 *          lets the allocations exceed it), nothing live after the frees:
 *          time until Ready <= the limit. Target: within about 1 s.
 *   busy   a mutator thread keeps a 64 MiB live set of runs of 1..64 pages
 *          and, for S seconds (default 2), frees a random live run,
 *          allocates a run of random size and writes each of its OS pages
 *          (so memory the scavenger released is faulted back in). The same
 *          seeded stream is run with the scavenger and without it,
 *          alternating (BH3). Figures: the scavenger thread's CPU time over
 *          the wall time of the run (target: <= the 1% budget, plus 0.1
 *          point for clock and sleep granularity), and the mutator's
 *          operations with the scavenger over without it, per second of the
 *          mutator's own CPU time (other load on a shared machine does not
 *          count, BH3; the page faults that bring back memory the scavenger
 *          released do) and per wall second.
 * The scavenger thread's CPU time is read from the kernel (the thread's
 * CPU clock, found by its id in /proc/self/task), independently of the
 * heap; the heap's own bg_scavenger_cpu_ns is printed beside it.
 *
 * Invariants:
 *   PB1. Every case checks its heap afterwards (hw_heap_validate) and the
 *        busy case checks inuse == its live set: a figure from a heap that
 *        misbehaved is not printed.
 *   PB2. Polling (every POLL_NS) is done by the main thread, which makes no
 *        heap call but hw_heap_stats_get and mincore: it never counts as an
 *        allocation or a free.
 *   PB3. A case that does not reach its target within --timeout-s seconds
 *        reports what it released by then, and its rate, instead of a time.
 *
 * Usage: pacing_bench [--idle-mib M] [--limit-mib M] [--busy-s S]
 *                     [--reps N] [--timeout-s T] [--case idle|limit|busy]
 *   defaults: 1024, 256, 2, 3 reps (medians), 10 s.
 * Exit status: 0 when every case checked out (PASS or MISS alike), 1 when a
 * setup step or a check failed, 2 on a usage error or no platform.
 *
 * Locking: the busy case runs the mutator on its own thread; the main
 * thread only starts, times and stops it (a flag, atomically).
 */
#include "bench.h"
#include "heapward.h"
#include "inspect.h"
#include "platform.h"

#include <dirent.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#define MIB ((size_t)1 << 20)
#define RUN_PAGES 64 /* 512 KiB runs in the idle and limit cases */
#define POLL_NS 1000000ull
#define BUSY_LIVE_MIB 64
#define BUSY_MAX_RUN 64
#define LIMIT_MIB 16
#define MAX_REPS 15

static hw_platform *pf;

/* ---- the scavenger thread's CPU clock, from the kernel ------------------------ */

#define MAX_TASKS 64

static size_t list_tasks(long *out, size_t cap)
{
	size_t n = 0;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return 0;
	/* One thread reads this stream: readdir is safe (readdir_r is
	 * deprecated by glibc). */
	/* cppcheck-suppress readdirCalled */
	for (struct dirent *e; (e = readdir(d)) != NULL && n < cap;)
		if (e->d_name[0] != '.')
			out[n++] = strtol(e->d_name, NULL, 10);
	closedir(d);
	return n;
}

/* Starts h's scavenger and returns its thread id (the task that was not
 * there before), or -1. */
static long start_scavenger(hw_heap *h)
{
	long before[MAX_TASKS], after[MAX_TASKS];
	size_t nb = list_tasks(before, MAX_TASKS);
	if (hw_heap_scavenger_start(h) != 0)
		return -1;
	size_t na = list_tasks(after, MAX_TASKS);
	for (size_t i = 0; i < na; i++) {
		bool old = false;
		for (size_t j = 0; j < nb && !old; j++)
			old = after[i] == before[j];
		if (!old)
			return after[i];
	}
	return -1;
}

/* CPU time of thread tid of this process: the kernel's per-thread CPU
 * clock id is (~tid << 3) | 6 (CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD). */
static uint64_t task_cpu_ns(long tid)
{
	struct timespec ts;
	clockid_t id = (clockid_t)((~(unsigned long)tid << 3) | 6u);
	if (tid < 0 || clock_gettime(id, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- helpers ---------------------------------------------------------------------- */

static int fail(const char *cs, const char *what)
{
	fprintf(stderr, "pacing_bench: %s: %s\n", cs, what);
	return 1;
}

static hw_heap *make_heap(size_t limit)
{
	hw_heap_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.platform = pf;
	cfg.memory_limit = limit;
	return hw_heap_create(&cfg);
}

static void touch(void *p, size_t n)
{
	for (size_t off = 0; off < n; off += pf->caps.page_size)
		((volatile unsigned char *)p)[off] = 1;
}

static size_t resident(hw_heap *h)
{
	size_t r = 0;
	for (size_t i = 0; i < hw_heap_arena_count(h); i++) {
		void *base;
		size_t size;
		hw_heap_arena_get(h, i, &base, &size);
		r += hw_platform_resident_bytes(base, size);
	}
	return r;
}

static size_t goal_of(const hw_heap_stats *s)
{
	return s->inuse + s->inuse / 10; /* retain_percent 10, the default */
}

static int check(hw_heap *h, const char *cs)
{
	char msg[256];
	if (hw_heap_validate(h, msg, sizeof msg) != 0)
		return fail(cs, msg);
	return 0;
}

/* ---- idle and limit ---------------------------------------------------------- */

typedef struct return_result {
	uint64_t ready_ns, rss_ns; /* UINT64_MAX: not reached (PB3) */
	size_t freed, released_at_timeout;
	uint64_t scav_cpu_ns, stat_cpu_ns; /* during the return */
} return_result;

/* One sample of the idle (limit == 0) or limit case. */
static int run_return(size_t mib, size_t limit, uint64_t timeout_ns, return_result *out)
{
	const char *cs = limit ? "limit" : "idle";
	hw_heap *h = make_heap(limit);
	if (!h)
		return fail(cs, "hw_heap_create failed");
	int rc = 0;
	long tid = start_scavenger(h);
	size_t page = hw_heap_page_size(h);
	size_t nruns = mib * MIB / (RUN_PAGES * page);
	void **runs = bench_xmalloc(nruns * sizeof *runs);
	void *keep = limit ? NULL : hw_heap_alloc(h, MIB / page);
	if (tid < 0 || (!limit && !keep)) {
		rc = fail(cs, "cannot start the scavenger or allocate the live MiB");
		goto out;
	}
	if (keep)
		touch(keep, MIB);
	for (size_t i = 0; i < nruns && !rc; i++) {
		runs[i] = hw_heap_alloc(h, RUN_PAGES);
		if (!runs[i])
			rc = fail(cs, "allocation failed");
		else
			touch(runs[i], RUN_PAGES * page);
	}
	for (size_t i = 0; i < nruns && !rc; i++)
		if (hw_heap_free(h, runs[i], RUN_PAGES) != 0)
			rc = fail(cs, "free failed");
	if (rc)
		goto out;

	hw_heap_stats s;
	hw_heap_stats_get(h, &s);
	size_t want = limit ? limit : goal_of(&s);
	size_t ready0 = s.ready;
	uint64_t cpu0 = task_cpu_ns(tid), stat0 = s.bg_scavenger_cpu_ns;
	uint64_t t0 = hw_now_ns(), now = t0;
	out->ready_ns = out->rss_ns = UINT64_MAX;
	out->freed = nruns * RUN_PAGES * page;
	while (now - t0 < timeout_ns && out->rss_ns == UINT64_MAX) {
		hw_sleep_ns(POLL_NS);
		now = hw_now_ns();
		hw_heap_stats_get(h, &s);
		if (out->ready_ns == UINT64_MAX && s.ready <= want)
			out->ready_ns = now - t0;
		if (out->ready_ns != UINT64_MAX && resident(h) <= want)
			out->rss_ns = hw_now_ns() - t0;
	}
	hw_heap_stats_get(h, &s);
	out->released_at_timeout = ready0 > s.ready ? ready0 - s.ready : 0;
	out->scav_cpu_ns = task_cpu_ns(tid) - cpu0;
	out->stat_cpu_ns = s.bg_scavenger_cpu_ns - stat0;
	hw_heap_scavenger_stop(h);
	rc = check(h, cs);
	if (keep && hw_heap_free(h, keep, MIB / page) != 0)
		rc = fail(cs, "free of the live MiB failed");
out:
	free(runs);
	hw_heap_destroy(h);
	return rc;
}

static void print_return(const char *cs, size_t mib, const char *goal, return_result *r,
			 size_t reps, uint64_t timeout_ns)
{
	uint64_t ready[MAX_REPS] = {0}, rss[MAX_REPS] = {0}, cpu[MAX_REPS] = {0},
		 stat[MAX_REPS] = {0};
	size_t missed = 0;
	for (size_t i = 0; i < reps; i++) {
		ready[i] = r[i].ready_ns;
		rss[i] = r[i].rss_ns;
		cpu[i] = r[i].scav_cpu_ns;
		stat[i] = r[i].stat_cpu_ns;
		missed += r[i].rss_ns == UINT64_MAX;
	}
	uint64_t mr = bench_median(ready, reps), ms = bench_median(rss, reps);
	printf("%-6s %5zu MiB freed, until %-14s", cs, mib, goal);
	if (ms == UINT64_MAX) {
		/* PB3: the median sample timed out; report its rate. */
		size_t rel = 0;
		for (size_t i = 0; i < reps; i++)
			rel += r[i].released_at_timeout;
		rel /= reps;
		printf(" not reached in %.1f s (%zu of %zu reps): %.0f MiB released, %.0f MiB/s  "
		       "MISS\n",
		       (double)timeout_ns / 1e9, missed, reps, (double)rel / (double)MIB,
		       (double)rel / (double)MIB / ((double)timeout_ns / 1e9));
	} else {
		double s = (double)ms / 1e9;
		printf(" Ready %7.3f s, RSS %7.3f s, %6.0f MiB/s  target <= 1 s  %s\n",
		       (double)mr / 1e9, s, (double)mib / s, bench_verdict(s <= 1.0));
	}
	printf("       scavenger CPU during the return: %.1f ms (kernel), %.1f ms (stat)\n",
	       (double)bench_median(cpu, reps) / 1e6, (double)bench_median(stat, reps) / 1e6);
}

/* ---- busy -------------------------------------------------------------------------- */

typedef struct mutator {
	hw_heap *h;
	size_t page, nlive;
	void **live;
	size_t *pages;
	bench_rng rng;
	uint64_t ops, cpu_ns; /* cpu_ns: the mutator thread's CPU time */
	int stop;             /* atomic */
	int failed;
} mutator;

static void *mutate(void *arg)
{
	mutator *m = arg;
	uint64_t cpu0 = hw_thread_cpu_ns();
	while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
		size_t v = (size_t)bench_below(&m->rng, m->nlive);
		if (hw_heap_free(m->h, m->live[v], m->pages[v]) != 0) {
			m->failed = 1;
			break;
		}
		size_t n = bench_run_pages(&m->rng, BUSY_MAX_RUN);
		void *p = hw_heap_alloc(m->h, n);
		if (!p) {
			m->failed = 1;
			break;
		}
		touch(p, n * m->page);
		m->live[v] = p;
		m->pages[v] = n;
		m->ops++;
	}
	m->cpu_ns = hw_thread_cpu_ns() - cpu0;
	return NULL;
}

typedef struct busy_result {
	double ops_per_s, ops_per_cpu_s; /* wall, and the mutator's CPU time */
	uint64_t wall_ns, scav_cpu_ns, stat_cpu_ns;
} busy_result;

static int run_busy(bool scavenger, uint64_t seed, uint64_t run_ns, busy_result *out)
{
	hw_heap *h = make_heap(0);
	if (!h)
		return fail("busy", "hw_heap_create failed");
	int rc = 0;
	mutator m;
	memset(&m, 0, sizeof m);
	m.h = h;
	m.page = hw_heap_page_size(h);
	m.rng.s = seed;
	size_t cap = BUSY_LIVE_MIB * MIB / m.page;
	m.live = bench_xmalloc(cap * sizeof *m.live);
	m.pages = bench_xmalloc(cap * sizeof *m.pages);
	for (size_t bytes = 0; bytes < BUSY_LIVE_MIB * MIB && !rc; m.nlive++) {
		size_t n = bench_run_pages(&m.rng, BUSY_MAX_RUN);
		m.live[m.nlive] = hw_heap_alloc(h, n);
		m.pages[m.nlive] = n;
		if (!m.live[m.nlive])
			rc = fail("busy", "allocation failed");
		else
			touch(m.live[m.nlive], n * m.page);
		bytes += n * m.page;
	}
	long tid = -1;
	if (!rc && scavenger && (tid = start_scavenger(h)) < 0)
		rc = fail("busy", "cannot start the scavenger");
	hw_thread t;
	if (!rc && hw_thread_start(&t, mutate, &m) != 0)
		rc = fail("busy", "cannot start the mutator");
	if (rc)
		goto out;
	hw_heap_stats s;
	hw_heap_stats_get(h, &s);
	uint64_t stat0 = s.bg_scavenger_cpu_ns, cpu0 = task_cpu_ns(tid);
	uint64_t t0 = hw_now_ns();
	hw_sleep_ns(run_ns);
	__atomic_store_n(&m.stop, 1, __ATOMIC_RELEASE);
	hw_thread_join(&t);
	out->wall_ns = hw_now_ns() - t0;
	out->scav_cpu_ns = scavenger ? task_cpu_ns(tid) - cpu0 : 0;
	hw_heap_stats_get(h, &s);
	out->stat_cpu_ns = s.bg_scavenger_cpu_ns - stat0;
	out->ops_per_s = (double)m.ops / ((double)out->wall_ns / 1e9);
	out->ops_per_cpu_s = (double)m.ops / ((double)(m.cpu_ns ? m.cpu_ns : 1) / 1e9);
	hw_heap_scavenger_stop(h);
	size_t live = 0;
	for (size_t i = 0; i < m.nlive; i++)
		live += m.pages[i] * m.page;
	if (m.failed)
		rc = fail("busy", "a mutator operation failed");
	else if (s.inuse != live)
		rc = fail("busy", "inuse is not the live set (PB1)");
	else
		rc = check(h, "busy");
out:
	free(m.live);
	free(m.pages);
	hw_heap_destroy(h);
	return rc;
}

static void print_busy(const busy_result *with, const busy_result *without, size_t reps,
		       uint64_t busy_s)
{
	/* Ratios in millionths, so the median helper applies. */
	uint64_t cpu[MAX_REPS] = {0}, stat[MAX_REPS] = {0}, wall[MAX_REPS] = {0},
		 mcpu[MAX_REPS] = {0}, ops[MAX_REPS] = {0};
	for (size_t i = 0; i < reps; i++) {
		cpu[i] = with[i].scav_cpu_ns * 1000000 / with[i].wall_ns;
		stat[i] = with[i].stat_cpu_ns * 1000000 / with[i].wall_ns;
		wall[i] = (uint64_t)(with[i].ops_per_s / without[i].ops_per_s * 1e6);
		mcpu[i] = (uint64_t)(with[i].ops_per_cpu_s / without[i].ops_per_cpu_s * 1e6);
		ops[i] = (uint64_t)without[i].ops_per_cpu_s;
	}
	double c = (double)bench_median(cpu, reps) / 1e4;
	printf("busy   %" PRIu64 " s of churn on a %d MiB live set (1..%d-page runs; without the "
	       "scavenger %" PRIu64 " ops per CPU second)\n",
	       busy_s, BUSY_LIVE_MIB, BUSY_MAX_RUN, bench_median(ops, reps));
	printf("       scavenger CPU / wall %.3f%% (kernel), %.3f%% (stat)  target <= 1.1%%  %s\n",
	       c, (double)bench_median(stat, reps) / 1e4, bench_verdict(c <= 1.1));
	printf("       mutator throughput with / without the scavenger: %.3f per CPU second, "
	       "%.3f per wall second\n",
	       (double)bench_median(mcpu, reps) / 1e6, (double)bench_median(wall, reps) / 1e6);
}

/* ---- main ---------------------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr, "usage: pacing_bench [--idle-mib M] [--limit-mib M] [--busy-s S] "
			"[--reps N] [--timeout-s T] [--case idle|limit|busy]\n");
	return 2;
}

int main(int argc, char **argv)
{
	uint64_t idle_mib = 1024, limit_mib = 256, busy_s = 2, reps = 3, timeout_s = 10;
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--case") && i + 1 < argc) {
			only = argv[++i];
			continue;
		}
		uint64_t *dst = !strcmp(argv[i], "--idle-mib")    ? &idle_mib
				: !strcmp(argv[i], "--limit-mib") ? &limit_mib
				: !strcmp(argv[i], "--busy-s")    ? &busy_s
				: !strcmp(argv[i], "--reps")      ? &reps
				: !strcmp(argv[i], "--timeout-s") ? &timeout_s
								  : NULL;
		if (!dst || i + 1 == argc || bench_parse_u64(argv[++i], dst) != 0)
			return usage();
	}
	if (idle_mib < 16 || idle_mib > 4096 || limit_mib <= LIMIT_MIB || limit_mib > 4096 ||
	    busy_s < 1 || busy_s > 60 || reps < 1 || reps > MAX_REPS || timeout_s < 1 ||
	    timeout_s > 120)
		return usage();
	if (only && strcmp(only, "idle") && strcmp(only, "limit") && strcmp(only, "busy"))
		return usage();
	pf = hw_platform_linux_create(false, false);
	if (!pf) {
		fprintf(stderr, "pacing_bench: cannot create a platform instance\n");
		return 2;
	}
	uint64_t timeout_ns = timeout_s * 1000000000ull;
	int rc = 0;
	printf("pacing_bench: background scavenger, default config (budget 1%% of a core, "
	       "goal inuse + 10%%)\n\n");
	return_result r[MAX_REPS];
	if (!only || !strcmp(only, "idle")) {
		for (size_t i = 0; i < reps && !rc; i++)
			rc = run_return(idle_mib, 0, timeout_ns, &r[i]);
		if (!rc)
			print_return("idle", idle_mib, "the goal:", r, reps, timeout_ns);
	}
	if (!rc && (!only || !strcmp(only, "limit"))) {
		for (size_t i = 0; i < reps && !rc; i++)
			rc = run_return(limit_mib, LIMIT_MIB * MIB, timeout_ns, &r[i]);
		if (!rc)
			print_return("limit", limit_mib, "16 MiB limit:", r, reps, timeout_ns);
	}
	if (!rc && (!only || !strcmp(only, "busy"))) {
		busy_result with[MAX_REPS] = {0}, without[MAX_REPS] = {0};
		for (size_t i = 0; i < reps && !rc; i++) {
			uint64_t seed = BENCH_SEED + i;
			if (i % 2 == 0) {
				rc = run_busy(true, seed, busy_s * 1000000000ull, &with[i]);
				rc = rc ? rc
					: run_busy(false, seed, busy_s * 1000000000ull,
						   &without[i]);
			} else {
				rc = run_busy(false, seed, busy_s * 1000000000ull, &without[i]);
				rc = rc ? rc
					: run_busy(true, seed, busy_s * 1000000000ull, &with[i]);
			}
		}
		if (!rc)
			print_busy(with, without, reps, busy_s);
	}
	hw_platform_destroy(pf);
	return rc;
}

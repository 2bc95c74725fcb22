/* malloc_bench.c: the malloc layer's fast paths against glibc malloc, in
 * the same run, at one and two threads.
 *
 * Owns: five workloads run on both allocators, interleaved rep by rep
 * (bench.h BH3), each reported as ns per malloc+free pair and as a ratio
 * heapward / glibc (below 1 is faster):
 *   pair      malloc then free at once, sizes 16-512 B (one thread)
 *   batch64   64 mallocs, then 64 frees in the same order (one thread)
 *   fifo      each object freed 1024 mallocs after its own, on one thread:
 *             prodcons's object lifetimes without the second thread
 *   batch64x2 batch64 on two threads at once (both threads' pairs counted:
 *             the scaling case)
 *   prodcons  one thread mallocs, another frees each object (every free
 *             is remote), through a single-producer ring of 1024
 *             pointers published 64 at a time
 * and the scaling table: two threads' throughput over one thread's, for
 * batch64x2 over batch64 and prodcons over fifo (target: at least 1.8).
 * fifo and prodcons are also run on a third side, "no-op", which is no
 * allocator at all (MB3): its prodcons time is the ring's own cost, a floor
 * under any allocator's, printed beside the time the 1.8 target needs.
 * --only W runs workload W alone and --side glibc|heapward one allocator
 * alone (no ratio then): for instruction counts under callgrind, where the
 * difference between two --pairs values is the cost of the extra pairs.
 * Sizes come from a fixed seeded stream (BH1).
 *
 * Invariants:
 *   MB1. Every object is written once (its first byte), so neither side
 *        gets credit for never touching memory.
 *   MB2. Each sample records wall time, the calling thread's CPU time and
 *        the process's CPU time (every thread's, the allocator's own
 *        threads included). The per-pair table shows thread CPU time for
 *        the one-thread cases (time descheduled by other load does not
 *        count) and wall time for the two-thread ones. Scaling is given
 *        twice: by wall time (what two cores deliver; meaningful only when
 *        the machine has two idle cores, so the load average is printed),
 *        and by process CPU time, 2 x (CPU per pair alone) / (CPU per pair
 *        of both threads together), which is 2.0 when neither thread slows
 *        the other (no lock, no shared cache line) whatever the load. The
 *        ring's waits yield the CPU, so a descheduled partner is not spun
 *        against (a yield is CPU time, charged to prodcons).
 *   MB3. The no-op side bumps through an arena of NOOP_ARENA bytes and its
 *        free does nothing: the arena is larger than the bytes prodcons
 *        keeps in flight (RING + BLOCK objects of at most 512 bytes), so no
 *        two live objects share a byte, and only the producer allocates.
 *
 * Locking: the ring is a single-producer single-consumer queue; its two
 * indices are atomics (release on publish, acquire on read).
 */
#include "bench.h"
#include "heapward.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

typedef struct alloc_ops {
	const char *name;
	void *(*malloc_fn)(size_t);
	void (*free_fn)(void *);
} alloc_ops;

/* MB3: the ceiling's allocator. */
#define NOOP_ARENA (2u << 20)
static char noop_arena[NOOP_ARENA];
static size_t noop_next;

static void *noop_malloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (noop_next + n > NOOP_ARENA)
		noop_next = 0;
	void *p = noop_arena + noop_next;
	noop_next += n;
	return p;
}

static void noop_free(void *p) { (void)p; }

/* Sides 0 and 1 run every workload; side 2 only those marked ceiling. */
enum { NSIDES = 3 };
static const alloc_ops sides[NSIDES] = {{"glibc", malloc, free},
					{"heapward", hw_malloc, hw_free},
					{"no-op", noop_malloc, noop_free}};

#define NSIZES 4096
static size_t sizes[NSIZES];
static uint64_t pairs = 2000000;

static uint64_t clock_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void run_pair(const alloc_ops *a, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		char *p = a->malloc_fn(sizes[i % NSIZES]);
		p[0] = 1;
		a->free_fn(p);
	}
}

static void run_batch(const alloc_ops *a, uint64_t n)
{
	char *live[64];
	for (uint64_t i = 0; i < n; i += 64) {
		for (unsigned k = 0; k < 64; k++) {
			live[k] = a->malloc_fn(sizes[(i + k) % NSIZES]);
			live[k][0] = 1;
		}
		for (unsigned k = 0; k < 64; k++)
			a->free_fn(live[k]);
	}
}

#define RING 1024

/* prodcons's lifetimes on one thread: object i is freed when object
 * i + RING is allocated, the rest at the end. */
static void run_fifo(const alloc_ops *a, uint64_t n)
{
	static char *fifo[RING];
	for (uint64_t i = 0; i < n; i++) {
		char *p = a->malloc_fn(sizes[i % NSIZES]);
		p[0] = 1;
		if (i >= RING)
			a->free_fn(fifo[i % RING]);
		fifo[i % RING] = p;
	}
	for (uint64_t i = n > RING ? n - RING : 0; i < n; i++)
		a->free_fn(fifo[i % RING]);
}

typedef struct job {
	const alloc_ops *a;
	uint64_t n;
} job;

static void *batch_thread(void *arg)
{
	job *j = arg;
	run_batch(j->a, j->n);
	return NULL;
}

/* The ring: RING pointers, published in blocks of BLOCK (the producer
 * advances tail, the consumer head, once per block), so the two threads
 * share a cache line of the queue once per block rather than once per
 * object, as a real hand-over queue would. What remains shared per object
 * is the object and its allocator's metadata: the cost of a remote free. */
#define BLOCK 64
static char *ring[RING];
static _Atomic uint64_t ring_head, ring_tail;

static void *consumer(void *arg)
{
	job *j = arg;
	for (uint64_t i = 0; i < j->n;) {
		uint64_t t;
		while ((t = atomic_load_explicit(&ring_tail, memory_order_acquire)) == i)
			sched_yield();
		for (; i < t; i++)
			j->a->free_fn(ring[i % RING]);
		atomic_store_explicit(&ring_head, i, memory_order_release);
	}
	return NULL;
}

static void run_prodcons(const alloc_ops *a, uint64_t n)
{
	job j = {a, n};
	pthread_t t;
	atomic_store(&ring_head, 0);
	atomic_store(&ring_tail, 0);
	if (pthread_create(&t, NULL, consumer, &j) != 0)
		exit(2);
	/* n is a multiple of 64 (main rounds it), so of BLOCK. */
	for (uint64_t i = 0; i < n; i += BLOCK) {
		while (i + BLOCK - atomic_load_explicit(&ring_head, memory_order_acquire) > RING)
			sched_yield();
		for (uint64_t k = i; k < i + BLOCK; k++) {
			char *p = a->malloc_fn(sizes[k % NSIZES]);
			p[0] = 1;
			ring[k % RING] = p;
		}
		atomic_store_explicit(&ring_tail, i + BLOCK, memory_order_release);
	}
	pthread_join(t, NULL);
}

static void run_batch2(const alloc_ops *a, uint64_t n)
{
	job j = {a, n};
	pthread_t t;
	if (pthread_create(&t, NULL, batch_thread, &j) != 0)
		exit(2);
	run_batch(a, n);
	pthread_join(t, NULL);
}

typedef struct workload {
	const char *name;
	void (*fn)(const alloc_ops *, uint64_t);
	unsigned threads;
	unsigned pair_factor; /* pairs counted per n */
	bool ceiling;         /* also run on the no-op side */
} workload;

enum { T_WALL,
       T_THREAD,
       T_PROC,
       T_KINDS };

static const workload w[] = {
	{"pair", run_pair, 1, 1, false},
	{"batch64", run_batch, 1, 1, false},
	{"fifo", run_fifo, 1, 1, true},
	{"batch64x2", run_batch2, 2, 2, false},
	{"prodcons", run_prodcons, 2, 1, true},
};
#define NW (sizeof w / sizeof w[0])

/* ns per pair, [workload][side][T_*]; 0 when not measured. */
static double ns[NW][NSIDES][T_KINDS];

static int find(const char *name)
{
	for (size_t k = 0; k < NW; k++)
		if (!strcmp(w[k].name, name))
			return (int)k;
	return -1;
}

/* Scaling of two-thread workload two over one-thread workload one (MB2). */
static void print_scaling(const char *two, const char *one, int side_lo, int side_hi)
{
	int a = find(one), b = find(two);
	if (ns[a][side_lo][T_WALL] == 0 || ns[b][side_lo][T_WALL] == 0)
		return;
	double r[2][2] = {{0}};
	for (int s = side_lo; s < side_hi; s++) {
		r[s][0] = ns[a][s][T_WALL] / ns[b][s][T_WALL];
		r[s][1] = 2 * ns[a][s][T_PROC] / ns[b][s][T_PROC];
	}
	for (int k = 0; k < 2; k++) {
		char label[48];
		snprintf(label, sizeof label, "%s / %s (%s)", two, one, k ? "cpu" : "wall");
		printf("%-28s", label);
		for (int s = 0; s < 2; s++)
			if (s >= side_lo && s < side_hi)
				printf(" %9.2f", r[s][k]);
			else
				printf(" %9s", "-");
		if (side_hi - side_lo == 2 || side_lo == 1)
			printf(" %s", r[1][k] >= 1.8 ? "PASS" : "MISS");
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	uint64_t seed = BENCH_SEED;
	const char *only = NULL;
	int side_lo = 0, side_hi = 2;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pairs") && i + 1 < argc) {
			if (bench_parse_u64(argv[++i], &pairs) != 0 || pairs == 0)
				return 2;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (bench_parse_u64(argv[++i], &seed) != 0)
				return 2;
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
			if (find(only) < 0)
				return 2;
		} else if (!strcmp(argv[i], "--side") && i + 1 < argc) {
			i++;
			side_lo = !strcmp(argv[i], "heapward") ? 1 : 0;
			side_hi = side_lo + 1;
			if (strcmp(argv[i], sides[side_lo].name) != 0)
				return 2;
		} else {
			fprintf(stderr, "usage: malloc_bench [--pairs N] [--seed S] [--only "
					"pair|batch64|fifo|batch64x2|prodcons] [--side "
					"glibc|heapward]\n");
			return 2;
		}
	}
	bench_rng r = {seed};
	for (unsigned i = 0; i < NSIZES; i++)
		sizes[i] = 16 + (size_t)bench_below(&r, 497);
	pairs = (pairs + 63) / 64 * 64;

	double load = 0;
	FILE *la = fopen("/proc/loadavg", "r");
	if (la) {
		if (fscanf(la, "%lf", &load) != 1)
			load = 0;
		fclose(la);
	}
	printf("malloc_bench: %llu pairs per sample, sizes 16-512 B, median of %d, "
	       "load average %.2f\n",
	       (unsigned long long)pairs, BENCH_REPS, load);
	printf("%-10s %7s %12s %12s %8s %10s\n", "workload", "threads", "glibc ns", "heapward ns",
	       "ratio", "no-op ns");
	/* Warm both allocators (first-call set-up, caches, spans). */
	for (int s = side_lo; s < side_hi; s++)
		run_batch(&sides[s], 64 * 64);
	for (size_t k = 0; k < NW; k++) {
		if (only && strcmp(only, w[k].name) != 0)
			continue;
		/* The no-op side goes with a full run only (MB3). */
		int last = w[k].ceiling && side_hi - side_lo == 2 ? NSIDES : side_hi;
		uint64_t t[NSIDES][T_KINDS][BENCH_REPS] = {{{0}}};
		for (int rep = 0; rep < BENCH_REPS; rep++) {
			for (int s = side_lo; s < last; s++) {
				uint64_t w0 = clock_of(CLOCK_MONOTONIC);
				uint64_t c0 = bench_clock_ns();
				uint64_t p0 = clock_of(CLOCK_PROCESS_CPUTIME_ID);
				w[k].fn(&sides[s], pairs);
				t[s][T_PROC][rep] = clock_of(CLOCK_PROCESS_CPUTIME_ID) - p0;
				t[s][T_THREAD][rep] = bench_clock_ns() - c0;
				t[s][T_WALL][rep] = clock_of(CLOCK_MONOTONIC) - w0;
			}
		}
		for (int s = side_lo; s < last; s++)
			for (int q = 0; q < T_KINDS; q++)
				ns[k][s][q] = (double)bench_median(t[s][q], BENCH_REPS) /
					      (double)(pairs * w[k].pair_factor);
		int shown = w[k].threads == 1 ? T_THREAD : T_WALL;
		double g = side_lo == 0 ? ns[k][0][shown] : 0;
		double h = side_hi == 2 ? ns[k][1][shown] : 0;
		printf("%-10s %7u %12.1f %12.1f %8.2f", w[k].name, w[k].threads, g, h,
		       g > 0 && h > 0 ? h / g : 0.0);
		if (last == NSIDES)
			printf(" %10.1f", ns[k][2][shown]);
		printf("\n");
	}
	if (!only || !strcmp(only, "batch64x2") || !strcmp(only, "prodcons")) {
		printf("\nscaling: two threads' throughput / one thread's (target >= 1.8; "
		       "wall: needs two idle cores)\n");
		printf("%-28s %9s %9s\n", "workloads", "glibc", "heapward");
		print_scaling("batch64x2", "batch64", side_lo, side_hi);
		print_scaling("prodcons", "fifo", side_lo, side_hi);
		int f = find("fifo"), pc = find("prodcons");
		if (ns[f][1][T_WALL] > 0 && ns[pc][2][T_WALL] > 0)
			printf("prodcons at 1.8 x heapward's fifo takes at most %.1f ns per pair; "
			       "with no allocator\nat all (no-op) it took %.1f\n",
			       ns[f][1][T_WALL] / 1.8, ns[pc][2][T_WALL]);
	}
	return 0;
}

/* malloc_bench.c: the malloc layer's fast paths against glibc malloc, in
 * the same run.
 *
 * Owns: four workloads run on both allocators, interleaved rep by rep
 * (bench.h B3), each reported as ns per malloc+free pair and as a ratio
 * heapward / glibc (below 1 is faster):
 *   pair      malloc then free at once, sizes 16-512 B (one thread)
 *   batch64   64 mallocs, then 64 frees in the same order (one thread)
 *   batch64x2 batch64 on two threads at once (wall time per pair,
 *             both threads' pairs counted: the scaling case)
 *   prodcons  one thread mallocs, another frees each object (every free
 *             is remote), through a single-producer ring
 * --only W runs workload W alone and --side glibc|heapward one allocator
 * alone (no ratio then): for instruction counts under callgrind, where the
 * difference between two --pairs values is the cost of the extra pairs.
 * Sizes come from a fixed seeded stream (B1). Time is thread CPU time for
 * the one-thread cases and wall time for the two-thread ones (the point
 * there is what both threads achieve together).
 *
 * Invariants:
 *   MB1. Every object is written once (its first byte), so neither side
 *        gets credit for never touching memory.
 *   MB2. The two-thread cases report wall time only; on a shared 2-core
 *        machine they are the noisiest figures. The ring's waits yield the
 *        CPU, so a descheduled partner is not spun against.
 *
 * Locking: the ring is a single-producer single-consumer queue of atomics.
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

static const alloc_ops sides[2] = {{"glibc", malloc, free}, {"heapward", hw_malloc, hw_free}};

#define NSIZES 4096
static size_t sizes[NSIZES];
static uint64_t pairs = 2000000;

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
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

#define RING 1024
static _Atomic(char *) ring[RING];

static void *consumer(void *arg)
{
	job *j = arg;
	for (uint64_t i = 0; i < j->n; i++) {
		_Atomic(char *) *slot = &ring[i % RING];
		char *p;
		while (!(p = atomic_load_explicit(slot, memory_order_acquire)))
			sched_yield();
		atomic_store_explicit(slot, NULL, memory_order_relaxed);
		j->a->free_fn(p);
	}
	return NULL;
}

static void run_prodcons(const alloc_ops *a, uint64_t n)
{
	job j = {a, n};
	pthread_t t;
	memset(ring, 0, sizeof ring);
	if (pthread_create(&t, NULL, consumer, &j) != 0)
		exit(2);
	for (uint64_t i = 0; i < n; i++) {
		char *p = a->malloc_fn(sizes[i % NSIZES]);
		p[0] = 1;
		_Atomic(char *) *slot = &ring[i % RING];
		while (atomic_load_explicit(slot, memory_order_relaxed))
			sched_yield();
		atomic_store_explicit(slot, p, memory_order_release);
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
	bool wall;
	unsigned pair_factor; /* pairs counted per n */
} workload;

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
		} else if (!strcmp(argv[i], "--side") && i + 1 < argc) {
			i++;
			side_lo = !strcmp(argv[i], "heapward") ? 1 : 0;
			side_hi = side_lo + 1;
			if (strcmp(argv[i], sides[side_lo].name) != 0)
				return 2;
		} else {
			fprintf(stderr,
				"usage: malloc_bench [--pairs N] [--seed S] [--only "
				"pair|batch64|batch64x2|prodcons] [--side glibc|heapward]\n");
			return 2;
		}
	}
	bench_rng r = {seed};
	for (unsigned i = 0; i < NSIZES; i++)
		sizes[i] = 16 + (size_t)bench_below(&r, 497);
	pairs = (pairs + 63) / 64 * 64;

	static const workload w[] = {
		{"pair", run_pair, false, 1},
		{"batch64", run_batch, false, 1},
		{"batch64x2", run_batch2, true, 2},
		{"prodcons", run_prodcons, true, 1},
	};
	printf("malloc_bench: %llu pairs per sample, sizes 16-512 B, median of %d\n",
	       (unsigned long long)pairs, BENCH_REPS);
	printf("%-10s %12s %12s %8s\n", "workload", "glibc ns", "heapward ns", "ratio");
	/* Warm both allocators (first-call set-up, caches, spans). */
	for (int s = side_lo; s < side_hi; s++)
		run_batch(&sides[s], 64 * 64);
	for (size_t k = 0; k < sizeof w / sizeof w[0]; k++) {
		if (only && strcmp(only, w[k].name) != 0)
			continue;
		uint64_t t[2][BENCH_REPS] = {{0}};
		for (int rep = 0; rep < BENCH_REPS; rep++) {
			for (int s = side_lo; s < side_hi; s++) {
				uint64_t t0 = w[k].wall ? wall_ns() : bench_clock_ns();
				w[k].fn(&sides[s], pairs);
				uint64_t t1 = w[k].wall ? wall_ns() : bench_clock_ns();
				t[s][rep] = t1 - t0;
			}
		}
		double ns[2] = {1, 1};
		for (int s = side_lo; s < side_hi; s++)
			ns[s] = (double)bench_median(t[s], BENCH_REPS) /
				(double)(pairs * w[k].pair_factor);
		printf("%-10s %12.1f %12.1f %8.2f\n", w[k].name, ns[0], ns[1], ns[1] / ns[0]);
	}
	return 0;
}

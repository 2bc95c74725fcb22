/* bench.h: what every benchmark program shares: a seeded random stream,
 * the fragmented-heap layout, timing and the median of repeated samples.
 *
 * Owns: the page-run layout the heap and scavenge benchmarks both build
 * (so "the same pattern" means one piece of code), and the rules for turning
 * noisy samples into one number.
 *
 * Invariants:
 *   BH1. The random stream is a pure function of its seed: a benchmark run
 *        with the same seed builds the same layout and issues the same
 *        requests (results still vary with the machine, the layout does not).
 *   BH2. A layout's runs are contiguous and in address order: run k covers
 *        pages [first_k, first_k + pages_k) and first_{k+1} = first_k +
 *        pages_k; the runs tile [0, total) exactly. This is what first fit
 *        produces in an empty heap, which the benchmarks check.
 *   BH3. A reported figure comes from several samples (BENCH_REPS unless a
 *        program says otherwise): their median, or, where a program says so,
 *        their minimum (interference only ever adds time). Both sides of a
 *        ratio are measured in the same process, interleaved, so drift of a
 *        noisy machine hits both. Samples are thread CPU time (user
 *        and system), so time spent descheduled by other load on a shared
 *        machine is not counted; system calls made by the thread are.
 *
 * Locking: none; single-threaded programs.
 */
#ifndef HW_BENCH_H
#define HW_BENCH_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "thread.h"

#define BENCH_REPS 5
#define BENCH_SEED 0x6865617077617264ull

/* The sample clock (BH3). */
static inline uint64_t bench_clock_ns(void)
{
	return hw_thread_cpu_ns();
}

/* splitmix64: small, fast, and good enough to pick sizes and victims. */
typedef struct bench_rng {
	uint64_t s;
} bench_rng;

static inline uint64_t bench_next(bench_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (the modulo bias is far below the noise). */
static inline uint64_t bench_below(bench_rng *r, uint64_t n)
{
	return bench_next(r) % n;
}

/* A run size in [1, max_pages]. */
static inline size_t bench_run_pages(bench_rng *r, size_t max_pages)
{
	return max_pages == 1 ? 1 : 1 + (size_t)bench_below(r, max_pages);
}

static inline void *bench_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "bench: out of memory (%zu bytes)\n", n);
		exit(2);
	}
	return p;
}

/* A run of pages by index relative to the start of the layout. */
typedef struct bench_run {
	size_t first, pages;
} bench_run;

/* The fragmented layout (BH2): `total` pages cut into runs of 1..max_pages
 * (the last one clipped), of which a random half (by count) is free. */
typedef struct bench_layout {
	bench_run *runs;
	unsigned char *is_free; /* per run */
	size_t nruns, nfree, total, free_pages;
} bench_layout;

static inline bench_layout bench_layout_make(bench_rng *r, size_t total, size_t max_pages)
{
	bench_layout L = {0};
	L.total = total;
	/* Each run has at least one page, so total bounds the count. */
	size_t cap = total / (max_pages / 2 + 1) * 2 + 64;
	if (cap > total)
		cap = total;
	L.runs = bench_xmalloc(cap * sizeof *L.runs);
	for (size_t at = 0; at < total;) {
		size_t n = bench_run_pages(r, max_pages);
		if (n > total - at)
			n = total - at;
		if (L.nruns == cap) {
			cap *= 2;
			bench_run *grown = realloc(L.runs, cap * sizeof *L.runs);
			if (!grown) {
				fprintf(stderr, "bench: out of memory\n");
				exit(2);
			}
			L.runs = grown;
		}
		L.runs[L.nruns++] = (bench_run){at, n};
		at += n;
	}
	/* Free exactly half of the runs, chosen by a partial shuffle of run
	 * indices. */
	size_t *order = bench_xmalloc(L.nruns * sizeof *order);
	for (size_t i = 0; i < L.nruns; i++)
		order[i] = i;
	L.is_free = calloc(L.nruns, 1);
	if (!L.is_free) {
		fprintf(stderr, "bench: out of memory\n");
		exit(2);
	}
	for (size_t i = 0; i < L.nruns / 2; i++) {
		size_t j = i + (size_t)bench_below(r, L.nruns - i);
		size_t t = order[i];
		order[i] = order[j];
		order[j] = t;
		L.is_free[order[i]] = 1;
		L.free_pages += L.runs[order[i]].pages;
	}
	L.nfree = L.nruns / 2;
	free(order);
	return L;
}

static inline void bench_layout_free(bench_layout *L)
{
	free(L->runs);
	free(L->is_free);
	*L = (bench_layout){0};
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Median of n samples (n odd in practice); sorts v. */
static inline uint64_t bench_median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, bench_cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline uint64_t bench_min(const uint64_t *v, size_t n)
{
	uint64_t m = UINT64_MAX;
	for (size_t i = 0; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static inline const char *bench_verdict(int ok)
{
	return ok ? "PASS" : "MISS";
}

/* A command-line number (decimal, 0x hex or 0 octal); -1 on anything else. */
static inline int bench_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

#endif

/* track_vg.c: scenarios for the heap's Valgrind Memcheck annotations
 * (src/track.h, built with HW_TRACKING=valgrind).
 *
 * Owns: one program, one scenario per run (argv[1]); ctest runs each under
 * `valgrind --error-exitcode=99` and checks the exit status and Memcheck's
 * output (tests/track/expect_run.cmake):
 *   uaf     reads a byte of a freed run: "Invalid read", inside a block
 *           "free'd" by the heap; exit 99
 *   clean   allocates, fills, frees, scavenges, reuses, validates and
 *           destroys heaps with live runs on the OS, on the simulator and on
 *           the junk-filling simulator, and leaves one heap alive at exit
 *           whose run holds the only pointer to a malloc'd block: no error
 *           and no leak; exit 0
 *   zeroed  a run made of scavenged (MADV_DONTNEED) pages, reported zeroed
 *           by the heap, is read with a branch on every byte: no
 *           "uninitialised" error; exit 0
 *   dirty   the control for zeroed: a run reused without scavenging is not
 *           zeroed, and the same branch is an "uninitialised" error; exit 99
 *
 * Invariants:
 *   V1. A scenario that cannot set itself up (NULL heap, a run the heap
 *       reports in the wrong zeroed state) prints why and exits 2, which no
 *       test expects.
 *   V2. Without Valgrind every scenario runs to completion and exits 0 (the
 *       stale read in uaf reads mapped, Ready memory).
 *
 * Locking: single-threaded.
 */
#include "heapward.h"
#include "platform.h"
#include "sim.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

/* V1 */
static void fail(const char *what)
{
	fprintf(stderr, "track_vg: setup failed: %s\n", what);
	exit(2);
}

static hw_heap *open_heap(hw_platform *pf, bool fault_on_free)
{
	hw_heap_config c = {.platform = pf, .arena_size = 4 * MiB, .address_space = 64 * MiB};
	c.fault_on_free = fault_on_free;
	hw_heap *h = hw_heap_create(&c);
	if (!h)
		fail("hw_heap_create");
	return h;
}

static hw_platform *open_sim(bool released_reads_zero)
{
	hw_sim_config sc = {.backing_bytes = 128 * MiB, .released_reads_zero = released_reads_zero};
	hw_platform *pf = hw_platform_sim_create(&sc);
	if (!pf)
		fail("hw_platform_sim_create");
	return pf;
}

static unsigned char *alloc(hw_heap *h, size_t n, bool *zeroed)
{
	unsigned char *p = hw_heap_alloc_aligned(h, n, 0, zeroed);
	if (!p)
		fail("hw_heap_alloc");
	return p;
}

/* Counts bytes of [p, p+n) that are not zero, branching on each (the
 * volatile counter keeps the compiler from making the loop branch-free). */
__attribute__((noinline)) static size_t count_nonzero(const unsigned char *p, size_t n)
{
	volatile size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			c++;
	return c;
}

static int uaf(void)
{
	hw_heap *h = open_heap(hw_platform_os(), false);
	size_t ps = hw_heap_page_size(h);
	unsigned char *p = alloc(h, 2, NULL);
	memset(p, 0x5a, 2 * ps);
	if (hw_heap_free(h, p, 2) != 0)
		fail("hw_heap_free");
	volatile unsigned char *q = p + ps + 17;
	printf("stale read at %p: %d\n", (void *)q, *q);
	hw_heap_destroy(h);
	return 0;
}

/* One heap's workout; live runs are left for destroy. */
static void workout(hw_heap *h)
{
	size_t ps = hw_heap_page_size(h);
	enum { N = 16 };
	unsigned char *run[N];
	size_t len[N];
	for (int i = 0; i < N; i++) {
		len[i] = 1 + (size_t)(i * 5) % 11;
		run[i] = alloc(h, len[i], NULL);
		memset(run[i], i + 1, len[i] * ps);
	}
	for (int i = 0; i < N; i += 2)
		if (hw_heap_free(h, run[i], len[i]) != 0)
			fail("hw_heap_free");
	hw_heap_scavenge(h, SIZE_MAX);
	for (int i = 0; i < N; i += 2) {
		bool z = false;
		run[i] = alloc(h, len[i], &z);
		/* Only a zeroed run may be read before it is written. */
		if (z && count_nonzero(run[i], len[i] * ps) != 0)
			fail("a zeroed run is not zero");
		memset(run[i], 0xee, len[i] * ps);
	}
	for (int i = 1; i < N; i += 2)
		if (count_nonzero(run[i], len[i] * ps) != len[i] * ps || run[i][ps / 2] != i + 1)
			fail("a live run lost its contents");
	char msg[256];
	if (hw_heap_validate(h, msg, sizeof msg) != 0)
		fail(msg);
	hw_heap_stats s;
	hw_heap_stats_get(h, &s);
	if (s.mapped != s.inuse + s.idle || s.ready != s.mapped - s.released)
		fail("stats identities");
}

static void *volatile survivor; /* a live run of a heap left alive at exit */

static int clean(void)
{
	hw_platform *sims[2] = {open_sim(true), open_sim(false)};
	for (int round = 0; round < 3; round++) {
		hw_heap *h = open_heap(hw_platform_os(), round == 2);
		workout(h);
		hw_heap_destroy(h);
		for (int k = 0; k < 2; k++) {
			h = open_heap(sims[k], round == 2);
			workout(h);
			hw_heap_destroy(h);
		}
	}
	for (int k = 0; k < 2; k++)
		hw_platform_destroy(sims[k]);

	/* A malloc'd block whose only pointer is in a live run is reachable
	 * (the run itself is, through survivor). */
	hw_heap *h = open_heap(hw_platform_os(), false);
	void **slot = (void **)alloc(h, 1, NULL);
	slot[3] = malloc(40);
	if (!slot[3])
		fail("malloc");
	memset(slot[3], 1, 40);
	survivor = slot;
	printf("clean done\n");
	return 0;
}

static int zeroed(bool scavenge)
{
	hw_platform *sim = open_sim(true);
	hw_platform *pfs[2] = {hw_platform_os(), sim};
	size_t total = 0;
	for (int k = 0; k < 2; k++) {
		hw_heap *h = open_heap(pfs[k], false);
		size_t ps = hw_heap_page_size(h);
		unsigned char *p = alloc(h, 6, NULL);
		memset(p, 0x42, 6 * ps);
		if (hw_heap_free(h, p, 6) != 0)
			fail("hw_heap_free");
		if (scavenge && hw_heap_scavenge(h, SIZE_MAX) < 6 * ps)
			fail("scavenge released less than the freed run");
		bool z = !scavenge;
		unsigned char *q = alloc(h, 6, &z);
		if (q != p || z != scavenge)
			fail(scavenge ? "the scavenged run is not reported zeroed"
				      : "the reused dirty run is reported zeroed");
		total += count_nonzero(q, 6 * ps);
		hw_heap_destroy(h);
	}
	hw_platform_destroy(sim);
	printf("%s: %zu nonzero bytes\n", scavenge ? "zeroed" : "dirty", total);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "uaf") == 0)
		return uaf();
	if (strcmp(mode, "clean") == 0)
		return clean();
	if (strcmp(mode, "zeroed") == 0)
		return zeroed(true);
	if (strcmp(mode, "dirty") == 0)
		return zeroed(false);
	fprintf(stderr, "usage: track_vg uaf|clean|zeroed|dirty\n");
	return 2;
}

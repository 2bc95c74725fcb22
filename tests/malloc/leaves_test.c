/* leaves_test.c: the page map's leaves that map no live run go back at the
 * trims (src/malloc/span.c SP9), and every report and lookup stays as it
 * was.
 *
 * - released: large objects with a span's worth of small ones between
 *   them, over several leaves (64 MiB of heap each), all freed, then
 *   hw_malloc_trim: meta_bytes drops by the released leaves' bytes, every
 *   fully used leaf's top entry is MC_LEAF_FREED (no leaf in memory), a
 *   lookup of a freed address still finds hw_mc_freed_span, a stale
 *   free of an address inside a freed object is still reported "in freed
 *   heap memory" (in a child), allocating the same again lands in that
 *   range and the lookups find the new runs, frees are accepted, meta_bytes
 *   gets the leaves' bytes back, and the heap validates.
 * - stress: one thread allocates and frees large objects across leaves
 *   while another releases leaves in a loop; every lookup of a live
 *   object finds its record and every free is accepted (a lost entry is
 *   reported as a free "in freed heap memory" and aborts). Also run by
 *   ci/job-tsan.sh and ci/job-clang-asan.sh (label malloc).
 *
 * The layer starts without its background scavenger, so only the test's
 * trims release.
 */
#include "check.h"
#include "heapward.h"
#include "inspect.h"
#include "layer_check.h"
#include "malloc_internal.h"
#include "sanitizers.h"
#include "track.h"
#include "trap.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define LEAF_SPAN ((uintptr_t)MC_PAGE * MC_LEAF_ENTRIES) /* heap bytes per leaf */
#define LEAF_BYTES (MC_LEAF_ENTRIES * sizeof(mc_span *))
#define NLARGE 48
#define LARGE ((size_t)8 << 20) /* 48 * 8 MiB: six leaves */
#define SMALL 16
#define NSMALL 512 /* one 16-byte span */

static void *large[NLARGE];
static void *small[NLARGE][NSMALL];

static size_t leaf_of(const void *p)
{
	return (size_t)(((uintptr_t)p - hw_mc_g.map.base) / LEAF_SPAN);
}

/* Whether every entry of leaf l names hw_mc_freed_span (SP9's test). */
static bool all_freed(size_t l)
{
	for (size_t i = 0; i < MC_LEAF_ENTRIES; i++)
		if (mc_span_of(hw_mc_g.map.base + l * LEAF_SPAN + i * MC_PAGE) != &hw_mc_freed_span)
			return false;
	return true;
}

static void allocate_all(void)
{
	for (size_t i = 0; i < NLARGE; i++) {
		large[i] = hw_malloc(LARGE - 100);
		REQUIRE(large[i], "large %zu", i);
		for (size_t j = 0; j < NSMALL; j++) {
			small[i][j] = hw_malloc(SMALL);
			REQUIRE(small[i][j], "small %zu %zu", i, j);
		}
	}
}

static void free_all(void)
{
	for (size_t i = 0; i < NLARGE; i++) {
		hw_free(large[i]);
		for (size_t j = 0; j < NSMALL; j++)
			hw_free(small[i][j]);
	}
}

static char err[4096];

static void free_arg(void *p) { hw_free(p); }

/* In a child: true when freeing p aborts with needle in the report. */
static bool free_dies_with(void *p, const char *needle)
{
	hw_child_status st;
	err[0] = 0;
	if (hw_trap_child(free_arg, p, err, sizeof err, &st) != 0)
		return false;
	bool ok = st.signo == SIGABRT && strstr(err, needle);
	if (!ok)
		fprintf(stderr, "child: signal %d exit %d stderr: %s\n", st.signo, st.exit_code,
			err);
	return ok;
}

static void test_released_and_reused(void)
{
	/* One arena for all the objects: arenas apart (a heap that could not
	 * grow contiguously, as under ThreadSanitizer) would leave each one's
	 * tail, where the next large object did not fit, never used, and the
	 * leaves over it would keep NULL entries. */
	static const mc_start_config one_arena = {.arena_size = (size_t)512 << 20,
						  .options = "scavenger=0"};
	hw_mc_reset(&one_arena);
	REQUIRE(hw_mc_start("scavenger=0"), "layer started");
	allocate_all();
	REQUIRE(hw_heap_arena_count(hw_mc_heap()) == 1, "%zu arenas",
		hw_heap_arena_count(hw_mc_heap()));
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (size_t i = 0; i < NLARGE; i++) {
		lo = hw_min(lo, hw_min((uintptr_t)large[i], (uintptr_t)small[i][0]));
		hi = hw_max(hi, (uintptr_t)large[i] + LARGE);
	}
	/* The leaves the objects cover, [lmin, lmax) (where the window is
	 * centred on the first arena, as when the platform cannot probe for a
	 * window, the leaves below were never used). */
	size_t lmin = leaf_of((void *)lo), lmax = leaf_of((void *)(hi - 1)) + 1;
	free_all();
	static bool was_full[64]; /* [l - lmin] */
	REQUIRE(lmax - lmin <= sizeof was_full, "%zu leaves", lmax - lmin);
	size_t full = 0;
	for (size_t l = lmin; l < lmax; l++)
		full += was_full[l - lmin] = all_freed(l);
	/* 384 MiB of objects: six leaves, one of which may hold the class's
	 * kept empty span (SP6) or cached slots' spans until the trim. */
	EXPECT(full >= 4, "%zu of %zu leaves name only freed runs", full, lmax - lmin);
	size_t before = layer_stats().meta_bytes;
	hw_malloc_trim(0);
	size_t after = layer_stats().meta_bytes;
	/* The leaves went, and nothing came in their place; the trim may
	 * release freed records' pages too. */
	EXPECT(before - after >= full * LEAF_BYTES,
	       "meta_bytes %zu -> %zu: less than %zu leaves' bytes", before, after, full);
	for (size_t l = lmin; l < lmax; l++)
		EXPECT(!was_full[l - lmin] ||
			       (hw_mc_g.map.top[l] == MC_LEAF_FREED && hw_mc_g.map.kept[l] != NULL),
		       "leaf %zu not released", l);
	/* Lookups still say freed, and a stale free says so too. */
	for (size_t i = 0; i < NLARGE; i++)
		EXPECT(mc_span_of((uintptr_t)large[i] + 4096) == &hw_mc_freed_span,
		       "large %zu: lookup after the release", i);
	EXPECT(free_dies_with((char *)large[NLARGE / 2] + 64, "in freed heap memory"),
	       "stale free of a freed large object's interior");
	EXPECT(free_dies_with(large[1], "double free"), "stale free of a freed large object");
	EXPECT(hw_mc_errors == 0, "the parent saw %llu reports", (unsigned long long)hw_mc_errors);

	/* The same again lands in the released leaves: each lookup finds its
	 * new run, and each reinstalled leaf counts again. */
	size_t released = layer_stats().meta_bytes;
	allocate_all();
	size_t reused = 0;
	for (size_t l = lmin; l < lmax; l++)
		reused += was_full[l - lmin] && mc_leaf_mapped(hw_mc_g.map.top[l]);
	EXPECT(reused == full, "%zu of %zu leaves in use again", reused, full);
	EXPECT(layer_stats().meta_bytes >= released + reused * LEAF_BYTES,
	       "meta_bytes %zu after reusing %zu leaves (was %zu)", layer_stats().meta_bytes,
	       reused, released);
	for (size_t i = 0; i < NLARGE; i++) {
		EXPECT(leaf_of(large[i]) >= lmin && leaf_of(large[i]) < lmax,
		       "large %zu beyond the leaves it had", i);
		mc_span *s = mc_span_of((uintptr_t)large[i] + LARGE / 2);
		EXPECT(s && s->kind == MC_SPAN_LARGE && s->start == (uintptr_t)large[i],
		       "large %zu: its record", i);
		s = mc_span_of((uintptr_t)small[i][0]);
		EXPECT(s && s->kind == MC_SPAN_SMALL, "small %zu: its span", i);
	}
	layer_validate();
	free_all();
	hw_malloc_trim(0);
	EXPECT(hw_mc_errors == 0, "%llu reports", (unsigned long long)hw_mc_errors);
	EXPECT(layer_stats().heap_inuse == 0, "%zu bytes in use", layer_stats().heap_inuse);
	layer_validate();
	hw_mc_reset(NULL);
}

/* ---- stress ---------------------------------------------------------------- */

static int stop;
static unsigned long passes, released_bytes;

static void *trimmer(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		unsigned long r = hw_mc_map_trim(&hw_mc_g.map);
		__atomic_store_n(&released_bytes, released_bytes + r, __ATOMIC_RELAXED);
		__atomic_store_n(&passes, passes + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

#define SNLIVE 4
#define SLARGE ((size_t)40 << 20) /* 4 * 40 MiB: over two leaves, across their edges */

static void test_stress_with_trimmer(void)
{
	REQUIRE(hw_mc_start("scavenger=0"), "layer started");
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, trimmer, NULL) == 0, "trimmer thread");
	/* Fewer where every access is instrumented (ThreadSanitizer) or the
	 * threads run one at a time (Valgrind). */
	unsigned rounds = HW_TEST_TSAN ? 200 : HW_TRACK_VALGRIND ? 20
								 : 2000,
		 bad = 0;
	void *p[SNLIVE];
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < SNLIVE; i++) {
			/* Sizes that move the runs' edges from round to round. */
			p[i] = hw_malloc(SLARGE - ((r * 7 + i) % 64) * MC_PAGE);
			REQUIRE(p[i], "round %u object %u", r, i);
			*(volatile char *)p[i] = 1;
		}
		for (unsigned i = 0; i < SNLIVE; i++) {
			size_t n = SLARGE - ((r * 7 + i) % 64) * MC_PAGE;
			mc_span *a = mc_span_of((uintptr_t)p[i]);
			mc_span *z = mc_span_of((uintptr_t)p[i] + n - 1);
			bad += a == NULL || a != z || a->start != (uintptr_t)p[i];
		}
		/* Out of order, so the freed runs sometimes leave a leaf with a
		 * live run and sometimes not. */
		for (unsigned i = 0; i < SNLIVE; i++)
			hw_free(p[(i + r) % SNLIVE]);
		/* Let the trimmer see the leaves all freed now and then. */
		if (r % 8 == 0) {
			unsigned long seen = __atomic_load_n(&passes, __ATOMIC_ACQUIRE);
			while (__atomic_load_n(&passes, __ATOMIC_ACQUIRE) < seen + 2)
				sched_yield();
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	EXPECT(bad == 0, "%u live objects whose lookup did not find their record", bad);
	EXPECT(hw_mc_errors == 0, "%llu reports", (unsigned long long)hw_mc_errors);
	EXPECT(released_bytes >= LEAF_BYTES, "the trimmer released no leaf");
	layer_validate();
	hw_mc_reset(NULL);
}

HW_TEST_MAIN(T(test_released_and_reused), T(test_stress_with_trimmer))

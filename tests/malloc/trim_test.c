/* trim_test.c: what the malloc layer gives back when the program stops
 * allocating (src/malloc/span.c SP4 to SP6): the class's kept empty span,
 * the pages of freed span records, and the heap's free pages, by
 * hw_malloc_trim and, without any call, from the idle hook.
 *
 * One process, the layer started with its defaults (so with its
 * background scavenger, whose idle steps call the hook; a second thread
 * starts it, malloc.c MA7). Objects of the 16-byte class: 512 slots in one
 * 8 KiB span, records of 1664 bytes.
 */
#include "check.h"
#include "heapward.h"
#include "malloc_internal.h"
#include "platform.h"
#include "thread.h"

#include <stdlib.h>
#include <string.h>

#define PER 512 /* 16-byte slots in one 8 KiB span */
#define SPANS 256
#define M (SPANS * PER)

static unsigned char *obj[M];

static int cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (unsigned char *const *)a;
	uintptr_t y = (uintptr_t) * (unsigned char *const *)b;
	return x < y ? -1 : x > y;
}

static void fill(unsigned char v)
{
	for (size_t i = 0; i < M; i++) {
		obj[i] = hw_malloc(16);
		REQUIRE(obj[i], "malloc %zu", i);
		memset(obj[i], v, 16);
	}
}

static void free_all(void)
{
	for (size_t i = 0; i < M; i++)
		hw_free(obj[i]);
}

/* SP6: freeing every object of the class keeps one empty span; the trim
 * gives it back. */
static void test_kept_empty_span(void)
{
	REQUIRE(hw_mc_start(""), "layer started");
	REQUIRE(hw_mc_classes[0].size == 16 && hw_mc_classes[0].nobjs == PER, "class 0");
	unsigned char *a[PER];
	for (size_t i = 0; i < PER; i++)
		a[i] = hw_malloc(16);
	hw_malloc_trim(0); /* the cache's slots back to the span */
	for (size_t i = 0; i < PER; i++)
		hw_free(a[i]);
	/* The thread's cache keeps some; flushing them empties the span. */
	mc_cache *tc = hw_mc_tls_cache;
	REQUIRE(tc && tc != &hw_mc_dead_cache, "a cache");
	hw_mc_cache_flush(tc);
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	EXPECT(st.small_spans == 1, "one empty span kept: %zu spans", st.small_spans);
	hw_malloc_trim(0);
	hw_malloc_stats_get(&st);
	EXPECT(st.small_spans == 0 && st.heap_inuse == 0, "trimmed: %zu spans, %zu in use",
	       st.small_spans, st.heap_inuse);
}

/* SP5: 256 spans' records (416 KiB) freed; the trim releases their whole
 * pages, and the next spans' records come from those holes rather than
 * from new memory. */
static void test_metadata_pages_return(void)
{
	fill(1);
	hw_malloc_stats s0, s1, s2;
	hw_malloc_stats_get(&s0);
	free_all();
	hw_malloc_trim(0);
	hw_malloc_stats_get(&s1);
	EXPECT(s1.meta_bytes + 256 * 1024 <= s0.meta_bytes,
	       "metadata %zu bytes before the trim, %zu after", s0.meta_bytes, s1.meta_bytes);
	fill(2);
	hw_malloc_stats_get(&s2);
	EXPECT(s2.meta_bytes <= s0.meta_bytes && s2.meta_bytes > s1.meta_bytes,
	       "metadata %zu at the first peak, %zu after the trim, %zu at the second",
	       s0.meta_bytes, s1.meta_bytes, s2.meta_bytes);
	qsort(obj, M, sizeof obj[0], cmp);
	size_t dup = 0;
	for (size_t i = 1; i < M; i++)
		dup += obj[i] == obj[i - 1];
	EXPECT(dup == 0, "%zu objects handed out twice", dup);
	free_all();
}

/* SP4: with no call from the program, once it is idle the metadata pages
 * and the heap's free pages go back (a bounded wait for that event, not a
 * measure of its speed). */
static void *touch_layer(void *arg)
{
	hw_free(hw_malloc(16));
	return arg;
}

static void test_idle_returns(void)
{
	hw_thread t;
	REQUIRE(hw_thread_start(&t, touch_layer, NULL) == 0, "a second thread");
	hw_thread_join(&t);
	fill(3);
	hw_malloc_stats s0, s1;
	hw_malloc_stats_get(&s0);
	free_all();
	hw_mc_cache_flush(hw_mc_tls_cache);
	for (int waited = 0; waited < 1000; waited++) {
		hw_malloc_stats_get(&s1);
		if (s1.meta_bytes + 256 * 1024 <= s0.meta_bytes && s1.heap_ready == s1.heap_inuse)
			break;
		hw_sleep_ns(10000000);
	}
	EXPECT(s1.meta_bytes + 256 * 1024 <= s0.meta_bytes, "metadata %zu while busy, %zu idle",
	       s0.meta_bytes, s1.meta_bytes);
	EXPECT(s1.heap_ready == s1.heap_inuse, "idle heap: ready %zu, in use %zu",
	       s1.heap_ready, s1.heap_inuse);
}

HW_TEST_MAIN(T(test_kept_empty_span), T(test_metadata_pages_return), T(test_idle_returns))

/* span_trim_test.c: free pages inside partly used spans go back to the OS
 * and come back when needed (src/malloc/span.c SP4), and so do the pages of
 * freed span records (SP5).
 *
 * One process, one thread, the layer started with its defaults (so with
 * its background scavenger, whose idle steps trim). Spans of
 * the 16-byte class (one 8 KiB heap page: two 4 KiB OS pages, 512 slots)
 * are filled, then everything but slot 0 of each span is freed: the second
 * OS page of every span then holds only free slots and must stop being
 * resident (mincore), the first must keep slot 0's contents. Allocating the
 * same number of objects again must succeed with distinct, writable slots
 * (the parked ones come back), and a double free of a slot that was parked
 * must still be reported (its state is still "free").
 */
#include "check.h"
#include "heapward.h"
#include "malloc_internal.h"
#include "platform.h"
#include "thread.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPANS 64
#define PER 512 /* 16-byte slots in one 8 KiB span */
#define N (SPANS * PER)

static unsigned char *obj[N];

/* The objects of the 16-byte class, grouped by span: obj[s * PER + i] is
 * slot i of span s. Allocates N and sorts them by address; the class's
 * spans are whole, since the layer has just started. */
static void fill(void)
{
	for (size_t i = 0; i < N; i++) {
		obj[i] = hw_malloc(16);
		REQUIRE(obj[i], "malloc %zu", i);
		memset(obj[i], (int)(i & 0x7f) | 1, 16);
	}
}

static int cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (unsigned char *const *)a;
	uintptr_t y = (uintptr_t) * (unsigned char *const *)b;
	return x < y ? -1 : x > y;
}

static size_t os_page(void) { return hw_platform_os()->caps.page_size; }

static void test_free_pages_leave_and_return(void)
{
	REQUIRE(hw_mc_start(""), "layer started");
	REQUIRE(mc_classes[0].size == 16 && mc_classes[0].nobjs == PER &&
			mc_classes[0].npages * MC_PAGE == 2 * os_page(),
		"class 0 is 512 slots in two OS pages");
	fill();
	qsort(obj, N, sizeof obj[0], cmp);
	/* Spans start on heap pages: keep the slot at each span's start. */
	size_t kept = 0;
	unsigned char *keep[N];
	for (size_t i = 0; i < N; i++) {
		if (((uintptr_t)obj[i] & (MC_PAGE - 1)) == 0) {
			keep[kept++] = obj[i];
			memset(obj[i], 0xa5, 16);
		} else {
			hw_free(obj[i]);
		}
	}
	EXPECT(kept >= SPANS - 1, "%zu spans kept", kept);
	/* Idle now: the heap's scavenger thread calls the layer's idle hook,
	 * which trims without any call from the program (a bounded wait for
	 * that event, not a measure of its speed). */
	hw_malloc_stats st;
	for (int waited = 0; waited < 1000; waited++) {
		hw_malloc_stats_get(&st);
		if (st.span_released_bytes > 0)
			break;
		hw_sleep_ns(10000000);
	}
	EXPECT(st.span_released_bytes > 0, "released while idle: %zu", st.span_released_bytes);
	hw_malloc_trim(0);
	hw_malloc_stats_get(&st);
	EXPECT(st.span_released_bytes >= (kept - 1) * os_page(), "released after trim: %zu",
	       st.span_released_bytes);
	size_t resident_second = 0, resident_first = 0;
	for (size_t k = 0; k < kept; k++) {
		resident_first += hw_platform_resident_bytes(keep[k], os_page());
		resident_second += hw_platform_resident_bytes(keep[k] + os_page(), os_page());
		bool same = true;
		for (size_t b = 0; b < 16; b++)
			same = same && keep[k][b] == 0xa5;
		EXPECT(same, "kept object %zu intact", k);
	}
	EXPECT(resident_first == kept * os_page(), "first pages resident: %zu of %zu",
	       resident_first, kept * os_page());
	EXPECT(resident_second == 0, "second pages released: %zu bytes resident",
	       resident_second);

	/* The parked slots come back: as many objects again, all distinct and
	 * writable, none overlapping a kept one. */
	fill();
	qsort(obj, N, sizeof obj[0], cmp);
	size_t dup = 0, clash = 0;
	for (size_t i = 1; i < N; i++)
		dup += obj[i] == obj[i - 1];
	for (size_t i = 0; i < N; i++)
		for (size_t k = 0; k < kept; k++)
			clash += obj[i] == keep[k];
	EXPECT(dup == 0 && clash == 0, "%zu duplicates, %zu kept objects handed out", dup, clash);
	hw_malloc_stats_get(&st);
	EXPECT(st.span_released_bytes < (kept - 1) * os_page(),
	       "released pages taken back: %zu still released", st.span_released_bytes);
	for (size_t i = 0; i < N; i++)
		hw_free(obj[i]);
	for (size_t k = 0; k < kept; k++)
		hw_free(keep[k]);
	hw_malloc_trim(0);
	hw_malloc_stats_get(&st);
	EXPECT(st.small_spans == 0 || st.span_released_bytes <= st.small_span_bytes,
	       "released %zu within span bytes %zu", st.span_released_bytes,
	       st.small_span_bytes);
}

/* A parked slot is free: freeing it again is a double free. */
static void parked_double_free_child(void)
{
	{
		unsigned char *a[PER];
		for (size_t i = 0; i < PER; i++) {
			a[i] = hw_malloc(16);
			if (!a[i])
				_exit(2);
			memset(a[i], 1, 16); /* resident before the trim */
		}
		qsort(a, PER, sizeof a[0], cmp);
		/* The last slot of a span lies in its second OS page. */
		unsigned char *last = NULL;
		for (size_t i = 0; i < PER; i++)
			if (((uintptr_t)a[i] & (MC_PAGE - 1)) == MC_PAGE - 16)
				last = a[i];
		if (!last)
			_exit(3);

		for (size_t i = 0; i < PER; i++)
			if (((uintptr_t)a[i] & (MC_PAGE - 1)) != 0)
				hw_free(a[i]);
		hw_malloc_trim(0);
		/* The platform's residency takes whole pages. */
		void *page = (void *)((uintptr_t)last & ~(uintptr_t)(os_page() - 1));
		if (hw_platform_resident_bytes(page, os_page()) != 0)
			_exit(4);
		hw_free(last);
		_exit(0);
	}
}

static void test_parked_slot_double_free(void)
{
	int st = hw_test_in_child(parked_double_free_child, 30);
	EXPECT(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
	       "double free of a parked slot aborts (status %#x)", st);
}

/* SP5: 256 spans of the 16-byte class have records of 1664 bytes (416 KiB
 * in all); once the spans are gone, a trim releases the records' whole
 * pages, and the next spans' records are carved from those holes rather
 * than from new memory. */
#define META_SPANS 256
static unsigned char *many[META_SPANS * PER];

static void test_metadata_pages_return(void)
{
	const size_t m = META_SPANS * PER;
	for (size_t i = 0; i < m; i++) {
		many[i] = hw_malloc(16);
		REQUIRE(many[i], "malloc %zu", i);
		many[i][0] = 1;
	}
	hw_malloc_stats s0, s1, s2;
	hw_malloc_stats_get(&s0);
	for (size_t i = 0; i < m; i++)
		hw_free(many[i]);
	hw_malloc_trim(0);
	hw_malloc_stats_get(&s1);
	EXPECT(s1.meta_bytes + 256 * 1024 <= s0.meta_bytes,
	       "metadata %zu bytes before the trim, %zu after", s0.meta_bytes, s1.meta_bytes);
	for (size_t i = 0; i < m; i++) {
		many[i] = hw_malloc(16);
		REQUIRE(many[i], "malloc again %zu", i);
		memset(many[i], 2, 16);
	}
	hw_malloc_stats_get(&s2);
	EXPECT(s2.meta_bytes <= s0.meta_bytes && s2.meta_bytes > s1.meta_bytes,
	       "metadata %zu at the first peak, %zu after the trim, %zu at the second",
	       s0.meta_bytes, s1.meta_bytes, s2.meta_bytes);
	qsort(many, m, sizeof many[0], cmp);
	size_t dup = 0;
	for (size_t i = 1; i < m; i++)
		dup += many[i] == many[i - 1];
	EXPECT(dup == 0, "%zu objects handed out twice", dup);
	for (size_t i = 0; i < m; i++)
		hw_free(many[i]);
}

HW_TEST_MAIN(T(test_free_pages_leave_and_return), T(test_parked_slot_double_free),
	     T(test_metadata_pages_return))

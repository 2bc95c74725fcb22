/* inside_test.c: the free pages of spans that still hold live objects go
 * back to the OS at a trim, and come back when their slots are handed out
 * again (src/malloc/span.c SP7, malloc_internal.h MC10).
 *
 * The layer runs on the checked simulator (hw_mc_reset, its scavenger
 * off, so only hw_malloc_trim trims), whose page states show which pages
 * are released and whose failure injection refuses a reuse. Objects of the
 * 4 KiB class: 8 slots in a 4-page span, two slots per page.
 */
#include "check.h"
#include "heapward.h"
#include "inspect.h"
#include "layer_check.h"
#include "malloc_internal.h"
#include "sim.h"

#include <errno.h>
#include <string.h>

#define SZ 4096
#define PER 8   /* slots per span */
#define PAGES 4 /* pages per span */
#define SPANS 32
#define N (SPANS * PER)

static hw_platform *pf;
static unsigned char *obj[N];

static void start(void)
{
	hw_sim_config sc = {.backing_bytes = (size_t)256 << 20,
			    .use_needs_call = true,
			    .released_reads_zero = true};
	pf = hw_platform_sim_create(&sc);
	REQUIRE(pf != NULL);
	static mc_start_config c = {.options = "scavenger=0",
				    .arena_size = (size_t)4 << 20,
				    .address_space = (size_t)1 << 30};
	c.platform = pf;
	hw_mc_reset(&c);
	void *first = hw_malloc(1);
	REQUIRE(first != NULL, "the layer starts");
	hw_free(first);
	unsigned c4 = mc_class_of(SZ);
	REQUIRE(hw_mc_classes[c4].size == SZ && hw_mc_classes[c4].nobjs == PER &&
			hw_mc_classes[c4].npages == PAGES,
		"class of %d: %u slots in %u pages", SZ, hw_mc_classes[c4].nobjs,
		hw_mc_classes[c4].npages);
}

static void stop(void)
{
	hw_mc_reset(NULL);
	EXPECT(pf->owned == 0, "the layer left %zu bytes", pf->owned);
	hw_platform_destroy(pf);
}

static void validate(void)
{
	layer_validate();
	hw_malloc_stats st = layer_stats();
	EXPECT(hw_sim_ready_bytes(pf) >= st.heap_ready, "sim ready %zu, heap ready %zu",
	       hw_sim_ready_bytes(pf), st.heap_ready);
}

/* Slot index of p in its span. */
static size_t slot_of(const void *p)
{
	mc_span *s = mc_span_of((uintptr_t)p);
	return ((uintptr_t)p - s->start) / SZ;
}

static bool holds(const unsigned char *p, unsigned char v)
{
	for (size_t i = 0; i < SZ; i += 97)
		if (p[i] != v)
			return false;
	return p[SZ - 1] == v;
}

/* Fills SPANS whole spans, keeps slot 0 of each, frees the rest and trims:
 * pages 1-3 of every span go back; slot 0 and 1's page stays. */
static void fill_keep_first_trim(void)
{
	hw_malloc_trim(0);
	for (size_t i = 0; i < N; i++) {
		obj[i] = hw_malloc(SZ);
		REQUIRE(obj[i], "malloc %zu", i);
		memset(obj[i], (int)(i & 0x7f) + 1, SZ);
	}
	for (size_t i = 0; i < N; i++)
		if (slot_of(obj[i]) != 0) {
			hw_free(obj[i]);
			obj[i] = NULL;
		}
	hw_malloc_trim(0);
}

static void test_release_and_reuse(void)
{
	start();
	fill_keep_first_trim();
	hw_malloc_stats st = layer_stats();
	size_t kept = 0;
	for (size_t i = 0; i < N; i++) {
		if (!obj[i])
			continue;
		kept++;
		EXPECT(holds(obj[i], (unsigned char)((i & 0x7f) + 1)), "object %zu intact", i);
		mc_span *s = mc_span_of((uintptr_t)obj[i]);
		EXPECT(hw_sim_state(pf, obj[i]) == HW_MEM_READY, "a live object's page is Ready");
		for (size_t p = 1; p < PAGES; p++)
			EXPECT(hw_sim_state(pf, (void *)(s->start + p * MC_PAGE)) ==
					       HW_MEM_PREPARED &&
				       hw_heap_page_kind(hw_mc_heap(),
							 (void *)(s->start + p * MC_PAGE),
							 NULL) == HW_PAGE_INSIDE,
			       "page %zu of the span of object %zu released", p, i);
	}
	EXPECT(kept >= SPANS, "%zu objects kept", kept);
	EXPECT(st.heap_released_inside == kept * (PAGES - 1) * MC_PAGE,
	       "released inside %zu, want %zu", st.heap_released_inside,
	       kept * (PAGES - 1) * MC_PAGE);
	EXPECT(st.heap_ready == st.heap_mapped - st.heap_released - st.heap_released_inside);
	validate();
	/* Every slot handed out again: each page is made Ready first, no slot
	 * twice, and the kept objects keep their bytes. */
	unsigned char *again[N];
	size_t n = 0;
	for (; n < N - kept; n++) {
		again[n] = hw_malloc(SZ);
		REQUIRE(again[n], "malloc again %zu", n);
		EXPECT(hw_sim_state(pf, again[n]) == HW_MEM_READY &&
			       hw_sim_state(pf, again[n] + SZ - 1) == HW_MEM_READY,
		       "a new object's pages are Ready");
		memset(again[n], 0xee, SZ);
	}
	hw_malloc_trim(0); /* the cache's slots back: every span is full */
	st = layer_stats();
	EXPECT(st.heap_released_inside == 0, "all reused: %zu still released",
	       st.heap_released_inside);
	for (size_t i = 0; i < N; i++)
		EXPECT(!obj[i] || holds(obj[i], (unsigned char)((i & 0x7f) + 1)),
		       "object %zu intact", i);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < N; j++)
			EXPECT(again[i] != obj[j], "slot %p handed out twice", (void *)again[i]);
	validate();
	for (size_t i = 0; i < n; i++)
		hw_free(again[i]);
	for (size_t i = 0; i < N; i++)
		hw_free(obj[i]);
	hw_malloc_trim(0);
	st = layer_stats();
	EXPECT(st.small_spans == 0 && st.heap_released_inside == 0 && st.heap_inuse == 0,
	       "all given back: %zu spans, %zu inside, %zu in use", st.small_spans,
	       st.heap_released_inside, st.heap_inuse);
	validate();
	stop();
}

/* A reuse the platform refuses fails the allocation with ENOMEM and loses
 * nothing: the slot is handed out by a later allocation. */
static void test_refused_reuse(void)
{
	start();
	/* A refill of two: its class's batch and cap are one (classes.c), so
	 * no refill would be refused after it took a slot. A cache record's
	 * slot arrays are laid out from the caps when it is made, in a record
	 * whose size is fixed at start-up: class 0 gives up a slot for the
	 * second one, and the thread's cache is made again. */
	hw_mc_cache_flush(hw_mc_tls_cache);
	hw_mc_cache_reset();
	unsigned c = mc_class_of(SZ);
	hw_mc_classes[c].batch = 2;
	hw_mc_classes[c].cap = 2;
	hw_mc_classes[0].cap--;
	fill_keep_first_trim();
	REQUIRE(hw_mc_tls_cache->bin[c].cap == 2, "a bin of two");
	hw_malloc_stats s0 = layer_stats();
	/* The first refill takes slot 1 (on the kept page) from the list,
	 * then is refused the next slot's page: it returns the one it has. */
	hw_platform_inject(pf, 1, 1u << HW_SYS_USE);
	unsigned char *one = hw_malloc(SZ);
	REQUIRE(one && slot_of(one) == 1, "slot 1 first");
	EXPECT(pf->failures[HW_SYS_USE] == 1, "the reuse was tried");
	EXPECT(layer_stats().heap_released_inside == s0.heap_released_inside);
	validate();
	/* The next needs a released page and gets none: ENOMEM. */
	hw_platform_inject(pf, 1, 1u << HW_SYS_USE);
	errno = 0;
	unsigned char *no = hw_malloc(SZ);
	EXPECT(no == NULL && errno == ENOMEM, "refused reuse: %p, errno %d", (void *)no, errno);
	EXPECT(pf->failures[HW_SYS_USE] == 2, "the reuse was tried");
	hw_malloc_stats s1 = layer_stats();
	EXPECT(s1.heap_released_inside == s0.heap_released_inside &&
		       s1.small_spans == s0.small_spans,
	       "nothing changed: inside %zu/%zu", s1.heap_released_inside,
	       s0.heap_released_inside);
	validate();
	unsigned char *yes = hw_malloc(SZ);
	EXPECT(yes != NULL && hw_sim_state(pf, yes) == HW_MEM_READY, "the next try gets it");
	EXPECT(layer_stats().heap_released_inside == s0.heap_released_inside - MC_PAGE,
	       "one page reused");
	memset(yes, 1, SZ);
	validate();
	hw_free(yes);
	hw_free(one);
	for (size_t i = 0; i < N; i++)
		hw_free(obj[i]);
	stop();
}

HW_TEST_MAIN(T(test_release_and_reuse), T(test_refused_reuse))

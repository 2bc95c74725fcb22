/* validate_test.c: the validator names the invariant a corrupted heap breaks.
 *
 * Each case builds a small heap on the simulator that validates clean,
 * breaks one piece of metadata or one simulated page state behind the
 * heap's back, and expects hw_heap_validate to return that invariant's
 * number and to name the offending page; the damage is then undone and the
 * heap must validate clean again. The fast paths of the walk (run-level
 * platform queries for I12, folded unit checks for I6) are covered at both
 * ends of their ranges: units of 2, 16 and 64 pages, runs that start and
 * end mid-word.
 */
#include "heap_env.h"
#include "heap_internal.h"
#include "trap.h"

#include <signal.h>

/* A heap of 8 KiB pages over one 4 MiB arena (one chunk), on a simulator
 * whose pages are `unit` heap pages: a live run at pages [0, 40), free Ready
 * pages at [40, 130) (freed after the scavenge), the rest released. *first
 * receives the arena's first heap page, *c its chunk. */
static bool open_heap(env *e, size_t unit, size_t *first, hw_chunk **c)
{
	hw_sim_config sim = {
		.backing_bytes = 64 * MiB, .page_size = unit * P, .released_reads_zero = true};
	hw_heap_config cfg = {.arena_size = 4 * MiB, .address_space = 32 * MiB};
	if (!env_open(e, &sim, cfg))
		return false;
	void *live = hw_heap_alloc(e->h, 40), *mid = hw_heap_alloc(e->h, 60),
	     *tail = hw_heap_alloc(e->h, 30);
	if (!live || !mid || !tail)
		return false;
	hw_heap_scavenge(e->h, SIZE_MAX);
	if (hw_heap_free(e->h, mid, 60) != 0 || hw_heap_free(e->h, tail, 30) != 0)
		return false;
	*first = (size_t)(e->h->arenas[0].base - e->h->base) / P;
	*c = &e->h->chunks[*first / HW_BITS_PAGES];
	return *first % HW_BITS_PAGES == 0 && hw_heap_addr(e->h, *first) == (uintptr_t)live;
}

static void *page_ptr(env *e, size_t page) { return (void *)hw_heap_addr(e->h, page); }

/* The walk returns invariant n, and its message names the damage. */
#define EXPECT_BROKEN(e, n, needle)                                                \
	do {                                                                       \
		char m_[512];                                                      \
		int v_ = hw_heap_validate((e)->h, m_, sizeof m_);                  \
		EXPECT(v_ == (n) && strstr(m_, needle) != NULL,                    \
		       "want I%d naming \"%s\", got %d: %s", (n), needle, v_, m_); \
	} while (0)

#define EXPECT_CLEAN(e)                                                                           \
	do {                                                                                      \
		char m_[512];                                                                     \
		EXPECT(hw_heap_validate((e)->h, m_, sizeof m_) == 0, "validate after repair: %s", \
		       m_);                                                                       \
	} while (0)

/* I6 with units of 2 and 16 pages (folded within a word) and 64 (counted):
 * one page of a released unit that is not released. */
static void test_partly_released_unit(void)
{
	const size_t units[] = {2, 16, 64};
	for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
		size_t unit = units[k];
		env e;
		size_t first;
		hw_chunk *c;
		REQUIRE(open_heap(&e, unit, &first, &c), "heap with %zu-page units", unit);
		EXPECT_CLEAN(&e);
		/* A page of the unit at 256 (a unit boundary for each size). */
		unsigned page = 256 + (unsigned)hw_min(3, unit - 1);
		REQUIRE(hw_bits_test(c->released, page));
		hw_bits_clear(c->released, page, 1);
		char needle[64];
		snprintf(needle, sizeof needle, "unit at page %zu is", first + 256);
		EXPECT_BROKEN(&e, 6, needle);
		hw_bits_set(c->released, page, 1);
		EXPECT_CLEAN(&e);
		env_done(&e);
	}
}

/* I12 in both directions: a free Ready page made Prepared and a released
 * page made Ready behind the heap's back, mid-run and at the last page of a
 * run (mid-word, and the chunk's last). */
static void test_platform_state_mismatch(void)
{
	env e;
	size_t first;
	hw_chunk *c;
	REQUIRE(open_heap(&e, 1, &first, &c));
	EXPECT_CLEAN(&e);
	const struct {
		size_t page;
		bool ready; /* the heap expects Ready */
	} cases[] = {{103, true}, {321, false}, {129, true}, {511, false}};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		void *p = page_ptr(&e, first + cases[k].page);
		if (cases[k].ready)
			hw_sys_unuse(e.pf, p, P);
		else
			REQUIRE(hw_sys_use(e.pf, p, P) == 0);
		char needle[64];
		/* The validator's formatter (the C runtime's %p differs on
		 * Windows). */
		hw_report_format(needle, sizeof needle, "page %zu (%p)", first + cases[k].page, p);
		EXPECT_BROKEN(&e, 12, needle);
		if (cases[k].ready)
			REQUIRE(hw_sys_use(e.pf, p, P) == 0);
		else
			hw_sys_unuse(e.pf, p, P);
		EXPECT_CLEAN(&e);
	}
	env_done(&e);
}

/* The per-chunk counts: I5 (released and allocated), I10 (free_ready off by
 * one), I2 and I4 (a page the totals do not count), I14 (a free page below
 * the search hint). */
static void test_chunk_counts(void)
{
	env e;
	size_t first;
	hw_chunk *c;
	REQUIRE(open_heap(&e, 1, &first, &c));
	char needle[64];

	hw_bits_set(c->released, 5, 1);
	hw_report_format(needle, sizeof needle, "page %zu (%p) is released and allocated",
			 first + 5, page_ptr(&e, first + 5));
	EXPECT_BROKEN(&e, 5, needle);
	hw_bits_clear(c->released, 5, 1);
	EXPECT_CLEAN(&e);

	c->free_ready++;
	EXPECT_BROKEN(&e, 10, "free_ready=91, bitmap says 90");
	c->free_ready--;
	EXPECT_CLEAN(&e);

	e.h->inuse -= P;
	EXPECT_BROKEN(&e, 2, "bitmaps hold 327680");
	e.h->inuse += P;
	e.h->released += P;
	EXPECT_BROKEN(&e, 4, "bitmaps hold 3129344");
	e.h->released -= P;
	EXPECT_CLEAN(&e);

	size_t hint = e.h->low_free;
	e.h->low_free = first + 101;
	snprintf(needle, sizeof needle, "page %zu is free", first + 40);
	EXPECT_BROKEN(&e, 14, needle);
	e.h->low_free = hint;
	EXPECT_CLEAN(&e);
	env_done(&e);
}

static void validate_unlocked(void *arg)
{
	char msg[64];
	hw_validate_locked(arg, msg, sizeof msg);
}

/* HW_ASSERT_LOCKED: a *_locked function called without the heap lock
 * aborts under HW_DEBUG (and, without it, is the caller's bug unchecked). */
static void test_locked_functions_check_the_lock(void)
{
	env e;
	size_t first;
	hw_chunk *c;
	REQUIRE(open_heap(&e, 1, &first, &c));
	char err[512];
	hw_child_status st;
	REQUIRE(hw_trap_child(validate_unlocked, e.h, err, sizeof err, &st) == 0);
#if HW_DEBUG
	EXPECT(st.signo == SIGABRT, "signal %d, exit %d", st.signo, st.exit_code);
	EXPECT(strstr(err, "heapward: assertion failed: hw_mutex_held(&(h)->lock)") != NULL,
	       "stderr: %s", err);
#else
	EXPECT(st.signo == 0 && st.exit_code == 0, "signal %d, exit %d", st.signo, st.exit_code);
#endif
	env_done(&e);
}

HW_TEST_MAIN(T(test_partly_released_unit), T(test_platform_state_mismatch), T(test_chunk_counts),
	     T(test_locked_functions_check_the_lock))

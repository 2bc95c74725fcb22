/* resize_test.c: hw_heap_resize on the checked simulator and on Linux.
 *
 * A shrink frees the tail (guard pages included) and keeps the rest; a
 * growth takes the free pages right after the run, Ready or released, and
 * fails with ENOMEM, changing nothing, when they are not all free, run past
 * the arenas, or the platform refuses; a bad run is refused with EINVAL and
 * one report. Each case ends with the stats identities and the validator.
 */
#include "heap_env.h"
#include "trap.h"

static void test_shrink_and_grow(void)
{
	BOTH(e, small_cfg(), {
		char *a = hw_heap_alloc(e->h, 10), *b = hw_heap_alloc(e->h, 2);
		REQUIRE(a && b);
		memset(a, 0x5a, 10 * P);
		hw_heap_stats s0 = env_stats(e);
		EXPECT(hw_heap_resize(e->h, a, 10, 4) == 0);
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.inuse == s0.inuse - 6 * P && s1.resizes == s0.resizes + 1);
		EXPECT(hw_heap_page_kind(e->h, a + 4 * P, NULL) == HW_PAGE_FREE_READY);
		EXPECT(a[0] == 0x5a && a[4 * P - 1] == 0x5a, "kept pages keep their contents");
		EXPECT(hw_heap_free(e->h, a, 10) == EINVAL, "the old size is gone");
		env_check(e);
		/* Back up to 10: the freed tail is free and Ready again. */
		EXPECT(hw_heap_resize(e->h, a, 4, 10) == 0);
		EXPECT(hw_heap_page_kind(e->h, a + 9 * P, NULL) == HW_PAGE_INUSE);
		EXPECT(a[4 * P - 1] == 0x5a);
		memset(a + 4 * P, 1, 6 * P);
		/* b lies right after: no room. */
		EXPECT(hw_heap_resize(e->h, a, 10, 11) == ENOMEM);
		EXPECT(env_stats(e).inuse == s0.inuse);
		/* After b: released pages (never used) up to the arena's end. */
		EXPECT(hw_heap_resize(e->h, b, 2, 500) == 0);
		EXPECT(b[2 * P] == 0 && b[500 * P - 1] == 0, "released pages read as zero");
		memset(b, 2, 500 * P);
		EXPECT(hw_heap_resize(e->h, b, 500, 503) == ENOMEM, "past the arena");
		EXPECT(hw_heap_resize(e->h, b, 500, 500) == 0, "same size: nothing to do");
		env_check(e);
		EXPECT(hw_heap_free(e->h, a, 10) == 0 && hw_heap_free(e->h, b, 500) == 0);
		env_check(e);
	});
}

static void test_invalid_resizes(void)
{
	BOTH(e, small_cfg(), {
		char *a = hw_heap_alloc(e->h, 4);
		REQUIRE(a != NULL);
		hw_heap_stats s0 = env_stats(e);
		static const struct {
			long off;
			size_t n, to;
			const char *why;
		} bad[] = {
			{0, 3, 8, "shorter than the allocated run"},
			{P, 3, 1, "inside an allocated run"},
			{0, 4, 0, "new page count is 0"},
		};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			unsigned before = e->reports;
			EXPECT(hw_heap_resize(e->h, a + bad[i].off, bad[i].n, bad[i].to) == EINVAL);
			EXPECT(e->reports == before + 1 && strstr(e->last_report, bad[i].why) &&
				       strncmp(e->last_report, "heapward: invalid resize of ",
					       28) == 0,
			       "case %zu: '%s'", i, e->last_report);
		}
		EXPECT(hw_heap_resize(e->h, NULL, 1, 2) == EINVAL &&
		       strstr(e->last_report, "NULL"));
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.invalid_frees == s0.invalid_frees + 4 && s1.resizes == s0.resizes);
		EXPECT(s1.inuse == s0.inuse);
		env_check(e);
		EXPECT(hw_heap_free(e->h, a, 4) == 0);
	});
}

/* Under fault_on_free the freed tail is faulted, its guard pages freed as
 * they are; a growth over faulted pages maps them, and a refused map
 * leaves the run as it was. */
static void test_faulted_tail(void)
{
	hw_heap_config c = small_cfg();
	c.fault_on_free = true;
	BOTH(e, c, {
		char *a = hw_heap_alloc(e->h, 8), *b = hw_heap_alloc(e->h, 1);
		REQUIRE(a && b);
		REQUIRE(hw_heap_guard(e->h, a + 7 * P, 1) == 0);
		memset(a, 3, 7 * P);
		hw_heap_stats s0 = env_stats(e);
		EXPECT(hw_heap_resize(e->h, a, 8, 5) == 0);
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.released == s0.released + 3 * P && s1.guarded == 0);
		EXPECT(hw_trap_probe(a + 5 * P, false) != HW_TRAP_NONE, "the freed tail traps");
		env_check(e);
		hw_platform_inject(e->pf, 1, 1u << HW_SYS_MAP);
		EXPECT(hw_heap_resize(e->h, a, 5, 8) == ENOMEM);
		EXPECT(env_stats(e).inuse == s1.inuse && a[5 * P - 1] == 3);
		env_check(e);
		EXPECT(hw_heap_resize(e->h, a, 5, 8) == 0);
		memset(a + 5 * P, 4, 3 * P);
		EXPECT(a[0] == 3 && a[5 * P - 1] == 3);
		env_check(e);
		EXPECT(hw_heap_free(e->h, a, 8) == 0 && hw_heap_free(e->h, b, 1) == 0);
		env_check(e);
	});
}

/* With an OS page of two heap pages, a shrink may not leave half a guard
 * unit behind (its released half would break I6). */
static void test_guard_unit_not_split(void)
{
	hw_sim_config sim = sim4k;
	sim.page_size = 16 * KiB;
	env e;
	REQUIRE(env_open(&e, &sim, small_cfg()));
	char *a = hw_heap_alloc(e.h, 8);
	REQUIRE(a != NULL && (uintptr_t)a % (16 * KiB) == 0);
	REQUIRE(hw_heap_guard(e.h, a + 2 * P, 2) == 0);
	EXPECT(hw_heap_resize(e.h, a, 8, 3) == EINVAL && strstr(e.last_report, "guard unit"));
	EXPECT(hw_heap_resize(e.h, a, 8, 4) == 0, "a cut after the unit");
	EXPECT(hw_heap_resize(e.h, a, 4, 2) == 0, "a cut before it");
	EXPECT(env_stats(&e).guarded == 0);
	env_check(&e);
	EXPECT(hw_heap_free(e.h, a, 2) == 0);
	env_check(&e);
	env_done(&e);
}

HW_TEST_MAIN(T(test_shrink_and_grow), T(test_invalid_resizes), T(test_faulted_tail),
	     T(test_guard_unit_not_split))

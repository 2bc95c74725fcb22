/* inside_test.c: memory given back from inside live runs
 * (hw_heap_release_inside, hw_heap_reuse_inside), on the checked simulator
 * and on Linux.
 *
 * Each test checks what heapward.h promises: a page released inside its
 * run holds no memory (the simulator's state, the kernel's residency) and
 * is counted in released_inside and inuse, not ready; the rest of the run
 * keeps its contents; a reused page is usable and reads zero; a freed or
 * shrunk run's released pages become free released pages with no platform
 * call; a refused platform call changes nothing; every bad range is refused
 * with one report and EINVAL. The validator (I16) and the simulator's page
 * states (I12) check the rest.
 */
#include "heap_env.h"
#include "trap.h"

static void test_release_and_reuse(void)
{
	BOTH(e, small_cfg(), {
		char *a = hw_heap_alloc(e->h, 8);
		REQUIRE(a != NULL);
		for (size_t i = 0; i < 8; i++)
			fill_page(a, i);
		hw_heap_stats s0 = env_stats(e);
		EXPECT(hw_heap_release_inside(e->h, a + 2 * P, 3) == 0);
		EXPECT(hw_heap_release_inside(e->h, a, 1) == 0);
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.released_inside == 4 * P && s1.inuse == s0.inuse, "released_inside %zu",
		       s1.released_inside);
		EXPECT(s1.ready == s0.ready - 4 * P && s1.released == s0.released, "ready %zu",
		       s1.ready);
		EXPECT(s1.platform_calls[HW_CALL_UNUSE] == s0.platform_calls[HW_CALL_UNUSE] + 2);
		bool head = false;
		EXPECT(hw_heap_page_kind(e->h, a, &head) == HW_PAGE_INSIDE && head);
		EXPECT(hw_heap_page_kind(e->h, a + 4 * P, NULL) == HW_PAGE_INSIDE);
		EXPECT(hw_heap_page_kind(e->h, a + 5 * P, NULL) == HW_PAGE_INUSE);
		for (size_t i = 0; i < 8; i++) {
			bool gone = i == 0 || (i >= 2 && i <= 4);
			EXPECT(gone || intact(a, i), "page %zu lost its contents", i);
			if (e->sim)
				EXPECT(hw_sim_state(e->pf, a + i * P) ==
					       (gone ? HW_MEM_PREPARED : HW_MEM_READY),
				       "page %zu", i);
			else
				EXPECT(hw_platform_resident_bytes(a + i * P, P) == (gone ? 0 : P),
				       "page %zu resident", i);
		}
		if (e->sim)
			EXPECT(traps(a + 3 * P), "a released page is not Ready on the simulator");
		env_check(e);
		/* Reused pages are usable again and read as zero. */
		EXPECT(hw_heap_reuse_inside(e->h, a + 2 * P, 3) == 0);
		EXPECT(!traps(a + 2 * P) && !traps(a + 4 * P));
		EXPECT(holds(a + 2 * P, 3 * P, 0), "reused pages read as zero");
		memset(a + 2 * P, 1, 3 * P);
		hw_heap_stats s2 = env_stats(e);
		EXPECT(s2.released_inside == P && s2.ready == s0.ready - P);
		env_check(e);
		EXPECT(hw_heap_free(e->h, a, 8) == 0);
		env_check(e);
	});
}

/* A freed run's inside pages: free and released with no platform call; an
 * allocation over them makes them Ready (and zero) again. */
static void test_free_with_inside_pages(void)
{
	BOTH(e, small_cfg(), {
		char *a = hw_heap_alloc(e->h, 6);
		char *b = hw_heap_alloc(e->h, 2); /* keeps a from coalescing upward */
		REQUIRE(a && b);
		REQUIRE(hw_heap_release_inside(e->h, a + 4 * P, 2) == 0);
		REQUIRE(hw_heap_release_inside(e->h, a + P, 1) == 0);
		REQUIRE(hw_heap_guard(e->h, a + 3 * P, 1) == 0);
		hw_heap_stats s0 = env_stats(e);
		EXPECT(hw_heap_free(e->h, a, 6) == 0);
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.released_inside == 0 && s1.guarded == 0 &&
			       s1.released == s0.released + 4 * P,
		       "released_inside %zu released %zu", s1.released_inside, s1.released);
		for (int k = 0; k < HW_CALL_KINDS; k++)
			EXPECT(s1.platform_calls[k] == s0.platform_calls[k], "call kind %d", k);
		EXPECT(hw_heap_page_kind(e->h, a + P, NULL) == HW_PAGE_FREE_RELEASED);
		EXPECT(hw_heap_page_kind(e->h, a + 5 * P, NULL) == HW_PAGE_FREE_RELEASED);
		EXPECT(hw_heap_page_kind(e->h, a + 2 * P, NULL) == HW_PAGE_FREE_READY);
		if (e->sim)
			EXPECT(hw_sim_state(e->pf, a + 4 * P) == HW_MEM_PREPARED);
		env_check(e);
		bool zeroed = true;
		char *c = hw_heap_alloc_aligned(e->h, 6, 0, &zeroed);
		EXPECT(c == a && !zeroed, "a run over Ready pages is not known zero");
		EXPECT(holds(c + 4 * P, 2 * P, 0) && holds(c + P, P, 0));
		memset(c, 7, 6 * P);
		env_check(e);
		EXPECT(hw_heap_free(e->h, c, 6) == 0 && hw_heap_free(e->h, b, 2) == 0);
		env_check(e);
	});
}

/* Under fault_on_free a release inside is the fault (a touch traps), so a
 * freed run's inside pages are in the state every free released page is
 * in (Reserved); reuse maps them. */
static void test_fault_on_free(void)
{
	hw_heap_config c = small_cfg();
	c.fault_on_free = true;
	BOTH(e, c, {
		char *a = hw_heap_alloc(e->h, 8);
		REQUIRE(a != NULL);
		for (size_t i = 0; i < 8; i++)
			fill_page(a, i);
		hw_heap_stats s0 = env_stats(e);
		EXPECT(hw_heap_release_inside(e->h, a + 2 * P, 2) == 0);
		EXPECT(traps(a + 2 * P) && traps(a + 3 * P) && !traps(a + 4 * P));
		if (e->sim)
			EXPECT(hw_sim_state(e->pf, a + 2 * P) == HW_MEM_RESERVED);
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.platform_calls[HW_CALL_FAULT] == s0.platform_calls[HW_CALL_FAULT] + 1);
		env_check(e);
		EXPECT(hw_heap_reuse_inside(e->h, a + 2 * P, 1) == 0);
		EXPECT(!traps(a + 2 * P) && holds(a + 2 * P, P, 0));
		EXPECT(intact(a, 1) && intact(a, 4));
		env_check(e);
		/* The free faults the stretches around the inside page (3), and
		 * not the page itself. */
		s0 = env_stats(e);
		EXPECT(hw_heap_free(e->h, a, 8) == 0);
		s1 = env_stats(e);
		EXPECT(s1.platform_calls[HW_CALL_FAULT] == s0.platform_calls[HW_CALL_FAULT] + 2);
		EXPECT(s1.released == s0.released + 8 * P && s1.released_inside == 0);
		env_check(e);
	});
}

static void test_invalid_ranges(void)
{
	BOTH(e, small_cfg(), {
		char *a = hw_heap_alloc(e->h, 4), *b = hw_heap_alloc(e->h, 2);
		char *f = hw_heap_alloc(e->h, 1);
		REQUIRE(a && b && f);
		REQUIRE(hw_heap_free(e->h, f, 1) == 0);
		REQUIRE(hw_heap_release_inside(e->h, a + 3 * P, 1) == 0);
		REQUIRE(hw_heap_guard(e->h, a + P, 1) == 0);
		int local;
		static const struct {
			long off;
			size_t n;
			int op; /* 0 release, 1 reuse, 2 guard */
			const char *why;
		} bad[] = {
			{1, 1, 0, "not aligned to the release unit"},
			{0, 0, 0, "not a whole number of release units"},
			{2 * P, 2, 0, "pages released inside the run already"},
			{P, 1, 0, "include guard pages"},
			{3 * P, 2, 0, "more than one allocated run"},
			{6 * P, 1, 0, "not all in an allocated run"},
			{0, 1, 1, "not all released inside the run"},
			{2 * P, 2, 1, "not all released inside the run"},
			{3 * P, 1, 2, "include pages released inside the run"},
		};
		static const char *const prefix[] = {"heapward: invalid release inside ",
						     "heapward: invalid reuse inside ",
						     "heapward: invalid guard of "};
		hw_heap_stats s0 = env_stats(e);
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			unsigned before = e->reports;
			char *p = a + bad[i].off;
			int rc = bad[i].op == 0   ? hw_heap_release_inside(e->h, p, bad[i].n)
				 : bad[i].op == 1 ? hw_heap_reuse_inside(e->h, p, bad[i].n)
						  : hw_heap_guard(e->h, p, bad[i].n);
			EXPECT(rc == EINVAL, "case %zu: %d", i, rc);
			EXPECT(e->reports == before + 1 && strstr(e->last_report, bad[i].why),
			       "case %zu: report '%s'", i, e->last_report);
			EXPECT(strncmp(e->last_report, prefix[bad[i].op],
				       strlen(prefix[bad[i].op])) == 0,
			       "case %zu: '%s'", i, e->last_report);
		}
		EXPECT(hw_heap_release_inside(e->h, &local, 1) == EINVAL &&
		       strstr(e->last_report, "not in this heap"));
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.invalid_insides == s0.invalid_insides + 9, "%llu",
		       (unsigned long long)s1.invalid_insides);
		EXPECT(s1.invalid_guards == s0.invalid_guards + 1);
		EXPECT(s1.released_inside == s0.released_inside && s1.inuse == s0.inuse &&
		       s1.ready == s0.ready);
		for (int k = 0; k < HW_CALL_KINDS; k++)
			EXPECT(s1.platform_calls[k] == s0.platform_calls[k], "call kind %d", k);
		env_check(e);
		EXPECT(hw_heap_free(e->h, a, 4) == 0 && hw_heap_free(e->h, b, 2) == 0);
		env_check(e);
	});
}

/* A refused call leaves the pages as they were, counted in
 * inside_failures: the fault of a release under fault_on_free, the map of
 * its reuse. */
static void test_refused_calls(void)
{
	hw_heap_config c = small_cfg();
	c.fault_on_free = true;
	BOTH(e, c, {
		char *a = hw_heap_alloc(e->h, 3);
		REQUIRE(a != NULL);
		for (size_t i = 0; i < 3; i++)
			fill_page(a, i);
		hw_platform_inject(e->pf, 1, 1u << HW_SYS_FAULT);
		EXPECT(hw_heap_release_inside(e->h, a + P, 1) == ENOMEM);
		hw_heap_stats s = env_stats(e);
		EXPECT(s.inside_failures == 1 && s.released_inside == 0);
		EXPECT(hw_heap_page_kind(e->h, a + P, NULL) == HW_PAGE_INUSE && intact(a, 1));
		env_check(e);
		REQUIRE(hw_heap_release_inside(e->h, a + P, 1) == 0);
		hw_platform_inject(e->pf, 1, 1u << HW_SYS_MAP);
		EXPECT(hw_heap_reuse_inside(e->h, a + P, 1) == ENOMEM);
		s = env_stats(e);
		EXPECT(s.inside_failures == 2 && s.released_inside == P);
		EXPECT(hw_heap_page_kind(e->h, a + P, NULL) == HW_PAGE_INSIDE && traps(a + P));
		EXPECT(intact(a, 0) && intact(a, 2));
		env_check(e);
		EXPECT(hw_heap_free(e->h, a, 3) == 0);
		env_check(e);
	});
}

/* A shrink frees the released pages of the tail with no call, and may not
 * split a unit; with an OS page of four heap pages, ranges are whole
 * aligned units. */
static void test_resize_and_units(void)
{
	hw_sim_config sim = sim4k;
	sim.page_size = 16 * KiB;
	hw_heap_config c = small_cfg();
	c.page_size = 4 * KiB;
	c.arena_size = 2 * MiB;
	env e;
	REQUIRE(env_open(&e, &sim, c));
	char *a = hw_heap_alloc(e.h, 16);
	REQUIRE(a != NULL && (uintptr_t)a % (16 * KiB) == 0);
	EXPECT(hw_heap_release_inside(e.h, a, 1) == EINVAL &&
	       strstr(e.last_report, "whole number"));
	EXPECT(hw_heap_release_inside(e.h, a + 4 * KiB, 4) == EINVAL &&
	       strstr(e.last_report, "aligned"));
	EXPECT(hw_heap_release_inside(e.h, a + 16 * KiB, 4) == 0);
	EXPECT(hw_heap_release_inside(e.h, a + 48 * KiB, 4) == 0);
	EXPECT(env_stats(&e).released_inside == 32 * KiB);
	env_check(&e);
	EXPECT(hw_heap_resize(e.h, a, 16, 14) == EINVAL &&
	       strstr(e.last_report, "splits a unit released inside the run"));
	hw_heap_stats s0 = env_stats(&e);
	EXPECT(hw_heap_resize(e.h, a, 16, 12) == 0);
	hw_heap_stats s1 = env_stats(&e);
	EXPECT(s1.released_inside == 16 * KiB && s1.released == s0.released + 16 * KiB);
	for (int k = 0; k < HW_CALL_KINDS; k++)
		EXPECT(s1.platform_calls[k] == s0.platform_calls[k], "call kind %d", k);
	env_check(&e);
	EXPECT(hw_heap_free(e.h, a, 12) == 0);
	env_check(&e);
	env_done(&e);
}

HW_TEST_MAIN(T(test_release_and_reuse), T(test_free_with_inside_pages), T(test_fault_on_free),
	     T(test_invalid_ranges), T(test_refused_calls), T(test_resize_and_units))

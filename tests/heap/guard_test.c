/* guard_test.c: guard pages of live runs (hw_heap_guard, hw_heap_unguard,
 * hw_heap_unguard_many, hw_heap_guard_many), on the checked simulator and on
 * Linux.
 *
 * Each test checks what heapward.h promises: a guard page traps, holds no
 * memory and is counted in `guarded`; the rest of its run keeps its
 * contents; a freed run's guard pages become free released pages with no
 * platform call, Reserved until reused; a refused platform call changes
 * nothing; and every bad range is refused with one report and EINVAL. The
 * validator (I15) and the simulator's page states (I12) check the rest.
 */
#include "heap_env.h"
#include "trap.h"

static void test_guard_and_unguard(void)
{
	BOTH(e, small_cfg(), {
		char *a = hw_heap_alloc(e->h, 8);
		REQUIRE(a != NULL);
		for (size_t i = 0; i < 8; i++)
			fill_page(a, i);
		hw_heap_stats s0 = env_stats(e);
		/* The last page, then the first (the run's head) and two in the
		 * middle. */
		EXPECT(hw_heap_guard(e->h, a + 7 * P, 1) == 0);
		EXPECT(hw_heap_guard(e->h, a, 1) == 0);
		EXPECT(hw_heap_guard(e->h, a + 3 * P, 2) == 0);
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.guarded == 4 * P && s1.inuse == s0.inuse, "guarded %zu", s1.guarded);
		EXPECT(s1.ready == s0.ready - 4 * P, "ready %zu", s1.ready);
		EXPECT(s1.platform_calls[HW_CALL_FAULT] == s0.platform_calls[HW_CALL_FAULT] + 3);
		bool head = false;
		EXPECT(hw_heap_page_kind(e->h, a, &head) == HW_PAGE_GUARD && head);
		EXPECT(hw_heap_page_kind(e->h, a + 4 * P, NULL) == HW_PAGE_GUARD);
		EXPECT(hw_heap_page_kind(e->h, a + 5 * P, NULL) == HW_PAGE_INUSE);
		for (size_t i = 0; i < 8; i++) {
			bool g = i == 0 || i == 3 || i == 4 || i == 7;
			EXPECT(traps(a + i * P) == g, "page %zu %s", i,
			       g ? "did not trap" : "trapped");
			EXPECT(g || intact(a, i), "page %zu lost its contents", i);
			if (e->sim)
				EXPECT(hw_sim_state(e->pf, a + i * P) ==
				       (g ? HW_MEM_RESERVED : HW_MEM_READY));
		}
		env_check(e);
		/* Unguarded pages are usable again and read as zero here, in
		 * one unfault call (P9) and no map. */
		s1 = env_stats(e);
		EXPECT(hw_heap_unguard(e->h, a + 3 * P, 2) == 0);
		hw_heap_stats s2 = env_stats(e);
		EXPECT(s2.platform_calls[HW_CALL_UNFAULT] ==
		       s1.platform_calls[HW_CALL_UNFAULT] + 1);
		EXPECT(s2.platform_calls[HW_CALL_MAP] == s1.platform_calls[HW_CALL_MAP] &&
		       s2.platform_calls[HW_CALL_USE] == s1.platform_calls[HW_CALL_USE]);
		EXPECT(!traps(a + 3 * P) && !traps(a + 4 * P));
		EXPECT(a[3 * P] == 0 && a[5 * P - 1] == 0, "unguarded pages read as zero");
		memset(a + 3 * P, 1, 2 * P);
		EXPECT(env_stats(e).guarded == 2 * P);
		env_check(e);
		EXPECT(hw_heap_free(e->h, a, 8) == 0);
	});
}

/* A freed run's guard pages: free and released with no platform call,
 * Reserved (they trap) until an allocation maps them again. */
static void test_free_with_guards(void)
{
	BOTH(e, small_cfg(), {
		char *a = hw_heap_alloc(e->h, 6);
		char *b = hw_heap_alloc(e->h, 2); /* keeps a from coalescing upward */
		REQUIRE(a && b);
		REQUIRE(hw_heap_guard(e->h, a + 5 * P, 1) == 0);
		REQUIRE(hw_heap_guard(e->h, a + P, 1) == 0);
		hw_heap_stats s0 = env_stats(e);
		EXPECT(hw_heap_free(e->h, a, 6) == 0);
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.guarded == 0 && s1.released == s0.released + 2 * P,
		       "guarded %zu released %zu", s1.guarded, s1.released);
		for (int k = 0; k < HW_CALL_KINDS; k++)
			EXPECT(s1.platform_calls[k] == s0.platform_calls[k], "call kind %d", k);
		EXPECT(hw_heap_page_kind(e->h, a + 5 * P, NULL) == HW_PAGE_FREE_RELEASED);
		EXPECT(hw_heap_page_kind(e->h, a + 4 * P, NULL) == HW_PAGE_FREE_READY);
		EXPECT(traps(a + 5 * P) && traps(a + P), "a freed guard page stays Reserved");
		if (e->sim)
			EXPECT(hw_sim_state(e->pf, a + P) == HW_MEM_RESERVED);
		env_check(e);
		/* Reuse unfaults the Reserved pages (they were faulted: P9), one
		 * call per stretch and no map. */
		char *c = hw_heap_alloc(e->h, 6);
		EXPECT(c == a);
		hw_heap_stats s2 = env_stats(e);
		EXPECT(s2.platform_calls[HW_CALL_UNFAULT] == s1.platform_calls[HW_CALL_UNFAULT] + 2,
		       "one unfault per guard page's stretch: %llu",
		       (unsigned long long)(s2.platform_calls[HW_CALL_UNFAULT] -
					    s1.platform_calls[HW_CALL_UNFAULT]));
		EXPECT(s2.platform_calls[HW_CALL_MAP] == s1.platform_calls[HW_CALL_MAP]);
		memset(c, 7, 6 * P);
		env_check(e);
		EXPECT(hw_heap_free(e->h, c, 6) == 0 && hw_heap_free(e->h, b, 2) == 0);
		env_check(e);
	});
}

/* Under fault_on_free the rest of the run is faulted, one call per stretch
 * between guard pages; a refused call leaves its stretch free and Ready. */
static void test_fault_on_free_with_guards(void)
{
	hw_heap_config c = small_cfg();
	c.fault_on_free = true;
	BOTH(e, c, {
		char *a = hw_heap_alloc(e->h, 8);
		REQUIRE(a != NULL);
		REQUIRE(hw_heap_guard(e->h, a + 3 * P, 1) == 0);
		hw_heap_stats s0 = env_stats(e);
		EXPECT(hw_heap_free(e->h, a, 8) == 0);
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.platform_calls[HW_CALL_FAULT] == s0.platform_calls[HW_CALL_FAULT] + 2);
		EXPECT(s1.released == s0.released + 8 * P && s1.guarded == 0);
		env_check(e);
		char *b = hw_heap_alloc(e->h, 8);
		REQUIRE(b == a);
		REQUIRE(hw_heap_guard(e->h, b + 3 * P, 1) == 0);
		/* The first stretch's fault is refused. */
		hw_platform_inject(e->pf, 1, 1u << HW_SYS_FAULT);
		s0 = env_stats(e);
		EXPECT(hw_heap_free(e->h, b, 8) == 0);
		s1 = env_stats(e);
		EXPECT(s1.fault_failures == s0.fault_failures + 1);
		EXPECT(hw_heap_page_kind(e->h, b, NULL) == HW_PAGE_FREE_READY);
		EXPECT(hw_heap_page_kind(e->h, b + 3 * P, NULL) == HW_PAGE_FREE_RELEASED);
		EXPECT(hw_heap_page_kind(e->h, b + 4 * P, NULL) == HW_PAGE_FREE_RELEASED);
		EXPECT(s1.released == s0.released + 5 * P, "released %zu", s1.released);
		env_check(e);
	});
}

static void test_invalid_guards(void)
{
	BOTH(e, small_cfg(), {
		char *a = hw_heap_alloc(e->h, 4), *b = hw_heap_alloc(e->h, 2);
		char *f = hw_heap_alloc(e->h, 1);
		REQUIRE(a && b && f);
		REQUIRE(hw_heap_free(e->h, f, 1) == 0);
		REQUIRE(hw_heap_guard(e->h, a + 3 * P, 1) == 0);
		int local;
		static const struct {
			long off;
			size_t n;
			bool unguard;
			const char *why;
		} bad[] = {
			{1, 1, false, "not aligned to the guard unit"},
			{0, 0, false, "not a whole number of guard units"},
			{2 * P, 2, false, "guard pages already"},
			{3 * P, 2, false, "more than one allocated run"},
			{6 * P, 1, false, "not all in an allocated run"},
			{0, 1, true, "not all guard pages"},
			{2 * P, 2, true, "not all guard pages"},
		};
		hw_heap_stats s0 = env_stats(e);
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			unsigned before = e->reports;
			char *p = a + bad[i].off;
			int rc = bad[i].unguard ? hw_heap_unguard(e->h, p, bad[i].n)
						: hw_heap_guard(e->h, p, bad[i].n);
			EXPECT(rc == EINVAL, "case %zu: %d", i, rc);
			EXPECT(e->reports == before + 1 && strstr(e->last_report, bad[i].why),
			       "case %zu: report '%s'", i, e->last_report);
			const char *prefix = bad[i].unguard ? "heapward: invalid unguard of "
							    : "heapward: invalid guard of ";
			EXPECT(strncmp(e->last_report, prefix, strlen(prefix)) == 0, "case %zu", i);
		}
		EXPECT(hw_heap_guard(e->h, &local, 1) == EINVAL &&
		       strstr(e->last_report, "not in this heap"));
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.invalid_guards == s0.invalid_guards + 8);
		EXPECT(s1.guarded == s0.guarded && s1.inuse == s0.inuse && s1.ready == s0.ready);
		EXPECT(s1.platform_calls[HW_CALL_FAULT] == s0.platform_calls[HW_CALL_FAULT]);
		env_check(e);
		EXPECT(hw_heap_free(e->h, a, 4) == 0 && hw_heap_free(e->h, b, 2) == 0);
	});
}

/* A refused fault (the kernel's mapping limit, here injected) or unfault leaves
 * the pages as they were, counted in guard_failures. */
static void test_refused_calls(void)
{
	BOTH(e, small_cfg(), {
		char *a = hw_heap_alloc(e->h, 3);
		REQUIRE(a != NULL);
		for (size_t i = 0; i < 3; i++)
			fill_page(a, i);
		hw_platform_inject(e->pf, 1, 1u << HW_SYS_FAULT);
		EXPECT(hw_heap_guard(e->h, a + P, 1) == ENOMEM);
		hw_heap_stats s = env_stats(e);
		EXPECT(s.guard_failures == 1 && s.guarded == 0);
		EXPECT(hw_heap_page_kind(e->h, a + P, NULL) == HW_PAGE_INUSE && intact(a, 1));
		env_check(e);
		REQUIRE(hw_heap_guard(e->h, a + P, 1) == 0);
		hw_platform_inject(e->pf, 1, 1u << HW_SYS_UNFAULT);
		EXPECT(hw_heap_unguard(e->h, a + P, 1) == ENOMEM);
		s = env_stats(e);
		EXPECT(s.guard_failures == 2 && s.guarded == P);
		EXPECT(hw_heap_page_kind(e->h, a + P, NULL) == HW_PAGE_GUARD && traps(a + P));
		EXPECT(intact(a, 0) && intact(a, 2));
		env_check(e);
		EXPECT(hw_heap_free(e->h, a, 3) == 0);
		env_check(e);
	});
}

/* The batch tests' runs: four of 3 pages, each page filled (fill_page),
 * r[i] the last two pages of run i, guard pages when guarded; false when
 * the heap refused one. */
static bool four_runs(env *e, char *run[4], hw_range r[4], bool guarded)
{
	for (size_t i = 0; i < 4; i++) {
		if ((run[i] = hw_heap_alloc(e->h, 3)) == NULL)
			return false;
		for (size_t j = 0; j < 3; j++)
			fill_page(run[i], j);
		if (guarded && hw_heap_guard(e->h, run[i] + P, 2) != 0)
			return false;
		r[i] = (hw_range){run[i] + P, 2 * P};
	}
	return true;
}

/* hw_heap_unguard_many: guard pages of several runs usable again at once,
 * each range counted as one unfault; a bad range anywhere refuses the
 * batch before any call; an injected failure at the third range leaves it
 * and the fourth guarded, the first two done. */
static void test_unguard_many(void)
{
	BOTH(e, small_cfg(), {
		char *run[4];
		hw_range r[4];
		REQUIRE(four_runs(e, run, r, true));
		hw_heap_stats s0 = env_stats(e);
		const uint64_t u0 = s0.platform_calls[HW_CALL_UNFAULT];
		const char *prefix = "heapward: invalid unguard of ";
		size_t done = 99;
		hw_range bad[2] = {r[0], {run[1], P}};
		unsigned before = e->reports;
		EXPECT(hw_heap_unguard_many(e->h, bad, 2, &done) == EINVAL && done == 0);
		EXPECT(e->reports == before + 1 &&
			       strncmp(e->last_report, prefix, strlen(prefix)) == 0 &&
			       strstr(e->last_report, "not all guard pages"),
		       "report '%s'", e->last_report);
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.guarded == 8 * P && s1.invalid_guards == s0.invalid_guards + 1);
		EXPECT(s1.platform_calls[HW_CALL_UNFAULT] == u0);
		hw_platform_inject(e->pf, 3, 1u << HW_SYS_UNFAULT);
		EXPECT(hw_heap_unguard_many(e->h, r, 4, &done) == ENOMEM && done == 2, "done %zu",
		       done);
		s1 = env_stats(e);
		EXPECT(s1.guarded == 4 * P && s1.guard_failures == s0.guard_failures + 1);
		EXPECT(s1.platform_calls[HW_CALL_UNFAULT] == u0 + 3);
		for (size_t i = 0; i < 4; i++) {
			bool g = i >= 2;
			EXPECT(traps(run[i] + P) == g && traps(run[i] + 2 * P) == g, "run %zu", i);
			EXPECT(hw_heap_page_kind(e->h, run[i] + P, NULL) ==
			       (g ? HW_PAGE_GUARD : HW_PAGE_INUSE));
			EXPECT(g || (run[i][P] == 0 && run[i][3 * P - 1] == 0), "run %zu", i);
		}
		env_check(e);
		EXPECT(hw_heap_unguard_many(e->h, r + 2, 2, &done) == 0 && done == 2);
		s1 = env_stats(e);
		EXPECT(s1.guarded == 0 && s1.platform_calls[HW_CALL_UNFAULT] == u0 + 5);
		for (size_t i = 0; i < 4; i++) {
			EXPECT(!traps(run[i] + P) && intact(run[i], 0), "run %zu", i);
			memset(run[i] + P, 1, 2 * P);
		}
		env_check(e);
		for (size_t i = 0; i < 4; i++)
			EXPECT(hw_heap_free(e->h, run[i], 3) == 0);
		env_check(e);
	});
}

/* hw_heap_guard_many: guard pages in several runs at once, each range
 * counted as one fault; a bad range anywhere (here one overlapping an
 * earlier range) refuses the batch with nothing done; an injected failure
 * at the third range leaves it and the fourth usable with their contents,
 * the first two guarded. */
static void test_guard_many(void)
{
	BOTH(e, small_cfg(), {
		char *run[4];
		hw_range r[4];
		REQUIRE(four_runs(e, run, r, false));
		hw_heap_stats s0 = env_stats(e);
		const uint64_t f0 = s0.platform_calls[HW_CALL_FAULT];
		const char *prefix = "heapward: invalid guard of ";
		size_t done = 99;
		hw_range bad[3] = {r[0], r[1], {run[1] + 2 * P, P}};
		unsigned before = e->reports;
		EXPECT(hw_heap_guard_many(e->h, bad, 3, &done) == EINVAL && done == 0);
		EXPECT(e->reports == before + 1 &&
			       strncmp(e->last_report, prefix, strlen(prefix)) == 0 &&
			       strstr(e->last_report, "guard pages already"),
		       "report '%s'", e->last_report);
		hw_heap_stats s1 = env_stats(e);
		EXPECT(s1.guarded == 0 && s1.invalid_guards == s0.invalid_guards + 1);
		EXPECT(s1.platform_calls[HW_CALL_FAULT] == f0);
		for (size_t i = 0; i < 2; i++)
			EXPECT(hw_heap_page_kind(e->h, run[i] + P, NULL) == HW_PAGE_INUSE,
			       "run %zu", i);
		env_check(e);
		hw_platform_inject(e->pf, 3, 1u << HW_SYS_FAULT);
		EXPECT(hw_heap_guard_many(e->h, r, 4, &done) == ENOMEM && done == 2, "done %zu",
		       done);
		s1 = env_stats(e);
		EXPECT(s1.guarded == 4 * P && s1.guard_failures == s0.guard_failures + 1);
		EXPECT(s1.platform_calls[HW_CALL_FAULT] == f0 + 3);
		for (size_t i = 0; i < 4; i++) {
			bool g = i < 2;
			EXPECT(traps(run[i] + P) == g && traps(run[i] + 2 * P) == g, "run %zu", i);
			EXPECT(hw_heap_page_kind(e->h, run[i] + 2 * P, NULL) ==
			       (g ? HW_PAGE_GUARD : HW_PAGE_INUSE));
			EXPECT(g || (intact(run[i], 1) && intact(run[i], 2)), "run %zu", i);
		}
		env_check(e);
		EXPECT(hw_heap_guard_many(e->h, r + 2, 2, &done) == 0 && done == 2);
		s1 = env_stats(e);
		EXPECT(s1.guarded == 8 * P && s1.platform_calls[HW_CALL_FAULT] == f0 + 5);
		for (size_t i = 0; i < 4; i++)
			EXPECT(traps(run[i] + P) && traps(run[i] + 2 * P) && !traps(run[i]),
			       "run %zu", i);
		env_check(e);
		for (size_t i = 0; i < 4; i++)
			EXPECT(hw_heap_free(e->h, run[i], 3) == 0);
		env_check(e);
	});
}

/* A run over freed guard pages (released, Reserved) alternating with free
 * Ready ones: its allocation unfaults each stretch; a refused unfault leaves
 * every page as it was (the stretches already unfaulted are faulted again), and a
 * later try succeeds. With 3 stretches the claim runs with the pages busy
 * and the lock dropped around each call; with 20 it runs them in place. */
static void test_claim_over_guard_stretches(void)
{
	static const size_t stretches[] = {3, 20};
	for (size_t t = 0; t < 2; t++) {
		size_t g = stretches[t];
		BOTH(e, small_cfg(), {
			char *a = hw_heap_alloc(e->h, 40), *b = hw_heap_alloc(e->h, 1);
			REQUIRE(a && b);
			for (size_t i = 0; i < g; i++)
				REQUIRE(hw_heap_guard(e->h, a + (1 + 2 * i) * P, 1) == 0);
			REQUIRE(hw_heap_free(e->h, a, 40) == 0);
			hw_heap_stats s0 = env_stats(e);
			hw_platform_inject(e->pf, 2, 1u << HW_SYS_UNFAULT);
			errno = 0;
			EXPECT(hw_heap_alloc(e->h, 40) == NULL && errno == ENOMEM, "%zu", g);
			hw_heap_stats s1 = env_stats(e);
			EXPECT(s1.released == s0.released && s1.inuse == s0.inuse &&
				       s1.ready == s0.ready,
			       "%zu stretches: released %zu/%zu", g, s1.released, s0.released);
			EXPECT(s1.platform_failures[HW_CALL_UNFAULT] ==
			       s0.platform_failures[HW_CALL_UNFAULT] + 1);
			EXPECT(hw_heap_page_kind(e->h, a + P, NULL) == HW_PAGE_FREE_RELEASED);
			EXPECT(hw_heap_page_kind(e->h, a + 2 * P, NULL) == HW_PAGE_FREE_READY);
			EXPECT(traps(a + P) && traps(a + 3 * P),
			       "the first stretch is Reserved again");
			env_check(e);
			char *c = hw_heap_alloc(e->h, 40);
			EXPECT(c == a, "%zu stretches", g);
			hw_heap_stats s2 = env_stats(e);
			EXPECT(s2.platform_calls[HW_CALL_UNFAULT] ==
			       s1.platform_calls[HW_CALL_UNFAULT] + g);
			EXPECT(s2.platform_calls[HW_CALL_MAP] == s1.platform_calls[HW_CALL_MAP]);
			memset(c, 3, 40 * P);
			env_check(e);
			EXPECT(hw_heap_free(e->h, c, 40) == 0 && hw_heap_free(e->h, b, 1) == 0);
			env_check(e);
		});
	}
}

/* With an OS page of four heap pages, guards come in whole aligned units. */
static void test_units(void)
{
	hw_sim_config sim = sim4k;
	sim.page_size = 16 * KiB;
	hw_heap_config c = small_cfg();
	c.page_size = 4 * KiB;
	c.arena_size = 2 * MiB;
	env e;
	REQUIRE(env_open(&e, &sim, c));
	char *a = hw_heap_alloc(e.h, 12);
	REQUIRE(a != NULL && (uintptr_t)a % (16 * KiB) == 0);
	EXPECT(hw_heap_guard(e.h, a, 1) == EINVAL && strstr(e.last_report, "whole number"));
	EXPECT(hw_heap_guard(e.h, a + 4 * KiB, 4) == EINVAL && strstr(e.last_report, "aligned"));
	EXPECT(hw_heap_guard(e.h, a + 16 * KiB, 4) == 0);
	EXPECT(env_stats(&e).guarded == 16 * KiB);
	env_check(&e);
	EXPECT(hw_heap_free(e.h, a, 12) == 0);
	/* The freed unit is released and Reserved; a one-page reuse inside it
	 * maps the whole unit. */
	char *b = hw_heap_alloc(e.h, 5);
	EXPECT(b == a);
	env_check(&e);
	EXPECT(hw_heap_free(e.h, b, 5) == 0);
	env_check(&e);
	env_done(&e);
}

HW_TEST_MAIN(T(test_guard_and_unguard), T(test_free_with_guards), T(test_unguard_many),
	     T(test_guard_many),
	     T(test_fault_on_free_with_guards), T(test_invalid_guards), T(test_refused_calls),
	     T(test_claim_over_guard_stretches), T(test_units))

/* pacing_test.c: the background scavenger's target and pacing, through the
 * public API (scavenger.c; docs/scavenging.md, "When").
 *
 * Owns: behaviour tests of the rules that decide how much the background
 * scavenger releases: the memory limit as its target when lower than the
 * retained goal. Deadlines are generous, and the tests are built so that the
 * rule's absence misses them by far: they can never pass without the limit
 * as target.
 *
 * Locking: the scavenger thread runs beside the test's thread; the test only
 * polls stats.
 */
#include "heap_env.h"
#include "thread.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define P (8 * KiB)
#define POLL_NS 10000000ull

static const hw_sim_config sim4k = {.backing_bytes = 256 * MiB, .released_reads_zero = true};

/* A heap whose retained goal (inuse x 11) is far above its memory limit. */
static hw_heap_config limit_cfg(void)
{
	hw_heap_config c = {0};
	c.arena_size = 4 * MiB;
	c.address_space = 256 * MiB;
	c.retain_percent = 1000;
	c.memory_limit = 32 * P;
	return c;
}

/* Allocates 8 pages to keep (*keep) and 200 more (Ready goes over the soft
 * limit), then frees the 200: Ready is 208 pages, the goal 88, the limit 32.
 * False when an allocation failed. */
static bool over_limit(env *e, void **keep)
{
	void *big;
	*keep = hw_heap_alloc(e->h, 8);
	if (!*keep || !(big = hw_heap_alloc(e->h, 200)))
		return false;
	EXPECT(env_stats(e).limit_exceeded >= 1);
	EXPECT(hw_heap_free(e->h, big, 200) == 0);
	hw_heap_stats s = env_stats(e);
	EXPECT(s.inuse == 8 * P && s.ready == 208 * P, "inuse %zu ready %zu", s.inuse, s.ready);
	return true;
}

static void test_step_targets_limit(void)
{
	for (int b = 0; b < 2; b++) {
		env e;
		REQUIRE(env_open(&e, b == 0 ? &sim4k : NULL, limit_cfg()));
		void *keep;
		REQUIRE(over_limit(&e, &keep));
		size_t r, total = 0;
		while ((r = hw_heap_scavenger_step(e.h)) > 0) {
			EXPECT(r <= 64 * KiB, "a public step releases one quantum, got %zu", r);
			total += r;
		}
		hw_heap_stats s = env_stats(&e);
		EXPECT(s.ready == 32 * P, "steps stop at the limit, not the goal: ready %zu",
		       s.ready);
		EXPECT(total == 176 * P && s.bg_scavenged_bytes == total);
		env_check(&e);
		/* Without a limit the goal is the target again. */
		EXPECT(hw_heap_set_memory_limit(e.h, 0) == 0);
		void *big = hw_heap_alloc(e.h, 200);
		REQUIRE(big != NULL);
		EXPECT(hw_heap_free(e.h, big, 200) == 0);
		while (hw_heap_scavenger_step(e.h) > 0)
			;
		EXPECT(env_stats(&e).ready == 88 * P, "ready %zu", env_stats(&e).ready);
		EXPECT(hw_heap_free(e.h, keep, 8) == 0);
		env_check(&e);
		env_done(&e);
	}
}

static void test_thread_brings_ready_under_limit(void)
{
	env e;
	REQUIRE(env_open(&e, &sim4k, limit_cfg()));
	void *keep;
	REQUIRE(over_limit(&e, &keep));
	REQUIRE(hw_heap_scavenger_start(e.h) == 0);
	for (int i = 0; i < 1000 && env_stats(&e).ready > 32 * P; i++)
		hw_sleep_ns(POLL_NS);
	EXPECT(env_stats(&e).ready <= 32 * P, "ready %zu above the limit after 10 s",
	       env_stats(&e).ready);
	hw_heap_scavenger_stop(e.h);
	EXPECT(hw_heap_free(e.h, keep, 8) == 0);
	env_check(&e);
	env_done(&e);
}

HW_TEST_MAIN(T(test_step_targets_limit), T(test_thread_brings_ready_under_limit))

/* seedbug_test.c: the seed's bug, re-created, is caught.
 *
 * This executable links a heap with the seed's bug planted (ci/mutants/01-...):
 * grow counts new memory as Ready instead of released, as the Go runtime did before "mark
 * newly-mapped memory as scavenged". The heap stays internally consistent,
 * so only checks against the platform can see it: the validator's I12 on the
 * simulator, and the scavengers, which now find untouched memory to release:
 * the background step, and growth-time scavenging on the very allocation
 * that grew the heap (as in the Go runtime before the seed).
 */
#include "heap_env.h"

static void test_validator_catches_seed_bug(void)
{
	hw_sim_config sim = {
		.backing_bytes = 64 << 20, .released_reads_zero = true, .record_illegal = true};
	hw_heap_config cfg = {.arena_size = 4 << 20, .address_space = 32 << 20};
	env e;
	REQUIRE(env_open(&e, &sim, cfg));
	/* The grow path alone: no allocation, so no growth-time scavenge. */
	REQUIRE(hw_heap_grow(e.h, 1) == 0);
	char msg[512];
	int broken = hw_heap_validate(e.h, msg, sizeof msg);
	EXPECT(broken == 12, "validate returned %d: %s", broken, msg);
	EXPECT(strstr(msg, "platform page state") != NULL, "%s", msg);
	/* Accounting against the platform: the heap claims all 4 MiB Ready,
	 * the simulator has only metadata Ready. */
	hw_heap_stats s = env_stats(&e);
	EXPECT(s.ready == (size_t)4 << 20 && hw_sim_ready_bytes(e.pf) == s.meta_ready,
	       "heap ready %zu, sim ready %zu", s.ready, hw_sim_ready_bytes(e.pf));
	/* The scavenger sees the untouched arena as work (Go issue 32012) and
	 * tries to release Prepared pages: an illegal transition. */
	EXPECT(hw_heap_scavenger_step(e.h) > 0);
	EXPECT(hw_sim_illegal_count(e.pf, msg, sizeof msg) > 0, "no illegal transition recorded");
	hw_heap_destroy(e.h);
	hw_platform_destroy(e.pf);
}

/* An allocation that grows the heap scavenges toward the retained goal: with
 * the bug, the untouched rest of the new arena looks like 4 MiB of excess
 * and the allocation itself madvises Prepared pages (Go issue 32012). */
static void test_growth_scavenge_trips_on_seed_bug(void)
{
	hw_sim_config sim = {
		.backing_bytes = 64 << 20, .released_reads_zero = true, .record_illegal = true};
	hw_heap_config cfg = {.arena_size = 4 << 20, .address_space = 32 << 20};
	env e;
	REQUIRE(env_open(&e, &sim, cfg));
	REQUIRE(hw_heap_alloc(e.h, 1) != NULL);
	char msg[512];
	EXPECT(hw_sim_illegal_count(e.pf, msg, sizeof msg) > 0, "no illegal transition recorded");
	EXPECT(env_stats(&e).grow_scavenged_bytes > 0);
	hw_heap_destroy(e.h);
	hw_platform_destroy(e.pf);
}

HW_TEST_MAIN(T(test_validator_catches_seed_bug), T(test_growth_scavenge_trips_on_seed_bug))

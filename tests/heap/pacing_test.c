/* pacing_test.c: the background scavenger's target and pacing, through the
 * public API (scavenger.c; docs/scavenging.md, "When").
 *
 * Owns: behaviour tests of the rules that decide how much the background
 * scavenger releases and how fast: the memory limit as its target when lower
 * than the retained goal, prompt work when the program is idle, and the CPU
 * time stat. Speed targets live in bench/pacing_bench.c; here every deadline
 * is generous (seconds where the rule needs milliseconds), and each test is
 * built so that the rule's absence misses it by far, not by a margin: the
 * limit tests can never pass without the limit as target, and the idle test
 * makes each release cost enough CPU that a 1% budget needs about 25 s.
 *
 * Locking: the scavenger thread runs beside the test's thread; the test only
 * polls stats.
 */
#include "heap_env.h"
#include "inspect.h"
#include "thread.h"
#include "wrap.h"

#define POLL_NS 10000000ull

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

/* ---- a platform whose releases cost CPU ---------------------------------------- */

/* Linux, with every unuse burning NS_PER_MIB of the calling thread's CPU
 * time per MiB first, and no huge pages (so each step's size is the
 * scavenger's quantum alone). Pages are never touched: the real unuse is
 * cheap and the burn is the cost. */
#define NS_PER_MIB 4000000ull

/* The burn, as wrap_platform's unuse hook. */
static bool burn_before_unuse(wrap_platform *w, hw_sys_kind k, void *p, size_t n)
{
	(void)w;
	(void)p;
	if (k != HW_SYS_UNUSE)
		return true;
	uint64_t until = hw_thread_cpu_ns() + NS_PER_MIB * n / MiB;
	while (hw_thread_cpu_ns() < until)
		;
	return true;
}

/* *out: a heap on slow (opened here) with 64 MiB allocated in 512 KiB runs
 * and freed: at 4 ms of CPU per MiB, 256 ms of releases, about 25 s at a 1%
 * budget. Its scavenger is started before the frees when early. NULL when
 * a step failed (reported). */
static void slow_heap_freed(wrap_platform *slow, bool early, hw_heap **out)
{
	*out = NULL;
	REQUIRE(wrap_open(slow, false));
	slow->before = burn_before_unuse;
	hw_heap_config c = {0};
	c.platform = &slow->pf;
	hw_heap *h = hw_heap_create(&c);
	REQUIRE(h != NULL);
	if (early)
		EXPECT(hw_heap_scavenger_start(h) == 0);
	enum { RUNS = 128,
	       RUN = 64 };
	void *r[RUNS];
	for (int i = 0; i < RUNS; i++)
		REQUIRE((r[i] = hw_heap_alloc(h, RUN)) != NULL);
	for (int i = 0; i < RUNS; i++)
		EXPECT(hw_heap_free(h, r[i], RUN) == 0);
	if (!early)
		EXPECT(hw_heap_scavenger_start(h) == 0);
	*out = h;
}

/* Polls until h's Ready bytes are 0, for at most 5 s: its last stats. */
static hw_heap_stats await_all_released(hw_heap *h)
{
	hw_heap_stats s;
	hw_heap_stats_get(h, &s);
	for (int i = 0; i < 500 && s.ready > 0; i++) {
		hw_sleep_ns(POLL_NS);
		hw_heap_stats_get(h, &s);
	}
	EXPECT(s.ready == 0, "idle heap kept %zu Ready bytes after 5 s", s.ready);
	return s;
}

static void test_idle_thread_is_prompt(void)
{
	wrap_platform slow;
	hw_heap *h;
	slow_heap_freed(&slow, true, &h);
	REQUIRE(h != NULL);
	hw_heap_stats s = await_all_released(h);
	/* S2: the stat holds at least the CPU the releases burned. */
	EXPECT(s.bg_scavenger_cpu_ns >= NS_PER_MIB * (64 - s.ready / MiB),
	       "bg_scavenger_cpu_ns %llu", (unsigned long long)s.bg_scavenger_cpu_ns);
	hw_heap_scavenger_stop(h);
	hw_heap_stats t;
	hw_heap_stats_get(h, &t);
	EXPECT(t.bg_scavenger_cpu_ns >= s.bg_scavenger_cpu_ns);
	char msg[256];
	EXPECT(hw_heap_validate(h, msg, sizeof msg) == 0, "%s", msg);
	hw_heap_destroy(h);
	wrap_close(&slow);
}

/* PC2: a program that computes without allocating is busy, not idle: over
 * a second of this thread spinning, the scavenger keeps to its 1% budget
 * (about 2.5 MiB of the slow platform's releases, where prompt steps would
 * release all 64 MiB in about 0.3 s); once the thread sleeps, all goes.
 * The busy check holds only if the spin got at least half a core (a loaded
 * machine may not give it that: then it is skipped, and said so). */
static void test_busy_program_is_not_idle(void)
{
	wrap_platform slow;
	hw_heap *h;
	slow_heap_freed(&slow, false, &h);
	REQUIRE(h != NULL);
	uint64_t t0 = hw_now_ns(), c0 = hw_thread_cpu_ns();
	while (hw_now_ns() - t0 < 1000000000ull)
		;
	uint64_t wall = hw_now_ns() - t0, cpu = hw_thread_cpu_ns() - c0;
	hw_heap_stats s;
	hw_heap_stats_get(h, &s);
	if (cpu * 2 >= wall)
		EXPECT(s.ready >= 32 * MiB, "a busy program lost %zu MiB in 1 s",
		       (64 * MiB - s.ready) / MiB);
	else
		printf("  (busy check skipped: the spin got %llu ms of CPU in %llu ms)\n",
		       (unsigned long long)(cpu / 1000000), (unsigned long long)(wall / 1000000));
	(void)await_all_released(h);
	hw_heap_scavenger_stop(h);
	hw_heap_destroy(h);
	wrap_close(&slow);
}

/* SG3: the wake flag rises at the free that leaves the ready bytes wake
 * bytes or more above the target, not before; only setting it again
 * lowers it; 0 turns it off. The goal is inuse x 1.1 (retain_percent 10). */
static void test_wake_flag(void)
{
	for (int b = 0; b < 2; b++) {
		env e;
		hw_heap_config c = {0};
		c.arena_size = 4 * MiB;
		c.address_space = 256 * MiB;
		c.retain_percent = 10;
		REQUIRE(env_open(&e, b == 0 ? &sim4k : NULL, c));
		hw_heap_set_wake_bytes(e.h, 100 * P);
		void *keep = hw_heap_alloc(e.h, 10), *a = hw_heap_alloc(e.h, 99),
		     *z = hw_heap_alloc(e.h, 2);
		REQUIRE(keep && a && z);
		EXPECT(!hw_heap_wake_due(e.h), "in use: nothing to wake for");
		/* Ready 111 pages, target 11: 100 above it, after the second. */
		EXPECT(hw_heap_free(e.h, a, 99) == 0);
		EXPECT(!hw_heap_wake_due(e.h), "99 pages above the target");
		EXPECT(hw_heap_free(e.h, z, 2) == 0);
		EXPECT(hw_heap_wake_due(e.h), "100 pages above the target");
		while (hw_heap_scavenger_step(e.h) > 0)
			;
		EXPECT(hw_heap_wake_due(e.h), "the flag stays until set again");
		hw_heap_set_wake_bytes(e.h, 100 * P);
		EXPECT(!hw_heap_wake_due(e.h), "set again, with nothing above the target");
		hw_heap_set_wake_bytes(e.h, 0);
		void *d = hw_heap_alloc(e.h, 150);
		REQUIRE(d);
		EXPECT(hw_heap_free(e.h, d, 150) == 0);
		EXPECT(!hw_heap_wake_due(e.h), "0 turns it off");
		EXPECT(hw_heap_free(e.h, keep, 10) == 0);
		env_done(&e);
	}
}

HW_TEST_MAIN(T(test_step_targets_limit), T(test_thread_brings_ready_under_limit),
	     T(test_idle_thread_is_prompt), T(test_busy_program_is_not_idle), T(test_wake_flag))

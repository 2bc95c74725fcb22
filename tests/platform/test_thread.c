/* test_thread.c: hw_mutex, hw_thread and the clocks (platform/thread_posix.c).
 *
 * Checks mutual exclusion under contention, that a started thread runs and
 * is joined, that hw_now_ns never goes back (T2) and measures sleeps, and
 * that hw_thread_cpu_ns counts CPU time, not wall time.
 */
#include "ptest.h"
#include "thread.h"

#include <stdint.h>

#define ROUNDS 200000

typedef struct counter {
	hw_mutex lock;
	uint64_t value;
} counter;

static void *bump(void *arg)
{
	counter *c = arg;
	for (int i = 0; i < ROUNDS; i++) {
		hw_mutex_lock(&c->lock);
		/* A read-modify-write in two steps, so a missing lock loses
		 * increments. */
		uint64_t v = *(volatile uint64_t *)&c->value;
		*(volatile uint64_t *)&c->value = v + 1;
		hw_mutex_unlock(&c->lock);
	}
	return NULL;
}

static void test_mutex_excludes(void)
{
	counter c;
	hw_mutex_init(&c.lock);
	c.value = 0;
	hw_thread t[2];
	REQUIRE(hw_thread_start(&t[0], bump, &c) == 0);
	REQUIRE(hw_thread_start(&t[1], bump, &c) == 0);
	bump(&c);
	hw_thread_join(&t[0]);
	hw_thread_join(&t[1]);
	EXPECT(c.value == 3u * ROUNDS, "value %llu", (unsigned long long)c.value);
	hw_mutex_destroy(&c.lock);
}

static void *set_flag(void *arg)
{
	*(int *)arg = 42;
	return NULL;
}

static void test_thread_runs_and_joins(void)
{
	int flag = 0;
	hw_thread t;
	REQUIRE(hw_thread_start(&t, set_flag, &flag) == 0);
	hw_thread_join(&t);
	EXPECT(flag == 42, "flag %d", flag);
}

static void test_clock_monotonic_and_sleep(void)
{
	uint64_t prev = hw_now_ns();
	bool monotonic = true;
	for (int i = 0; i < 100000; i++) {
		uint64_t now = hw_now_ns();
		monotonic &= now >= prev;
		prev = now;
	}
	EXPECT(monotonic, "hw_now_ns went back");
	uint64_t t0 = hw_now_ns();
	hw_sleep_ns(3000000);
	uint64_t slept = hw_now_ns() - t0;
	EXPECT(slept >= 3000000 && slept < 1000000000, "slept %llu ns", (unsigned long long)slept);
}

static void test_thread_cpu_time(void)
{
	/* Spin until 5 ms of CPU are counted (5 s at most, for a loaded
	 * machine): one thread's CPU time can never exceed the wall time. */
	uint64_t c0 = hw_thread_cpu_ns(), t0 = hw_now_ns(), spins = 0;
	while (hw_thread_cpu_ns() - c0 < 5000000 && hw_now_ns() - t0 < 5000000000u)
		spins++;
	uint64_t busy = hw_thread_cpu_ns() - c0, wall = hw_now_ns() - t0;
	EXPECT(spins > 0 && busy >= 5000000, "5 s of spinning counted %llu ns of CPU",
	       (unsigned long long)busy);
	EXPECT(busy <= wall + 1000000, "CPU %llu ns > wall %llu ns", (unsigned long long)busy,
	       (unsigned long long)wall);

	c0 = hw_thread_cpu_ns();
	hw_sleep_ns(20000000);
	uint64_t idle = hw_thread_cpu_ns() - c0;
	EXPECT(idle < 10000000, "20 ms of sleep counted %llu ns of CPU", (unsigned long long)idle);
}

static void *held_elsewhere(void *arg)
{
	*(bool *)((void **)arg)[1] = hw_mutex_held(((void **)arg)[0]);
	return NULL;
}

/* T5: under HW_DEBUG the lock knows its holder; without it the query is
 * the constant true that HW_ASSERT never needs. */
static void test_mutex_held(void)
{
	static hw_mutex m = HW_MUTEX_INIT;
	bool other = true;
	void *args[2] = {&m, &other};
	hw_thread t;
#if HW_DEBUG
	EXPECT(!hw_mutex_held(&m), "held before the first lock");
	hw_mutex_lock(&m);
	EXPECT(hw_mutex_held(&m), "not held by its locker");
	REQUIRE(hw_thread_start(&t, held_elsewhere, args) == 0);
	hw_thread_join(&t);
	EXPECT(!other, "held by a thread that never locked it");
	hw_mutex_unlock(&m);
	EXPECT(!hw_mutex_held(&m), "held after unlock");
#else
	REQUIRE(hw_thread_start(&t, held_elsewhere, args) == 0);
	hw_thread_join(&t);
	EXPECT(other && hw_mutex_held(&m), "without HW_DEBUG the answer is always true");
#endif
}

HW_TEST_MAIN(T(test_mutex_excludes), T(test_mutex_held), T(test_thread_runs_and_joins),
	     T(test_clock_monotonic_and_sleep), T(test_thread_cpu_time))

/* test_thread.c: hw_mutex, hw_thread, the thread-exit hook and the clocks
 * (platform/thread_posix.c, platform/thread_windows.c).
 *
 * Checks mutual exclusion under contention, that a started thread runs and
 * is joined, that a thread-exit hook runs with the thread's value for as
 * many rounds as the platform gives (T7), that hw_now_ns never goes back
 * (T2) and measures sleeps, and that hw_thread_cpu_ns counts CPU time, not
 * wall time (to its resolution), and that the processor numbers are in
 * range (T8; test_linux.c checks them against the processor a thread is
 * pinned to). And the process barrier (T9) as the fence of one side of a
 * store-buffering handshake: over many rounds, a thread that stores x then
 * loads y with only a compiler barrier between, and a thread that stores y,
 * calls hw_process_barrier, then loads x, never both read 0 (without the
 * barrier call both do now and then on x86 and ARM: the test prints how
 * often that happened in the same run). And T11's last-thread query while
 * the main thread runs (test_linux.c checks T13, a lock taken again by
 * its holder from a signal handler).
 */
#include "ptest.h"
#include "sanitizers.h"
#include "thread.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

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
	__atomic_store_n((int *)arg, 42, __ATOMIC_RELEASE);
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

/* A detached thread runs to its end with nobody joining it; the scavenger
 * detaches itself so (scavenger.c SG4). */
static void test_thread_detached(void)
{
	static int flag;
	hw_thread t;
	REQUIRE(hw_thread_start(&t, set_flag, &flag) == 0);
	hw_thread_detach(&t);
	uint64_t t0 = hw_now_ns();
	while (__atomic_load_n(&flag, __ATOMIC_ACQUIRE) != 42 && hw_now_ns() - t0 < 5000000000u)
		hw_sleep_ns(1000000);
	EXPECT(__atomic_load_n(&flag, __ATOMIC_ACQUIRE) == 42, "the detached thread did not run");
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
	/* Each reading may be off by the resolution either way (thread.h), so
	 * a difference of two by twice that; Wine's counter moves in jumps of
	 * whole ticks. The spin and the sleep are long enough that a clock
	 * counting the wrong thing still breaks the bounds. */
	const uint64_t slack = 2ull * HW_THREAD_CPU_RESOLUTION_NS;
	const uint64_t target = 5000000 + 2 * slack;

	/* Spin until the target is counted (5 s at most, for a loaded
	 * machine): one thread's CPU time can never exceed the wall time. */
	uint64_t c0 = hw_thread_cpu_ns(), t0 = hw_now_ns(), spins = 0;
	while (hw_thread_cpu_ns() - c0 < target && hw_now_ns() - t0 < 5000000000u)
		spins++;
	uint64_t busy = hw_thread_cpu_ns() - c0, wall = hw_now_ns() - t0;
	EXPECT(spins > 0 && busy >= target, "5 s of spinning counted %llu ns of CPU",
	       (unsigned long long)busy);
	EXPECT(busy <= wall + slack, "CPU %llu ns > wall %llu ns", (unsigned long long)busy,
	       (unsigned long long)wall);

	/* Sleeping costs next to no CPU: at most a quarter of the time slept. */
	const uint64_t nap = 20000000 + 4 * slack;
	c0 = hw_thread_cpu_ns();
	hw_sleep_ns(nap);
	uint64_t idle = hw_thread_cpu_ns() - c0;
	EXPECT(idle < nap / 4 + slack, "%llu ns of sleep counted %llu ns of CPU",
	       (unsigned long long)nap, (unsigned long long)idle);
}

static void *held_elsewhere(void *arg)
{
	*(bool *)((void **)arg)[1] = hw_mutex_held(((void **)arg)[0]);
	return NULL;
}

/* T5: the lock knows its holder. */
static void test_mutex_held(void)
{
	static hw_mutex m = HW_MUTEX_INIT;
	bool other = true;
	void *args[2] = {&m, &other};
	hw_thread t;
	EXPECT(!hw_mutex_held(&m), "held before the first lock");
	hw_mutex_lock(&m);
	EXPECT(hw_mutex_held(&m), "not held by its locker");
	REQUIRE(hw_thread_start(&t, held_elsewhere, args) == 0);
	hw_thread_join(&t);
	EXPECT(!other, "held by a thread that never locked it");
	hw_mutex_unlock(&m);
	EXPECT(!hw_mutex_held(&m), "held after unlock");
	EXPECT(hw_mutex_trylock(&m) && hw_mutex_held(&m), "trylock of a free lock");
	EXPECT(!hw_mutex_trylock(&m), "trylock by the holder");
	hw_mutex_unlock(&m);
}

/* What a thread-exit hook saw: its calls, each with the thread's value, and
 * how many times it re-arms itself. */
typedef struct exit_rec {
	unsigned calls, rearm;
	bool wrong_value;
} exit_rec;

static hw_thread_key exit_key;

static void exit_hook(void *v)
{
	exit_rec *r = v;
	r->calls++;
	if (r->calls <= r->rearm && hw_thread_key_set(exit_key, r) != 0)
		r->wrong_value = true;
}

static void *set_key(void *arg)
{
	if (hw_thread_key_set(exit_key, arg) != 0)
		((exit_rec *)arg)->wrong_value = true;
	return NULL;
}

/* T7: a hook runs once for a value set once; re-armed from the hook it runs
 * again in the next round, up to the round before the last
 * (HW_THREAD_EXIT_ROUNDS: 4 on glibc, 1 on Windows). Not in the last round
 * itself: ThreadSanitizer tears its own thread state down there (as
 * src/malloc/cache.c's CA2 says). */
static void test_thread_exit_hook(void)
{
	REQUIRE(hw_thread_key_create(&exit_key, exit_hook) == 0);
	unsigned rearm = HW_THREAD_EXIT_ROUNDS >= 2 ? HW_THREAD_EXIT_ROUNDS - 2 : 0;
	exit_rec once = {0, 0, false}, again = {0, rearm, false};
	hw_thread t;
	REQUIRE(hw_thread_start(&t, set_key, &once) == 0);
	hw_thread_join(&t);
	EXPECT(once.calls == 1 && !once.wrong_value, "hook ran %u times", once.calls);
	REQUIRE(hw_thread_start(&t, set_key, &again) == 0);
	hw_thread_join(&t);
	EXPECT(again.calls == rearm + 1 && !again.wrong_value,
	       "a hook re-armed %u times ran %u times (%u rounds)", rearm, again.calls,
	       (unsigned)HW_THREAD_EXIT_ROUNDS);
}

static void test_cpu_numbers(void)
{
	unsigned n = hw_cpu_count();
	EXPECT(n >= 1, "%u processors", n);
	for (int i = 0; i < 1000; i++) {
		unsigned c = hw_cpu_current();
		if (c >= n) {
			EXPECT(c < n, "processor %u of %u", c, n);
			break;
		}
	}
}

/* T9's store-buffering litmus: a thread runs the plain side, the caller
 * the barrier side; each round the caller zeroes the flags, publishes the
 * round number, runs its half and waits for the thread's. Two spinning
 * threads, not three: the machine may have two processors. */
/* Fewer under ThreadSanitizer, whose atomics are calls. */
#define LITMUS_ROUNDS (HW_TEST_TSAN ? 400 : 4000)

typedef struct litmus {
	int round, done; /* the round the plain side may run / has finished */
	int x, y;        /* the handshake's flags */
	int r_plain;
} litmus;

/* Spins, then sleeps between looks: under Valgrind, which runs one thread
 * at a time, a pure spin holds the processor for its whole time slice
 * (one run of this test took 71 s there, another over 600). */
static void litmus_wait(int *what, int v)
{
	for (unsigned spins = 0; __atomic_load_n(what, __ATOMIC_ACQUIRE) != v;)
		if (++spins > 1000)
			hw_sleep_ns(1000);
}

/* The plain side: store, compiler barrier, load (the malloc layer's owner). */
static void *litmus_plain(void *arg)
{
	litmus *l = arg;
	for (int r = 1; r <= LITMUS_ROUNDS; r++) {
		litmus_wait(&l->round, r);
		__atomic_store_n(&l->x, 1, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		l->r_plain = __atomic_load_n(&l->y, __ATOMIC_RELAXED);
		__atomic_store_n(&l->done, r, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Rounds in which both sides read 0; *failed counts barrier calls that
 * returned false. */
static unsigned litmus_run(bool use_barrier, unsigned *failed)
{
	static litmus l;
	memset(&l, 0, sizeof l);
	unsigned both_zero = 0;
	*failed = 0;
	hw_thread t;
	if (hw_thread_start(&t, litmus_plain, &l) != 0)
		return LITMUS_ROUNDS + 1;
	for (int r = 1; r <= LITMUS_ROUNDS; r++) {
		__atomic_store_n(&l.x, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l.y, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l.round, r, __ATOMIC_RELEASE);
		__atomic_store_n(&l.y, 1, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (use_barrier && !hw_process_barrier())
			++*failed;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		int r_barrier = __atomic_load_n(&l.x, __ATOMIC_RELAXED);
		litmus_wait(&l.done, r);
		if (l.r_plain == 0 && r_barrier == 0)
			both_zero++;
	}
	hw_thread_join(&t);
	return both_zero;
}

/* T9: ready and the barrier agree, and with the barrier the handshake
 * holds in every round. */
static void test_process_barrier(void)
{
	bool ready = hw_process_barrier_ready();
	EXPECT(hw_process_barrier() == ready, "barrier call disagrees with ready (%d)", ready);
	if (!ready) {
		printf("  process barrier unavailable here: litmus skipped\n");
		return;
	}
	unsigned failed, without = litmus_run(false, &failed);
	unsigned with = litmus_run(true, &failed);
	printf("  store-buffering: both loads 0 in %u of %d rounds without the barrier, "
	       "%u with it\n",
	       without, LITMUS_ROUNDS, with);
	EXPECT(failed == 0, "the barrier failed %u times after it was ready", failed);
	EXPECT(without <= LITMUS_ROUNDS, "no thread for the litmus");
	EXPECT(with == 0, "both sides read 0 in %u of %d rounds with the barrier", with,
	       LITMUS_ROUNDS);
}

/* T11, while the main thread runs: alone once every thread it started has
 * ended (a joined thread may still be counted for a moment: poll), not
 * alone while one lives, and the main thread has not ended. test_linux.c
 * checks the case of an ended main thread. */
static bool alone_within(uint64_t ns)
{
	uint64_t t0 = hw_now_ns();
	while (!hw_process_others_gone()) {
		if (hw_now_ns() - t0 > ns)
			return false;
		hw_sleep_ns(1000000);
	}
	return true;
}

typedef struct waiter {
	hw_mutex gate;   /* held by the main thread until the checks are done */
	bool alone_seen; /* what the waiting thread answered */
} waiter;

static void *wait_at_gate(void *arg)
{
	waiter *w = arg;
	w->alone_seen = hw_process_others_gone();
	hw_mutex_lock(&w->gate);
	hw_mutex_unlock(&w->gate);
	return NULL;
}

static void test_process_others_gone(void)
{
	/* Under ThreadSanitizer its runtime's thread is always there, and
	 * counted (thread.h T11). */
	EXPECT(alone_within(2000000000u) == !HW_TEST_TSAN,
	       "the main thread, alone, is the last thread: %d", !HW_TEST_TSAN);
	EXPECT(!hw_process_main_ended(), "the main thread, running, has ended");
	waiter w = {HW_MUTEX_INIT, true};
	hw_mutex_lock(&w.gate);
	hw_thread t;
	REQUIRE(hw_thread_start(&t, wait_at_gate, &w) == 0);
	EXPECT(!hw_process_others_gone(), "the last thread, beside a live one");
	hw_mutex_unlock(&w.gate);
	hw_thread_join(&t);
	EXPECT(!w.alone_seen, "a started thread, beside the main one, is the last");
	EXPECT(alone_within(2000000000u) == !HW_TEST_TSAN, "the last thread after the join: %d",
	       !HW_TEST_TSAN);
}

HW_TEST_MAIN(T(test_mutex_excludes), T(test_mutex_held), T(test_thread_runs_and_joins),
	     T(test_thread_detached), T(test_thread_exit_hook), T(test_clock_monotonic_and_sleep),
	     T(test_thread_cpu_time), T(test_cpu_numbers), T(test_process_barrier),
	     T(test_process_others_gone))

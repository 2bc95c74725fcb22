/* quarantine_test.c: the bounded FIFO of freed objects
 * (src/malloc/quarantine.c QU1-QU4), on its own, with eviction functions
 * that record what leaves.
 *
 * Invariants: none of its own.
 */
#include "check.h"
#include "heapward.h"
#include "quarantine.h"
#include "thread.h"

#include <string.h>

#define LOG_MAX 4096

/* What left, in order (one thread at a time, except in test_threads). */
static uintptr_t left[LOG_MAX];
static size_t nleft;
static mc_quarantine *owner; /* the FIFO whose lock must be free (QU4) */
static bool entry_damaged;

static void record(const mc_qentry *e)
{
	if (nleft < LOG_MAX)
		left[nleft] = (uintptr_t)e->p;
	nleft++;
	/* QU4: the lock is free while an entry leaves (were it held, this
	 * call, which takes it, would never return and the test would time
	 * out). */
	size_t n, b;
	uint64_t ev;
	hw_mc_quarantine_stats(owner, &n, &b, &ev);
	if (e->size != (uintptr_t)e->p * 3)
		entry_damaged = true; /* the entry was not kept whole */
}

static mc_qentry entry(uintptr_t id, size_t bytes)
{
	return (mc_qentry){(void *)id, bytes, id * 3, record};
}

static void held(mc_quarantine *q, size_t *count, size_t *bytes)
{
	uint64_t ev;
	hw_mc_quarantine_stats(q, count, bytes, &ev);
}

/* QU1, QU2: the byte bound and the order. */
static void test_bytes_fifo(void)
{
	mc_quarantine q;
	owner = &q;
	nleft = 0;
	REQUIRE(hw_mc_quarantine_init(&q, hw_platform_os(), 100, 64) == 0);
	for (uintptr_t i = 1; i <= 5; i++) {
		mc_qentry e = entry(i, 20);
		hw_mc_quarantine_put(&q, &e);
	}
	size_t n, b;
	held(&q, &n, &b);
	EXPECT(n == 5 && b == 100 && nleft == 0, "%zu entries, %zu bytes, %zu left", n, b, nleft);
	/* 30 more bytes: the two oldest (40 bytes) must go, not one. */
	mc_qentry e = entry(6, 30);
	hw_mc_quarantine_put(&q, &e);
	held(&q, &n, &b);
	EXPECT(nleft == 2 && left[0] == 1 && left[1] == 2, "%zu left: %lu %lu", nleft,
	       (unsigned long)left[0], (unsigned long)left[1]);
	EXPECT(n == 4 && b == 90, "%zu entries, %zu bytes", n, b);
	/* Exactly the bound fits. */
	e = entry(7, 10);
	hw_mc_quarantine_put(&q, &e);
	held(&q, &n, &b);
	EXPECT(nleft == 2 && b == 100, "%zu left, %zu bytes", nleft, b);
	/* Too large to enter: it leaves at once, the others stay. */
	e = entry(8, 101);
	hw_mc_quarantine_put(&q, &e);
	held(&q, &n, &b);
	EXPECT(nleft == 3 && left[2] == 8 && n == 5 && b == 100, "%zu left, %zu held", nleft, n);
	/* A drain empties it, oldest first. */
	hw_mc_quarantine_drain(&q);
	static const uintptr_t order[] = {1, 2, 8, 3, 4, 5, 6, 7};
	EXPECT(nleft == 8, "%zu left", nleft);
	for (size_t i = 0; i < 8 && i < nleft; i++)
		EXPECT(left[i] == order[i], "#%zu: %lu, not %lu", i, (unsigned long)left[i],
		       (unsigned long)order[i]);
	held(&q, &n, &b);
	EXPECT(n == 0 && b == 0);
	EXPECT(!entry_damaged);
	hw_mc_quarantine_reset(&q);
}

/* QU1: the count bound, across the ring's wrap. */
static void test_count_wraps(void)
{
	mc_quarantine q;
	owner = &q;
	nleft = 0;
	REQUIRE(hw_mc_quarantine_init(&q, hw_platform_os(), 1 << 20, 4) == 0);
	for (uintptr_t i = 1; i <= 1000; i++) {
		mc_qentry e = entry(i, 1);
		hw_mc_quarantine_put(&q, &e);
		size_t n, b;
		held(&q, &n, &b);
		REQUIRE(n == (i < 4 ? i : 4) && b == n, "after %lu: %zu held", (unsigned long)i, n);
		REQUIRE(nleft == (i > 4 ? i - 4 : 0) && (nleft == 0 || left[nleft - 1] == i - 4),
			"after %lu: %zu left", (unsigned long)i, nleft);
	}
	size_t n, b;
	uint64_t ev;
	hw_mc_quarantine_stats(&q, &n, &b, &ev);
	EXPECT(ev == 996, "%llu evicted", (unsigned long long)ev);
	/* Reset forgets what is held without evicting it (QU3's exception). */
	hw_mc_quarantine_reset(&q);
	EXPECT(nleft == 996);
	hw_mc_quarantine_stats(&q, &n, &b, &ev);
	EXPECT(n == 0 && b == 0 && ev == 0);
	/* After a reset it holds nothing: every put leaves at once. */
	mc_qentry e = entry(5000, 1);
	hw_mc_quarantine_put(&q, &e);
	EXPECT(nleft == 997 && left[996] == 5000);
}

/* A FIFO that holds nothing (quarantine_bytes=0): each put leaves at once. */
static void test_off(void)
{
	mc_quarantine q;
	owner = &q;
	nleft = 0;
	REQUIRE(hw_mc_quarantine_init(&q, hw_platform_os(), 0, 64) == 0);
	mc_qentry e = entry(1, 16);
	hw_mc_quarantine_put(&q, &e);
	EXPECT(nleft == 1 && left[0] == 1);
	/* An entry of 0 bytes in a FIFO of 0 bytes: it would fit the bound,
	 * but nothing is held. */
	e = entry(2, 0);
	hw_mc_quarantine_put(&q, &e);
	EXPECT(nleft == 2 && left[1] == 2);
	hw_mc_quarantine_reset(&q);
}

/* A batch's worth and more leaving at one put (QU4's batches). */
static void test_many_leave(void)
{
	mc_quarantine q;
	owner = &q;
	nleft = 0;
	REQUIRE(hw_mc_quarantine_init(&q, hw_platform_os(), 1000, 1000) == 0);
	for (uintptr_t i = 1; i <= 1000; i++) {
		mc_qentry e = entry(i, 1);
		hw_mc_quarantine_put(&q, &e);
	}
	EXPECT(nleft == 0);
	mc_qentry e = entry(2000, 999);
	hw_mc_quarantine_put(&q, &e);
	EXPECT(nleft == 999, "%zu left", nleft);
	for (size_t i = 0; i < nleft && i < 999; i++)
		REQUIRE(left[i] == i + 1, "#%zu is %lu", i, (unsigned long)left[i]);
	size_t n, b;
	held(&q, &n, &b);
	EXPECT(n == 2 && b == 1000, "%zu held, %zu bytes", n, b);
	hw_mc_quarantine_reset(&q);
}

/* QU3 under threads: every entry leaves exactly once, and the bounds hold
 * at the end. */
#define THREADS 4
#define PER_THREAD 20000
static mc_quarantine shared;
static uint64_t sum_left, count_left; /* atomic */

static void count_one(const mc_qentry *e)
{
	__atomic_add_fetch(&sum_left, (uint64_t)(uintptr_t)e->p, __ATOMIC_RELAXED);
	__atomic_add_fetch(&count_left, 1, __ATOMIC_RELAXED);
}

static void *putter(void *arg)
{
	uintptr_t base = (uintptr_t)arg * PER_THREAD;
	for (uintptr_t i = 1; i <= PER_THREAD; i++) {
		mc_qentry e = {(void *)(base + i), i % 97, 0, count_one};
		hw_mc_quarantine_put(&shared, &e);
	}
	return NULL;
}

static void test_threads(void)
{
	REQUIRE(hw_mc_quarantine_init(&shared, hw_platform_os(), 5000, 256) == 0);
	hw_thread t[THREADS];
	for (uintptr_t k = 0; k < THREADS; k++)
		REQUIRE(hw_thread_start(&t[k], putter, (void *)k) == 0);
	for (size_t k = 0; k < THREADS; k++)
		hw_thread_join(&t[k]);
	size_t n, b;
	held(&shared, &n, &b);
	EXPECT(n <= 256 && b <= 5000, "%zu held, %zu bytes", n, b);
	hw_mc_quarantine_drain(&shared);
	uint64_t want = 0;
	for (uint64_t k = 0; k < THREADS; k++)
		for (uint64_t i = 1; i <= PER_THREAD; i++)
			want += k * PER_THREAD + i;
	EXPECT(count_left == THREADS * PER_THREAD && sum_left == want, "%llu left",
	       (unsigned long long)count_left);
	hw_mc_quarantine_reset(&shared);
}

HW_TEST_MAIN(T(test_bytes_fifo), T(test_count_wraps), T(test_off), T(test_many_leave),
	     T(test_threads))

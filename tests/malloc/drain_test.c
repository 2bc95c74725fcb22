/* drain_test.c: the remote drain of idle threads' caches
 * (src/malloc/cache.c CA5, MC7), through hw_malloc_trim.
 *
 * - idle thread: a thread frees objects of several classes in an
 *   interleaved order, so each slot its cache keeps pins its own span, then
 *   blocks; the main thread's trim gives those slots back and the spans go
 *   to the heap (none left, nothing in use); the thread's bins are back at
 *   their start caps; it then allocates and frees correctly, and the heap
 *   validates.
 * - busy owner: the same thread inside its busy bracket (as in the middle
 *   of a malloc) is skipped and keeps its slots; once it leaves, the next
 *   trim drains it.
 * - drain off: with hw_mc_drain_on cleared (no process barrier), a trim keeps
 *   the idle thread's cache, as before drains existed.
 * - stress: threads allocate, tag, check and free objects and hand them to
 *   each other while another thread drains in a loop; an object handed out
 *   twice (a bin touched by both sides at once) shows as a clobbered tag, a
 *   double free report, or, under ThreadSanitizer (ci/job-tsan.sh), a race.
 *
 * The layer starts without its background scavenger, so only the test's
 * trims drain.
 */
#include "check.h"
#include "heapward.h"
#include "layer_check.h"
#include "malloc_internal.h"
#include "sanitizers.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

static const size_t sizes[] = {16, 48, 256, 1024, 4096};
#define NSIZES (sizeof sizes / sizeof sizes[0])
#define PER_SIZE 2048

/* The idle thread's script: a step at a time, on the main thread's word. */
typedef struct idle_thread {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int step, done; /* the step asked for / last finished */
	bool enter_busy;
	mc_cache *cache;
	unsigned bad;
} idle_thread;

static void *objs[NSIZES][PER_SIZE];

static void wait_step(idle_thread *t, int step)
{
	pthread_mutex_lock(&t->lock);
	while (t->step < step)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

static void finish_step(idle_thread *t, int step)
{
	pthread_mutex_lock(&t->lock);
	t->done = step;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

/* Main thread: ask for step and wait until it is done. */
static void run_step(idle_thread *t, int step)
{
	pthread_mutex_lock(&t->lock);
	t->step = step;
	pthread_cond_broadcast(&t->cond);
	while (t->done < step)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

static void *idle_main(void *arg)
{
	idle_thread *t = arg;
	wait_step(t, 1);
	/* Step 1: allocate, then free in an interleaved order: the last
	 * frees of each class (the ones its bin keeps) fall in different
	 * spans. */
	for (size_t k = 0; k < NSIZES; k++)
		for (size_t i = 0; i < PER_SIZE; i++) {
			objs[k][i] = hw_malloc(sizes[k]);
			if (!objs[k][i])
				t->bad++;
			else
				memset(objs[k][i], (int)k + 1, sizes[k]);
		}
	for (size_t k = 0; k < NSIZES; k++) {
		size_t per = hw_mc_classes[mc_class_of(sizes[k])].nobjs;
		for (size_t j = 0; j < per; j++)
			for (size_t i = j; i < PER_SIZE; i += per)
				hw_free(objs[k][i]);
	}
	t->cache = hw_mc_tls_cache;
	if (t->enter_busy)
		mc_cache_enter(t->cache); /* as in the middle of a malloc */
	finish_step(t, 1);
	wait_step(t, 2);
	if (t->enter_busy)
		mc_cache_leave(t->cache);
	finish_step(t, 2);
	wait_step(t, 3);
	/* Step 3: the cache works after the drain. */
	for (size_t k = 0; k < NSIZES; k++)
		for (size_t i = 0; i < 64; i++) {
			objs[k][i] = hw_malloc(sizes[k]);
			if (!objs[k][i]) {
				t->bad++;
				continue;
			}
			memset(objs[k][i], 0x5a, sizes[k]);
		}
	for (size_t k = 0; k < NSIZES; k++)
		for (size_t i = 0; i < 64; i++) {
			unsigned char *p = objs[k][i];
			if (p && (p[0] != 0x5a || p[sizes[k] - 1] != 0x5a))
				t->bad++;
			hw_free(p);
		}
	finish_step(t, 3);
	return NULL;
}

static void start_layer(void)
{
	hw_mc_reset(NULL);
	REQUIRE(hw_mc_start("scavenger=0"), "layer started");
}

static void start_idle(idle_thread *t, pthread_t *th, bool busy)
{
	memset(t, 0, sizeof *t);
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->enter_busy = busy;
	REQUIRE(pthread_create(th, NULL, idle_main, t) == 0, "thread");
	run_step(t, 1);
}

static void end_idle(idle_thread *t, pthread_t th)
{
	run_step(t, 2);
	run_step(t, 3);
	pthread_join(th, NULL);
	EXPECT(t->bad == 0, "%u bad allocations or contents in the thread", t->bad);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
}

/* How many slots c's bins hold (the owner blocked: read under the test's
 * own synchronisation). */
static size_t cached(const mc_cache *c)
{
	size_t n = 0;
	for (unsigned k = 0; k < MC_NCLASSES; k++)
		n += c->bin[k].n;
	return n;
}

static void test_idle_thread_drained(void)
{
	start_layer();
	REQUIRE(hw_mc_drain_on, "process barrier available (platform test T9)");
	idle_thread t;
	pthread_t th;
	start_idle(&t, &th, false);
	hw_malloc_stats before = layer_stats();
	size_t held = cached(t.cache);
	EXPECT(held >= NSIZES && before.small_spans >= NSIZES,
	       "the idle cache holds %zu slots pinning spans (%zu spans)", held,
	       before.small_spans);
	uint64_t d0, s0, d1, s1;
	hw_mc_cache_drain_counts(&d0, &s0);
	hw_malloc_trim(0);
	hw_mc_cache_drain_counts(&d1, &s1);
	hw_malloc_stats after = layer_stats();
	EXPECT(d1 == d0 + 1 && s1 == s0, "drained %llu, skipped %llu",
	       (unsigned long long)(d1 - d0), (unsigned long long)(s1 - s0));
	EXPECT(cached(t.cache) == 0, "%zu slots still cached", cached(t.cache));
	EXPECT(after.small_spans == 0 && after.heap_inuse == 0,
	       "after the drain: %zu spans, %zu bytes in use (before: %zu spans)",
	       after.small_spans, after.heap_inuse, before.small_spans);
	for (size_t k = 0; k < NSIZES; k++) {
		unsigned c = mc_class_of(sizes[k]);
		EXPECT(t.cache->bin[c].cap == hw_min(hw_mc_classes[c].cap, MC_CAP_START),
		       "class %u cap %u after the drain", c, t.cache->bin[c].cap);
	}
	layer_validate();
	end_idle(&t, th);
	layer_validate();
	hw_malloc_trim(0);
	EXPECT(layer_stats().small_spans == 0, "%zu spans after the last trim",
	       layer_stats().small_spans);
}

static void test_busy_owner_skipped(void)
{
	start_layer();
	idle_thread t;
	pthread_t th;
	start_idle(&t, &th, true);
	size_t held = cached(t.cache);
	hw_malloc_stats before = layer_stats();
	uint64_t d0, s0, d1, s1;
	hw_mc_cache_drain_counts(&d0, &s0);
	hw_malloc_trim(0);
	hw_mc_cache_drain_counts(&d1, &s1);
	EXPECT(d1 == d0 && s1 == s0 + 1, "busy: drained %llu, skipped %llu",
	       (unsigned long long)(d1 - d0), (unsigned long long)(s1 - s0));
	EXPECT(cached(t.cache) == held && held > 0, "busy cache: %zu slots of %zu kept",
	       cached(t.cache), held);
	EXPECT(layer_stats().small_spans > 0 && layer_stats().small_spans <= before.small_spans,
	       "busy cache's spans kept: %zu", layer_stats().small_spans);
	run_step(&t, 2); /* out of the bracket */
	hw_malloc_trim(0);
	hw_mc_cache_drain_counts(&d1, &s1);
	EXPECT(d1 == d0 + 1 && cached(t.cache) == 0 && layer_stats().small_spans == 0,
	       "idle again: drained %llu, %zu cached, %zu spans",
	       (unsigned long long)(d1 - d0), cached(t.cache), layer_stats().small_spans);
	end_idle(&t, th);
	layer_validate();
}

static void test_drain_off_keeps_caches(void)
{
	start_layer();
	hw_mc_drain_on = false;
	idle_thread t;
	pthread_t th;
	start_idle(&t, &th, false);
	size_t held = cached(t.cache);
	hw_malloc_trim(0);
	EXPECT(held > 0 && cached(t.cache) == held && layer_stats().small_spans > 0,
	       "without the barrier: %zu of %zu slots kept, %zu spans", cached(t.cache), held,
	       layer_stats().small_spans);
	end_idle(&t, th);
	layer_validate();
}

/* Stress: WORKERS threads, each with SLOTS objects; an object is tagged
 * with a serial number in its first and last 8 bytes, checked at free. */
#define WORKERS 3
#define SLOTS 128
#define MAILBOX 32

typedef struct tagged {
	uint64_t *p;
	size_t n; /* bytes, a multiple of 8, at least 16 */
	uint64_t tag;
} tagged;

typedef struct mailbox {
	pthread_mutex_t lock;
	tagged box[MAILBOX];
	unsigned count;
} mailbox;

static mailbox boxes[WORKERS];
static unsigned stress_bad, stress_stop;
static uint64_t serial;

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void check_free(tagged *o)
{
	size_t last = o->n / 8 - 1;
	if (o->p[0] != o->tag || o->p[last] != o->tag)
		__atomic_fetch_add(&stress_bad, 1, __ATOMIC_RELAXED);
	hw_free(o->p);
	o->p = NULL;
}

static void take_mail(unsigned me)
{
	mailbox *m = &boxes[me];
	pthread_mutex_lock(&m->lock);
	while (m->count)
		check_free(&m->box[--m->count]);
	pthread_mutex_unlock(&m->lock);
}

static void *stress_worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (me + 1);
	tagged mine[SLOTS] = {{0}};
	unsigned ops = HW_TEST_TSAN ? 100000 : 2000000;
	for (unsigned i = 0; i < ops; i++) {
		tagged *o = &mine[rnd(&x) % SLOTS];
		if (o->p) {
			unsigned to = (unsigned)(rnd(&x) % WORKERS);
			mailbox *m = &boxes[to];
			bool sent = false;
			if (to != me) {
				pthread_mutex_lock(&m->lock);
				if (m->count < MAILBOX) {
					m->box[m->count++] = *o;
					o->p = NULL;
					sent = true;
				}
				pthread_mutex_unlock(&m->lock);
			}
			if (!sent)
				check_free(o);
		} else {
			/* Mostly small classes, some up to 16 KiB. */
			uint64_t r = rnd(&x);
			size_t n = (r & 7) ? 16 + 8 * (r >> 8 & 63) : 16 + 8 * (r >> 8 & 2047);
			o->p = hw_malloc(n);
			if (!o->p) {
				__atomic_fetch_add(&stress_bad, 1, __ATOMIC_RELAXED);
				continue;
			}
			o->n = n;
			o->tag = __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED);
			o->p[0] = o->p[n / 8 - 1] = o->tag;
		}
		if ((i & 255) == 0)
			take_mail(me);
	}
	for (unsigned i = 0; i < SLOTS; i++)
		if (mine[i].p)
			check_free(&mine[i]);
	return NULL;
}

static void *stress_drainer(void *arg)
{
	(void)arg;
	unsigned i = 0;
	while (!__atomic_load_n(&stress_stop, __ATOMIC_ACQUIRE)) {
		/* Mostly the drain alone; now and then the whole trim. */
		if (++i % 32 == 0)
			hw_malloc_trim(0);
		else
			(void)hw_mc_cache_drain(hw_mc_tls_cache);
	}
	return NULL;
}

static void test_stress_with_drainer(void)
{
	start_layer();
	for (unsigned i = 0; i < WORKERS; i++) {
		pthread_mutex_init(&boxes[i].lock, NULL);
		boxes[i].count = 0;
	}
	pthread_t w[WORKERS], d;
	REQUIRE(pthread_create(&d, NULL, stress_drainer, NULL) == 0, "drainer");
	for (unsigned i = 0; i < WORKERS; i++)
		REQUIRE(pthread_create(&w[i], NULL, stress_worker, (void *)(uintptr_t)i) == 0,
			"worker");
	for (unsigned i = 0; i < WORKERS; i++)
		pthread_join(w[i], NULL);
	__atomic_store_n(&stress_stop, 1, __ATOMIC_RELEASE);
	pthread_join(d, NULL);
	for (unsigned i = 0; i < WORKERS; i++) {
		take_mail(i);
		pthread_mutex_destroy(&boxes[i].lock);
	}
	uint64_t drained, skipped;
	hw_mc_cache_drain_counts(&drained, &skipped);
	printf("  %llu caches drained, %llu skipped busy\n", (unsigned long long)drained,
	       (unsigned long long)skipped);
	EXPECT(stress_bad == 0, "%u objects clobbered or not allocated", stress_bad);
	EXPECT(drained > 0, "the drainer drained no cache");
	layer_validate();
	hw_malloc_trim(0);
	EXPECT(layer_stats().small_spans == 0 && layer_stats().heap_inuse == 0,
	       "after the workers exited: %zu spans, %zu bytes in use", layer_stats().small_spans,
	       layer_stats().heap_inuse);
}

HW_TEST_MAIN(T(test_idle_thread_drained), T(test_busy_owner_skipped),
	     T(test_drain_off_keeps_caches), T(test_stress_with_drainer))

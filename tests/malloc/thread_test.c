/* thread_test.c: the malloc layer under threads, thread exit and fork
 * (src/malloc/cache.c, malloc.c MA1 and MA4), through the prefixed API.
 *
 * - stress: threads allocate (small and large), fill, check and free, and
 *   hand objects to each other through mailboxes, so a large share of
 *   frees are remote; the background scavenger runs throughout. Every
 *   object's contents are checked when freed. Afterwards the exited
 *   threads' caches are flushed (CA1) and a trim empties the heap.
 * - first call race: threads whose first call is at the same instant.
 * - thread exit: a key destructor that runs after the layer's cache is torn
 *   down still allocates and frees (the locked fallback).
 * - fork: children forked while threads allocate (after the layer is up)
 *   can allocate, free and start threads of their own.
 * - arenas: threads on different processors carve different arenas'
 *   spans, and free each other's objects (span.c SP8).
 *
 * Each scenario runs in a child process under an alarm, so a hang fails
 * in seconds instead of stalling ctest, and each starts from a fresh layer
 * (the first-call race needs an uninitialised one).
 */
#include "check.h"
#include "fork_test.h"
#include "heapward.h"
#include "malloc_internal.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define CHILD_SECS 120
#define SLOTS 256
#define MAILBOX 64

static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Fills p (n bytes) with a pattern keyed by its address and size. */
static void fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 61)
		p[i] = (unsigned char)((uintptr_t)p + i + n);
	if (n)
		p[n - 1] = (unsigned char)n;
}

static bool intact(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 61)
		if (p[i] != (unsigned char)((uintptr_t)p + i + n) && !(i == n - 1))
			return false;
	return n == 0 || p[n - 1] == (unsigned char)n;
}

typedef struct obj {
	unsigned char *p;
	size_t n;
} obj;

typedef struct mailbox {
	pthread_mutex_t lock;
	obj box[MAILBOX];
	unsigned count;
} mailbox;

static mailbox boxes[THREADS];
static atomic_uint corrupt;
static unsigned ops_per_thread = 60000;

static size_t pick_size(uint64_t *x)
{
	uint64_t r = next(x);
	if (r % 100 == 0)
		return 65536 + r % 300000; /* large */
	if (r % 10 == 0)
		return r % 8192;
	return r % 512;
}

static void release(obj o)
{
	if (!intact(o.p, o.n))
		atomic_fetch_add(&corrupt, 1);
	hw_free(o.p);
}

static void *stress_worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (me + 1);
	obj mine[SLOTS] = {{0}};
	for (unsigned op = 0; op < ops_per_thread; op++) {
		unsigned k = (unsigned)(next(&x) % SLOTS);
		if (mine[k].p) {
			if (next(&x) % 2) {
				/* Hand it to another thread. */
				mailbox *b = &boxes[(me + 1 + next(&x) % (THREADS - 1)) % THREADS];
				pthread_mutex_lock(&b->lock);
				if (b->count < MAILBOX) {
					b->box[b->count++] = mine[k];
					mine[k].p = NULL;
				}
				pthread_mutex_unlock(&b->lock);
			}
			if (mine[k].p) {
				release(mine[k]);
				mine[k].p = NULL;
			}
		} else {
			size_t n = pick_size(&x);
			unsigned char *p = next(&x) % 8 ? hw_malloc(n) : hw_calloc(1, n);
			if (!p) {
				atomic_fetch_add(&corrupt, 1);
				continue;
			}
			fill(p, n);
			mine[k] = (obj){p, n};
		}
		if (op % 16 == 0) {
			mailbox *b = &boxes[me];
			obj got[MAILBOX];
			unsigned n = 0;
			pthread_mutex_lock(&b->lock);
			memcpy(got, b->box, b->count * sizeof(obj));
			n = b->count;
			b->count = 0;
			pthread_mutex_unlock(&b->lock);
			for (unsigned i = 0; i < n; i++)
				release(got[i]);
		}
	}
	for (unsigned k = 0; k < SLOTS; k++)
		if (mine[k].p)
			release(mine[k]);
	return NULL;
}

/* Runs fn in a child under an alarm; true when it exited 0. */
static bool in_child(void (*fn)(void))
{
	int status = hw_test_in_child(fn, CHILD_SECS);
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	fprintf(stderr, "child: %s %d\n", WIFSIGNALED(status) ? "signal" : "exit",
		WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	return false;
}

#define CHILD_CHECK(cond, ...)                                                     \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                              \
			fputc('\n', stderr);                                       \
			_exit(1);                                                  \
		}                                                                  \
	} while (0)

static void stress(void)
{
	pthread_t t[THREADS];
	for (unsigned i = 0; i < THREADS; i++)
		pthread_mutex_init(&boxes[i].lock, NULL);
	for (unsigned i = 0; i < THREADS; i++)
		CHILD_CHECK(pthread_create(&t[i], NULL, stress_worker, (void *)(uintptr_t)i) == 0,
			    "create");
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (unsigned i = 0; i < THREADS; i++)
		for (unsigned k = 0; k < boxes[i].count; k++)
			release(boxes[i].box[k]);
	CHILD_CHECK(atomic_load(&corrupt) == 0, "%u objects corrupt or not allocated",
		    atomic_load(&corrupt));
	hw_malloc_stats s;
	hw_malloc_stats_get(&s);
	CHILD_CHECK(s.thread_caches <= 1, "%llu caches after the threads exited",
		    (unsigned long long)s.thread_caches);
	hw_malloc_trim(0);
	hw_malloc_stats_get(&s);
	CHILD_CHECK(s.small_spans == 0 && s.large_objects == 0 && s.heap_inuse == 0,
		    "spans %zu large %zu inuse %zu after freeing everything", s.small_spans,
		    s.large_objects, s.heap_inuse);
}

static void test_stress(void) { EXPECT(in_child(stress), "stress"); }

static atomic_int go;

static void *first_call(void *arg)
{
	while (!atomic_load(&go))
		;
	void *p = hw_malloc(100);
	if (!p)
		atomic_fetch_add(&corrupt, 1);
	*(void **)arg = p;
	return NULL;
}

static void first_call_race(void)
{
	pthread_t t[THREADS];
	void *got[THREADS];
	for (unsigned i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, first_call, &got[i]);
	atomic_store(&go, 1);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHILD_CHECK(atomic_load(&corrupt) == 0, "a first call failed");
	for (unsigned i = 0; i < THREADS; i++) {
		for (unsigned j = 0; j < i; j++)
			CHILD_CHECK(got[i] != got[j], "two threads got %p", got[i]);
		hw_free(got[i]);
	}
}

static void test_first_call_race(void) { EXPECT(in_child(first_call_race), "first call"); }

/* A key created after the layer's first call: its destructor runs after
 * the layer's in each destructor round, so in the round where the layer
 * flushes the cache (the one before the last, CA2) it runs after the
 * teardown, on the locked fallback. It stops there: in the last round
 * ThreadSanitizer has torn its own thread state down. */
static pthread_key_t late_key;
static atomic_int late_rounds;

static void late_destructor(void *v)
{
	hw_free(v);
	void *p = hw_malloc(64);
	if (!p) {
		atomic_fetch_add(&corrupt, 1);
		return;
	}
	if (atomic_fetch_add(&late_rounds, 1) + 1 < PTHREAD_DESTRUCTOR_ITERATIONS - 1)
		pthread_setspecific(late_key, p); /* run again next round */
	else
		hw_free(p);
}

static void *exiting_thread(void *arg)
{
	void *objs[100];
	for (int i = 0; i < 100; i++)
		objs[i] = hw_malloc((size_t)i * 10);
	for (int i = 0; i < 100; i++)
		hw_free(objs[i]);
	pthread_setspecific(late_key, hw_malloc(32));
	*(void **)arg = hw_malloc(500); /* freed by the main thread */
	return NULL;
}

static void thread_exit(void)
{
	hw_free(hw_malloc(1));
	pthread_key_create(&late_key, late_destructor);
	void *left = NULL;
	pthread_t t;
	for (int round = 0; round < 20; round++) {
		atomic_store(&late_rounds, 0);
		pthread_create(&t, NULL, exiting_thread, &left);
		pthread_join(t, NULL);
		hw_free(left);
	}
	CHILD_CHECK(atomic_load(&corrupt) == 0, "an allocation in a destructor failed");
	CHILD_CHECK(atomic_load(&late_rounds) == PTHREAD_DESTRUCTOR_ITERATIONS - 1,
		    "the destructor ran %d rounds", atomic_load(&late_rounds));
	hw_malloc_stats s;
	hw_malloc_stats_get(&s);
	CHILD_CHECK(s.thread_caches <= 1, "%llu caches live", (unsigned long long)s.thread_caches);
	hw_malloc_trim(0);
	hw_malloc_stats_get(&s);
	CHILD_CHECK(s.heap_inuse == 0, "inuse %zu: an exited thread's objects leaked",
		    s.heap_inuse);
}

static void test_thread_exit(void) { EXPECT(in_child(thread_exit), "thread exit"); }

static atomic_int stop;

static void *churn(void *arg)
{
	uint64_t x = (uintptr_t)arg * 7919 + 1;
	while (!atomic_load(&stop)) {
		size_t n = pick_size(&x);
		void *p = hw_malloc(n);
		if (p)
			memset(p, 1, n);
		hw_free(p);
	}
	return NULL;
}

static void *child_thread(void *arg)
{
	void *p = hw_malloc(1000);
	hw_free(p);
	return p;
}

static void fork_under_load(void)
{
	pthread_t t[THREADS];
	/* Forks after the layer is up. A fork racing the process's very first
	 * call is not covered: the OS platform's one-time set-up
	 * (pthread_once in platform/linux.c) would stay in progress forever
	 * in the child. */
	/* Under ASan no fork child may start a thread (fork_test.h): neither the
	 * scavenger the layer restarts in a child nor the test's own. */
	if (HW_TEST_ASAN)
		hw_mc_cfg.background_scavenger = false;
	hw_free(hw_malloc(1));
	for (unsigned i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	for (int f = 0; f < 40; f++) {
		pid_t pid = fork();
		if (pid == 0) {
			alarm(10);
			void *objs[200];
			for (int i = 0; i < 200; i++)
				objs[i] = hw_malloc((size_t)i * 97 + (i % 50 == 0 ? 100000 : 0));
			for (int i = 0; i < 200; i++)
				hw_free(objs[i]);
			void *r = HW_TEST_ASAN ? child_thread(NULL) : NULL;
			pthread_t c;
			if (!HW_TEST_ASAN) {
				if (pthread_create(&c, NULL, child_thread, NULL) != 0)
					_exit(3);
				pthread_join(c, &r);
			}
			_exit(r ? 0 : 2);
		}
		int status = 0;
		CHILD_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork %d", f);
		CHILD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			    "fork %d: child %s %d", f, WIFSIGNALED(status) ? "signal" : "exit",
			    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
	atomic_store(&stop, 1);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
}

static void test_fork_under_load(void) { EXPECT(in_child(fork_under_load), "fork"); }

/* span.c SP8: two threads pinned to processors of different parity, with
 * two arenas, carve spans of different arenas; each then frees the other's
 * objects (remote frees into the other arena: a flushed batch mixes
 * arenas) and everything goes back. */
#define ARENA_OBJS 600

static int arena_cpu[2];
static void *arena_objs[2][ARENA_OBJS];
static pthread_barrier_t arena_sync;

/* Pins the calling thread to processor cpu. */
static void pin(int cpu)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	CHILD_CHECK(pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0, "pin");
}

static void *arena_worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	pin(arena_cpu[me]);
	for (unsigned i = 0; i < ARENA_OBJS; i++) {
		size_t n = 16 + (i % 40) * 24;
		arena_objs[me][i] = hw_malloc(n);
		CHILD_CHECK(arena_objs[me][i], "malloc");
		mc_span *s = mc_span_of((uintptr_t)arena_objs[me][i]);
		CHILD_CHECK(s && s->kind == MC_SPAN_SMALL &&
				    s->arena == (unsigned)arena_cpu[me] % 2,
			    "thread on processor %d got a slot of arena %u", arena_cpu[me],
			    s ? s->arena : 99u);
		memset(arena_objs[me][i], (int)me + 1, n);
	}
	pthread_barrier_wait(&arena_sync);
	for (unsigned i = 0; i < ARENA_OBJS; i++) {
		unsigned char *p = arena_objs[1 - me][i];
		CHILD_CHECK(p[0] == 2 - me, "object %u of the other thread intact", i);
		hw_free(p);
	}
	/* And allocations served from a cache that holds the other arena's
	 * slots now. */
	for (unsigned i = 0; i < ARENA_OBJS; i++)
		hw_free(hw_malloc(16 + (i % 40) * 24));
	return NULL;
}

/* Two allowed processors of different parity in arena_cpu (arena
 * parity with two arenas), or false after a SKIP line. */
static bool two_parities(void)
{
	cpu_set_t all;
	CHILD_CHECK(sched_getaffinity(0, sizeof all, &all) == 0, "affinity");
	arena_cpu[0] = arena_cpu[1] = -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &all) && arena_cpu[i % 2] < 0)
			arena_cpu[i % 2] = i;
	if (arena_cpu[0] < 0 || arena_cpu[1] < 0) {
		printf("SKIP: no two allowed processors of different parity\n");
		return false;
	}
	return true;
}

static void arenas(void)
{
	if (!two_parities())
		return;
	CHILD_CHECK(hw_mc_start("arenas=2:scavenger=0"), "start");
	CHILD_CHECK(hw_mc_g.narenas == 2, "%u arenas", hw_mc_g.narenas);
	pthread_barrier_init(&arena_sync, NULL, 2);
	pthread_t t[2];
	for (unsigned i = 0; i < 2; i++)
		CHILD_CHECK(pthread_create(&t[i], NULL, arena_worker, (void *)(uintptr_t)i) == 0,
			    "create");
	for (unsigned i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	char msg[256];
	CHILD_CHECK(hw_heap_validate(hw_mc_heap(), msg, sizeof msg) == 0, "validate: %s", msg);
	hw_malloc_trim(0);
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	CHILD_CHECK(st.small_spans == 0 && st.heap_inuse == 0, "%zu spans, %zu in use",
		    st.small_spans, st.heap_inuse);
}

static void test_arenas(void) { EXPECT(in_child(arenas), "arenas"); }

/* span.c SP6: a thread of one arena whose class list is empty takes the
 * empty span another arena keeps (it moves to its arena) instead of
 * making a span. Thread 0 makes a 1 KiB object and frees it; its exit
 * flushes its cache, so its arena keeps the emptied span; thread 1 then
 * allocates the same class on the other processor. */
static void *adopt_worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	pin(arena_cpu[me]);
	void *p = hw_malloc(1000);
	CHILD_CHECK(p, "malloc");
	mc_span *s = mc_span_of((uintptr_t)p);
	CHILD_CHECK(s->arena == (unsigned)arena_cpu[me] % 2, "arena %u", s->arena);
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	CHILD_CHECK(st.small_spans == 1, "thread %u: %zu spans", me, st.small_spans);
	if (me == 0)
		hw_free(p);
	else
		arena_objs[1][0] = p;
	return NULL;
}

static void adopt(void)
{
	if (!two_parities())
		return;
	CHILD_CHECK(hw_mc_start("arenas=2:scavenger=0"), "start");
	for (unsigned i = 0; i < 2; i++) {
		pthread_t t;
		CHILD_CHECK(pthread_create(&t, NULL, adopt_worker, (void *)(uintptr_t)i) == 0,
			    "create");
		pthread_join(t, NULL);
	}
	hw_free(arena_objs[1][0]);
}

static void test_adopt_empty(void) { EXPECT(in_child(adopt), "adopt"); }

/* SP6: an emptied span is kept only when it is its list's one span; with
 * another partial span of its class on the list it goes back to the heap
 * at once. One arena: a full span S1 and a span S2 holding one object;
 * one object of S1 and S2's object are freed and the cache flushed (S1's
 * slot first, so S1 is on the list when S2 empties). */
static void kept_alone(void)
{
	CHILD_CHECK(hw_mc_start("arenas=1:scavenger=0"), "start");
	unsigned c = mc_class_of(1000);
	size_t n = hw_mc_classes[c].nobjs;
	void *p[256];
	CHILD_CHECK(n + 1 <= sizeof p / sizeof p[0], "%zu slots", n);
	for (size_t i = 0; i <= n; i++)
		CHILD_CHECK((p[i] = hw_malloc(1000)) != NULL, "malloc");
	mc_span *s1 = mc_span_of((uintptr_t)p[0]), *s2 = mc_span_of((uintptr_t)p[n]);
	CHILD_CHECK(s1 != s2 && mc_span_of((uintptr_t)p[n - 1]) == s1, "two spans");
	hw_free(p[0]);
	hw_free(p[n]);
	hw_mc_cache_flush(hw_mc_tls_cache);
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	CHILD_CHECK(st.small_spans == 1, "%zu spans: the emptied one was kept beside a partial one",
		    st.small_spans);
	for (size_t i = 1; i < n; i++)
		hw_free(p[i]);
	hw_mc_cache_flush(hw_mc_tls_cache);
	hw_malloc_stats_get(&st);
	CHILD_CHECK(st.small_spans == 1, "%zu spans: S1, emptied alone, is kept", st.small_spans);
}

static void test_empty_kept_alone(void) { EXPECT(in_child(kept_alone), "kept alone"); }

int main(int argc, char **argv)
{
	const char *scale = getenv("HW_MALLOC_STRESS_OPS");
	if (scale)
		ops_per_thread = (unsigned)strtoul(scale, NULL, 10);
	static const hw_test tests[] = {T(test_first_call_race), T(test_stress),
					T(test_thread_exit), T(test_fork_under_load),
					T(test_arenas), T(test_adopt_empty),
					T(test_empty_kept_alone)};
	return hw_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
}

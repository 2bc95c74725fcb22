/* thread_test.c: the heap under threads and fork (src/registry.c,
 * src/scavenger.c, src/scavenge.c), through the public API and one
 * inspection view.
 *
 * Checks that a child forked while other threads allocate, free and
 * scavenge can use the heap (R1-R3 of registry.c: a lock held by a thread
 * that does not exist in the child would block it forever; the platform's
 * set of owned ranges too, which the workers also change outside the heap,
 * as the malloc layer's metadata does: platform/owned.h), that the child's
 * scavenger reads as stopped, and that any number of threads may start and
 * stop the background scavenger at once, and that a scavenge's platform call,
 * and an allocation's, runs without the heap lock while its pages stay out
 * of every other thread's reach (busy, I5 of heap_internal.h), and that the
 * scavenger does not keep alive a process whose main thread ended with
 * pthread_exit, and ends when its idle hook asks (SG4 of scavenger.c), also
 * while other threads start and stop it.
 *
 * Each scenario runs in a child process under an alarm, so a hang fails the
 * test in seconds (the child dies of SIGALRM) instead of stalling ctest.
 */
#include "check.h"
#include "fork_test.h"
#include "heapward.h"
#include "inspect.h"
#include "platform.h"
#include "wrap.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FORKS 100      /* the reported hang hit 36 forks in 40 */
#define WORKERS 4      /* threads allocating while the main thread forks */
#define STARTERS 4     /* threads starting and stopping the scavenger */
#define TOGGLES 400    /* start/stop pairs per starter */
#define CHILD_SECS 120 /* a scenario that runs longer has hung (Valgrind is slow) */
#define FORK_SECS 10   /* a fork child that runs longer has hung */

static atomic_int stop_workers;

static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* A page from the OS and back, outside any heap: the owned set's lock. */
static int os_page_round_trip(void)
{
	hw_platform *os = hw_platform_os();
	void *q;
	int rc = hw_sys_alloc(os, os->caps.page_size, &q);
	if (rc == 0)
		hw_sys_release(os, q, os->caps.page_size);
	return rc;
}

/* Allocates, writes and frees runs of 1-16 pages until told to stop, with
 * an explicit scavenge now and then, so the heap lock changes hands all the
 * time, and a page from the OS outside the heap each round. */
static void *worker(void *arg)
{
	hw_heap *h = arg;
	uint64_t x = (uint64_t)(uintptr_t)&x | 1;
	while (!atomic_load(&stop_workers)) {
		(void)os_page_round_trip();
		size_t n = 1 + next(&x) % 16;
		char *p = hw_heap_alloc(h, n);
		if (p) {
			p[0] = 1;
			hw_heap_free(h, p, n);
		}
		if (next(&x) % 64 == 0)
			hw_heap_scavenge(h, 1 << 16);
	}
	return NULL;
}

/* Runs fn in a child process with an alarm; returns its wait status. */
static int in_child(void (*fn)(void)) { return hw_test_in_child(fn, CHILD_SECS); }

static void expect_clean_exit(int status, const char *what)
{
	EXPECT(status != -1, "%s: fork or wait failed", what);
	EXPECT(!WIFSIGNALED(status), "%s: killed by signal %d (%s)", what, WTERMSIG(status),
	       WTERMSIG(status) == SIGALRM ? "hung" : "crashed");
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: exit status %d", what,
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static hw_heap *fork_heap; /* the heap the fork children use */

/* In a forked child: the heap is usable and its scavenger reads as stopped
 * (the parent's thread did not survive the fork). */
static void child_uses_heap(void)
{
	hw_heap *h = fork_heap;
	EXPECT(os_page_round_trip() == 0);
	char *p = hw_heap_alloc(h, 3);
	EXPECT(p != NULL);
	if (p) {
		p[0] = 7;
		EXPECT(hw_heap_free(h, p, 3) == 0);
	}
	char msg[256];
	EXPECT(hw_heap_validate(h, msg, sizeof msg) == 0, "%s", msg);
	if (!HW_TEST_ASAN) { /* fork_test.h: no new thread in a fork child under ASan */
		EXPECT(hw_heap_scavenger_start(h) == 0, "the child has no scavenger yet");
		hw_heap_scavenger_stop(h);
	}
	hw_heap_destroy(h);
}

/* The parent's side: workers and the scavenger busy while forking. */
static void forks_under_load(void)
{
	hw_heap_config cfg = {
		.arena_size = 4u << 20, .retain_percent = 1, .scavenger_cpu_percent = 100};
	fork_heap = hw_heap_create(&cfg);
	REQUIRE(fork_heap != NULL);
	REQUIRE(hw_heap_scavenger_start(fork_heap) == 0);
	atomic_store(&stop_workers, 0);
	pthread_t t[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		REQUIRE(pthread_create(&t[i], NULL, worker, fork_heap) == 0);
	int clean = 0, status = 0;
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			alarm(FORK_SECS);
			hw_t_checks = hw_t_fails = 0;
			child_uses_heap();
			_exit(hw_t_fails != 0 || hw_t_checks == 0 ? 1 : 0);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid)
			break;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			clean++;
		else if (clean == i)
			expect_clean_exit(status, "first failing fork child");
	}
	atomic_store(&stop_workers, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	EXPECT(clean == FORKS, "%d of %d fork children used the heap and exited cleanly",
	       clean, FORKS);
	hw_heap_stats s;
	hw_heap_stats_get(fork_heap, &s);
	EXPECT(s.allocs > 0 && s.allocs == s.frees, "allocs %llu frees %llu",
	       (unsigned long long)s.allocs, (unsigned long long)s.frees);
	char msg[256];
	EXPECT(hw_heap_validate(fork_heap, msg, sizeof msg) == 0, "%s", msg);
	hw_heap_destroy(fork_heap);
}

static void test_fork_while_busy(void)
{
	expect_clean_exit(in_child(forks_under_load), "fork scenario");
}

/* An idle hook that asks the scavenger to retire (SG4), counting calls. */
static atomic_int retire_calls;

static bool retire_hook(void *arg)
{
	(void)arg;
	atomic_fetch_add(&retire_calls, 1);
	return true;
}

static hw_heap *toggle_heap;

static void *toggler(void *arg)
{
	uint64_t x = (uint64_t)(uintptr_t)arg * 2654435761u | 1;
	for (int i = 0; i < TOGGLES; i++) {
		int rc = hw_heap_scavenger_start(toggle_heap);
		if (rc != 0 && rc != EALREADY)
			return (void *)1;
		if (next(&x) % 2)
			hw_heap_scavenger_stop(toggle_heap);
	}
	hw_heap_scavenger_stop(toggle_heap);
	return NULL;
}

static void starts_and_stops(void)
{
	toggle_heap = hw_heap_create(NULL);
	REQUIRE(toggle_heap != NULL);
	/* The thread retires whenever it finds the heap idle, so retires race
	 * with the starts and stops too (SG4). */
	hw_heap_set_idle_hook(toggle_heap, retire_hook, NULL);
	pthread_t t[STARTERS];
	for (int i = 0; i < STARTERS; i++)
		REQUIRE(pthread_create(&t[i], NULL, toggler, (void *)(uintptr_t)(i + 1)) == 0);
	int bad = 0;
	for (int i = 0; i < STARTERS; i++) {
		void *r = NULL;
		pthread_join(t[i], &r);
		bad += r != NULL;
	}
	EXPECT(bad == 0, "%d threads saw start fail with an error", bad);
	/* Every thread's last call was a stop: the scavenger is stopped, so
	 * one start succeeds and the next finds it running (no hook now to
	 * retire it between the two). */
	hw_heap_set_idle_hook(toggle_heap, NULL, NULL);
	EXPECT(hw_heap_scavenger_start(toggle_heap) == 0);
	EXPECT(hw_heap_scavenger_start(toggle_heap) == EALREADY);
	hw_heap_destroy(toggle_heap); /* stops it */
}

static void test_scavenger_start_stop_race(void)
{
	expect_clean_exit(in_child(starts_and_stops), "start/stop scenario");
}

/* ---- a scavenge's release runs without the heap lock --------------------------- */

typedef struct gate {
	sem_t in_unuse, go;
	atomic_int released_early; /* the test's calls finished before go */
	atomic_int done_calls;
} gate;

static gate unuse_gate;

/* The first call the hook sees (an unuse, a fault under fault_on_free, or a
 * reuse's map) waits (up to 5 s) until the test has used the heap. */
static bool held_release(wrap_platform *w, hw_sys_kind k, void *p, size_t n)
{
	(void)p;
	(void)n;
	/* grows and metadata: never held */
	if (w->arg == NULL || k == HW_SYS_ALLOC || k == HW_SYS_RESERVE)
		return true;
	w->arg = NULL; /* only the first release is held */
	sem_post(&unuse_gate.in_unuse);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	while (sem_timedwait(&unuse_gate.go, &until) != 0 && errno == EINTR)
		;
	atomic_store(&unuse_gate.released_early, atomic_load(&unuse_gate.done_calls));
	return true;
}

static atomic_int reports;

static void count_report(void *arg, const char *line)
{
	(void)arg;
	(void)line;
	atomic_fetch_add(&reports, 1);
}

static hw_heap *gate_heap;
static char *gate_run;

static void *scavenge_all(void *arg)
{
	(void)arg;
	hw_heap_scavenge(gate_heap, SIZE_MAX);
	return NULL;
}

static void *free_run(void *arg)
{
	(void)arg;
	hw_heap_free(gate_heap, gate_run, 64);
	return NULL;
}

/* *h: a heap on a wrap platform whose first call after w->arg is set waits
 * at the gate (held_release), reporting through count_report; NULL when
 * either cannot be made (a failed check). */
static void gated_heap(wrap_platform *w, bool fault_on_free, hw_heap **h)
{
	*h = NULL;
	REQUIRE(wrap_open(w, false));
	w->before = held_release;
	sem_init(&unuse_gate.in_unuse, 0, 0);
	sem_init(&unuse_gate.go, 0, 0);
	hw_heap_config cfg = {.platform = &w->pf,
			      .arena_size = 4u << 20,
			      .report = count_report,
			      .fault_on_free = fault_on_free};
	*h = hw_heap_create(&cfg);
	REQUIRE(*h != NULL);
}

/* A 64-page run is released in another thread, by a scavenge (or, with
 * fault_on_free, by its free, which faults it), while the release call is
 * held: the heap must answer meanwhile, and the run's pages are busy (I5):
 * free, not allocatable, not freeable. */
static void heap_used_during_release(bool fault_on_free)
{
	wrap_platform w;
	hw_heap *h;
	gated_heap(&w, fault_on_free, &h);
	REQUIRE(h != NULL);
	size_t P = hw_heap_page_size(h);
	char *a = hw_heap_alloc(h, 64), *b = hw_heap_alloc(h, 8);
	REQUIRE(a && b);
	memset(a, 1, 64 * P);
	gate_heap = h;
	gate_run = a;
	w.arg = &unuse_gate;
	pthread_t t;
	if (!fault_on_free)
		EXPECT(hw_heap_free(h, a, 64) == 0);
	REQUIRE(pthread_create(&t, NULL, fault_on_free ? free_run : scavenge_all, NULL) == 0);
	REQUIRE(sem_wait(&unuse_gate.in_unuse) == 0);
	char *c = hw_heap_alloc(h, 2);
	EXPECT(c != NULL && (c < a || c >= a + 64 * P), "allocated %p inside the busy run", c);
	char msg[256];
	EXPECT(hw_heap_validate(h, msg, sizeof msg) == 0, "%s", msg);
	EXPECT(hw_heap_free(h, a, 64) == EINVAL, "a busy run freed again");
	EXPECT(hw_heap_page_kind(h, a + 63 * P, NULL) == HW_PAGE_FREE_RELEASED);
	EXPECT(c == NULL || hw_heap_free(h, c, 2) == 0);
	atomic_store(&unuse_gate.done_calls, 1);
	sem_post(&unuse_gate.go);
	pthread_join(t, NULL);
	EXPECT(atomic_load(&unuse_gate.released_early) == 1,
	       "the heap's calls waited for the release: the lock was held across it");
	EXPECT(hw_heap_validate(h, msg, sizeof msg) == 0, "%s", msg);
	/* The run allocated and freed meanwhile lay below the scavenge's
	 * path; a second scavenge releases it, and then every free page is. */
	hw_heap_scavenge(h, SIZE_MAX);
	hw_heap_stats s;
	hw_heap_stats_get(h, &s);
	EXPECT(s.released == s.idle, "released %zu of %zu idle", s.released, s.idle);
	EXPECT(s.invalid_frees == 1 && atomic_load(&reports) == 1, "%llu invalid frees",
	       (unsigned long long)s.invalid_frees);
	EXPECT(hw_heap_free(h, b, 8) == 0);
	hw_heap_destroy(h);
	EXPECT(w.real->owned == 0, "%zu bytes still reserved", w.real->owned);
	wrap_close(&w);
}

static void scavenge_during_release(void) { heap_used_during_release(false); }
static void fault_during_release(void) { heap_used_during_release(true); }

static char *claimed;

static void *alloc_run(void *arg)
{
	(void)arg;
	claimed = hw_heap_alloc(gate_heap, 64);
	return NULL;
}

/* An allocation that reuses a faulted run (Reserved: its reuse maps it)
 * makes that call with the lock dropped, the run and its pages busy (I5)
 * meanwhile: the heap answers other threads, none of which can allocate or
 * free those pages. */
static void heap_used_during_claim(void)
{
	wrap_platform w;
	hw_heap *h;
	gated_heap(&w, true, &h);
	REQUIRE(h != NULL);
	size_t P = hw_heap_page_size(h);
	char *a = hw_heap_alloc(h, 64), *b = hw_heap_alloc(h, 8);
	REQUIRE(a && b);
	EXPECT(hw_heap_free(h, a, 64) == 0);
	gate_heap = h;
	w.arg = &unuse_gate;
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, alloc_run, NULL) == 0);
	REQUIRE(sem_wait(&unuse_gate.in_unuse) == 0);
	char *c = hw_heap_alloc(h, 2);
	EXPECT(c != NULL && (c < a || c >= a + 64 * P), "allocated %p inside the claimed run", c);
	char msg[256];
	EXPECT(hw_heap_validate(h, msg, sizeof msg) == 0, "%s", msg);
	EXPECT(hw_heap_free(h, a, 64) == EINVAL, "a run being claimed freed");
	EXPECT(hw_heap_page_kind(h, a + 63 * P, NULL) == HW_PAGE_FREE_RELEASED);
	EXPECT(c == NULL || hw_heap_free(h, c, 2) == 0);
	atomic_store(&unuse_gate.done_calls, 1);
	sem_post(&unuse_gate.go);
	pthread_join(t, NULL);
	EXPECT(claimed == a, "the claim got %p, not %p", (void *)claimed, (void *)a);
	EXPECT(atomic_load(&unuse_gate.released_early) == 1,
	       "the heap's calls waited for the claim's map: the lock was held across it");
	EXPECT(hw_heap_validate(h, msg, sizeof msg) == 0, "%s", msg);
	if (claimed)
		memset(claimed, 5, 64 * P);
	EXPECT(claimed == NULL || hw_heap_free(h, claimed, 64) == 0);
	EXPECT(hw_heap_free(h, b, 8) == 0);
	hw_heap_destroy(h);
	EXPECT(w.real->owned == 0, "%zu bytes still reserved", w.real->owned);
	wrap_close(&w);
}

static void test_release_without_the_lock(void)
{
	expect_clean_exit(in_child(scavenge_during_release), "scavenge release scenario");
	expect_clean_exit(in_child(fault_during_release), "fault-on-free release scenario");
	expect_clean_exit(in_child(heap_used_during_claim), "claim scenario");
}

/* ---- the idle hook ends the scavenger (scavenger.c SG4) ---- */

/* A hook that asks the thread to retire: the scavenger ends on its own (a
 * start makes a new one, not EALREADY), and a destroy after it neither
 * joins the retired thread nor waits for it. */
static void idle_hook_retires(void)
{
	hw_heap *h = hw_heap_create(NULL);
	REQUIRE(h != NULL);
	hw_heap_set_idle_hook(h, retire_hook, NULL);
	REQUIRE(hw_heap_scavenger_start(h) == 0);
	int rc = EALREADY;
	for (int i = 0; i < 500 && rc == EALREADY; i++) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
		rc = hw_heap_scavenger_start(h);
	}
	EXPECT(rc == 0, "the scavenger did not retire in 5 s (start: %d)", rc);
	EXPECT(atomic_load(&retire_calls) >= 1, "the hook never ran");
	hw_heap_destroy(h);
}

static void test_idle_hook_retires(void)
{
	expect_clean_exit(in_child(idle_hook_retires), "idle retire scenario");
}

/* ---- the scavenger is never the process's last thread (scavenger.c SG4) ---- */

static hw_heap *last_heap;

/* Runs on the scavenger's thread, in the exit(0) the C library calls when
 * that thread, the last, returns: the stop finds nothing to join (a join
 * of this very thread would abort), and the status says the handler ran. */
static void last_exit_handler(void)
{
	hw_heap_scavenger_stop(last_heap);
	hw_heap_destroy(last_heap);
	_exit(42);
}

static void *last_worker(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 50000000};
	nanosleep(&ts, NULL);
	char *p = hw_heap_alloc(last_heap, 4);
	if (p) {
		p[0] = 1;
		hw_heap_free(last_heap, p, 4);
	}
	return NULL;
}

/* A main thread that ends with pthread_exit, and a worker that ends after
 * it: the process must end then, with its exit handlers run, not live on
 * in the scavenger. A hang fails by the child's alarm. */
static void main_thread_leaves(void)
{
	last_heap = hw_heap_create(NULL);
	REQUIRE(last_heap != NULL);
	REQUIRE(hw_heap_scavenger_start(last_heap) == 0);
	REQUIRE(atexit(last_exit_handler) == 0);
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, last_worker, NULL) == 0);
	fflush(NULL);
	pthread_exit(NULL);
}

/* Skipped under ThreadSanitizer (tests/CMakeLists.txt TSAN_SKIP). */
static void test_scavenger_not_last(void)
{
	int status = in_child(main_thread_leaves);
	EXPECT(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 42,
	       "the process whose main thread left: status %#x (42: ended, exit handler run)",
	       status);
}

HW_TEST_MAIN(T(test_fork_while_busy), T(test_scavenger_start_stop_race),
	     T(test_release_without_the_lock), T(test_idle_hook_retires),
	     T(test_scavenger_not_last))

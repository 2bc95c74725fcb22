/* thread_test.c: the heap under threads and fork (src/registry.c,
 * src/scavenger.c), through the public API only.
 *
 * Checks that a child forked while other threads allocate, free and
 * scavenge can use the heap (R1-R3 of registry.c: a lock held by a thread
 * that does not exist in the child would block it forever), that the child's
 * scavenger reads as stopped, and that any number of threads may start and
 * stop the background scavenger at once.
 *
 * Each scenario runs in a child process under an alarm, so a hang fails the
 * test in seconds (the child dies of SIGALRM) instead of stalling ctest.
 */
#include "check.h"
#include "heapward.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
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

/* Allocates, writes and frees runs of 1-16 pages until told to stop, with
 * an explicit scavenge now and then, so the heap lock changes hands all the
 * time. */
static void *worker(void *arg)
{
	hw_heap *h = arg;
	uint64_t x = (uint64_t)(uintptr_t)&x | 1;
	while (!atomic_load(&stop_workers)) {
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
static int in_child(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(CHILD_SECS);
		fn();
		fflush(NULL);
		_exit(hw_t_fails != 0 || hw_t_checks == 0 ? 1 : 0);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

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
	char *p = hw_heap_alloc(h, 3);
	EXPECT(p != NULL);
	if (p) {
		p[0] = 7;
		EXPECT(hw_heap_free(h, p, 3) == 0);
	}
	char msg[256];
	EXPECT(hw_heap_validate(h, msg, sizeof msg) == 0, "%s", msg);
	EXPECT(hw_heap_scavenger_start(h) == 0, "the child has no scavenger yet");
	hw_heap_scavenger_stop(h);
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
	 * one start succeeds and the next finds it running. */
	EXPECT(hw_heap_scavenger_start(toggle_heap) == 0);
	EXPECT(hw_heap_scavenger_start(toggle_heap) == EALREADY);
	hw_heap_destroy(toggle_heap); /* stops it */
}

static void test_scavenger_start_stop_race(void)
{
	expect_clean_exit(in_child(starts_and_stops), "start/stop scenario");
}

HW_TEST_MAIN(T(test_fork_while_busy), T(test_scavenger_start_stop_race))

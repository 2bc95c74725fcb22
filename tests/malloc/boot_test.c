/* boot_test.c: calls into the layer from inside its own start (boot.c).
 *
 * The layer's start allocates its page map's top array from the platform
 * (hw_sys_alloc). On wrap.h's forwarder, that call first runs a hook, and
 * the hook calls the layer back, as the C library does from pthread_create
 * (a new thread's TLS vector) or pthread_atfork while the layer starts:
 * same thread, start not finished. Each call must get memory (from the
 * bootstrap arena), and what it got must behave as an allocation after the
 * start: sized, reallocated, freed, with no report.
 *
 * The same hook holds a start half-way while another thread forks (malloc.c
 * MA4): the child, whose copy of the start will never finish, must start
 * the layer afresh on its first call, and the parent's start must finish.
 */
#include "check.h"
#include "heapward.h"
#include "malloc_internal.h"
#include "wrap.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static wrap_platform w;
static int inside;               /* hook calls made from inside the start */
static unsigned char *m, *z, *a; /* what the calls got */
static int m_errno;

static bool call_back(wrap_platform *x, hw_sys_kind k, void *p, size_t n)
{
	(void)x;
	(void)p;
	(void)n;
	if (k != HW_SYS_ALLOC || inside++)
		return true;
	errno = 0;
	m = hw_malloc(100);
	m_errno = errno;
	z = hw_calloc(10, 30);
	a = hw_aligned_alloc(64, 200);
	return true;
}

static void test_calls_during_start(void)
{
	REQUIRE(wrap_open(&w, false));
	w.before = call_back;
	mc_start_config c = {.platform = &w.pf, .options = ""};
	hw_mc_reset(&c);
	unsigned char *after = hw_malloc(24); /* starts the layer */
	REQUIRE(after != NULL);
	REQUIRE(inside > 0, "the start made no platform alloc to call back from");
	EXPECT(m && z && a, "calls from inside the start got memory (%p %p %p)", (void *)m,
	       (void *)z, (void *)a);
	EXPECT(m_errno == 0, "errno %d after a served call", m_errno);
	REQUIRE(m && z && a);
	EXPECT(hw_mc_boot_owns(m) && hw_mc_boot_owns(z) && hw_mc_boot_owns(a), "from the arena");
	EXPECT(((uintptr_t)a & 63) == 0, "aligned_alloc(64) %p", (void *)a);
	bool zero = true;
	for (size_t i = 0; i < 300; i++)
		zero &= z[i] == 0;
	EXPECT(zero, "calloc's block is zero");
	EXPECT(hw_malloc_usable_size(m) == 100, "usable %zu", hw_malloc_usable_size(m));
	memset(m, 5, 100);
	unsigned char *moved = hw_realloc(m, 5000);
	REQUIRE(moved);
	EXPECT(!hw_mc_boot_owns(moved) && moved[0] == 5 && moved[99] == 5, "realloc moved it out");
	hw_free(moved);
	hw_free(z);
	hw_free(a);
	hw_free(after);
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	EXPECT(st.errors == 0, "%llu reports", (unsigned long long)st.errors);
	hw_mc_reset(NULL);
	wrap_close(&w);
}

/* The fork race: a start held inside its platform alloc. */
static sem_t in_start, go;
static int hold; /* atomic: the next alloc waits for go */

static bool held_start(wrap_platform *x, hw_sys_kind k, void *p, size_t n)
{
	(void)x;
	(void)p;
	(void)n;
	if (k == HW_SYS_ALLOC && __atomic_exchange_n(&hold, 0, __ATOMIC_ACQ_REL)) {
		sem_post(&in_start);
		sem_wait(&go);
	}
	return true;
}

static void *first_call(void *arg)
{
	(void)arg;
	return hw_malloc(24);
}

static void test_fork_during_start(void)
{
	REQUIRE(wrap_open(&w, false));
	w.before = held_start;
	sem_init(&in_start, 0, 0);
	sem_init(&go, 0, 0);
	/* No scavenger: the child must not start threads under ASan
	 * (fork_test.h HW_TEST_ASAN), and it is not what is tested. */
	mc_start_config c = {.platform = &w.pf, .options = "scavenger=0"};
	hw_mc_reset(&c);
	__atomic_store_n(&hold, 1, __ATOMIC_RELEASE);
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, first_call, NULL) == 0);
	sem_wait(&in_start);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(20); /* a child stuck on the parent's start fails, not hangs */
		unsigned char *q = hw_malloc(100);
		unsigned char *big = hw_malloc(1 << 20);
		bool ok = q && big;
		if (ok) {
			memset(q, 1, 100);
			memset(big, 2, 1 << 20);
			hw_free(q);
			hw_free(big);
		}
		hw_malloc_stats st;
		hw_malloc_stats_get(&st);
		_exit(ok && st.errors == 0 ? 0 : 1);
	}
	sem_post(&go);
	void *r = NULL;
	pthread_join(t, &r);
	EXPECT(r != NULL, "the parent's held start finished");
	hw_free(r);
	int status = -1;
	EXPECT(pid > 0 && waitpid(pid, &status, 0) == pid, "fork");
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "the child allocated after a fork during the start (status %#x)", status);
	hw_mc_reset(NULL);
	wrap_close(&w);
}

/* The fork race first: it is about the process's first start, before the
 * layer has registered its full fork hooks (later forks wait for a start to
 * finish: their prepare hook takes the init lock). */
HW_TEST_MAIN(T(test_fork_during_start), T(test_calls_during_start))

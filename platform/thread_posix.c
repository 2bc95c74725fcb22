/* thread_posix.c: hw_mutex, hw_thread, fork hooks and the clocks on POSIX.
 *
 * Owns: the mapping of thread.h onto pthreads, pthread_atfork and
 * clock_gettime.
 *
 * Invariants (thread.h's, and how they hold here):
 *   T1. hw_mutex_init assigns HW_MUTEX_INIT, a static initializer
 *       (glibc's adaptive one where it exists, else
 *       PTHREAD_MUTEX_INITIALIZER), which pthreads guarantees to succeed.
 *   T2. hw_now_ns reads CLOCK_MONOTONIC, which never goes back.
 *   T3. A lock or unlock error (EDEADLK, EPERM, EINVAL) is a caller bug and
 *       aborts with "heapward: thread: <call> failed: errno <e>".
 *   T4. hw_fork_hooks is pthread_atfork.
 *   T5. lock records the holder after taking the lock and unlock clears
 *       it before releasing, with relaxed atomics.
 *   T13. lock tries first; only when the lock is taken does it look
 *       whether the caller is the holder, so the uncontended path costs
 *       one compare-and-swap, as before.
 *   T6. HW_THREAD_LOCAL is the compiler's initial-exec TLS attribute.
 *   T7. hw_thread_key is a pthread key: glibc runs key destructors for up
 *       to PTHREAD_DESTRUCTOR_ITERATIONS rounds, clearing each value before
 *       its destructor runs.
 *   T8. hw_cpu_count is sysconf(_SC_NPROCESSORS_CONF) (1 when it fails;
 *       it reads sysfs: call it once); hw_cpu_current is sched_getcpu (no
 *       system call: glibc reads the kernel's rseq area or the vDSO), which
 *       numbers the configured processors from 0, or 0 where there is
 *       none.
 *   T9. hw_process_barrier is membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
 *       on Linux: the kernel interrupts every processor that runs one of
 *       the process's threads and has it execute a full barrier (a thread
 *       not running passes one at its context switch). The command needs
 *       the process registered once (..._REGISTER_PRIVATE_EXPEDITED), which
 *       the first hw_process_barrier_ready does when MEMBARRIER_CMD_QUERY
 *       lists both commands; any failure (ENOSYS on old kernels or under
 *       seccomp, EINVAL, EPERM) makes the answer false for good. Other
 *       POSIX systems: false.
 *   T10. hw_process_single_threaded reads glibc's __libc_single_threaded
 *       (<sys/single_threaded.h>, glibc 2.32 and later), which glibc
 *       clears at the first pthread_create and then never sets again;
 *       elsewhere it answers false.
 *   T11. Both read /proc/self/stat: its state is the main thread's,
 *       zombie ('Z') once that thread has ended while others run, and
 *       num_threads still counts it. The caller is alone when it is the
 *       main thread and the count is 1, or when the main thread is a
 *       zombie and the count is 2 (the main thread and the caller). A
 *       thread on its way out may still be counted: the answer is then
 *       false, and a later poll finds it gone.
 *   T12. hw_thread_start sets the creator's mask to the new thread's
 *       around pthread_create, which copies it, and puts it back.
 *
 * Locking: these are the locks; nothing here holds one across calls.
 */
#include "thread.h"

#include "base.h"
#include "file.h"
#include "nocancel.h"
#include "stop.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/membarrier.h>
#include <sys/syscall.h>
#endif
/* T10: glibc says whether it still runs single-threaded. */
#if defined(__GLIBC__)
#if __GLIBC_PREREQ(2, 32)
#define HW_HAVE_SINGLE_THREADED 1
#include <sys/single_threaded.h>
#endif
#endif
#ifndef HW_HAVE_SINGLE_THREADED
#define HW_HAVE_SINGLE_THREADED 0
#endif

_Static_assert(sizeof(pthread_t) <= sizeof(uintptr_t), "pthread_t does not fit hw_thread");

static void check_rc(int rc, const char *call)
{
	if (HW_UNLIKELY(rc != 0))
		hw_fatal("heapward: thread: %s failed: errno %d", call, rc);
}

void hw_mutex_init(hw_mutex *m)
{
	static const hw_mutex init = HW_MUTEX_INIT;
	*m = init;
}

void hw_mutex_destroy(hw_mutex *m)
{
	check_rc(pthread_mutex_destroy(&m->m), "pthread_mutex_destroy");
}

/* T5, T13: the holder is written after the lock is taken and cleared
 * before it is let go, by the holder, so no thread but the holder ever
 * reads itself there. */
static void set_owner(hw_mutex *m, pthread_t t)
{
	__atomic_store_n(&m->owner, t, __ATOMIC_RELAXED);
}

void hw_mutex_lock(hw_mutex *m)
{
	int rc = pthread_mutex_trylock(&m->m);
	if (rc == EBUSY) {
		if (hw_mutex_held(m))
			hw_fatal("heapward: a lock of the allocator is taken again by the thread "
				 "that holds it: a signal handler that interrupted the allocator "
				 "called it (malloc and free are not async-signal-safe)");
		rc = pthread_mutex_lock(&m->m);
	}
	check_rc(rc, "pthread_mutex_lock");
	set_owner(m, pthread_self());
}

bool hw_mutex_trylock(hw_mutex *m)
{
	int rc = pthread_mutex_trylock(&m->m);
	if (rc == EBUSY)
		return false;
	check_rc(rc, "pthread_mutex_trylock");
	set_owner(m, pthread_self());
	return true;
}

void hw_mutex_unlock(hw_mutex *m)
{
	set_owner(m, (pthread_t)0);
	check_rc(pthread_mutex_unlock(&m->m), "pthread_mutex_unlock");
}

bool hw_mutex_held(const hw_mutex *m)
{
	return pthread_equal(__atomic_load_n(&m->owner, __ATOMIC_RELAXED), pthread_self());
}

int hw_thread_start(hw_thread *t, void *(*fn)(void *), void *arg)
{
	/* T12: a new thread inherits its creator's mask, so the creator takes
	 * the new thread's for the call (pthread_attr_setsigmask_np would
	 * spare it that, but allocates). */
	static const int kept[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE,
				   SIGTRAP, SIGSYS, HW_STOP_SIGNAL};
	sigset_t blocked, old;
	sigfillset(&blocked);
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
		sigdelset(&blocked, kept[i]);
	check_rc(pthread_sigmask(SIG_SETMASK, &blocked, &old), "pthread_sigmask");
	pthread_t th;
	int rc = pthread_create(&th, NULL, fn, arg);
	check_rc(pthread_sigmask(SIG_SETMASK, &old, NULL), "pthread_sigmask");
	if (rc != 0)
		return rc;
	t->handle = 0;
	memcpy(&t->handle, &th, sizeof th);
	return 0;
}

static pthread_t pthread_of(const hw_thread *t)
{
	pthread_t th;
	memcpy(&th, &t->handle, sizeof th);
	return th;
}

void hw_thread_join(hw_thread *t) { check_rc(pthread_join(pthread_of(t), NULL), "pthread_join"); }

void hw_thread_detach(hw_thread *t) { check_rc(pthread_detach(pthread_of(t)), "pthread_detach"); }

int hw_fork_hooks(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	return pthread_atfork(prepare, parent, child);
}

_Static_assert(sizeof(pthread_key_t) <= sizeof(unsigned),
	       "pthread_key_t does not fit hw_thread_key");

int hw_thread_key_create(hw_thread_key *k, void (*fn)(void *value))
{
	pthread_key_t key;
	int rc = pthread_key_create(&key, fn);
	if (rc == 0)
		k->key = (unsigned)key;
	return rc;
}

int hw_thread_key_set(hw_thread_key k, void *value)
{
	return pthread_setspecific((pthread_key_t)k.key, value);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	if (clock_gettime(id, &ts) != 0)
		hw_fatal("heapward: thread: clock_gettime(%d) failed: errno %d", (int)id, errno);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t hw_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t hw_thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

uint64_t hw_process_cpu_ns(void)
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

void hw_sleep_ns(uint64_t ns)
{
	struct timespec req = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
	/* Sleep the full time even when a signal interrupts. */
	while (hw_nc_nanosleep(&req, &req) != 0 && errno == EINTR)
		;
}

unsigned hw_cpu_count(void)
{
	long c = sysconf(_SC_NPROCESSORS_CONF);
	return c > 0 && c < 65536 ? (unsigned)c : 1;
}

bool hw_process_single_threaded(void)
{
#if HW_HAVE_SINGLE_THREADED
	return __libc_single_threaded != 0;
#else
	return false;
#endif
}

#ifdef __linux__
/* /proc/self/stat's state (the main thread's) and num_threads; false when
 * it cannot be read. "pid (comm) state ...": comm may hold anything, ')'
 * included, so the fields start after the last ')'. */
static bool proc_stat(char *state, unsigned long *threads)
{
	char buf[1024];
	size_t len;
	int saved = errno;
	int rc = hw_file_read("/proc/self/stat", buf, sizeof buf - 1, &len);
	errno = saved;
	if (rc != 0)
		return false;
	buf[len] = 0;
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return false;
	*state = p[2];
	p += 3;
	/* num_threads is the 20th field; state is the 3rd. */
	for (int field = 3; field < 20; field++) {
		p = strchr(p, ' ');
		if (!p)
			return false;
		p++;
	}
	uint64_t n;
	if (!hw_file_number(p, 10, &n))
		return false;
	*threads = (unsigned long)n;
	return true;
}

static bool ended(char state) { return state == 'Z' || state == 'X'; }
#endif

/* T11. */
bool hw_process_main_ended(void)
{
#ifdef __linux__
	char state;
	unsigned long threads;
	return proc_stat(&state, &threads) && ended(state);
#else
	return false;
#endif
}

bool hw_process_others_gone(void)
{
#ifdef __linux__
	char state;
	unsigned long threads;
	if (!proc_stat(&state, &threads))
		return false;
	if (syscall(SYS_gettid) == getpid())
		return threads == 1;
	return ended(state) && threads == 2;
#else
	return false;
#endif
}

unsigned hw_cpu_current(void)
{
#ifdef __linux__
	int c = sched_getcpu();
	if (c >= 0)
		return (unsigned)c;
#endif
	return 0;
}

/* T9: 0 not asked yet, 1 ready, 2 unavailable (atomic; racing first calls
 * both register, which the kernel accepts). */
static int barrier_state;

bool hw_process_barrier_ready(void)
{
	int st = __atomic_load_n(&barrier_state, __ATOMIC_ACQUIRE);
	if (HW_LIKELY(st != 0))
		return st == 1;
	st = 2;
#if defined(__linux__) && defined(SYS_membarrier)
	int saved = errno;
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0);
	long want = MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
	if (cmds >= 0 && (cmds & want) == want &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0)
		st = 1;
	errno = saved;
#endif
	__atomic_store_n(&barrier_state, st, __ATOMIC_RELEASE);
	return st == 1;
}

bool hw_process_barrier(void)
{
	if (!hw_process_barrier_ready())
		return false;
#if defined(__linux__) && defined(SYS_membarrier)
	int saved = errno;
	bool ok = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0;
	errno = saved;
	return ok;
#else
	return false;
#endif
}

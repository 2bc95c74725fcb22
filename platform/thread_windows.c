/* thread_windows.c: hw_mutex, hw_thread, fork hooks and the clocks on Windows.
 *
 * Owns: the mapping of thread.h onto SRW locks, C runtime threads
 * (_beginthreadex), fiber-local storage (the exit hook), the performance
 * counter and thread times.
 *
 * Invariants (thread.h's, and how they hold here):
 *   T1. hw_mutex_init stores SRWLOCK_INIT (all zero), the state
 *       HW_MUTEX_INIT writes; an SRW lock needs no set-up and cannot fail.
 *   T2. hw_now_ns reads QueryPerformanceCounter, which is monotonic.
 *   T3. SRW locks report no errors: locking a lock the thread holds
 *       deadlocks (as a default pthread mutex does) instead of failing.
 *       hw_thread_join aborts with "heapward: thread: <call> failed: error
 *       <e>" when the wait fails.
 *   T4. There is no fork: hw_fork_hooks registers nothing and returns 0.
 *   T5. lock records the holder's thread id after taking the lock and
 *       unlock clears it before releasing, with relaxed atomics.
 *   T13. As on POSIX: lock tries first, and looks for the caller as the
 *       holder only when that fails.
 *   T6. HW_THREAD_LOCAL is __thread, which mingw-w64 emulates (thread.h).
 *   T7. hw_thread_key is a fiber-local storage index whose callback Windows
 *       runs once at thread exit (and only when the value is non-NULL), so
 *       HW_THREAD_EXIT_ROUNDS is 1.
 *   T8. hw_cpu_count is the processors of every group
 *       (GetActiveProcessorCount); hw_cpu_current is
 *       GetCurrentProcessorNumber (the number within the thread's group,
 *       so below the count).
 *   T9. hw_process_barrier is FlushProcessWriteBuffers (Vista and later),
 *       which interrupts every processor running one of the process's
 *       threads to flush its write buffer with a full barrier; it cannot
 *       fail, so the barrier is always ready.
 *   T10. hw_process_single_threaded is false: the C runtime does not say.
 *   T11. hw_process_others_gone counts the process's threads in a
 *       Toolhelp snapshot, which lists live threads only: alone when the
 *       count is 1. Taking the snapshot walks every thread of the system.
 *       hw_process_main_ended is false: nothing lists an ended thread.
 *   T12. Windows has no signals to block: exceptions go to the thread that
 *       raised them, and console events to a thread of their own.
 *
 * Sleeping has the system timer's resolution (about 1 to 16 ms): a sleep
 * lasts at least what was asked, rounded up to whole milliseconds.
 *
 * Locking: these are the locks; nothing here holds one across calls.
 */
#include "thread.h"

#include "base.h"

#include <errno.h>
#include <process.h>
#include <string.h>

#include <windows.h>

#include <tlhelp32.h>

_Static_assert(sizeof(SRWLOCK) == sizeof(void *), "SRWLOCK does not fit hw_mutex");
_Static_assert(sizeof(HANDLE) <= sizeof(uintptr_t), "HANDLE does not fit hw_thread");
_Static_assert(sizeof(DWORD) <= sizeof(unsigned), "an FLS index does not fit hw_thread_key");

static SRWLOCK *srw(hw_mutex *m)
{
	return (SRWLOCK *)&m->srw;
}

void hw_mutex_init(hw_mutex *m)
{
	static const hw_mutex init = HW_MUTEX_INIT;
	*m = init;
}

void hw_mutex_destroy(hw_mutex *m)
{
	(void)m; /* an SRW lock holds no resource */
}

/* T5, T13: as on POSIX (thread_posix.c): the holder is written after the
 * lock is taken and cleared before it is let go. Thread ids are never 0. */
static void set_owner(hw_mutex *m, unsigned long t)
{
	__atomic_store_n(&m->owner, t, __ATOMIC_RELAXED);
}

void hw_mutex_lock(hw_mutex *m)
{
	if (!TryAcquireSRWLockExclusive(srw(m))) {
		if (hw_mutex_held(m))
			hw_fatal("heapward: a lock of the allocator is taken again by the thread "
				 "that holds it: a signal handler that interrupted the allocator "
				 "called it (malloc and free are not async-signal-safe)");
		AcquireSRWLockExclusive(srw(m));
	}
	set_owner(m, (unsigned long)GetCurrentThreadId());
}

bool hw_mutex_trylock(hw_mutex *m)
{
	if (!TryAcquireSRWLockExclusive(srw(m)))
		return false;
	set_owner(m, (unsigned long)GetCurrentThreadId());
	return true;
}

void hw_mutex_unlock(hw_mutex *m)
{
	set_owner(m, 0);
	ReleaseSRWLockExclusive(srw(m));
}

bool hw_mutex_held(const hw_mutex *m)
{
	return __atomic_load_n(&m->owner, __ATOMIC_RELAXED) == (unsigned long)GetCurrentThreadId();
}

/* What a new thread runs: fn(arg), from a record the starter allocated. */
typedef struct start_rec {
	void *(*fn)(void *);
	void *arg;
} start_rec;

static unsigned __stdcall thread_main(void *p)
{
	start_rec r = *(start_rec *)p;
	HeapFree(GetProcessHeap(), 0, p);
	r.fn(r.arg);
	return 0;
}

int hw_thread_start(hw_thread *t, void *(*fn)(void *), void *arg)
{
	/* The process heap, not malloc: nothing here may depend on a malloc. */
	start_rec *r = HeapAlloc(GetProcessHeap(), 0, sizeof *r);
	if (r == NULL)
		return ENOMEM;
	r->fn = fn;
	r->arg = arg;
	uintptr_t h = _beginthreadex(NULL, 0, thread_main, r, 0, NULL);
	if (h == 0) {
		int e = errno != 0 ? errno : EAGAIN;
		HeapFree(GetProcessHeap(), 0, r);
		return e;
	}
	t->handle = h;
	return 0;
}

void hw_thread_join(hw_thread *t)
{
	HANDLE h = (HANDLE)t->handle;
	if (WaitForSingleObject(h, INFINITE) != WAIT_OBJECT_0)
		hw_fatal("heapward: thread: WaitForSingleObject failed: error %lu",
			 (unsigned long)GetLastError());
	CloseHandle(h);
}

/* The thread runs on; only the handle to it goes. */
void hw_thread_detach(hw_thread *t) { CloseHandle((HANDLE)t->handle); }

int hw_fork_hooks(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	(void)prepare, (void)parent, (void)child;
	return 0; /* T4 */
}

int hw_thread_key_create(hw_thread_key *k, void (*fn)(void *value))
{
	/* x86-64 Windows has one calling convention: a PFLS_CALLBACK_FUNCTION
	 * (void WINAPI (void *)) is called exactly as fn expects. */
	DWORD i = FlsAlloc((PFLS_CALLBACK_FUNCTION)(void (*)(void))fn);
	if (i == FLS_OUT_OF_INDEXES)
		return EAGAIN;
	k->key = (unsigned)i;
	return 0;
}

int hw_thread_key_set(hw_thread_key k, void *value)
{
	return FlsSetValue((DWORD)k.key, value) ? 0 : ENOMEM;
}

uint64_t hw_now_ns(void)
{
	/* The frequency is fixed at boot: threads that race to read it store
	 * the same value. */
	static uint64_t freq;
	uint64_t f = __atomic_load_n(&freq, __ATOMIC_RELAXED);
	if (f == 0) {
		LARGE_INTEGER q;
		QueryPerformanceFrequency(&q);
		f = (uint64_t)q.QuadPart;
		__atomic_store_n(&freq, f, __ATOMIC_RELAXED);
	}
	LARGE_INTEGER now;
	QueryPerformanceCounter(&now);
	uint64_t c = (uint64_t)now.QuadPart;
	return c / f * 1000000000u + c % f * 1000000000u / f;
}

/* Kernel plus user time of who, from get (GetThreadTimes or
 * GetProcessTimes, which take the same arguments); name is get's, for the
 * fatal message. */
static uint64_t cpu_ns(BOOL(WINAPI *get)(HANDLE, LPFILETIME, LPFILETIME, LPFILETIME, LPFILETIME),
		       HANDLE who, const char *name)
{
	FILETIME created, exited, kernel, user;
	if (!get(who, &created, &exited, &kernel, &user))
		hw_fatal("heapward: thread: %s failed: error %lu", name,
			 (unsigned long)GetLastError());
	uint64_t k = (uint64_t)kernel.dwHighDateTime << 32 | kernel.dwLowDateTime;
	uint64_t u = (uint64_t)user.dwHighDateTime << 32 | user.dwLowDateTime;
	return (k + u) * 100; /* 100 ns units */
}

uint64_t hw_thread_cpu_ns(void)
{
	return cpu_ns(GetThreadTimes, GetCurrentThread(), "GetThreadTimes");
}

uint64_t hw_process_cpu_ns(void)
{
	return cpu_ns(GetProcessTimes, GetCurrentProcess(), "GetProcessTimes");
}

void hw_sleep_ns(uint64_t ns)
{
	uint64_t ms = (ns + 999999) / 1000000;
	while (ms > 0) {
		DWORD step = ms > 0x7fffffffu ? 0x7fffffffu : (DWORD)ms;
		Sleep(step);
		ms -= step;
	}
}

unsigned hw_cpu_count(void)
{
	DWORD c = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
	return c > 0 && c < 65536 ? (unsigned)c : 1;
}

unsigned hw_cpu_current(void) { return (unsigned)GetCurrentProcessorNumber(); }

/* T10: the C runtime's locks do not depend on the thread count. */
bool hw_process_single_threaded(void) { return false; }

/* T11. */
bool hw_process_others_gone(void)
{
	int saved = errno;
	DWORD saved_win = GetLastError();
	HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
	unsigned mine = 0;
	if (snap != INVALID_HANDLE_VALUE) {
		THREADENTRY32 te;
		te.dwSize = sizeof te;
		DWORD pid = GetCurrentProcessId();
		for (BOOL more = Thread32First(snap, &te); more && mine < 2;
		     more = Thread32Next(snap, &te))
			mine += te.th32OwnerProcessID == pid;
		CloseHandle(snap);
	}
	SetLastError(saved_win);
	errno = saved;
	return mine == 1;
}

/* T11: an ended thread leaves no trace a stop could wait on. */
bool hw_process_main_ended(void) { return false; }

bool hw_process_barrier_ready(void) { return true; }

bool hw_process_barrier(void)
{
	FlushProcessWriteBuffers();
	return true;
}

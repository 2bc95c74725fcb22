/* thread.h: the few thread, lock, fork and clock primitives the heap needs.
 *
 * Owns: hw_mutex (a plain, non-recursive lock, statically initialisable),
 * hw_thread (one joinable thread), the process's fork hooks, thread-local
 * storage that never allocates (HW_THREAD_LOCAL) and a per-thread exit hook
 * (hw_thread_key), a monotonic clock and sleeping. POSIX implementation in
 * thread_posix.c, Windows one in thread_windows.c.
 *
 * Invariants:
 *   T1. hw_mutex_init cannot fail, and HW_MUTEX_INIT is the same state as a
 *       lock hw_mutex_init made (static initialisation semantics).
 *   T2. hw_now_ns is monotonic and never goes back.
 *   T3. A lock or unlock error (EDEADLK, EPERM, EINVAL) is a caller bug and
 *       aborts with "heapward: thread: <call> failed: errno <e>".
 *   T4. Fork hooks run around every fork() of the process, in the order
 *       pthread_atfork gives: prepare in the forking thread before the fork;
 *       parent and child after it, in the parent and in the (single-threaded)
 *       child. A lock taken in prepare is released by the parent hook and by
 *       the child hook, each in its own process. Windows has no fork: there
 *       hw_fork_hooks registers nothing and succeeds (no hook ever runs).
 *   T5. hw_mutex_held(m) is true exactly in the thread that last locked m
 *       and has not unlocked it (the *_locked functions assert it): each
 *       lock remembers its holder.
 *   T13. hw_mutex_lock by the thread that holds m already never waits for
 *       ever: it aborts with "heapward: a lock of the allocator is taken
 *       again by the thread that holds it: ...". That thread's only way
 *       back into the allocator is a signal handler that interrupted it
 *       (malloc and free are not async-signal-safe), which would
 *       otherwise hang the process in silence. (A handler that runs
 *       between the lock and the holder's record, or between the record's
 *       clearing and the unlock, a few instructions, still waits.)
 *
 *   T6. An HW_THREAD_LOCAL variable is in the initial-exec TLS model: an
 *       access is a fixed offset from the thread pointer and never calls
 *       __tls_get_addr, which may allocate (with malloc). Windows (mingw-w64
 *       gcc) has emulated TLS only: a thread's first access to a variable
 *       allocates its block with the C runtime's malloc, which is never
 *       heapward's there (no library defines malloc on Windows).
 *   T7. A thread-exit hook runs in the exiting thread, once per destructor
 *       round in which the thread's value is non-NULL; the value is reset
 *       to NULL before each call, so the hook runs again in the next round
 *       only if it sets the value again. There are HW_THREAD_EXIT_ROUNDS
 *       rounds at most (one on Windows, whose fiber-local storage calls
 *       each callback once).
 *   T9. hw_process_barrier, when it returns true, has made every thread
 *       of the process pass a full memory barrier between the call's start
 *       and its return: a store a thread made before that point is visible
 *       to the caller after the call, and a load it makes after that point
 *       sees every store the caller made before the call. So a thread that
 *       pairs a plain store with a later plain load (only a compiler
 *       barrier between them) and the caller that pairs a store, the
 *       barrier and a load form a Dekker handshake: at least one of them
 *       sees the other's store. It returns false, having done nothing,
 *       where the system has no such service (Linux before 4.14, a seccomp
 *       filter, a system other than Linux and Windows); the answer never
 *       changes within a process.
 *   T10. hw_process_single_threaded is true only while the C library still
 *       treats the process as single-threaded and skips the atomic
 *       instructions of its locks and stdio for it (glibc from 2.32, as
 *       libstdc++ does in its reference counts): a thread this library
 *       starts ends that for the rest of the process. False wherever the
 *       C library does not say (Windows, other C libraries), and once the
 *       process has had a second thread.
 *   T11. hw_process_others_gone is true only when every thread of the
 *       process but the caller has ended, the main thread included, so the
 *       process ends when the caller does (glibc and musl call exit(0) when
 *       their last thread returns; Windows ends a process with its last
 *       thread). hw_process_main_ended is true only when the main thread
 *       has ended (pthread_exit) while the process lives on: Linux keeps
 *       it listed among the process's threads, where it can answer
 *       nothing. Both are false when the system cannot say (Linux without
 *       /proc, other POSIX systems); on Windows an ended thread is listed
 *       nowhere, so the second is always false. Threads a runtime starts
 *       without the C library count too (ThreadSanitizer's background
 *       thread): under it no thread is ever the last.
 *   T12. A thread hw_thread_start makes runs with every signal blocked but
 *       the synchronous ones (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP,
 *       SIGSYS: a fault of its own must reach a handler, not kill the
 *       process unseen) and the world stop's (stop.h HW_STOP_SIGNAL),
 *       whatever the mask of the thread that started it. A signal sent to
 *       the process goes to a thread that does not block it: a thread of
 *       this library must never be that thread, or a program that blocks
 *       SIGALRM or SIGTERM to take it with sigwait or signalfd would be
 *       killed by its default action in ours, or have its handler run
 *       there. The starting thread's mask is the same after the call.
 *
 * Locking: these are the locks; nothing here holds one across calls.
 */
#ifndef HW_THREAD_H
#define HW_THREAD_H

#include "base.h"

#include <stdint.h>

#include <limits.h>
#ifndef _WIN32
#include <pthread.h>
#endif

#ifdef _WIN32
/* T6: emulated TLS (no model to choose). */
#define HW_THREAD_LOCAL __thread
/* hw_thread_cpu_ns counts whole clock ticks (GetThreadTimes): 15.6 ms by
 * default on Windows, 10 ms under Wine. */
#define HW_THREAD_CPU_RESOLUTION_NS 16000000u
/* T11's poll: a thread snapshot walks every thread of the system, so a
 * poller asks once a second. */
#define HW_PROCESS_ALONE_POLL_NS 1000000000ull
/* T7: fiber-local storage runs each exit callback once. */
#define HW_THREAD_EXIT_ROUNDS 1

/* An SRW lock (one pointer, all-zero when unlocked: SRWLOCK_INIT), kept
 * opaque so that no layer above includes <windows.h>, and its holder's
 * thread id (0: none; T5, T13). */
typedef struct hw_mutex {
	void *srw;
	unsigned long owner;
} hw_mutex;

#define HW_MUTEX_INIT   \
	{               \
		NULL, 0 \
	}
#else
/* T6. The initial-exec model also holds in a shared library that is linked
 * or preloaded (its TLS is static); a library dlopen'd later would draw on
 * the C library's small static TLS surplus, so keep such variables few and
 * small (a pointer). */
#define HW_THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

/* hw_thread_cpu_ns is clock_gettime(CLOCK_THREAD_CPUTIME_ID): exact to a
 * microsecond or better; 1 ms covers reading it. */
#define HW_THREAD_CPU_RESOLUTION_NS 1000000u
/* T11's poll: four system calls, so a poller may ask ten times a second. */
#define HW_PROCESS_ALONE_POLL_NS 100000000ull

/* T7: destructor rounds at thread exit (POSIX; 4 on glibc). */
#ifdef PTHREAD_DESTRUCTOR_ITERATIONS
#define HW_THREAD_EXIT_ROUNDS PTHREAD_DESTRUCTOR_ITERATIONS
#else
#define HW_THREAD_EXIT_ROUNDS 4
#endif

/* The lock remembers its holder (0: none; T5, T13). */
typedef struct hw_mutex {
	pthread_mutex_t m;
	pthread_t owner;
} hw_mutex;

/* T1: glibc's adaptive mutex spins a little before it sleeps. The layer's
 * critical sections are short, and with more threads than processors a
 * lock that sleeps at once costs each waiter two context switches (8
 * threads on 2 processors: 31781 switches in realprog.sh's cxx-mt run,
 * 3822 with this). */
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
#define HW_PTHREAD_MUTEX_INIT PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
#else
#define HW_PTHREAD_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
#endif

#define HW_MUTEX_INIT                               \
	{                                           \
		HW_PTHREAD_MUTEX_INIT, (pthread_t)0 \
	}
#endif

typedef struct hw_thread {
	uintptr_t handle;
} hw_thread;

void hw_mutex_init(hw_mutex *m);
void hw_mutex_destroy(hw_mutex *m);
void hw_mutex_lock(hw_mutex *m);
void hw_mutex_unlock(hw_mutex *m);
/* Takes m when it is free, at once; false (not taken) when any thread holds
 * it, the caller included. Never waits; usable from a signal handler whose
 * thread may hold m. */
bool hw_mutex_trylock(hw_mutex *m);
/* Whether the calling thread holds m (T5). */
bool hw_mutex_held(const hw_mutex *m);

/* Starts fn(arg) on a new thread, its signals blocked as T12 says; 0 or an
 * errno value. */
int hw_thread_start(hw_thread *t, void *(*fn)(void *), void *arg);
void hw_thread_join(hw_thread *t);
/* Lets t's resources go when it ends, without a join; t is not joined
 * after. The thread itself may call it on its own handle. */
void hw_thread_detach(hw_thread *t);

/* Registers hooks to run around fork() (T4); 0 or an errno value (ENOMEM).
 * Hooks cannot be removed: register once per process. */
int hw_fork_hooks(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* A per-thread value whose hook runs at the thread's exit (T7). */
typedef struct hw_thread_key {
	unsigned key;
} hw_thread_key;

/* Creates a key with exit hook fn; 0 or an errno value (EAGAIN). Create
 * keys early: glibc keeps the first 32 in the thread itself, and setting a
 * later key's value may allocate. */
int hw_thread_key_create(hw_thread_key *k, void (*fn)(void *value));
/* Sets the calling thread's value, arming (or, from fn, re-arming) the
 * hook; 0 or an errno value (ENOMEM). */
int hw_thread_key_set(hw_thread_key k, void *value);

/* The processors the system has (T8): at least 1. Not cheap (it may read
 * files): call it once. */
unsigned hw_cpu_count(void);
/* The processor the calling thread runs on now, below hw_cpu_count(), or
 * 0 when the system cannot say. A hint: the thread may move at once.
 * Cheap: no system call where the system offers one. */
unsigned hw_cpu_current(void);

/* T9: the process-wide barrier (Linux: membarrier's private expedited
 * command, registered at the first call; Windows:
 * FlushProcessWriteBuffers). hw_process_barrier_ready registers and says
 * whether hw_process_barrier works (call it at start-up: the first
 * registration takes a system call or two); hw_process_barrier is false
 * exactly when it is not. Either may be called from any thread. */
bool hw_process_barrier_ready(void);
bool hw_process_barrier(void);

/* T10: whether starting a thread now would make the C library's locks
 * atomic for the rest of the process. One load; any thread may call it. */
bool hw_process_single_threaded(void);

/* T11: whether the caller is the last thread of the process, and whether
 * the main thread has ended. Not cheap (Linux reads /proc/self/stat: four
 * system calls; Windows takes a thread snapshot): poll, at most once per
 * HW_PROCESS_ALONE_POLL_NS. Both keep errno. */
bool hw_process_others_gone(void);
bool hw_process_main_ended(void);

uint64_t hw_now_ns(void);
/* Thread CPU time, for pacing by CPU budget; it may be off by up to
 * HW_THREAD_CPU_RESOLUTION_NS either way. */
uint64_t hw_thread_cpu_ns(void);
/* The CPU time of the whole process (every thread, live or gone), with the
 * same resolution. */
uint64_t hw_process_cpu_ns(void);
void hw_sleep_ns(uint64_t ns);

#endif

/* thread.h: the few thread, lock, fork and clock primitives the heap needs.
 *
 * Owns: hw_mutex (a plain, non-recursive lock, statically initialisable),
 * hw_thread (one joinable thread), the process's fork hooks, a monotonic
 * clock and sleeping. POSIX implementation in thread_posix.c; a Windows one
 * belongs beside it.
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
 *       the child hook, each in its own process.
 *
 * Locking: these are the locks; nothing here holds one across calls.
 */
#ifndef HW_THREAD_H
#define HW_THREAD_H

#include <stdint.h>

#include <pthread.h>

typedef struct hw_mutex {
	pthread_mutex_t m;
} hw_mutex;

#define HW_MUTEX_INIT                     \
	{                                 \
		PTHREAD_MUTEX_INITIALIZER \
	}

typedef struct hw_thread {
	uintptr_t handle;
} hw_thread;

void hw_mutex_init(hw_mutex *m);
void hw_mutex_destroy(hw_mutex *m);
void hw_mutex_lock(hw_mutex *m);
void hw_mutex_unlock(hw_mutex *m);

/* Starts fn(arg) on a new thread; 0 or an errno value. */
int hw_thread_start(hw_thread *t, void *(*fn)(void *), void *arg);
void hw_thread_join(hw_thread *t);

/* Registers hooks to run around fork() (T4); 0 or an errno value (ENOMEM).
 * Hooks cannot be removed: register once per process. */
int hw_fork_hooks(void (*prepare)(void), void (*parent)(void), void (*child)(void));

uint64_t hw_now_ns(void);
/* Thread CPU time, for pacing by CPU budget. */
uint64_t hw_thread_cpu_ns(void);
void hw_sleep_ns(uint64_t ns);

#endif

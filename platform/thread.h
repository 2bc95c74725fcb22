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
 *   T5. Under HW_DEBUG, hw_mutex_held(m) is true exactly in the thread that
 *       last locked m and has not unlocked it (the *_locked functions
 *       assert it).
 *
 * Locking: these are the locks; nothing here holds one across calls.
 */
#ifndef HW_THREAD_H
#define HW_THREAD_H

#include "base.h"

#include <stdint.h>

#include <pthread.h>

/* Under HW_DEBUG the lock remembers its holder, for hw_mutex_held. */
typedef struct hw_mutex {
	pthread_mutex_t m;
#if HW_DEBUG
	pthread_t owner;
	bool held;
#endif
} hw_mutex;

/* clang-format off */
#if HW_DEBUG
#define HW_MUTEX_INIT {PTHREAD_MUTEX_INITIALIZER, (pthread_t)0, false}
#else
#define HW_MUTEX_INIT {PTHREAD_MUTEX_INITIALIZER}
#endif
/* clang-format on */

typedef struct hw_thread {
	uintptr_t handle;
} hw_thread;

void hw_mutex_init(hw_mutex *m);
void hw_mutex_destroy(hw_mutex *m);
void hw_mutex_lock(hw_mutex *m);
void hw_mutex_unlock(hw_mutex *m);
/* Whether the calling thread holds m (T5); only meaningful under HW_DEBUG,
 * where HW_ASSERT uses it: without HW_DEBUG it returns true. */
bool hw_mutex_held(const hw_mutex *m);

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

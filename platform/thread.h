/* thread.h: the few thread, lock and clock primitives the heap needs.
 *
 * Owns: hw_mutex (a plain, non-recursive lock), hw_thread (one joinable
 * thread), a monotonic clock and sleeping. POSIX implementation in
 * thread_posix.c; a Windows one belongs beside it.
 *
 * Invariants:
 *   T1. hw_mutex_init cannot fail (static initialisation semantics).
 *   T2. hw_now_ns is monotonic and never goes back.
 *
 * Locking: these are the locks.
 */
#ifndef HW_THREAD_H
#define HW_THREAD_H

#include <stdint.h>

typedef struct hw_mutex {
	/* Large enough for pthread_mutex_t on every supported ABI. */
	_Alignas(8) unsigned char opaque[64];
} hw_mutex;

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

uint64_t hw_now_ns(void);
/* Thread CPU time, for pacing by CPU budget. */
uint64_t hw_thread_cpu_ns(void);
void hw_sleep_ns(uint64_t ns);

#endif

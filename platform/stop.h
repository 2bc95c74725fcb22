/* stop.h: stopping every other thread of the process, so the leak check
 * sees memory that does not change under it and each thread's registers.
 *
 * Owns: listing the process's threads, stopping them with a signal whose
 * handler records the thread's registers, stack pointer and thread pointer
 * and then waits, and letting them go; copying this process's memory
 * without faulting (SW7). POSIX (Linux) implementation in stop_posix.c,
 * Windows in stop_windows.c; hw_world_read's search for the first page
 * that cannot be read, the same on both, over their hw_world_copy, in
 * stop.c.
 *
 * The signal is HW_STOP_SIGNAL (SIGPWR on Linux, as the Boehm collector
 * uses; LeakSanitizer uses ptrace instead, which fails under a debugger or
 * strace). A thread that blocks it is stopped by a tracer instead (SW6);
 * one that neither answers within the timeout nor can be traced is
 * reported as not stopped: the caller decides what to scan for it.
 *
 * Invariants:
 *   SW1. The handler allocates nothing and takes no lock: it reads the
 *        interrupted context, writes its own slot, and waits on an atomic
 *        flag (a futex on Linux: no polling); errno is kept.
 *   SW2. Between hw_world_stop and hw_world_resume, every thread with
 *        stopped == true runs nothing but that handler's wait; after
 *        hw_world_resume returns, none is inside the handler any more
 *        (bounded wait) and the world structure may be reused or freed.
 *   SW3. The handler stays installed once a stop has happened (a late
 *        signal of ours, delivered after resume to a thread that had it
 *        blocked, must not kill the process by the signal's default
 *        action); a HW_STOP_SIGNAL that is not ours is passed to the
 *        handler that was there before (or its default action).
 *   SW4. At most one stop at a time per process (the caller serialises).
 *   SW5. The signal goes only to threads that would run its handler. A
 *        thread that blocks it, or waits for it with sigwait (whose set
 *        the kernel unblocks for the wait), is not sent it (blocked ==
 *        true) and is not waited for: it would take the whole timeout,
 *        and a signal-handling thread (sigwait, signalfd) would receive a
 *        signal the program never sent.
 *   SW6. Blocked threads are stopped by a tracer: a child process (a fork
 *        with one thread, no exit signal) attaches to each with ptrace
 *        (PTRACE_SEIZE, PTRACE_INTERRUPT), reads its registers and holds
 *        it until hw_world_resume, then detaches and ends; they count as
 *        stopped, with registers, stack pointer and thread pointer, as the
 *        signal's handler would have recorded them. Where tracing is
 *        refused (a debugger or strace already traces the process, Yama,
 *        seccomp, a process that is not dumpable) they stay not stopped.
 *        The interrupt ends a wait in sigtimedwait or sigwaitinfo with
 *        EINTR, as a debugger's attach does (sigwait retries it); other
 *        waits restart.
 *   SW7. hw_world_read never faults: memory that a thread the stop could
 *        not hold unmapped (its stack, its alternate signal stack, as it
 *        exits) or that traps (a guard region inside a writable mapping)
 *        is reported as not copied.
 *
 * Locking: the caller's (SW4).
 */
#ifndef HW_STOP_H
#define HW_STOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef _WIN32
#include <signal.h>
/* The stop's signal. Threads of this library keep it unblocked (thread.h
 * T12), so a stop reaches them too. */
#define HW_STOP_SIGNAL SIGPWR
#endif

#define HW_STOP_MAX_THREADS 4096
#define HW_STOP_NREGS 32

typedef struct hw_thread_state {
	int tid;
	bool stopped; /* answered in time, or traced: the fields below are valid */
	bool gone;    /* exited before the signal reached it (the main thread: before the stop) */
	bool blocked; /* would not take the signal (SW5): not sent it; stopped if traced (SW6) */
	unsigned nregs;
	uintptr_t sp, tp; /* stack pointer, thread pointer (TLS) */
	uintptr_t regs[HW_STOP_NREGS];
	int answered; /* private: set by the handler */
} hw_thread_state;

typedef struct hw_world {
	hw_thread_state self; /* the caller's own (stopped is true) */
	size_t n;             /* other threads listed, t[0..n) */
	size_t missed;        /* threads beyond HW_STOP_MAX_THREADS: not stopped */
	int release, inside;  /* private */
	int tracer;           /* private: SW6's child, or 0 */
	void *trace;          /* private: the page it shares */
	size_t trace_bytes;   /* private */
	hw_thread_state t[HW_STOP_MAX_THREADS];
} hw_world;

/* Stops every other thread (SW2), waiting at most timeout_ms for them to
 * answer. Returns 0, or -1 when the threads cannot be listed or the
 * handler cannot be installed (then w->n is 0 and nothing is stopped;
 * w->self is filled either way). */
int hw_world_stop(hw_world *w, unsigned timeout_ms);

/* The calling thread's thread pointer (the x86-64 FS base, AArch64's
 * TPIDR_EL0: where its control block and static TLS are); 0 where unknown. */
uintptr_t hw_thread_pointer(void);

/* Lets every stopped thread go (SW2). */
void hw_world_resume(hw_world *w);

/* Copies the n bytes at address src of this process to dst, as far as they
 * can be read (SW7): returns how many bytes from src on were copied, less
 * than n when the page after the last of them cannot be read; SIZE_MAX
 * when the OS refuses the copy itself (a sandbox without
 * process_vm_readv), for the caller to read directly. For the leak check,
 * whose roots may change under threads the stop could not hold. */
size_t hw_world_read(void *dst, uintptr_t src, size_t n);

/* The OS's copy behind hw_world_read, all or nothing: 0 when all n bytes
 * were copied, EFAULT when some byte cannot be read, another errno value
 * when the OS refuses the copy itself. Never faults. */
int hw_world_copy(void *dst, uintptr_t src, size_t n);

#endif

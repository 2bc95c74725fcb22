/* fault.h: a process-wide handler for memory faults (SIGSEGV, SIGBUS; on
 * Windows access violations) that lets the layers say what the faulting
 * address was before the process dies.
 *
 * Owns: installing the handler once, the chain of classifiers it calls (one
 * per rank: the malloc layer's objects, the page heap's pages, a last word
 * on any other fault), the alternate signal stacks it gives threads, and
 * handing every fault on to whatever would have handled it without this
 * handler. The install's bookkeeping and the chain are in fault.c; the
 * handler in fault_posix.c, or on Windows, a vectored exception handler,
 * in fault_windows.c (its comment says how each invariant holds there, and
 * where Windows differs).
 *
 * Invariants:
 *   FH1. The OS's handler is installed at most once per process. Each rank
 *        holds at most one classifier, set once: a later hw_fault_install
 *        with the same function and rank changes nothing and returns 0,
 *        with another function EBUSY.
 *   FH2. Classifiers are called only for faults the kernel raised (a bad
 *        access), never for a SIGSEGV or SIGBUS another process or raise()
 *        sent, at most once per delivery each, in rank order, until one
 *        returns true (it reported the fault).
 *   FH3. After the classifiers, the fault goes where it went before the
 *        install: to the previous handler when there was one (called with the
 *        same arguments, its sa_mask blocked, SA_RESETHAND honoured); else
 *        the default action is restored and the faulting access runs again,
 *        so the process dies of the same signal as it would have (a sent
 *        signal is raised again; a sent signal that was ignored stays so).
 *   FH4. The handler uses no malloc, no stdio and no lock; errno is kept.
 *   FH5. A thread's alternate stack (hw_fault_install's thread, and each
 *        thread that calls hw_fault_thread_start) is mapped from the OS,
 *        never malloc'd, with an inaccessible page below it; a thread that
 *        had one already keeps its own. hw_fault_thread_end unmaps only the
 *        stack this module gave the calling thread, and only while it is
 *        still the thread's and not in use (no handler running on it).
 *   FH6. Once the handler is installed, a disposition of SIGSEGV or SIGBUS
 *        that the program sets through hw_fault_sigaction (the override
 *        library's sigaction and signal) does not replace it: it becomes
 *        the program's disposition, the one FH3 passes faults on to, and
 *        what the program reads back; before the install, and for any
 *        other signal, hw_fault_sigaction is the C library's sigaction.
 *        So a program that installs a crash handler of its own (Python's
 *        faulthandler, a JVM, a crash reporter) still gets the report
 *        first, then its handler runs as it would have.
 *   FH7. A fault that repeats the one last passed to a handler of the
 *        program's (the same thread, address and instruction), when that
 *        handler left the default action in force (it reset the
 *        disposition and returned, so the access kills with its signal:
 *        Rust's runtime does this for every fault that is not a stack
 *        overflow), goes to the default action without the classifiers:
 *        it was reported the first time, and is not reported twice.
 *   FH8. A fault raised inside a handler of the program's that this
 *        handler called (FH3) for an earlier fault of the same thread, and
 *        that is still running on the thread's alternate stack, goes to the
 *        program's disposition without the classifiers: it is that
 *        handler's own doing, a crash reporter reading the memory around
 *        the first fault (the JVM's error log does so through SafeFetch,
 *        whose faults its handler recovers from), and the fault that
 *        started it has been classified. A handler that left by longjmp
 *        is off the alternate stack: the thread's later faults are
 *        classified again.
 *
 * Limits. A thread without an alternate stack (one that never called
 * hw_fault_thread_start) cannot run the handler on a stack overflow and
 * dies without a report, as before. A fault inside a classifier itself (a
 * fault while the signal is blocked) kills the process at once. A handler
 * installed other than through hw_fault_sigaction (the prefixed library,
 * which interposes nothing; a raw rt_sigaction system call, as the Go
 * runtime makes; a C library without a second name for sigaction; the
 * obsolete sigset and sysv_signal) replaces this one unless it chains too.
 * The program's handler runs on the alternate stack the fault came in on,
 * whatever its SA_ONSTACK says.
 *
 * Locking: the install is serialized by a lock of its own; the handler
 * reads only state written before its classifier was published (release
 * and acquire order).
 */
#ifndef HW_FAULT_H
#define HW_FAULT_H

#include <stdbool.h>
#include <stdint.h>

/* What the faulting instruction did, as the CPU says (x86-64's page-fault
 * error code; Windows' exception record); unknown elsewhere. */
typedef enum hw_fault_access {
	HW_FAULT_UNKNOWN = 0,
	HW_FAULT_READ,
	HW_FAULT_WRITE,
	HW_FAULT_EXEC,
} hw_fault_access;

/* One fault, as a classifier sees it. */
typedef struct hw_fault {
	uintptr_t addr;         /* the faulting address (si_addr) */
	const char *signal;     /* "SEGV" or "BUS"; on Windows the exception,
				   "ACCESS_VIOLATION" or "IN_PAGE_ERROR" */
	int code;               /* si_code (SEGV_MAPERR, SEGV_ACCERR, ...); 0 on Windows */
	hw_fault_access access; /* READ, WRITE, EXEC or UNKNOWN */
	uintptr_t pc, sp, fp;   /* the faulting context's registers; 0 when unknown */
	bool chained;           /* a previous handler gets the fault next (FH3),
				   or may (Windows: a __try block); false: it
				   kills the process */
} hw_fault;

/* Called from the signal handler: must be async-signal-safe (FH4). Returns
 * true when it reported the fault (the later ranks are then not asked). */
typedef bool (*hw_fault_fn)(const hw_fault *f);

/* The ranks, asked in this order: the most specific first. */
enum {
	HW_FAULT_RANK_OBJECTS, /* the malloc layer: its objects and heap window */
	HW_FAULT_RANK_PAGES,   /* the page heaps (hw_fault_reports_enable) */
	HW_FAULT_RANK_ANY,     /* any other fault (the debug mode's last word) */
	HW_FAULT_RANKS
};

/* Sets fn as the classifier of rank, and installs the SIGSEGV and SIGBUS
 * handler on the first call, which calls the classifiers for each fault
 * and then passes it on (FH3). Each call that sets a rank gives the
 * calling thread an alternate stack (FH5). Returns 0, EBUSY when rank has
 * another function, EINVAL for a rank out of range or a NULL fn, ENOMEM
 * when the alternate stack cannot be mapped, or sigaction's errno; on an
 * error nothing is installed. */
int hw_fault_install(hw_fault_fn fn, unsigned rank);

/* Gives the calling thread an alternate signal stack unless it has one
 * (FH5), so a stack overflow in it reaches the handler. 0 or an errno
 * value (ENOMEM). No-op on Windows (no alternate stacks there). */
int hw_fault_thread_start(void);

/* Unmaps the alternate stack hw_fault_thread_start or hw_fault_install
 * gave the calling thread, when it is still the thread's and not in use
 * (FH5); for the thread's exit. */
void hw_fault_thread_end(void);

struct sigaction;
/* FH6: sigaction(2) as the program sees it, for the override library's
 * sigaction and signal (POSIX only): for SIGSEGV and SIGBUS once the
 * handler is installed, reads and sets the program's disposition (old and
 * act may each be NULL) and returns 0; otherwise the C library's
 * sigaction, with its result and errno. Async-signal-safe, as
 * sigaction is. */
int hw_fault_sigaction(int signo, const struct sigaction *act, struct sigaction *old);

/* FH6: signal(3) as the program sees it, for the override library's
 * signal (POSIX only): for SIGSEGV and SIGBUS, glibc's semantics (BSD's:
 * the signal blocked while the handler runs, SA_RESTART) through
 * hw_fault_sigaction, returning the previous handler, or SIG_ERR with
 * errno EINVAL for a handler of SIG_ERR; for any other signal the C
 * library's own (glibc's bsd_signal, the same function, so siginterrupt's
 * choices still hold). */
typedef void (*hw_signal_fn)(int);
hw_signal_fn hw_fault_signal(int signo, hw_signal_fn handler);

/* Between fault.c, which keeps the install's bookkeeping (FH1) and the
 * chain, and the OS's half (fault_posix.c, fault_windows.c). */

/* Installs the OS's handler, once, with the install lock held and the
 * first classifier already published; 0 or an errno value, with nothing
 * installed. */
int hw_fault_os_install(void);

/* Asks the classifiers about f, in rank order, until one reports (FH2);
 * whether one did. For the handler: lock-free, acquire order. */
bool hw_fault_classify(const hw_fault *f);

#endif

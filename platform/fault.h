/* fault.h: a process-wide handler for memory faults (SIGSEGV, SIGBUS; on
 * Windows access violations) that lets the heap say what the faulting
 * address was before the process dies.
 *
 * Owns: installing the handler once, the alternate signal stack it gives the
 * installing thread, and handing every fault on to whatever would have
 * handled it without this handler. The install's bookkeeping is in fault.c;
 * the handler in fault_posix.c, or on Windows, a vectored exception handler,
 * in fault_windows.c (its comment says how each invariant holds there, and
 * where Windows differs).
 *
 * Invariants:
 *   FH1. Installed at most once per process; a later hw_fault_install with
 *        the same function changes nothing and returns 0.
 *   FH2. The classifier is called only for faults the kernel raised (a bad
 *        access), never for a SIGSEGV or SIGBUS another process or raise()
 *        sent, and at most once per delivery.
 *   FH3. After the classifier, the fault goes where it went before the
 *        install: to the previous handler when there was one (called with the
 *        same arguments, its sa_mask blocked, SA_RESETHAND honoured); else
 *        the default action is restored and the faulting access runs again,
 *        so the process dies of the same signal as it would have (a sent
 *        signal is raised again; a sent signal that was ignored stays so).
 *   FH4. The handler uses no malloc, no stdio and no lock; errno is kept.
 *
 * Limits. Only the installing thread gets an alternate stack (64 KiB from
 * mmap, with a guard page below it), unless it had one: a stack overflow
 * in another thread cannot run the handler and dies without the report, as
 * before. A fault inside the classifier itself (a fault while the signal is
 * blocked) kills the process at once. Installing another handler after this
 * one replaces it unless that handler chains too.
 *
 * Locking: the install is serialized by a lock of its own; the handler
 * reads only state written before the handler was installed.
 */
#ifndef HW_FAULT_H
#define HW_FAULT_H

#include <stdint.h>

/* One fault, as the classifier sees it. */
typedef struct hw_fault {
	uintptr_t addr;     /* the faulting address (si_addr) */
	const char *signal; /* "SEGV" or "BUS"; on Windows the exception,
			       "ACCESS_VIOLATION" or "IN_PAGE_ERROR" */
} hw_fault;

/* Called from the signal handler: must be async-signal-safe (FH4). */
typedef void (*hw_fault_fn)(const hw_fault *f);

/* Installs the SIGSEGV and SIGBUS handler that calls fn for each fault and
 * then passes the fault on (FH3). Returns 0, EBUSY when already installed
 * with another function, ENOMEM when the alternate stack cannot be mapped,
 * or sigaction's errno; on an error nothing is installed. */
int hw_fault_install(hw_fault_fn fn);

/* Between fault.c, which keeps the install's bookkeeping (FH1), and the
 * OS's half (fault_posix.c, fault_windows.c). */

/* Installs the OS's handler, once, with the install lock held and the
 * classifier already stored; 0 or an errno value, with nothing installed. */
int hw_fault_os_install(void);

/* The installed classifier (NULL before an install), for the handler:
 * loaded with acquire order, so what was stored before it is seen. */
hw_fault_fn hw_fault_classifier(void);

#endif

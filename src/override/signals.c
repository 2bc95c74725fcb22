/* signals.c: sigaction and signal by their standard names, so that a
 * program's own handler for SIGSEGV or SIGBUS goes behind heapward's fault
 * handler instead of replacing it (platform/fault.h FH6).
 *
 * Why: in the debug mode a heap overflow or a use after free is a fault,
 * and the report is the fault handler's. A program that installs a crash
 * handler after start-up (Python's faulthandler, which pytest turns on; a
 * JVM; a crash reporter) took every fault first: the report was lost, and
 * the process died of a "Segmentation fault" with the program's own
 * message. Now the report comes first and the program's handler runs
 * after it, as it would have without heapward; the program reads back
 * the dispositions it set, never heapward's.
 *
 * Owns: sigaction and signal (exports.map). Built only where the OS layer
 * reaches the C library's sigaction by a name of its own
 * (HW_LIBC_SIGACTION, platform/CMakeLists.txt), so that no call loops back
 * here.
 *
 * Invariants:
 *   SN1. sigaction is hw_fault_sigaction: the C library's for every signal
 *        but SIGSEGV and SIGBUS, and for those until the fault handler is
 *        installed (the debug mode's start); then the program's own
 *        disposition of them, read and set without a system call.
 *   SN2. signal is hw_fault_signal: the C library's semantics (glibc's,
 *        BSD's), for SIGSEGV and SIGBUS through hw_fault_sigaction, for
 *        any other signal the C library's own.
 *   SN3. Neither calls an exported name of this library (override.c OV6).
 *
 * Locking: none here (platform/fault_posix.c FH6).
 */
#include "fault.h"

#include <signal.h>

#define SN_EXPORT __attribute__((visibility("default")))

/* SN1. */
SN_EXPORT int sigaction(int signo, const struct sigaction *act, struct sigaction *old)
{
	return hw_fault_sigaction(signo, act, old);
}

/* SN2. */
SN_EXPORT __sighandler_t signal(int signo, __sighandler_t handler)
{
	return hw_fault_signal(signo, handler);
}

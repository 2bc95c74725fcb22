/* fault_windows.c: the memory-fault handler of fault.h on Windows.
 *
 * Owns: the vectored exception handler this file adds (first in the chain;
 * fault.c keeps the classifier it calls and the install lock).
 *
 * Invariants (fault.h's, and how they hold here):
 *   FH1. hw_fault_os_install succeeds once the handler is added; it is never
 *        removed.
 *   FH2. The classifier runs for EXCEPTION_ACCESS_VIOLATION and
 *        EXCEPTION_IN_PAGE_ERROR records that carry the address (two
 *        parameters), with signal "ACCESS_VIOLATION" or "IN_PAGE_ERROR".
 *        Windows does not mark an exception a program raised with
 *        RaiseException apart from one the processor raised: such a record
 *        with those codes is classified too.
 *   FH3. The handler always returns EXCEPTION_CONTINUE_SEARCH: the exception
 *        goes on to the other vectored handlers, the frame-based (__try)
 *        handlers and finally the unhandled-exception filter, exactly as
 *        without it, and an unhandled access violation ends the process with
 *        exit code 0xC0000005.
 *   FH4. The handler uses no malloc, no stdio and no lock; errno and the
 *        thread's last error are kept.
 *   FH5. No alternate stacks: hw_fault_thread_start and hw_fault_thread_end
 *        do nothing.
 *   FH8. Holds trivially: the handler never calls the program's handlers
 *        (Windows calls them after it returns), so no fault is raised
 *        inside one that this handler called.
 *
 * The context. The access is ExceptionInformation[0] (0 read, 1 write, 8
 * execute: a data-execution-prevention fault); code is 0; pc, sp and frame
 * pointer are the context record's Rip, Rsp and Rbp (x86-64). chained is
 * true: a vectored handler cannot know whether a __try block or a filter
 * will handle the exception (a deliberate probe), so classifiers that speak
 * only for faults that kill the process stay silent.
 *
 * Differences from POSIX. Vectored handlers run first, before any __try
 * block of the faulting code: a fault that such a block goes on to handle
 * (a deliberate probe) is classified all the same. The handler runs on the
 * faulting thread's own stack (Windows has no alternate stack; a stack
 * overflow, EXCEPTION_STACK_OVERFLOW, is not classified).
 *
 * Locking: fault.c's install lock is held by hw_fault_os_install. The
 * handler takes no lock (hw_fault_classify).
 */
#include "fault.h"

#include <errno.h>
#include <stddef.h>

#include <windows.h>

static LONG CALLBACK on_exception(EXCEPTION_POINTERS *ep)
{
	const EXCEPTION_RECORD *er = ep->ExceptionRecord;
	DWORD code = er->ExceptionCode;
	if ((code != EXCEPTION_ACCESS_VIOLATION && code != EXCEPTION_IN_PAGE_ERROR) ||
	    er->NumberParameters < 2)
		return EXCEPTION_CONTINUE_SEARCH;
	int saved = errno;
	DWORD last = GetLastError();
	ULONG_PTR how = er->ExceptionInformation[0];
	hw_fault f = {(uintptr_t)er->ExceptionInformation[1],
		      code == EXCEPTION_IN_PAGE_ERROR ? "IN_PAGE_ERROR" : "ACCESS_VIOLATION",
		      0,
		      how == 0   ? HW_FAULT_READ
		      : how == 1 ? HW_FAULT_WRITE
		      : how == 8 ? HW_FAULT_EXEC
				 : HW_FAULT_UNKNOWN,
		      0,
		      0,
		      0,
		      true};
#if defined(__x86_64__)
	if (ep->ContextRecord) {
		f.pc = (uintptr_t)ep->ContextRecord->Rip;
		f.sp = (uintptr_t)ep->ContextRecord->Rsp;
		f.fp = (uintptr_t)ep->ContextRecord->Rbp;
	}
#endif
	(void)hw_fault_classify(&f);
	SetLastError(last);
	errno = saved;
	return EXCEPTION_CONTINUE_SEARCH;
}

int hw_fault_os_install(void)
{
	return AddVectoredExceptionHandler(1, on_exception) != NULL ? 0 : ENOMEM;
}

int hw_fault_thread_start(void) { return 0; }

void hw_fault_thread_end(void) {}

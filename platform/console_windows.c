/* console_windows.c: the process's error output and abort, on Windows.
 *
 * Owns: hw_console_write and hw_process_abort, the two OS services the base
 * floor declares (src/base/base.h) for report lines and fatal errors.
 *
 * Invariants (console_posix.c's N1 and N2, and how they hold here):
 *   N1. hw_console_write makes only WriteFile calls on the standard error
 *       handle: no allocation and no stdio (the C runtime's stderr is
 *       unbuffered, so lines of both interleave whole), so a fault handler
 *       may call it; partial writes are retried, an error or a missing
 *       handle drops the rest; errno and the thread's last error are as the
 *       caller had them.
 *   N2. hw_process_abort raises SIGABRT, so a handler the program installed
 *       runs as it would under abort(), then ends the process with exit code
 *       3, abort()'s, whatever that handler did; without abort()'s "abnormal
 *       program termination" message, which the report has already said.
 *
 * Locking: none; concurrent lines may interleave only at WriteFile bounds.
 */
#include "base.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include <windows.h>

void hw_console_write(const char *buf, size_t n)
{
	int saved = errno;
	DWORD last = GetLastError();
	HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
	while (n > 0 && h != NULL && h != INVALID_HANDLE_VALUE) {
		DWORD chunk = n > 0x40000000u ? 0x40000000u : (DWORD)n, w = 0;
		if (!WriteFile(h, buf, chunk, &w, NULL) || w == 0)
			break;
		buf += w;
		n -= w;
	}
	SetLastError(last);
	errno = saved;
}

void hw_process_abort(void)
{
	raise(SIGABRT);
	_exit(3);
}

/* console_windows.c: the process's error output, its log file and abort, on
 * Windows.
 *
 * Owns: hw_console_write and hw_process_abort, the two OS services the base
 * floor declares (src/base/base.h) for report lines and fatal errors, and
 * the log file, process id and exit of console.h.
 *
 * Invariants (console_posix.c's N1-N4 and console.h's CN1-CN4, and how they
 * hold here):
 *   N1. hw_console_write makes only WriteFile calls on the standard error
 *       handle, the kept copy (CN4) or the log file (CN1, which it may
 *       open: CreateFileA): no allocation and no stdio (the C runtime's
 *       stderr is unbuffered, so lines of both interleave whole), so a
 *       fault handler may call it; partial writes are retried, an error or
 *       a missing handle drops the rest; errno and the thread's last error
 *       are as the caller had them.
 *   N2. hw_process_abort raises SIGABRT, so a handler the program installed
 *       runs as it would under abort(), then ends the process with exit code
 *       3, abort()'s, whatever that handler did; without abort()'s "abnormal
 *       program termination" message, which the report has already said.
 *   N3. The log file is opened for each line and closed after it, as on
 *       POSIX (CN1); a file that would not open is remembered in one
 *       atomic flag, reset by a new prefix (there is no fork: CN1's file
 *       per process holds by the process id in its name).
 *   N4. The kept copy (CN4) is a duplicate of the standard error handle,
 *       not inheritable. It is used when the standard error handle is gone
 *       (the C runtime's _close(2) sets it to NULL) or a write to it fails
 *       with ERROR_INVALID_HANDLE; a program cannot close the copy without
 *       knowing its value.
 *   CN3. hw_process_exit flushes the C runtime's streams, then _exit.
 *   CN5. hw_process_on_exit_last has no hook here (the C runtime runs
 *        atexit handlers before the DLLs' detach, in no order across
 *        modules a caller could rely on): it returns false.
 *
 * Locking: none; concurrent lines may interleave only at WriteFile bounds.
 */
#include "console.h"

#include "base.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>

static char log_prefix[HW_LOG_PREFIX_MAX];
static int log_failed;     /* atomic: the log file would not open (N3) */
static HANDLE kept_handle; /* NULL: none (N4) */

static bool handle_is_open(HANDLE h) { return h != NULL && h != INVALID_HANDLE_VALUE; }

/* Writes the n bytes to h: true, or false when a write failed (the
 * thread's last error says why) or h is not open. */
static bool write_handle(HANDLE h, const char *buf, size_t n)
{
	if (!handle_is_open(h)) {
		SetLastError(ERROR_INVALID_HANDLE);
		return false;
	}
	while (n > 0) {
		DWORD chunk = n > 0x40000000u ? 0x40000000u : (DWORD)n, w = 0;
		if (!WriteFile(h, buf, chunk, &w, NULL) || w == 0)
			return false;
		buf += w;
		n -= w;
	}
	return true;
}

/* Where a line goes (CN1): standard error, or the log file opened for
 * that line (the caller closes it), or standard error again when the file
 * cannot be opened (said once, N3). */
static HANDLE console_handle(void)
{
	HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
	if (!log_prefix[0] || __atomic_load_n(&log_failed, __ATOMIC_ACQUIRE))
		return err;
	char path[HW_LOG_PREFIX_MAX + 24];
	hw_report_format(path, sizeof path, "%s.%lu", log_prefix,
			 (unsigned long)GetCurrentProcessId());
	HANDLE h = CreateFileA(path, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
			       OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
	if (h != INVALID_HANDLE_VALUE)
		return h;
	if (!__atomic_exchange_n(&log_failed, 1, __ATOMIC_ACQ_REL)) {
		char line[HW_LOG_PREFIX_MAX + 96];
		size_t n = hw_report_format(line, sizeof line,
					    "heapward: cannot open log_path file %s (error %lu): "
					    "reports go to standard error\n",
					    path, (unsigned long)GetLastError());
		(void)write_handle(err, line, n);
	}
	return err;
}

void hw_console_write(const char *buf, size_t n)
{
	int saved = errno;
	DWORD last = GetLastError();
	HANDLE h = console_handle();
	HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
	if (!write_handle(h, buf, n) && GetLastError() == ERROR_INVALID_HANDLE && h == err &&
	    kept_handle != NULL)
		(void)write_handle(kept_handle, buf, n);
	if (h != err)
		CloseHandle(h);
	SetLastError(last);
	errno = saved;
}

/* No override library here: the copy is taken at once. */
void hw_console_keep_at_close(void) { hw_console_keep(); }

void hw_console_keep(void)
{
	HANDLE err = GetStdHandle(STD_ERROR_HANDLE), copy = NULL;
	if (!handle_is_open(err) || !DuplicateHandle(GetCurrentProcess(), err,
						     GetCurrentProcess(), &copy, 0, FALSE,
						     DUPLICATE_SAME_ACCESS))
		return;
	HANDLE old = kept_handle;
	kept_handle = copy;
	if (old != NULL)
		CloseHandle(old);
}

bool hw_console_log_path(const char *prefix)
{
	size_t n = strlen(prefix);
	if (n >= sizeof log_prefix)
		return false;
	memcpy(log_prefix, prefix, n + 1);
	__atomic_store_n(&log_failed, 0, __ATOMIC_RELEASE);
	return true;
}

void hw_process_abort(void)
{
	raise(SIGABRT);
	_exit(3);
}

int hw_process_id(void) { return (int)GetCurrentProcessId(); }

void hw_process_exit(int status)
{
	fflush(NULL);
	_exit(status);
}

bool hw_process_on_exit_last(void (*fn)(void))
{
	(void)fn;
	return false;
}

/* trap_windows.c: probing whether a one-byte access traps, and running this
 * program again as a child that is expected to die, on Windows.
 *
 * Owns: the probe's two access routines (assembly, so their faulting
 * instructions and resume points have known addresses), the vectored
 * exception handler that resumes them, and the child runner.
 *
 * Invariants (trap.h's, and how they hold here):
 *   TP1. The probe's handler is added once, first in the chain, and never
 *        removed; it acts only on an access violation (or in-page error, or
 *        guard-page exception) whose instruction is one of the probe's, and
 *        returns EXCEPTION_CONTINUE_SEARCH for every other exception.
 *   TP2. The read routine is one byte load; the write routine loads and
 *        stores the same byte. On a fault the handler sets the routine's
 *        return value (rax) to TRAPPED | kind and resumes at its `ret`.
 *   TP3. hw_trap_rerun waits for the child and closes every handle it made.
 *   TP4. Another thread's fault, or a fault elsewhere in this one, reaches
 *        the handlers after this one unchanged (TP1).
 *   TP5. Windows builds have no memory tool to hide the access from; the
 *        routines are assembly, invisible to any instrumentation.
 *
 * hw_trap_child needs fork, which Windows does not have: it returns ENOSYS.
 *
 * Locking: none; the handler reads only constant addresses and the
 * faulting thread's own context, so probes may run in several threads.
 */
#include "trap.h"

#include "base.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include <windows.h>

/* unsigned probe_read(volatile void *p): returns *p (rcx = p).
 * unsigned probe_write(volatile void *p): *p = *p, returns 0. */
__asm__(".text\n"
	".p2align 4\n"
	"hw_trap_read_fn:\n"
	"hw_trap_read_at:\n"
	"	movzbl (%rcx), %eax\n"
	"hw_trap_read_done:\n"
	"	ret\n"
	".p2align 4\n"
	"hw_trap_write_fn:\n"
	"hw_trap_write_load:\n"
	"	movzbl (%rcx), %edx\n"
	"hw_trap_write_store:\n"
	"	movb %dl, (%rcx)\n"
	"	xorl %eax, %eax\n"
	"hw_trap_write_done:\n"
	"	ret\n");

unsigned hw_trap_read_fn(volatile void *p) __asm__("hw_trap_read_fn");
unsigned hw_trap_write_fn(volatile void *p) __asm__("hw_trap_write_fn");
extern const char hw_trap_read_at[] __asm__("hw_trap_read_at");
extern const char hw_trap_read_done[] __asm__("hw_trap_read_done");
extern const char hw_trap_write_load[] __asm__("hw_trap_write_load");
extern const char hw_trap_write_store[] __asm__("hw_trap_write_store");
extern const char hw_trap_write_done[] __asm__("hw_trap_write_done");

/* A routine's return value when its access trapped: above any byte. */
#define TRAPPED 0x100u

static hw_trap_kind kind_of(const EXCEPTION_RECORD *er)
{
	if (er->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || er->NumberParameters < 2)
		return HW_TRAP_OTHER;
	MEMORY_BASIC_INFORMATION mi;
	const void *a = (const void *)er->ExceptionInformation[1];
	if (VirtualQuery(a, &mi, sizeof mi) != sizeof mi || mi.State == MEM_FREE)
		return HW_TRAP_MAPERR;
	return HW_TRAP_ACCERR;
}

static LONG CALLBACK probe_handler(EXCEPTION_POINTERS *ep)
{
	DWORD code = ep->ExceptionRecord->ExceptionCode;
	if (code != EXCEPTION_ACCESS_VIOLATION && code != EXCEPTION_IN_PAGE_ERROR &&
	    code != EXCEPTION_GUARD_PAGE)
		return EXCEPTION_CONTINUE_SEARCH;
	CONTEXT *cx = ep->ContextRecord;
	const char *at = (const char *)cx->Rip;
	const char *resume;
	if (at == hw_trap_read_at)
		resume = hw_trap_read_done;
	else if (at == hw_trap_write_load || at == hw_trap_write_store)
		resume = hw_trap_write_done;
	else
		return EXCEPTION_CONTINUE_SEARCH; /* TP4 */
	cx->Rax = TRAPPED | (unsigned)kind_of(ep->ExceptionRecord);
	cx->Rip = (DWORD64)(uintptr_t)resume;
	return EXCEPTION_CONTINUE_EXECUTION;
}

static INIT_ONCE handler_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK add_handler(INIT_ONCE *once, void *arg, void **ctx)
{
	(void)once, (void)arg, (void)ctx;
	return AddVectoredExceptionHandler(1, probe_handler) != NULL;
}

hw_trap_kind hw_trap_probe(volatile void *addr, bool write)
{
	if (!InitOnceExecuteOnce(&handler_once, add_handler, NULL, NULL))
		hw_fatal("heapward: trap: AddVectoredExceptionHandler failed");
	unsigned r = write ? hw_trap_write_fn(addr) : hw_trap_read_fn(addr);
	return r & TRAPPED ? (hw_trap_kind)(r & ~TRAPPED) : HW_TRAP_NONE;
}

int hw_trap_child(void (*fn)(void *arg), void *arg, char *err, size_t errlen,
		  hw_child_status *st)
{
	(void)fn, (void)arg, (void)st;
	if (errlen > 0)
		err[0] = '\0';
	return ENOSYS;
}

/* An unhandled exception in a child ends it with the exception's code, and
 * nothing else: no dialog, no debugger. */
static LONG CALLBACK die_quietly(EXCEPTION_POINTERS *ep)
{
	(void)ep;
	return EXCEPTION_EXECUTE_HANDLER;
}

void hw_trap_quiet_child(void)
{
	SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
	SetUnhandledExceptionFilter(die_quietly);
}

/* The child's command line: this program's path, quoted, then arg (which
 * must need no quoting). 0, or an errno value. */
static int command_line(const char *arg, wchar_t *cmd, size_t len)
{
	wchar_t path[MAX_PATH];
	DWORD n = GetModuleFileNameW(NULL, path, MAX_PATH);
	if (n == 0 || n >= MAX_PATH)
		return ENAMETOOLONG;
	size_t k = 0, alen = 0;
	while (arg[alen] != '\0')
		alen++;
	if (n + alen + 4 > len)
		return ENAMETOOLONG;
	cmd[k++] = L'"';
	for (DWORD i = 0; i < n; i++)
		cmd[k++] = path[i];
	cmd[k++] = L'"';
	cmd[k++] = L' ';
	for (size_t i = 0; i < alen; i++) {
		if (arg[i] == '"' || arg[i] == ' ' || (unsigned char)arg[i] > 0x7f)
			return EINVAL;
		cmd[k++] = (wchar_t)arg[i];
	}
	cmd[k] = L'\0';
	return 0;
}

/* Reads the pipe to its end, keeping what fits in err (NUL-terminated). */
static void drain(HANDLE rd, char *err, size_t errlen)
{
	size_t got = 0;
	for (;;) {
		char sink[256];
		char *dst = sink;
		DWORD room = sizeof sink, r = 0;
		if (errlen > 0 && got + 1 < errlen) {
			dst = err + got;
			room = (DWORD)(errlen - 1 - got > 0xffff ? 0xffff : errlen - 1 - got);
		}
		if (!ReadFile(rd, dst, room, &r, NULL) || r == 0)
			break;
		if (dst != sink)
			got += r;
	}
	if (errlen > 0)
		err[got] = '\0';
}

int hw_trap_rerun(const char *arg, char *err, size_t errlen, hw_child_status *st)
{
	wchar_t cmd[MAX_PATH + 128];
	int e = command_line(arg, cmd, sizeof cmd / sizeof cmd[0]);
	if (e != 0)
		return e;
	SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
	HANDLE rd, wr;
	if (!CreatePipe(&rd, &wr, &sa, 0))
		return EMFILE;
	SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
	/* Whatever the parent buffered is written before the child's output. */
	fflush(NULL);
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	ZeroMemory(&si, sizeof si);
	ZeroMemory(&pi, sizeof pi);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
	si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
	si.hStdError = wr;
	/* The child inherits the error mode: no crash dialog, no debugger
	 * started for its unhandled exception (the core file of POSIX). */
	UINT mode = SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
	BOOL ok = CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
	SetErrorMode(mode);
	CloseHandle(wr);
	if (!ok) {
		CloseHandle(rd);
		return ENOEXEC;
	}
	drain(rd, err, errlen);
	CloseHandle(rd);
	WaitForSingleObject(pi.hProcess, INFINITE);
	DWORD code = 0;
	GetExitCodeProcess(pi.hProcess, &code);
	CloseHandle(pi.hThread);
	CloseHandle(pi.hProcess);
	st->exit_code = (int)code;
	st->signo = code == (DWORD)EXCEPTION_ACCESS_VIOLATION ? SIGSEGV : code == 3 ? SIGABRT
										    : 0;
	return 0;
}

/* trap.h: probing whether an access to an address traps, without dying.
 *
 * Owns: a SIGSEGV/SIGBUS probe (sigsetjmp in the calling thread, with a
 * handler installed only for the duration of the probe) used by tests and the
 * fuzz targets to check that Reserved and faulted pages really trap, and which
 * mechanism reported it; and hw_trap_child, which runs code that is expected
 * to die (an abort with a fixed message) in a child process and captures its
 * stderr, so tests match the message without dying themselves, and
 * hw_trap_rerun, which does the same with a new run of the program.
 * POSIX implementation in trap.c; Windows one in trap_windows.c, where the probe
 * is a vectored exception handler that resumes after the probe's own
 * instruction, and there is no fork: hw_trap_child answers ENOSYS, and tests
 * whose children must die use hw_trap_rerun.
 *
 * Invariants:
 *   TP1. The previous signal dispositions are restored before return
 *        (Windows: the probe's handler, added once, acts only on a fault of
 *        the probe's own instructions and passes every other exception on).
 *   TP2. A probe that does not trap performs exactly one byte access (two,
 *        read then write of the same value, when write is true).
 *   TP3. hw_trap_child and hw_trap_rerun return only after the child has
 *        exited and been reaped; the parent's own file descriptors are
 *        untouched.
 *   TP4. A fault the probe did not cause goes to the previous handler.
 *   TP5. The probe's access is invisible to ASan and Memcheck (src/track.h):
 *        probing a page the heap marked dead is not a user error.
 *
 * Locking: the probe is not reentrant across threads (the handler state is
 * process-wide); callers probe from one thread at a time.
 */
#ifndef HW_TRAP_H
#define HW_TRAP_H

#include <stdbool.h>
#include <stddef.h>

/* On Windows an access violation at a free address is MAPERR, at reserved
 * or inaccessible committed memory ACCERR (as VirtualQuery says when it
 * happens); any other exception (in-page error, guard page) is OTHER. */
typedef enum hw_trap_kind {
	HW_TRAP_NONE = 0,   /* the access completed */
	HW_TRAP_MAPERR = 1, /* SIGSEGV, SEGV_MAPERR (guard region, unmapped) */
	HW_TRAP_ACCERR = 2, /* SIGSEGV, SEGV_ACCERR (PROT_NONE) */
	HW_TRAP_OTHER = 3,  /* SIGBUS or another si_code */
} hw_trap_kind;

/* Reads (or writes, when write is true, storing the byte it read) one byte at
 * addr and reports whether and how it trapped. */
hw_trap_kind hw_trap_probe(volatile void *addr, bool write);

static inline const char *hw_trap_kind_name(hw_trap_kind k)
{
	switch (k) {
	case HW_TRAP_NONE:
		return "none";
	case HW_TRAP_MAPERR:
		return "SEGV_MAPERR";
	case HW_TRAP_ACCERR:
		return "SEGV_ACCERR";
	case HW_TRAP_OTHER:
		return "other";
	}
	return "?";
}

/* How a child run by hw_trap_child or hw_trap_rerun ended. On Windows a
 * process has only an exit code: an unhandled access violation
 * (0xC0000005) is reported as signo SIGSEGV, and exit code 3, the C
 * runtime's abort() and hw_process_abort's, as SIGABRT; exit_code keeps
 * the code in every case. */
typedef struct hw_child_status {
	int exit_code; /* exit status when signo == 0 */
	int signo;     /* the signal that killed the child, or 0 */
} hw_child_status;

/* Runs fn(arg) in a forked child whose stderr is captured into err (always
 * NUL-terminated, truncated to errlen; the rest is drained and dropped). The
 * child exits 0 when fn returns; it writes no core file. Stdio buffers are
 * flushed before the fork, and the child's stdout is the parent's. Returns 0,
 * or an errno value when the child could not be started. */
int hw_trap_child(void (*fn)(void *arg), void *arg, char *err, size_t errlen,
		  hw_child_status *st);

/* Runs this program again (Linux: /proc/self/exe; Windows: its module) with
 * the one argument arg, stderr captured into err and stdout shared, as
 * hw_trap_child does, and waits for it: for a child that must be a new
 * process (there is no fork on Windows), whose main runs the child's part
 * when it sees arg. The child writes no core file (Windows: no crash
 * dialog or debugger, once it calls hw_trap_quiet_child). Returns 0, or an
 * errno value when it could not be started. */
int hw_trap_rerun(const char *arg, char *err, size_t errlen, hw_child_status *st);

/* Called first by a child that hw_trap_rerun started: a crash ends it
 * quietly, as it ends a hw_trap_child child: no core file (POSIX), no crash
 * dialog and no debugger (Windows, where Wine would otherwise start winedbg:
 * a top-level exception filter lets the process end with the exception's
 * code, as an unhandled exception does). */
void hw_trap_quiet_child(void);

#endif

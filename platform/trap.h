/* trap.h: probing whether an access to an address traps, without dying.
 *
 * Owns: a SIGSEGV/SIGBUS probe (sigsetjmp in the calling thread, with a
 * handler installed only for the duration of the probe) used by tests and the
 * fuzz targets to check that Reserved and faulted pages really trap, and which
 * mechanism reported it; and hw_trap_child, which runs code that is expected
 * to die (an abort with a fixed message) in a child process and captures its
 * stderr, so tests match the message without dying themselves.
 *
 * Invariants:
 *   TP1. The previous signal dispositions are restored before return.
 *   TP2. A probe that does not trap performs exactly one byte access (two,
 *        read then write of the same value, when write is true).
 *   TP3. hw_trap_child returns only after the child has exited and been
 *        reaped; the parent's own file descriptors are untouched.
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

typedef enum hw_trap_kind {
	HW_TRAP_NONE = 0,   /* the access completed */
	HW_TRAP_MAPERR = 1, /* SIGSEGV, SEGV_MAPERR (guard region, unmapped) */
	HW_TRAP_ACCERR = 2, /* SIGSEGV, SEGV_ACCERR (PROT_NONE) */
	HW_TRAP_OTHER = 3,  /* SIGBUS or another si_code */
} hw_trap_kind;

/* Reads (or writes, when write is true, storing the byte it read) one byte at
 * addr and reports whether and how it trapped. */
hw_trap_kind hw_trap_probe(volatile void *addr, bool write);

const char *hw_trap_kind_name(hw_trap_kind k);

/* How a child run by hw_trap_child ended. */
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

#endif

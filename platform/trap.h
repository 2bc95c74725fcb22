/* trap.h: probing whether an access to an address traps, without dying.
 *
 * Owns: a SIGSEGV/SIGBUS probe (sigsetjmp in the calling thread, with a
 * handler installed only for the duration of the probe) used by tests and the
 * fuzz targets to check that Reserved and faulted pages really trap, and which
 * mechanism reported it.
 *
 * Invariants:
 *   R1. The previous signal dispositions are restored before return.
 *   R2. A probe that does not trap performs exactly one byte access.
 *
 * Locking: the probe is not reentrant across threads (the handler state is
 * process-wide); callers probe from one thread at a time.
 */
#ifndef HW_TRAP_H
#define HW_TRAP_H

#include <stdbool.h>

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

#endif

/* guard.h: guarded objects (debug mode, issue 13): each on pages of its own
 * with a guard page of the page heap against its end (or its start), faulted
 * and quarantined when freed, so a stray access traps at the instruction.
 *
 * Owns: the entry points the allocation and free paths call for guarded
 * objects (guard.c), and what a fault handler may ask about an address in
 * guarded memory (hw_mc_guard_describe). The fault report (debug_fault.c)
 * turns the description into a kind, an offset and stacks; this module says
 * only which object the address belongs to and in what state it is.
 *
 * Locking: see guard.c. hw_mc_guard_describe takes no lock (it runs in a
 * signal handler).
 */
#ifndef HW_MALLOC_GUARD_H
#define HW_MALLOC_GUARD_H

#include "malloc_internal.h"

/* One guarded object, as a fault handler sees it. */
typedef struct mc_guard_obj {
	uintptr_t start;        /* the object: [start, start + size) */
	size_t size;            /* its requested bytes */
	uintptr_t run, run_end; /* its pages, guard pages included: [run, run_end) */
	bool freed;             /* freed: its pages are faulted (in the quarantine) */
	bool dbg;               /* the stacks below were recorded (MC9) */
	mc_dbg_obj rec;         /* its allocation (and free) stacks and threads */
	uint8_t kind;           /* MC_KIND_* of the call that made it */
} mc_guard_obj;

/* What guarded memory says about addr: true, with *o filled, when addr lies
 * in the pages of a guarded object (its own pages or its guard pages), live
 * or quarantined; false otherwise. Async-signal-safe: no lock, no malloc, no
 * write; it reads records another thread may be changing (the answer may
 * then mix their states, never fault). */
bool hw_mc_guard_describe(uintptr_t addr, mc_guard_obj *o);

#endif

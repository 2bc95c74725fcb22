/* owned.h: the address ranges heapward holds from the OS, as one set for
 * the process: what a look at the whole address space (the debug mode's
 * leak check, malloc/debug_leak.c) must tell apart from the program's own
 * memory. owned.c keeps it.
 *
 * Invariants:
 *   OW1. Every range a platform instance holds (a reserve or an alloc
 *        through hw_sys_*, platform.c, less what hw_sys_release gave back)
 *        and every mapping the platform makes for itself and keeps (a
 *        thread's alternate signal stack, fault_posix.c) is in the set,
 *        unless the set is incomplete (OW3). Nothing else is.
 *   OW2. The set's ranges are sorted, disjoint and never adjacent
 *        (neighbours merge): the kernel places mappings top-down, side by
 *        side, so a process's reservations take few ranges.
 *   OW3. Once an addition (or a release that splits a range) finds the set
 *        full (OW_MAX ranges), the set is incomplete for good: a later
 *        release cannot tell what was missed. hw_platform_owned then says
 *        so, and its users fall back to what they did without it.
 *
 * Locking: one lock, a leaf: nothing is called under it but fn of
 * hw_platform_owned, which must call no platform memory function. The
 * heap registry's fork hooks take it (hw_platform_owned_lock), with every
 * heap quiet, so a child never inherits it held (src/registry.c R3).
 */
#ifndef HW_OWNED_H
#define HW_OWNED_H

#include "platform.h"

/* OW1: adds [lo, lo + n) to the set, or takes it out. */
void hw_platform_own(uintptr_t lo, size_t n);
void hw_platform_disown(uintptr_t lo, size_t n);

/* Calls fn for each range of the set in address order, under the set's
 * lock. Returns 0, or -1 when the set is incomplete (OW3; fn is then not
 * called). */
int hw_platform_owned(hw_stretch_fn fn, void *arg);

/* The set's lock, for fork hooks. */
void hw_platform_owned_lock(void);
void hw_platform_owned_unlock(void);

#endif

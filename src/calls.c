/* calls.c: the heap's platform calls, counted, and the one roll-back of a
 * failed make-Ready.
 *
 * Owns: the hw_call_* wrappers that every heap file uses instead of calling
 * hw_sys_* directly: each makes the call and counts it (and its failure) in
 * the caller's hw_sys_counts (the heap's stats.platform_calls), and
 * hw_call_make_ready, the Reserved/Prepared -> Ready sequence that the
 * metadata commit and the reuse of released pages share, with its roll-back.
 *
 * Invariants:
 *   SY1. Every platform call a heap makes is counted exactly once, in
 *        calls[kind], and in failures[kind] when it returned non-zero.
 *   SY2. hw_call_make_ready changes the range or leaves it exactly as it
 *        found it (P2): when use fails after map, fault takes the range back
 *        to Reserved; a fault that fails then is a broken platform contract
 *        and aborts with the caller's fixed message.
 *
 * Locking: the counts belong to the caller's heap (or to a heap being
 * created); the caller serializes them, normally under the heap lock. A call
 * made with the lock dropped is counted with hw_call_count once the lock is
 * back (scavenge.c).
 */
#include "heap_internal.h"

#include <errno.h>

int hw_call_count(hw_sys_counts *c, hw_sys_kind k, int rc)
{
	c->calls[k]++;
	if (rc != 0)
		c->failures[k]++;
	return rc;
}

int hw_call_reserve(hw_platform *pf, hw_sys_counts *c, void *hint, size_t n, void **out)
{
	return hw_call_count(c, HW_SYS_RESERVE, hw_sys_reserve(pf, hint, n, out));
}

int hw_call_map(hw_platform *pf, hw_sys_counts *c, void *p, size_t n)
{
	return hw_call_count(c, HW_SYS_MAP, hw_sys_map(pf, p, n));
}

int hw_call_use(hw_platform *pf, hw_sys_counts *c, void *p, size_t n)
{
	return hw_call_count(c, HW_SYS_USE, hw_sys_use(pf, p, n));
}

void hw_call_unuse(hw_platform *pf, hw_sys_counts *c, void *p, size_t n)
{
	hw_sys_unuse(pf, p, n);
	hw_call_count(c, HW_SYS_UNUSE, 0);
}

int hw_call_fault(hw_platform *pf, hw_sys_counts *c, void *p, size_t n)
{
	return hw_call_count(c, HW_SYS_FAULT, hw_sys_fault(pf, p, n));
}

void hw_call_release(hw_platform *pf, hw_sys_counts *c, void *p, size_t n)
{
	hw_sys_release(pf, p, n);
	hw_call_count(c, HW_SYS_RELEASE, 0);
}

int hw_call_make_ready(hw_platform *pf, hw_sys_counts *c, void *p, size_t n, bool from_reserved,
		       const char *rollback_failed)
{
	if (from_reserved && hw_call_map(pf, c, p, n) != 0)
		return ENOMEM;
	if (hw_call_use(pf, c, p, n) == 0)
		return 0;
	/* SY2: a Prepared range that came from Reserved goes back there, the
	 * only state the next attempt may start from. */
	if (from_reserved)
		HW_CHECK(hw_call_fault(pf, c, p, n) == 0, rollback_failed);
	return ENOMEM;
}

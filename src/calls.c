/* calls.c: the heap's platform calls, counted, and the one roll-back of a
 * failed make-Ready.
 *
 * Owns: the hw_call_* wrappers that every heap file uses instead of calling
 * hw_sys_* directly: each makes the call and counts it (and its failure) in
 * the caller's hw_sys_counts (the heap's stats.platform_calls), and
 * hw_call_make_ready, the Reserved/Prepared -> Ready sequence that the
 * metadata commit and the reuse of released pages share, with its roll-back;
 * and hw_call_outside_lock (hw_call_fault_many and hw_call_unfault_many
 * for several ranges), the one place a heap drops its lock for platform
 * calls.
 *
 * Invariants:
 *   SY1. Every platform call a heap makes is counted exactly once, in
 *        calls[kind], and in failures[kind] when it returned non-zero.
 *   SY2. hw_call_make_ready changes the range or leaves it exactly as it
 *        found it (P2): when use fails after map, fault takes the range back
 *        to Reserved; a fault that fails then is a broken platform contract
 *        and aborts with the caller's fixed message.
 *   SY3. hw_call_outside_lock drops the heap lock only on a platform whose
 *        calls may run concurrently (caps.concurrent_calls) and when no fork
 *        is waiting (no_unlock, registry.c R5); while it is dropped,
 *        inflight counts the call, and the call's counts go to a private
 *        record merged into the heap's once the lock is back (SY1).
 *
 * Locking: the counts belong to the caller's heap (or to a heap being
 * created); the caller serializes them, normally under the heap lock.
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

int hw_call_unfault(hw_platform *pf, hw_sys_counts *c, void *p, size_t n)
{
	return hw_call_count(c, HW_SYS_UNFAULT, hw_sys_unfault(pf, p, n));
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

/* One call of an hw_call_op, counted in c. */
static int run_op(hw_heap *h, hw_sys_counts *c, hw_call_op op, void *p, size_t n)
{
	if (op == HW_CALLOP_UNUSE) {
		hw_call_unuse(h->pf, c, p, n);
		return 0;
	}
	if (op == HW_CALLOP_FAULT)
		return hw_call_fault(h->pf, c, p, n) != 0 ? ENOMEM : 0;
	if (op == HW_CALLOP_UNFAULT)
		return hw_call_unfault(h->pf, c, p, n) != 0 ? ENOMEM : 0;
	return hw_call_make_ready(h->pf, c, p, n, op == HW_CALLOP_READY_FROM_RESERVED,
				  "cannot roll back a failed reuse of faulted pages");
}

int hw_call_op_locked(hw_heap *h, hw_call_op op, void *p, size_t n)
{
	HW_ASSERT_LOCKED(h);
	return run_op(h, &h->sys, op, p, n);
}

/* SY3: whether a call may run with the lock dropped; if so, drops it. */
static bool drop_lock(hw_heap *h)
{
	HW_ASSERT_LOCKED(h);
	if (!h->pf->caps.concurrent_calls || h->no_unlock)
		return false;
	h->inflight++;
	hw_mutex_unlock(&h->lock);
	return true;
}

/* SY3: takes the lock back and merges the calls' counts (SY1). */
static void retake_lock(hw_heap *h, const hw_sys_counts *mine)
{
	hw_mutex_lock(&h->lock);
	h->inflight--;
	for (unsigned k = 0; k < HW_SYS_NKINDS; k++) {
		h->sys.calls[k] += mine->calls[k];
		h->sys.failures[k] += mine->failures[k];
	}
}

int hw_call_outside_lock(hw_heap *h, hw_call_op op, void *p, size_t n)
{
	if (!drop_lock(h))
		return run_op(h, &h->sys, op, p, n);
	hw_sys_counts mine = {{0}, {0}};
	int rc = run_op(h, &mine, op, p, n);
	retake_lock(h, &mine);
	return rc;
}

/* SY3 for a call over several ranges (kind k: fault or unfault). */
static int call_many(hw_heap *h, hw_sys_kind k, const hw_range *r, size_t n, size_t *done)
{
	hw_sys_counts mine = {{0}, {0}};
	bool dropped = drop_lock(h);
	int rc = k == HW_SYS_FAULT ? hw_sys_fault_many(h->pf, r, n, done)
				   : hw_sys_unfault_many(h->pf, r, n, done);
	hw_sys_counts *c = dropped ? &mine : &h->sys;
	c->calls[k] += *done + (rc != 0);
	c->failures[k] += rc != 0;
	if (dropped)
		retake_lock(h, &mine);
	return rc != 0 ? ENOMEM : 0;
}

int hw_call_unfault_many(hw_heap *h, const hw_range *r, size_t k, size_t *done)
{
	return call_many(h, HW_SYS_UNFAULT, r, k, done);
}

int hw_call_fault_many(hw_heap *h, const hw_range *r, size_t k, size_t *done)
{
	return call_many(h, HW_SYS_FAULT, r, k, done);
}

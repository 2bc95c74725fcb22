/* debug_quarantine.c: the debug mode's quarantine of freed objects: each
 * object freed while the mode is on (free, delete, realloc's old object)
 * is filled with a pattern and held back in a FIFO (quarantine.c) bounded
 * by quarantine_bytes, and its pattern is checked when it leaves, so a
 * write after free is caught even where no guard page lies.
 *
 * Owns: the FIFO of the layer's freed small and large objects (and of any
 * other freed object put through hw_mc_quar_put, under the same bound), the
 * pattern, the check when an object leaves (evicted by newer ones, or
 * drained at exit before the leak check), and what stays "freed" meanwhile:
 * a quarantined small slot has state 0 (MC4) but is in no free list or
 * cache and still counts in its span's live count (MC5), so its span
 * stays; a quarantined large object keeps its run and its record, whose
 * kind is MC_SPAN_QUARANTINED, so every check sees freed memory and every
 * report still has its stacks, and the leak check neither reports nor
 * scans either (it visits live slots and MC_SPAN_LARGE records only).
 *
 * Why only in debug mode: the mode already sends every call to the slow
 * paths (debug.c DM1), so holding objects back adds no instruction to the
 * fast paths; its records give the report its freed-by and allocated-by
 * stacks; and a program not being debugged should not keep
 * quarantine_bytes (256 MiB by default) of freed memory.
 *
 * Invariants:
 *   DQ1. An object enters with every byte of its slot (small) or of its
 *        requested size (large) set to DQ_PATTERN, after the free's checks
 *        (MA3) and its free stack (MC9) are done; nothing of the layer
 *        writes to it until it leaves.
 *   DQ2. When it leaves, its bytes are checked before anything else
 *        touches them; the first byte that is not DQ_PATTERN is reported
 *        once, as a heap-use-after-free with the object's bounds and both
 *        stacks (harden.c hw_mc_use_after_free); then (unless the process
 *        aborted) the object is given back as a free without the
 *        quarantine would have given it (fill_on_free included).
 *   DQ3. Entries' bytes: a small object's slot size, a large object's
 *        pages; so quarantine_bytes bounds the heap memory held back.
 *        At most DQ_MAX_COUNT objects are held (the FIFO's ring). Under
 *        an address-space limit L (platform.h P12), at most L / 4 bytes
 *        and L / 256 objects (at least 4096).
 *
 * Locking: the FIFO's lock (quarantine.h: a leaf, held by the fork hooks
 * in malloc_internal.h's order); evictions take class locks, the meta lock
 * and the report lock after it is released.
 */
#include "debug.h"

#include <errno.h>
#include <string.h>

/* Not zero, and as a word (0xdddddddddddddddd) not a canonical address on
 * x86-64 or AArch64, so neither a stale pointer read from freed memory
 * nor a zeroing write looks like the pattern. The byte MSVC's debug heap
 * gives freed memory. */
#define DQ_PATTERN 0xdd
/* 32 MiB of ring address space, touched as far as it fills. */
#define DQ_MAX_COUNT ((size_t)1 << 20)

static mc_quarantine quar;
static int quar_on;                  /* atomic: the FIFO is set up and holds objects */
static HW_THREAD_LOCAL bool at_exit; /* this thread is in hw_mc_quar_exit */

bool hw_mc_quar_on(void) { return __atomic_load_n(&quar_on, __ATOMIC_ACQUIRE) != 0; }

void hw_mc_quar_start(size_t max_bytes)
{
	if (hw_mc_quar_on() || max_bytes == 0)
		return;
	/* Under an address-space limit (platform.h P12), the freed memory held
	 * back and the ring must leave the program most of it: at most a
	 * quarter of it held back, one ring entry per 256 bytes of it. */
	size_t limit = hw_sys_address_limit(hw_mc_g.pf), count = DQ_MAX_COUNT;
	if (limit != SIZE_MAX) {
		max_bytes = hw_min(max_bytes, hw_max(limit / 4, 1));
		count = hw_min(count, hw_max(limit / 256, 4096));
	}
	if (hw_mc_quarantine_init(&quar, hw_mc_g.pf, max_bytes, count) != 0) {
		hw_report_write("heapward: the quarantine is off: no memory for its ring\n");
		return;
	}
	__atomic_store_n(&quar_on, 1, __ATOMIC_RELEASE);
}

/* The first byte of [p, p + n) that is not the pattern, or NULL. */
static const unsigned char *damaged(const unsigned char *p, size_t n)
{
	const uint64_t w = 0x0101010101010101ull * DQ_PATTERN;
	size_t i = 0;
	for (; i < n && ((uintptr_t)(p + i) & 7); i++)
		if (p[i] != DQ_PATTERN)
			return p + i;
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, p + i, 8);
		if (x != w)
			break;
	}
	for (; i < n; i++)
		if (p[i] != DQ_PATTERN)
			return p + i;
	return NULL;
}

/* DQ2 for a small slot. */
static void evict_small(const mc_qentry *e)
{
	mc_span *s = mc_span_of((uintptr_t)e->p);
	size_t idx = mc_slot_index(s, (uintptr_t)e->p - s->start);
	const unsigned char *bad = damaged(e->p, s->size);
	if (HW_UNLIKELY(bad))
		hw_mc_use_after_free(bad, (uintptr_t)e->p, e->size,
				     s->dbg ? &mc_span_dbg(s)[idx] : NULL, at_exit);
	hw_mc_slot_release(e->p, s, idx);
}

/* DQ2 for a large object. */
static void evict_large(const mc_qentry *e)
{
	mc_span *s = mc_span_of((uintptr_t)e->p);
	const unsigned char *bad = damaged(e->p, e->size);
	if (HW_UNLIKELY(bad))
		hw_mc_use_after_free(bad, (uintptr_t)e->p, e->size, s->dbg ? mc_span_dbg(s) : NULL,
				     at_exit);
	s->kind = MC_SPAN_LARGE;
	hw_mc_large_release(s);
}

/* Whether e can enter (the quarantine on, e within its bound: QU2 would
 * make a larger one leave at once). */
static bool admits(const mc_qentry *e)
{
	return hw_mc_quar_on() && e->bytes <= quar.max_bytes;
}

static void put(const mc_qentry *e)
{
	int saved = errno;
	hw_mc_quarantine_put(&quar, e);
	errno = saved;
}

bool hw_mc_quar_put(const mc_qentry *e)
{
	if (!admits(e))
		return false;
	put(e);
	return true;
}

bool hw_mc_quar_small(void *p, mc_span *s, mc_state *st)
{
	mc_qentry e = {p, s->size, mc_state_len(s, *st), evict_small};
	if (!admits(&e))
		return false;
	memset(p, DQ_PATTERN, s->size);
	*st = 0;
	put(&e);
	return true;
}

bool hw_mc_quar_large(mc_span *s)
{
	/* One too large to enter is given back at once, its pattern neither
	 * written nor checked for nothing. */
	mc_qentry e = {(void *)s->start, (size_t)s->npages * MC_PAGE, s->req, evict_large};
	if (!admits(&e))
		return false;
	memset(e.p, DQ_PATTERN, s->req);
	s->kind = MC_SPAN_QUARANTINED;
	put(&e);
	return true;
}

void hw_mc_quar_drain(void)
{
	if (hw_mc_quar_on())
		hw_mc_quarantine_drain(&quar);
}

void hw_mc_quar_exit(void)
{
	at_exit = true;
	hw_mc_quar_drain();
	at_exit = false;
}

void hw_mc_quar_stats(size_t *count, size_t *bytes)
{
	uint64_t evicted;
	*count = *bytes = 0;
	if (hw_mc_quar_on())
		hw_mc_quarantine_stats(&quar, count, bytes, &evicted);
}

void hw_mc_quar_reset(void)
{
	if (!hw_mc_quar_on())
		return;
	hw_mc_quarantine_reset(&quar);
	__atomic_store_n(&quar_on, 0, __ATOMIC_RELEASE);
}

void hw_mc_quar_lock(void) { hw_mc_quarantine_lock(&quar); }
void hw_mc_quar_unlock(void) { hw_mc_quarantine_unlock(&quar); }

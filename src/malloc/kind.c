/* kind.c: which call made each object, for allocation/deallocation
 * mismatch checks.
 *
 * Owns: hw_mc_kind_set and hw_mc_kind_check (malloc_internal.h), the kind
 * of every object (MC8: a large one's okind byte, a small one's bits of
 * its state entry), and the two mismatch reports:
 *   heapward: alloc-dealloc mismatch: operator delete of 0x... (a 24-byte
 *     object allocated by malloc); alloc_dealloc_mismatch=0 accepts a C and
 *     C++ mix
 *   heapward: new-delete size mismatch: operator delete of 0x... with size
 *     32 (a 24-byte object allocated by operator new)
 * (each one line). The override library (src/override/) is the only
 * caller: its operator new records a kind, and every deallocation it
 * defines (free, realloc, each operator delete) checks one first. The
 * prefixed API never looks at kinds, so its fast paths are unchanged.
 *
 * Invariants (MC8, and):
 *   KD1. Only a live object's start is checked; any other pointer (NULL,
 *        foreign, interior, freed) passes here untouched and meets the
 *        free's or realloc's own checks (MA3), which report it.
 *   KD2. A mismatch is reported once, in one of the two fixed forms above
 *        (followed, in debug mode, by the sanitizer-layout report with the
 *        object's allocation stack),
 *        counts as an error (hw_malloc_stats.errors) and aborts unless the
 *        layer continues on errors; the object then stays live and its kind
 *        unchanged.
 *   KD3. With alloc_dealloc_mismatch off, a mix of the C and the C++
 *        families (an object from malloc freed by an operator delete, one
 *        from an operator new freed by free or realloc) passes as a match
 *        does: a library linked with its own copy of the C++ runtime (its
 *        operator new calls malloc, its operator delete calls free, and
 *        neither is ours to interpose) hands its objects to code whose
 *        delete is ours. The C++ forms among themselves (new and new[],
 *        aligned or not, the sized delete's size) are checked either way.
 *        With it on, the report of such a mix says how to accept it.
 *
 * Locking: none. The object's kind is written by its owner only: at
 * allocation, and at its free by the thread freeing it, which the program
 * already orders after the allocation (as for the page map, MC3).
 */
#include "malloc_internal.h"

#include "debug.h"
#include "guard.h"

#include <errno.h>

static const char *const made_by[MC_KIND_COUNT] = {
	"malloc",
	"operator new",
	"operator new[]",
	"operator new(std::align_val_t)",
	"operator new[](std::align_val_t)",
};

/* The span of p when p is a live object's start (its slot in *idx), else
 * NULL (KD1). */
static mc_span *live_start(void *p, size_t *idx)
{
	mc_span *s = mc_span_of((uintptr_t)p);
	if (!s)
		s = hw_mc_guard_span((uintptr_t)p);
	if (!s)
		return NULL;
	if (s->kind == MC_SPAN_LARGE || s->kind == MC_SPAN_GUARDED) {
		*idx = 0;
		return (uintptr_t)p == s->start && (s->kind == MC_SPAN_LARGE || s->live) ? s
											 : NULL;
	}
	if (s->kind != MC_SPAN_SMALL)
		return NULL;
	uintptr_t off = (uintptr_t)p - s->start;
	size_t i = mc_slot_index(s, off);
	if (i * s->size != off || i >= s->nobjs || s->state[i] == 0)
		return NULL;
	*idx = i;
	return s;
}

void hw_mc_kind_set(void *p, unsigned kind)
{
	size_t idx;
	mc_span *s = live_start(p, &idx);
	HW_CHECK(s && kind < MC_KIND_COUNT,
		 "malloc: kind set on a pointer that is not a new object");
	if (s->kind != MC_SPAN_SMALL)
		s->okind = (uint8_t)kind;
	else
		s->state[idx] = (s->state[idx] & MC_STATE_SLACK_MASK) |
				(mc_state)kind << MC_STATE_KIND_SHIFT;
}

bool hw_mc_kind_check(void *p, unsigned kind, bool sized, size_t size, const char *op)
{
	size_t idx;
	mc_span *s = live_start(p, &idx);
	if (!s)
		return true;
	bool large = s->kind != MC_SPAN_SMALL; /* large or guarded */
	unsigned have = large ? s->okind : mc_state_kind(s->state[idx]);
	size_t len = large ? s->req : mc_state_len(s, s->state[idx]);
	bool mix = (have == MC_KIND_MALLOC) != (kind == MC_KIND_MALLOC);
	if (HW_LIKELY(have == kind && (!sized || size == len)) ||
	    (mix && !mc_cfg.alloc_dealloc_mismatch)) {
		/* A small slot's kind goes with its state at the free. */
		if (large)
			s->okind = MC_KIND_MALLOC;
		return true;
	}
	if (have != kind)
		hw_report_write("heapward: alloc-dealloc mismatch: %s of %p (a %zu-byte object "
				"allocated by %s)%s\n",
				op, p, len, have < MC_KIND_COUNT ? made_by[have] : "?",
				mix ? "; alloc_dealloc_mismatch=0 accepts a C and C++ mix" : "");
	else
		hw_report_write("heapward: new-delete size mismatch: %s of %p with size %zu (a "
				"%zu-byte object allocated by %s)\n",
				op, p, size, len, made_by[have]);
	int saved = errno; /* as hw_mc_misuse: the report may run the symbolizer */
	if (hw_mc_debug_on())
		hw_mc_report_mismatch(p, s, idx, have == kind, size,
				      have < MC_KIND_COUNT ? made_by[have] : "?", op);
	__atomic_fetch_add(&mc_errors, 1, __ATOMIC_RELAXED);
	if (mc_cfg.abort_on_error)
		hw_process_abort();
	errno = saved;
	return false;
}

/* harden.c: tail canaries and misuse reports.
 *
 * Owns: the canary bytes written after an object's requested end (MC6) and
 * the one-line reports for misuse the always-on checks find: double free,
 * a free of a pointer that is not a live object's start, a free of memory
 * that is not the heap's and an overwritten canary (or a guarded object's
 * pattern). The pattern itself (HD3) is written
 * and checked here for any range (hw_mc_pattern_fill/find): the canaries
 * and the slack of guarded objects (guard.c) are the same bytes.
 *
 * Invariants:
 *   HD1. A report is one line, written with hw_report_write (formatted on
 *        the stack: no malloc, no stdio, safe under a malloc override), and
 *        starts with a fixed phrase tests match:
 *          "heapward: double free of 0x..."
 *          "heapward: invalid free of 0x...: not the start of an object"
 *          "heapward: invalid free of 0x...: not heap memory: <what>"
 *        (<what>: the mapping holding it, from hw_platform_describe: this
 *        thread's stack, the main thread's, the brk heap, a module's code
 *        or data with its path, another mapping, or "unmapped")
 *          "heapward: invalid free of 0x...: in freed heap memory"
 *          "heapward: heap buffer overflow: ..."
 *          "heapward: heap buffer underflow: ..." (a guarded object's)
 *          "heapward: use after free: ..." (debug_quarantine.c DQ2)
 *        ("free" is the operation: "realloc" or "malloc_usable_size" for
 *        those calls). It names the address and, when there is one, the
 *        object's bounds [start, end) and size.
 *        In debug mode (debug.h) the line is followed by a report in the
 *        sanitizers' layout with the stacks (debug_report.c).
 *   HD2. After a report the process aborts, unless hw_mc_cfg.abort_on_error is
 *        false; then the caller goes on as its contract says (the bad free
 *        is ignored) and hw_mc_errors counts the report.
 *   HD3. The canary byte at address x is hw_mc_canary.b[x % 16] (MC6), a
 *        fixed pattern of 16 distinct bytes from 0x80 up (none of them 0xff
 *        or a fill the layer or its tests use), so neither a string
 *        terminator, nor any ASCII character, nor a zeroing or all-ones
 *        overflow leaves it intact; hw_mc_canary_write and
 *        hw_mc_canary_find are the byte-wise forms of the inline
 *        mc_canary_put and mc_canary_bad (which cover whole windows).
 *
 * Locking: none (reports may interleave with other threads' output).
 */
#include "malloc_internal.h"

#include "debug.h"
#include "guard.h"

#include <errno.h>

uint64_t hw_mc_errors;

const mc_canary_pattern hw_mc_canary = {.b = {0x81, 0x93, 0xa7, 0xb9, 0xc4, 0xd6, 0xe8, 0xf1, 0x8e,
					      0x9c, 0xa2, 0xb3, 0xc9, 0xda, 0xe3, 0xf6}};

/* The pattern's 16 bytes as one vector (gcc and clang, the compilers
 * the build accepts): the whole-window loops below move and compare 64
 * bytes per step, with one test per step (may_alias: the bytes are the
 * program's, of any type). A guarded object's 4 KiB page
 * is filled at malloc and checked at free: 195 ns for the pair of calls
 * with 16 bytes per step, 115 with 64 (hot cache). */
typedef uint64_t pattern_vec __attribute__((vector_size(16), may_alias));

static pattern_vec pattern_of(void) { return (pattern_vec){hw_mc_canary.w[0], hw_mc_canary.w[1]}; }

void hw_mc_pattern_fill(unsigned char *lo, unsigned char *hi)
{
	while (lo < hi && ((uintptr_t)lo & 15))
		*lo = hw_mc_canary.b[(uintptr_t)lo & 15], lo++;
	pattern_vec c = pattern_of();
	for (; hi - lo >= 64; lo += 64) {
		pattern_vec *q = (pattern_vec *)(void *)lo;
		q[0] = c;
		q[1] = c;
		q[2] = c;
		q[3] = c;
	}
	for (; hi - lo >= 16; lo += 16)
		*(pattern_vec *)(void *)lo = c;
	for (; lo < hi; lo++)
		*lo = hw_mc_canary.b[(uintptr_t)lo & 15];
}

const unsigned char *hw_mc_pattern_find(const unsigned char *lo, const unsigned char *hi)
{
	const unsigned char *p = lo;
	while (p < hi && ((uintptr_t)p & 15))
		if (*p != hw_mc_canary.b[(uintptr_t)p & 15])
			return p;
		else
			p++;
	pattern_vec c = pattern_of();
	for (; hi - p >= 64; p += 64) {
		const pattern_vec *q = (const pattern_vec *)(const void *)p;
		pattern_vec d = (q[0] ^ c) | (q[1] ^ c) | (q[2] ^ c) | (q[3] ^ c);
		if (d[0] | d[1])
			break; /* the loops below name the byte */
	}
	for (; hi - p >= 16; p += 16) {
		pattern_vec d = *(const pattern_vec *)(const void *)p ^ c;
		if (d[0] | d[1])
			break;
	}
	for (; p < hi; p++)
		if (*p != hw_mc_canary.b[(uintptr_t)p & 15])
			return p;
	return NULL;
}

/* MC6's canary bytes after end: up to the next multiple of 16. */
static size_t canary_len(const unsigned char *end, size_t slack)
{
	return hw_min(slack, 16 - ((uintptr_t)end & 15));
}

void hw_mc_canary_write(unsigned char *end, size_t slack)
{
	hw_mc_pattern_fill(end, end + canary_len(end, slack));
}

const unsigned char *hw_mc_canary_find(const unsigned char *end, size_t slack)
{
	return hw_mc_pattern_find(end, end + canary_len(end, slack));
}

static void finish(void)
{
	__atomic_fetch_add(&hw_mc_errors, 1, __ATOMIC_RELAXED);
	if (hw_mc_cfg.abort_on_error)
		hw_process_abort();
}

/* What a foreign address is, from the OS's mappings (MA3's report). */
static const char *foreign_what(hw_addr_kind k, bool rw)
{
	switch (k) {
	case HW_ADDR_UNMAPPED:
		return "unmapped";
	case HW_ADDR_OWN_STACK:
		return "on this thread's stack";
	case HW_ADDR_MAIN_STACK:
		return "on the main thread's stack";
	case HW_ADDR_BRK:
		return "in the brk heap (another allocator's memory)";
	case HW_ADDR_MODULE:
		return rw ? "in a module's writable data," : "in a module's code or constants,";
	case HW_ADDR_ANON:
		return rw ? "in another mapping (anonymous, writable: another thread's stack "
			    "or another allocator's)"
			  : "in another mapping (anonymous, not writable)";
	default:
		return "in memory the OS would not describe";
	}
}

void hw_mc_misuse(int what, const char *op, const void *p, const mc_span *s, size_t idx,
		  const void *at)
{
	/* A report may run the symbolizer and open files: the free or realloc
	 * that goes on after it keeps the caller's errno (MA2). */
	int saved = errno;
	hw_mc_guard_say_pending(); /* GD9 */
	uintptr_t lo = 0, len = 0;
	bool live = false;
	char where[256] = "";
	if (s && s->kind == MC_SPAN_SMALL && idx < s->nobjs) {
		lo = s->start + (uintptr_t)idx * s->size;
		mc_state st = s->state[idx];
		live = st != 0;
		len = live ? mc_state_len(s, st) : s->size;
	} else if (s && (s->kind == MC_SPAN_LARGE || s->kind == MC_SPAN_GUARDED)) {
		lo = s->start;
		len = s->req;
		live = s->kind == MC_SPAN_LARGE || s->live;
	}
	switch (what) {
	case MC_BAD_DOUBLE_FREE:
		if (lo && s->kind == MC_SPAN_GUARDED)
			hw_report_write("heapward: double free of %p (a quarantined %zu-byte "
					"guarded object [%p, %p))\n",
					p, (size_t)len, (void *)lo, (void *)(lo + len));
		else if (lo)
			hw_report_write(
				"heapward: double free of %p (a free %zu-byte slot [%p, %p))\n", p,
				(size_t)len, (void *)lo, (void *)(lo + len));
		else
			hw_report_write("heapward: double free of %p (a freed large object)\n", p);
		break;
	case MC_BAD_INTERIOR:
		if (lo && (uintptr_t)p < lo)
			hw_report_write(
				"heapward: invalid %s of %p: not the start of an object; it is "
				"%zu bytes before the %s %zu-byte guarded object [%p, %p)\n",
				op, p, (size_t)(lo - (uintptr_t)p), live ? "live" : "quarantined",
				(size_t)len, (void *)lo, (void *)(lo + len));
		else if (lo)
			hw_report_write(
				"heapward: invalid %s of %p: not the start of an object; it is "
				"%zu bytes into the %s %zu-byte object [%p, %p)\n",
				op, p, (size_t)((uintptr_t)p - lo), live ? "live" : "free",
				(size_t)len, (void *)lo, (void *)(lo + len));
		else
			hw_report_write(
				"heapward: invalid %s of %p: not the start of an object; it is in "
				"the tail of a span [%p, %p) no object covers\n",
				op, p, (void *)s->start,
				(void *)(s->start + (uintptr_t)s->npages * MC_PAGE));
		break;
	case MC_BAD_FOREIGN: {
		char path[160];
		bool rw = false;
		hw_addr_kind k = hw_platform_describe(p, path, sizeof path, &rw);
		hw_report_format(where, sizeof where, "%s%s%s", foreign_what(k, rw),
				 k == HW_ADDR_MODULE ? " " : "", k == HW_ADDR_MODULE ? path : "");
		hw_report_write("heapward: invalid %s of %p: not heap memory: %s\n", op, p, where);
		break;
	}
	case MC_BAD_FREED_MEMORY:
		hw_report_write("heapward: invalid %s of %p: in freed heap memory\n", op, p);
		break;
	case MC_BAD_OVERFLOW:
		if (s && s->kind == MC_SPAN_GUARDED) {
			hw_report_write(
				"heapward: heap buffer overflow: the pattern after the "
				"%zu-byte guarded object [%p, %p) is overwritten at %p (%zu "
				"bytes past its end), found by %s\n",
				(size_t)len, (void *)lo, (void *)(lo + len), at,
				(size_t)((uintptr_t)at - (lo + len)), op);
			break;
		}
		hw_report_write("heapward: heap buffer overflow: the tail canary of the %zu-byte "
				"object [%p, %p) is overwritten at %p (%zu bytes past its end), "
				"found by %s\n",
				(size_t)len, (void *)lo, (void *)(lo + len), at,
				(size_t)((uintptr_t)at - (lo + len)), op);
		break;
	case MC_BAD_UNDERFLOW:
		hw_report_write(
			"heapward: heap buffer underflow: the pattern before the %zu-byte "
			"guarded object [%p, %p) is overwritten at %p (%zu bytes before its "
			"start), found by %s\n",
			(size_t)len, (void *)lo, (void *)(lo + len), at,
			(size_t)(lo - (uintptr_t)at), op);
		break;
	default:
		break;
	}
	if (hw_mc_debug_on())
		hw_mc_report_misuse(what, op, p, s, idx, at, where);
	finish();
	errno = saved;
}

void hw_mc_use_after_free(const void *at, uintptr_t lo, size_t size, const mc_dbg_obj *rec,
			  bool at_exit)
{
	size_t off = (size_t)((uintptr_t)at - lo);
	hw_mc_guard_say_pending(); /* GD9 */
	hw_report_write("heapward: use after free: the freed %zu-byte object [%p, %p) was "
			"written at %p (%zu bytes %s), found when it left the quarantine%s\n",
			size, (void *)lo, (void *)(lo + size), at,
			off < size ? off : off - size, off < size ? "inside it" : "after its end",
			at_exit ? " at exit" : "");
	if (hw_mc_debug_on())
		hw_mc_report_uaf(at, lo, size, rec, at_exit);
	finish();
}

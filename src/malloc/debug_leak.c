/* debug_leak.c: the leak check: live objects that nothing reachable points
 * to, grouped by allocation stack, direct and indirect.
 *
 * Owns: hw_mc_leak_check: the roots, the conservative mark, the grouping
 * and the order of the report (debug_report.c prints it).
 *
 * The check, as LeakSanitizer does it:
 *   1. Snapshots, while every thread still runs, every module's writable
 *      segments (the loader's list, module.h MO1: taken before any thread
 *      is stopped, since a stopped thread may hold the loader's lock).
 *   2. Takes every lock of the layer (no span is half made), then stops
 *      every other thread (stop.h), which records its registers, stack
 *      pointer and thread pointer; then snapshots the process's mappings
 *      (the OS's map), which no stopped thread can change any more.
 *   3. Marks as reachable every live object that a root points into (any
 *      aligned word holding an address inside the object's requested
 *      bytes, or its start for a zero-byte object), then everything such an
 *      object points into, with an explicit mark stack (memory from the
 *      platform, one word per live object: never malloc). Roots: each
 *      module's writable segments (data, bss, relocated read-only data),
 *      clipped to what is mapped readable and writable; each thread's
 *      registers and its stack from its stack pointer (less the 128-byte
 *      red zone; this thread's from its caller's frame, LK5) to the top
 *      of its stack, with its thread control block
 *      and static TLS (the thread pointer's neighbourhood: LK_TCB_BYTES
 *      above, LK_TLS_BYTES below when it is not on the stack); the
 *      objects of spans without debug records (MC9), which cannot be
 *      marked and so are taken as reachable; and, as LeakSanitizer does,
 *      the objects the dynamic linker allocated (the first frame of their
 *      allocation stack is in ld.so: thread vectors of TLS blocks and
 *      dynamic TLS, which glibc keeps for cached thread stacks and in
 *      places no root reaches); and every other readable and writable
 *      mapping that is not heapward's own (LK6).
 *   4. Every live object left unmarked is leaked. Each leaked object's
 *      direct children that are leaked too (not itself) become indirect
 *      leaks; the rest are direct. (So, as in LeakSanitizer, a leaked
 *      cycle or doubly linked structure shows as indirect only.)
 *   5. Groups the leaked objects by (allocation stack, direct) with bytes
 *      (requested) and counts, clears the marks, lets the threads go,
 *      releases the locks, then prints: direct groups first, larger first,
 *      less the groups a suppression matches (debug_report.c RP7), which
 *      are not counted in what the check returns either.
 *
 * Threads that block the stop signal are stopped by a tracer instead
 * (stop.h SW6), registers included. Threads that cannot be stopped (they
 * cannot be traced either, or do not answer within LK_STOP_MS) have
 * neither registers nor stack pointer: instead of missing their roots, the
 * check scans every readable and writable mapping outside heapward's own
 * memory (LK6) as a root (whole stacks and TLS included), which can hide
 * leaks (and cannot see a pointer such a thread holds only in a
 * register), and the report says so (a clean result too).
 *
 * Invariants:
 *   LK1. Nothing here calls malloc: buffers come from hw_sys_alloc and go
 *        back with hw_sys_release; the world record is made once and kept
 *        (a late stop handler may still read it, stop.h SW2).
 *   LK2. Every word read is inside a mapping the snapshot saw readable and
 *        writable (roots), inside a live object's requested bytes (heap),
 *        or a stopped thread's saved register. Roots are read through
 *        hw_world_read (stop.h SW7), never directly: a thread the stop
 *        could not hold (one in the middle of exiting, say) may unmap its
 *        stacks after the snapshot, and a writable mapping may hold guard
 *        pages; such pages are skipped.
 *   LK3. A live object's record (MC9) holds the mark only between steps 3
 *        and 5, under every lock of the layer with the world stopped; it
 *        is 0 again before anything else runs.
 *   LK4. One check at a time (leak_lock).
 *   LK5. This thread's stack is scanned from hw_mc_leak_check's own frame
 *        up, which holds every callee-saved register of its caller
 *        (__builtin_unwind_init) and nothing of the check's: the check
 *        runs in a callee below it, whose locals and registers are
 *        addresses of the heap's own (arena bases, ranges being scanned)
 *        and would read as pointers into objects. An arena base held in
 *        a local of the check, inside a 3.2 MB block perl leaks that
 *        straddled two arenas, kept it from the report (under
 *        guard_budget_count=28669, the budget PROT_NONE guards get). The
 *        red zone below a stopped thread's stack pointer (LK_RED_ZONE) is
 *        a signal-interrupted thread's; this thread has none to keep.
 *        Not scanned: AddressSanitizer's fake stacks, where a test built
 *        with it and run with detect_stack_use_after_return (as CI runs
 *        them) keeps its address-taken locals. Only the sanitizer knows
 *        which of their frames are live, and dead ones hold the planted
 *        leaks' pointers; the tests keep what must stay reachable in
 *        static storage. (The preload library refuses sanitizer builds.)
 *   LK6. Heapward's own memory is never a root: the heaps' arenas, and
 *        every range the platform holds for heapward (owned.h: the layer's
 *        records, which hold every object's address, its quarantine, its
 *        depot, the check's own buffers), taken after the layer's locks
 *        and before the stop (a stopped thread may hold the set's lock).
 *        With use_mappings (the default) and every thread stopped, every
 *        other readable and writable mapping is one, as Memcheck has it:
 *        its pages that hold memory (platform.h hw_platform_resident_each:
 *        a page nobody touched holds zeros, and reading it would map it),
 *        less the modules' segments and the mappings that hold a thread's
 *        stack (read from the stack pointer up: below it lie dead frames).
 *        It is memory the program and its libraries mapped for themselves:
 *        CPython's object arenas hold its lists' and dicts' pointers to
 *        their items, malloc'd past 512 bytes, and LeakSanitizer, which
 *        reads none of it, calls those leaked: `heapward run -- python3
 *        -c 'print(1)'` reported 13,628 bytes in 6 objects that Memcheck
 *        finds reachable. Not read where the set is incomplete (owned.h
 *        OW3), nor in a build under a tool (HW_LEAK_SCANS_MAPPINGS,
 *        debug.h), whose own memory is among the mappings. Read only
 *        through the copy (LK2), never directly where the OS refuses it (a
 *        seccomp filter, say): a program's mapping may hold guard pages
 *        the OS does not show (a direct read faults on them), or a
 *        device's memory, whose reads can have effects.
 *
 * Locking: leak_lock, then the layer's locks in MC order (hw_mc_lock_all).
 */
#include "debug.h"

#include "guard.h"
#include "inspect.h"
#include "module.h"
#include "owned.h"
#include "stop.h"
#include "track.h"

#include <string.h>

#define LK_STOP_MS 2000
/* The least a thread control block takes (glibc 2.36's struct pthread is
 * 2304 bytes on x86-64): the scan of a thread reaches the end of the page
 * where a block of that size from the thread pointer ends, which is where
 * glibc's thread stack blocks end. */
#define LK_TCB_BYTES ((uintptr_t)2048)
/* The farthest below the thread pointer a static TLS block may be. */
#define LK_TLS_MAX ((uintptr_t)1 << 20)
#define LK_RED_ZONE ((uintptr_t)128)
#define LK_MAX_MAPS ((size_t)1 << 16)
#define LK_MAX_SEGS ((size_t)1 << 14)
#define LK_MAX_ARENAS ((size_t)1 << 12)
/* Heapward's own ranges (owned.h); more make the snapshot incomplete. */
#define LK_MAX_OWNED ((size_t)1 << 13)
/* Roots are copied in pieces of this many bytes (LK2). */
#define LK_BUF_BYTES ((size_t)64 << 10)

enum { LK_UNMARKED = 0,
       LK_REACHABLE = 1,
       LK_INDIRECT = 2 };

typedef struct lk_range {
	uintptr_t lo, hi;
	bool rw;
} lk_range;

typedef struct lk {
	lk_range *maps, *segs;
	/* Never roots: the heaps' arenas and heapward's own ranges, sorted and
	 * merged (skip_ok: the own ranges are all there, LK6). */
	lk_range *skip;
	bool skip_ok;
	bool copy_only; /* roots only through hw_world_read (LK6) */
	uintptr_t *buf; /* LK_BUF_BYTES, for roots (LK2) */
	size_t nmaps, nsegs, nskip;
	uintptr_t *stack; /* the mark stack: object starts */
	size_t top, cap;
	uintptr_t ld_lo, ld_hi;         /* the dynamic linker's code (step 3) */
	uintptr_t tp, tls_below;        /* this thread's static TLS: [tp - tls_below, tp) */
	uintptr_t heaps_lo, heaps_span; /* both heaps' windows, and what lies between */
	size_t live, leaked;
} lk;

static hw_mutex leak_lock = HW_MUTEX_INIT;
static hw_world *world; /* made once (LK1) */

/* ---- memory (LK1) ---- */

static size_t round_pages(size_t n)
{
	return hw_align_up(hw_max(n, 1), hw_mc_g.pf->caps.page_size);
}

static void *get(size_t n)
{
	void *p;
	return hw_sys_alloc(hw_mc_g.pf, round_pages(n), &p) == 0 ? p : NULL;
}

static void put(void *p, size_t n)
{
	if (p)
		hw_sys_release(hw_mc_g.pf, p, round_pages(n));
}

static void release_buffers(lk *k)
{
	put(k->maps, LK_MAX_MAPS * sizeof *k->maps);
	put(k->segs, LK_MAX_SEGS * sizeof *k->segs);
	put(k->skip, (LK_MAX_ARENAS + LK_MAX_OWNED) * sizeof *k->skip);
	put(k->buf, LK_BUF_BYTES);
}

/* ---- snapshots ---- */

static int add_map(void *arg, uintptr_t lo, uintptr_t hi, bool rw)
{
	lk *k = arg;
	if (k->nmaps < LK_MAX_MAPS)
		k->maps[k->nmaps++] = (lk_range){lo, hi, rw};
	return 0;
}

static int add_seg(void *arg, uintptr_t lo, uintptr_t hi)
{
	lk *k = arg;
	if (k->nsegs < LK_MAX_SEGS)
		k->segs[k->nsegs++] = (lk_range){lo, hi, true};
	return 0;
}

static void add_owned(void *arg, uintptr_t lo, uintptr_t hi)
{
	lk *k = arg;
	if (k->nskip < LK_MAX_ARENAS + LK_MAX_OWNED)
		k->skip[k->nskip++] = (lk_range){lo, hi, true};
	else
		k->skip_ok = false;
}

static bool lower(const void *x, const void *y)
{
	return ((const lk_range *)x)->lo < ((const lk_range *)y)->lo;
}

/* Sorts r[0..*n) and merges the ranges that overlap or touch. */
static void sort_merge(lk_range *r, size_t *n)
{
	hw_heapsort(r, *n, sizeof *r, lower);
	size_t m = 0;
	for (size_t i = 0; i < *n; i++) {
		if (m > 0 && r[i].lo <= r[m - 1].hi)
			r[m - 1].hi = hw_max(r[m - 1].hi, r[i].hi);
		else
			r[m++] = r[i];
	}
	*n = m;
}

/* The mapping holding a, or NULL. */
static const lk_range *map_of(const lk *k, uintptr_t a)
{
	size_t lo = 0, hi = k->nmaps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a < k->maps[mid].lo)
			hi = mid;
		else if (a >= k->maps[mid].hi)
			lo = mid + 1;
		else
			return &k->maps[mid];
	}
	return NULL;
}

/* ---- objects ---- */

/* The span record holding a, in either heap's window (which hold other
 * mappings too: only the page maps say what is the heaps'). */
static mc_span *span_any(uintptr_t a)
{
	mc_span *s = mc_span_of(a);
	return s ? s : hw_mc_guard_span(a);
}

/* The live object holding address w: its start, requested length and
 * record; false when none (or its span keeps no records). A quarantined
 * guarded object is not live: its pages trap (LK2). */
static bool object_of(uintptr_t w, uintptr_t *lo, size_t *len, mc_dbg_obj **rec)
{
	mc_span *s = span_any(w);
	if (!s || !s->dbg)
		return false;
	if (s->kind == MC_SPAN_SMALL) {
		size_t idx = mc_slot_index(s, w - s->start);
		if (idx >= s->nobjs || s->state[idx] == 0)
			return false;
		*lo = s->start + (uintptr_t)idx * s->size;
		*len = mc_state_len(s, s->state[idx]);
		*rec = &mc_span_dbg(s)[idx];
	} else if (s->kind == MC_SPAN_LARGE || (s->kind == MC_SPAN_GUARDED && s->live)) {
		*lo = s->start;
		*len = s->req;
		*rec = mc_span_dbg(s);
	} else {
		return false;
	}
	return w - *lo < *len || (*len == 0 && w == *lo);
}

/* Calls fn for every live object of every span, then every live guarded
 * object. */
typedef void (*object_fn)(lk *k, mc_span *s, uintptr_t lo, size_t len, mc_dbg_obj *rec);

typedef struct each_arg {
	lk *k;
	object_fn fn;
} each_arg;

static void each_guarded(void *arg, mc_span *s)
{
	each_arg *e = arg;
	e->fn(e->k, s, s->start, s->req, s->dbg ? mc_span_dbg(s) : NULL);
}

static void each_object(lk *k, object_fn fn)
{
	for (size_t l = 0; l < hw_mc_g.map.ntop; l++) {
		mc_span **leaf = __atomic_load_n(&hw_mc_g.map.top[l], __ATOMIC_ACQUIRE);
		if (!mc_leaf_mapped(leaf))
			continue;
		for (size_t i = 0; i < MC_LEAF_ENTRIES; i++) {
			mc_span *s = leaf[i];
			uintptr_t page =
				hw_mc_g.map.base + ((l * MC_LEAF_ENTRIES + i) << MC_PAGE_SHIFT);
			if (!s || s->start != page)
				continue;
			mc_dbg_obj *recs = s->dbg ? mc_span_dbg(s) : NULL;
			if (s->kind == MC_SPAN_LARGE) {
				fn(k, s, s->start, s->req, recs);
			} else if (s->kind == MC_SPAN_SMALL) {
				for (size_t j = 0; j < s->nobjs; j++)
					if (s->state[j] != 0)
						fn(k, s, s->start + j * s->size,
						   mc_state_len(s, s->state[j]),
						   recs ? &recs[j] : NULL);
			}
		}
	}
	each_arg e = {k, fn};
	hw_mc_guard_each(each_guarded, &e);
}

/* ---- marking ---- */

/* The word w found while scanning with tag: mark what it points into
 * (step 3 with LK_REACHABLE, step 4 with LK_INDIRECT, skipping self). */
static void consider_in_heaps(lk *k, uintptr_t w, uint32_t tag, uintptr_t self)
{
	uintptr_t lo;
	size_t len;
	mc_dbg_obj *rec;
	if (!object_of(w, &lo, &len, &rec) || lo == self)
		return;
	if (tag == LK_REACHABLE) {
		if (rec->free_stack == LK_REACHABLE)
			return;
		rec->free_stack = LK_REACHABLE;
		if (k->top < k->cap)
			k->stack[k->top++] = lo;
	} else if (rec->free_stack == LK_UNMARKED) {
		rec->free_stack = LK_INDIRECT;
	}
}

/* consider, for every word read: most are no address in either heap's
 * window, and one comparison tells. A program's 2 GiB of its own data
 * (no pointers) cost the check about 2 s with every word looked up in the
 * page maps, about 0.5 s with this. */
static inline void consider(lk *k, uintptr_t w, uint32_t tag, uintptr_t self)
{
	if (w - k->heaps_lo < k->heaps_span)
		consider_in_heaps(k, w, tag, self);
}

/* Unchecked under AddressSanitizer: a stack is read whole, redzones
 * included (LK2 says why every word is readable). */
HW_TRACK_UNCHECKED static void scan(lk *k, uintptr_t lo, uintptr_t hi, uint32_t tag,
				    uintptr_t self)
{
	for (uintptr_t a = hw_align_up(lo, sizeof(uintptr_t)); a + sizeof(uintptr_t) <= hi;
	     a += sizeof(uintptr_t))
		consider(k, *(const uintptr_t *)a, tag, self);
}

/* [lo, hi) as roots, copied a piece at a time (LK2); a page that cannot
 * be read is skipped. Where the OS refuses the copy itself, read directly,
 * unless copy_only (LK6). */
static void scan_copied(lk *k, uintptr_t lo, uintptr_t hi)
{
	size_t page = hw_mc_g.pf->caps.page_size;
	lo = hw_align_up(lo, sizeof(uintptr_t));
	while (lo + sizeof(uintptr_t) <= hi) {
		size_t want = hw_min((size_t)(hi - lo), LK_BUF_BYTES) & ~(sizeof(uintptr_t) - 1);
		size_t got = hw_world_read(k->buf, lo, want);
		if (got == SIZE_MAX) {
			if (!k->copy_only)
				scan(k, lo, hi, LK_REACHABLE, 0);
			return;
		}
		for (size_t i = 0; i < got / sizeof(uintptr_t); i++)
			consider(k, k->buf[i], LK_REACHABLE, 0);
		/* Past the page that could not be read. */
		lo = got == want ? lo + got : hw_align_down(lo + got, page) + page;
	}
}

/* Calls fn for the parts of [lo, hi) outside the sorted, disjoint ranges
 * r[0..n). */
static void minus(lk *k, uintptr_t lo, uintptr_t hi, const lk_range *r, size_t n,
		  void (*fn)(lk *k, uintptr_t lo, uintptr_t hi))
{
	size_t a = 0, b = n;
	while (a < b) { /* the first range ending above lo */
		size_t mid = a + (b - a) / 2;
		if (r[mid].hi <= lo)
			a = mid + 1;
		else
			b = mid;
	}
	for (size_t i = a; i < n && r[i].lo < hi && lo < hi; i++) {
		if (r[i].lo > lo)
			fn(k, lo, r[i].lo);
		lo = hw_max(lo, r[i].hi);
	}
	if (lo < hi)
		fn(k, lo, hi);
}

/* [lo, hi) as roots, less the heaps' arenas (objects are not roots) and
 * heapward's own memory (LK6). */
static void scan_outside(lk *k, uintptr_t lo, uintptr_t hi)
{
	minus(k, lo, hi, k->skip, k->nskip, scan_copied);
}

/* [lo, hi) as roots, only where the snapshot saw it readable and writable
 * (LK2), and outside the heap's arenas. */
static void scan_root(lk *k, uintptr_t lo, uintptr_t hi)
{
	for (size_t i = 0; i < k->nmaps; i++) {
		const lk_range *m = &k->maps[i];
		if (!m->rw || m->hi <= lo || m->lo >= hi)
			continue;
		scan_outside(k, hw_max(lo, m->lo), hw_min(hi, m->hi));
	}
}

static void flood(lk *k)
{
	while (k->top > 0) {
		uintptr_t lo = k->stack[--k->top], start;
		size_t len;
		mc_dbg_obj *rec;
		if (object_of(lo, &start, &len, &rec))
			scan(k, start, start + len, LK_REACHABLE, 0);
	}
}

/* A thread's registers, its stack from lo up (its stack pointer less the
 * red zone; this thread's: LK5), thread control block and static TLS (step
 * 3). The static TLS blocks sit at the same offsets below every thread's
 * pointer (k->tls_below, from this thread's); on a thread's own stack
 * block they lie between the stack and the control block. */
static void scan_thread(lk *k, uintptr_t sp, uintptr_t lo, uintptr_t tp, const uintptr_t *regs,
			unsigned nregs)
{
	for (unsigned i = 0; i < nregs; i++)
		consider(k, regs[i], LK_REACHABLE, 0);
	const lk_range *st = map_of(k, sp);
	bool tp_on_stack = st && tp >= sp && tp < st->hi;
	uintptr_t tcb_end = hw_align_up(tp + LK_TCB_BYTES, hw_mc_g.pf->caps.page_size);
	if (st) {
		uintptr_t hi = tp_on_stack ? hw_min(st->hi, tcb_end) : st->hi;
		scan_root(k, hw_max(st->lo, lo), hi);
	}
	if (tp && !tp_on_stack)
		scan_root(k, tp - hw_min(tp, k->tls_below), tcb_end);
}

/* This thread's static TLS blocks: how far below its pointer they reach. */
static int add_tls(void *arg, uintptr_t lo, uintptr_t hi)
{
	lk *k = arg;
	(void)hi;
	mc_span *s = span_any(lo);
	bool heap = s && (s->kind == MC_SPAN_SMALL || s->kind == MC_SPAN_LARGE ||
			  s->kind == MC_SPAN_GUARDED);
	if (lo < k->tp && k->tp - lo <= LK_TLS_MAX && !heap)
		k->tls_below = hw_max(k->tls_below, k->tp - lo);
	return 0;
}

static void count_live(lk *k, mc_span *s, uintptr_t lo, size_t len, mc_dbg_obj *rec)
{
	(void)s, (void)lo, (void)len, (void)rec;
	k->live++;
}

/* Objects the dynamic linker allocated are roots (step 3). */
static void mark_linker(lk *k, mc_span *s, uintptr_t lo, size_t len, mc_dbg_obj *rec)
{
	(void)s, (void)len;
	const uintptr_t *pc;
	if (!rec || rec->free_stack == LK_REACHABLE)
		return;
	if (hw_mc_depot_get(rec->alloc_stack, &pc) == 0 || pc[0] < k->ld_lo || pc[0] >= k->ld_hi)
		return;
	rec->free_stack = LK_REACHABLE;
	if (k->top < k->cap)
		k->stack[k->top++] = lo;
}

/* Objects without records are roots (step 3). */
static void scan_unrecorded(lk *k, mc_span *s, uintptr_t lo, size_t len, mc_dbg_obj *rec)
{
	(void)s;
	if (!rec)
		scan(k, lo, lo + len, LK_REACHABLE, 0);
}

static void mark_children(lk *k, mc_span *s, uintptr_t lo, size_t len, mc_dbg_obj *rec)
{
	(void)s;
	if (rec && rec->free_stack != LK_REACHABLE)
		scan(k, lo, lo + len, LK_INDIRECT, lo);
}

static void count_leaked(lk *k, mc_span *s, uintptr_t lo, size_t len, mc_dbg_obj *rec)
{
	(void)s, (void)lo, (void)len;
	if (rec && rec->free_stack != LK_REACHABLE)
		k->leaked++;
}

/* ---- grouping ---- */

typedef struct lk_groups {
	mc_leak *slot; /* open addressing, cap a power of two */
	size_t cap, n;
} lk_groups;

static lk_groups *groups; /* during step 5 only (under leak_lock) */

static void group_one(lk *k, mc_span *s, uintptr_t lo, size_t len, mc_dbg_obj *rec)
{
	(void)k, (void)s, (void)lo;
	if (!rec)
		return;
	uint32_t mark = rec->free_stack;
	rec->free_stack = 0; /* LK3 */
	if (mark == LK_REACHABLE || groups->cap == 0)
		return;
	bool direct = mark == LK_UNMARKED;
	size_t h = ((size_t)rec->alloc_stack * 2 + direct) * 0x9e3779b97f4a7c15ull;
	for (size_t i = h & (groups->cap - 1);; i = (i + 1) & (groups->cap - 1)) {
		mc_leak *g = &groups->slot[i];
		if (g->count == 0) {
			*g = (mc_leak){rec->alloc_stack, direct, 0, 0};
			groups->n++;
		} else if (g->stack != rec->alloc_stack || g->direct != direct) {
			continue;
		}
		g->bytes += len;
		g->count++;
		return;
	}
}

/* The report's order: direct first, then more bytes, then more objects. */
static bool before(const void *x, const void *y)
{
	const mc_leak *a = x, *b = y;
	if (a->direct != b->direct)
		return a->direct;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes;
	return a->count > b->count;
}

/* ---- the check ---- */

static size_t unstopped_threads(const hw_world *w)
{
	size_t n = w->missed;
	for (size_t i = 0; i < w->n; i++)
		if (!w->t[i].stopped && !w->t[i].gone)
			n++;
	return n;
}

/* Whether m is a thread's stack, which scan_thread reads from the stack
 * pointer up (LK6): it holds this thread's or a stopped thread's. */
static bool holds_stack(const lk_range *m, const hw_world *w, uintptr_t own_sp)
{
	if (own_sp >= m->lo && own_sp < m->hi)
		return true;
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].stopped && w->t[i].sp >= m->lo && w->t[i].sp < m->hi)
			return true;
	return false;
}

/* A stretch of a mapping's pages that hold memory, as roots, less the
 * modules' segments (read already) and what scan_outside leaves out. */
static void scan_stretch(void *arg, uintptr_t lo, uintptr_t hi)
{
	lk *k = arg;
	minus(k, lo, hi, k->segs, k->nsegs, scan_outside);
}

/* LK6: every other readable and writable mapping, through the copy only. */
static void scan_mappings(lk *k, const hw_world *w, uintptr_t own_sp)
{
	k->copy_only = true;
	for (size_t i = 0; i < k->nmaps; i++) {
		const lk_range *m = &k->maps[i];
		if (m->rw && !holds_stack(m, w, own_sp))
			(void)hw_platform_resident_each((const void *)m->lo, m->hi - m->lo,
							scan_stretch, k);
	}
	k->copy_only = false;
}

static void mark_roots(lk *k, const hw_world *w, uintptr_t own_sp, bool stopped)
{
	for (size_t i = 0; i < k->nsegs; i++)
		scan_root(k, k->segs[i].lo, k->segs[i].hi);
	scan_thread(k, own_sp, own_sp, w->self.tp, NULL, 0); /* LK5 */
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].stopped)
			scan_thread(k, w->t[i].sp, w->t[i].sp - LK_RED_ZONE, w->t[i].tp,
				    w->t[i].regs, w->t[i].nregs);
	if (!stopped || unstopped_threads(w)) {
		for (size_t i = 0; i < k->nmaps; i++)
			scan_root(k, k->maps[i].lo, k->maps[i].hi);
	} else if (k->skip_ok && hw_mc_dbg.use_mappings && HW_LEAK_SCANS_MAPPINGS) {
		scan_mappings(k, w, own_sp);
	}
	each_object(k, scan_unrecorded);
	if (k->ld_lo < k->ld_hi)
		each_object(k, mark_linker);
}

/* The check; own_sp: where this thread's roots begin (LK5). */
__attribute__((noinline)) static size_t check(uintptr_t own_sp)
{
	hw_mutex_lock(&leak_lock);
	lk k;
	memset(&k, 0, sizeof k);
	k.maps = get(LK_MAX_MAPS * sizeof *k.maps);
	k.segs = get(LK_MAX_SEGS * sizeof *k.segs);
	k.skip = get((LK_MAX_ARENAS + LK_MAX_OWNED) * sizeof *k.skip);
	k.buf = get(LK_BUF_BYTES);
	if (!world)
		world = get(sizeof *world);
	if (!k.maps || !k.segs || !k.skip || !k.buf || !world) {
		hw_report_write("heapward: leak check skipped: out of memory\n");
		release_buffers(&k);
		hw_mutex_unlock(&leak_lock);
		return 0;
	}
	/* Step 1 (the arenas too: the heap's lock may be held by a thread
	 * that is about to be stopped). */
	(void)hw_module_writable(add_seg, &k);
	hw_heap *heaps[2] = {hw_mc_g.heap, hw_mc_guard_heap()};
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (size_t h = 0; h < 2 && heaps[h]; h++) {
		uintptr_t wb;
		size_t ws;
		hw_heap_window(heaps[h], &wb, &ws);
		if (ws) {
			lo = hw_min(lo, wb);
			hi = hw_max(hi, wb + ws);
		}
		size_t na = hw_heap_arena_count(heaps[h]);
		for (size_t i = 0; i < na && k.nskip < LK_MAX_ARENAS; i++) {
			void *b;
			size_t n;
			hw_heap_arena_get(heaps[h], i, &b, &n);
			k.skip[k.nskip++] = (lk_range){(uintptr_t)b, (uintptr_t)b + n, true};
		}
	}
	k.heaps_lo = lo;
	k.heaps_span = hi > lo ? hi - lo : 0;
	sort_merge(k.segs, &k.nsegs);
	if (!hw_module_linker(&k.ld_lo, &k.ld_hi))
		k.ld_lo = k.ld_hi = 0;
	k.tp = hw_thread_pointer();
	(void)hw_module_tls(add_tls, &k);
	/* Step 2 (heapward's own ranges before the stop: a stopped thread may
	 * hold their lock, owned.h). */
	hw_mc_lock_all();
	k.skip_ok = true; /* add_owned clears it when the ranges overflow skip */
	if (hw_platform_owned(add_owned, &k) != 0)
		k.skip_ok = false;
	sort_merge(k.skip, &k.nskip);
	bool stopped = hw_world_stop(world, LK_STOP_MS) == 0;
	(void)hw_platform_mappings(NULL, UINTPTR_MAX, add_map, &k);
	/* Step 3. */
	each_object(&k, count_live);
	k.cap = k.live;
	k.stack = get(k.cap * sizeof *k.stack);
	if (k.stack) {
		/* A conservative scan reads memory nobody initialised: Memcheck
		 * must not call that an error. */
		hw_track_quiet_begin();
		mark_roots(&k, world, own_sp, stopped);
		flood(&k);
		/* Step 4. */
		each_object(&k, mark_children);
		hw_track_quiet_end();
		each_object(&k, count_leaked);
	} else {
		k.cap = 0;
		hw_report_write("heapward: leak check skipped: out of memory\n");
	}
	/* Step 5. */
	lk_groups g = {NULL, 0, 0};
	size_t unstopped = stopped ? unstopped_threads(world) : SIZE_MAX;
	if (k.leaked) {
		g.cap = 2;
		while (g.cap < 2 * k.leaked)
			g.cap *= 2;
		g.slot = get(g.cap * sizeof *g.slot);
		if (g.slot)
			memset(g.slot, 0, g.cap * sizeof *g.slot);
		else
			g.cap = 0;
	}
	groups = &g;
	each_object(&k, group_one);
	groups = NULL;
	if (stopped)
		hw_world_resume(world);
	hw_mc_unlock_all();
	size_t n = 0;
	for (size_t i = 0; i < g.cap; i++)
		if (g.slot[i].count)
			g.slot[n++] = g.slot[i];
	hw_heapsort(g.slot, n, sizeof *g.slot, before); /* qsort may call malloc */
	if (k.leaked && !g.cap)
		hw_report_write("heapward: %zu leaked object(s) found, but no memory to group "
				"them for the report\n",
				k.leaked);
	/* Suppressed groups (debug_report.c RP7) do not count. */
	size_t leaked = k.leaked;
	if (k.leaked && g.cap)
		leaked = hw_mc_report_leaks(g.slot, n, unstopped);
	/* A clean result that may be blind says so (a report says it in its
	 * header): under a debugger or strace no thread that blocks the stop
	 * signal can be traced (stop.h SW6). */
	if (leaked == 0)
		hw_mc_report_blind(unstopped);
	put(g.slot, g.cap * sizeof *g.slot);
	put(k.stack, k.cap * sizeof *k.stack);
	release_buffers(&k);
	hw_mutex_unlock(&leak_lock);
	return leaked;
}

/* Unchecked under AddressSanitizer, which may otherwise put here on its
 * fake stack, away from the frame. */
HW_TRACK_UNCHECKED size_t hw_mc_leak_check(void)
{
	if (!hw_mc_debug_on() || !__atomic_load_n(&hw_mc_ready, __ATOMIC_ACQUIRE))
		return 0;
	/* LK5: every callee-saved register of the caller saved in this frame,
	 * which the scan of this thread's stack begins with (here lies below
	 * them on x86-64, the frame's base below them on AArch64). */
	__builtin_unwind_init();
	volatile uintptr_t here = 0;
	uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
	size_t n = check(hw_min((uintptr_t)&here, frame));
	__asm__ volatile("" ::"r"(&here)
			 : "memory"); /* no tail call: this frame stays */
	return n;
}

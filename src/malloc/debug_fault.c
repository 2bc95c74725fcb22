/* debug_fault.c: the debug mode's fault reports: what a trapping access
 * touched, for the platform's fault handler (platform/fault.h).
 *
 * Owns: the layer's two classifiers in the handler's chain, their install
 * (hw_mc_fault_start, when the debug mode starts), and the alternate
 * signal stack of each thread the mode serves (hw_mc_fault_thread, at the
 * thread's first allocation or free; given back at its exit).
 *
 * Kinds (the report's layout is debug_report.c's, RP5):
 *   rank objects, any fault on the layer's memory:
 *     heap-use-after-free an address in the pages of a guarded object
 *                        that is freed (quarantined, its pages faulted)
 *     heap-buffer-underflow below a live guarded object's start (its
 *                        guard page on the left)
 *     heap-buffer-overflow at or after its end (the guard on the right)
 *     unknown-crash      inside a live guarded object (a trap there is a
 *                        race with its free, or memory protected by
 *                        someone else)
 *                        (guard.h's hw_mc_guard_describe says which
 *                        object, with its stacks)
 *     heap-use-after-free an address in the pages of a large object held
 *                        in the quarantine (its pages do not trap by
 *                        themselves: its pattern is checked when it leaves;
 *                        a page the program or a debugger protected does)
 *     heap-wild-access   an address of the layer's heap on no object (freed
 *                        or never-used pages, which trap when they are
 *                        Reserved or faulted); the nearest object below it
 *                        is named, with its allocation stack.
 *   rank any, the last word on a fault nobody else reported, and only when
 *   it is going to kill the process (hw_fault.chained false: no handler of
 *   the program's comes next, which might handle it):
 *     stack-overflow     an address within DF_STACK_REACH of the stack
 *                        pointer (a guard page below a stack, in practice)
 *     SEGV (BUS)         anything else: "SEGV on unknown address"
 *
 * Invariants:
 *   DF1. The classifiers are async-signal-safe: they read the page map and
 *        span records without a lock, and print through
 *        hw_mc_report_fault. A span another thread changes at that instant
 *        may be described half-changed; one whose record is given back to
 *        the OS at that very instant (metadata trim) may fault the handler,
 *        which kills the process without the report (the page heap's
 *        classifier has the same residual hazard, src/fault_report.c).
 *   DF2. The objects classifier reports exactly the addresses of guarded
 *        objects' pages (their guard pages included: hw_mc_guard_describe)
 *        and those of the layer's heap: pages the page map has a span or a freed run for
 *        (MC3), or pages of the heap's arenas (hw_heap_present_chunk, read
 *        lock-free as src/fault_report.c does); the window alone is not
 *        enough, other mappings (threads' stacks) may lie in it. Not a
 *        fault near the stack pointer (a stack's overflow). Only while
 *        the layer is started with the mode on; anything else goes on
 *        down the chain (the page heaps', then the last word, then the
 *        previous handler or the default action: the process dies of the
 *        same signal, FH3).
 *   DF3. Each report counts as an error (hw_mc_errors), so a program whose
 *        own handler survives the fault still exits with exitcode.
 *   DF4. A thread gets its alternate stack once (hw_fault_thread_start
 *        keeps one the thread had), and gives it back at exit through the
 *        mode's thread key (hw_fault_thread_end unmaps only its own).
 *
 * Locking: none in the classifiers (debug_report.c RP5 for the report);
 * the install runs under the layer's init lock.
 */
#include "debug.h"

#include "fault.h"
#include "guard.h"
#include "heap_internal.h"
#include "thread.h"

/* A fault this close to the stack pointer is the stack's own overflow. */
#define DF_STACK_REACH ((uintptr_t)64 << 10)

static hw_thread_key thread_key;
static bool key_made;                  /* under the init lock */
static HW_THREAD_LOCAL bool thread_in; /* DF4 */

/* The nearest live object strictly below page index pg of the window
 * (a large object, or the highest live slot of a small span), with its
 * record when it has one; false when there is none. Walks the page map
 * down, skipping leaves never made or released (SP9). */
static bool nearest_below(size_t pg, uintptr_t *lo, size_t *len, const mc_dbg_obj **rec)
{
	while (pg-- > 0) {
		mc_span **leaf =
			__atomic_load_n(&hw_mc_g.map.top[pg >> MC_LEAF_SHIFT], __ATOMIC_ACQUIRE);
		if (!mc_leaf_mapped(leaf)) {
			pg &= ~(MC_LEAF_ENTRIES - 1);
			continue;
		}
		const mc_span *s = __atomic_load_n(&leaf[pg & (MC_LEAF_ENTRIES - 1)],
						   __ATOMIC_RELAXED);
		if (!s || (s->kind != MC_SPAN_SMALL && s->kind != MC_SPAN_LARGE))
			continue;
		if (s->kind == MC_SPAN_LARGE) {
			*lo = s->start;
			*len = s->req;
			*rec = s->dbg ? mc_span_dbg(s) : NULL;
			return true;
		}
		for (size_t i = s->nobjs; i-- > 0;) {
			mc_state st = s->state[i];
			if (st == 0)
				continue;
			*lo = s->start + (uintptr_t)i * s->size;
			*len = mc_state_len(s, st);
			*rec = s->dbg ? &mc_span_dbg(s)[i] : NULL;
			return true;
		}
		/* An empty span: go on below it. */
		pg = (size_t)((s->start - hw_mc_g.map.base) >> MC_PAGE_SHIFT);
	}
	return false;
}

/* A large object in the quarantine (debug_quarantine.c): a use after
 * free, with its free and allocation stacks. */
static void quarantined(const hw_fault *f, const mc_span *s, mc_fault_report *r)
{
	r->kind = "heap-use-after-free";
	r->heap = true;
	hw_mc_report_where(r->located, sizeof r->located, f->addr, s->start, s->req, true,
			   "region");
	r->freed = true;
	if (s->dbg) {
		r->have_rec = true;
		r->rec = *mc_span_dbg(s);
	}
}

/* A wild access in the window: where it is, and the nearest object. */
static void wild(const hw_fault *f, mc_fault_report *r)
{
	size_t pg = (size_t)((f->addr - hw_mc_g.map.base) >> MC_PAGE_SHIFT);
	const mc_span *s = mc_span_of(f->addr);
	if (s && s->kind == MC_SPAN_QUARANTINED) {
		quarantined(f, s, r);
		return;
	}
	const char *what = s && s->kind == MC_SPAN_FREED ? "freed heap pages"
			   : s                           ? "a span's pages"
							 : "heap pages never used";
	size_t n = hw_report_format(r->located, sizeof r->located,
				    "%p is in the heap's window [%p,%p), on %s, in no object; ",
				    (void *)f->addr, (void *)hw_mc_g.map.base,
				    (void *)(hw_mc_g.map.base + hw_mc_g.map.wsize), what);
	uintptr_t lo;
	size_t len;
	const mc_dbg_obj *rec;
	r->kind = "heap-wild-access";
	r->heap = true;
	if (!nearest_below(pg + 1, &lo, &len, &rec) || lo > f->addr) {
		hw_report_format(r->located + n, sizeof r->located - n, "no object lies below it");
		return;
	}
	n += hw_report_format(r->located + n, sizeof r->located - n,
			      "the nearest object below it:\n");
	hw_mc_report_where(r->located + n, sizeof r->located - n, f->addr, lo, len, false,
			   "region");
	if (rec) {
		r->have_rec = true;
		r->rec = *rec;
	}
}

static bool started(void)
{
	return __atomic_load_n(&hw_mc_ready, __ATOMIC_ACQUIRE) && hw_mc_debug_on();
}

static void report(const mc_fault_report *r)
{
	__atomic_add_fetch(&hw_mc_errors, 1, __ATOMIC_RELAXED); /* DF3 */
	hw_mc_report_fault(r);
}

/* Whether a fault at f's address is the stack's own overflow. */
static bool near_sp(const hw_fault *f)
{
	return f->sp && f->addr + DF_STACK_REACH > f->sp && f->addr < f->sp + DF_STACK_REACH;
}

/* An address in a guarded object's pages (guard.h): the kind from the
 * object's state and where the address lies against it. */
static bool guarded(const hw_fault *f, mc_fault_report *r)
{
	mc_guard_obj o;
	if (!hw_mc_guard_describe(f->addr, &o))
		return false;
	uintptr_t end = o.start + o.size;
	r->heap = true;
	r->kind = o.freed             ? "heap-use-after-free"
		  : f->addr < o.start ? "heap-buffer-underflow"
		  : f->addr >= end    ? "heap-buffer-overflow"
				      : "unknown-crash";
	hw_mc_report_where(r->located, sizeof r->located, f->addr, o.start, o.size, o.freed,
			   "region");
	r->have_rec = o.dbg;
	r->rec = o.rec;
	r->freed = o.freed;
	return true;
}

/* Rank objects (DF2). */
static bool classify_objects(const hw_fault *f)
{
	if (!started() || near_sp(f))
		return false;
	mc_fault_report g = {.f = f};
	if (guarded(f, &g)) {
		report(&g);
		return true;
	}
	if (f->addr - hw_mc_g.map.base >= hw_mc_g.map.wsize)
		return false;
	/* The window is address space the heap may grow over, not a
	 * reservation: other mappings (a thread's stack) may lie in it. */
	if (!mc_span_of(f->addr) && !hw_heap_present_chunk(hw_mc_g.heap, f->addr))
		return false;
	mc_fault_report r = {.f = f};
	wild(f, &r);
	report(&r);
	return true;
}

/* Rank any: the last word on a fault that will kill the process. */
static bool classify_any(const hw_fault *f)
{
	if (!started() || f->chained)
		return false;
	mc_fault_report r = {.f = f, .kind = f->signal};
	if (near_sp(f)) {
		r.kind = "stack-overflow";
		r.stack_overflow = true;
	}
	report(&r);
	return true;
}

static void thread_exit(void *v)
{
	(void)v;
	hw_fault_thread_end();
}

void hw_mc_fault_start(void)
{
	if (!key_made)
		key_made = hw_thread_key_create(&thread_key, thread_exit) == 0;
	int e = hw_fault_install(classify_objects, HW_FAULT_RANK_OBJECTS);
	if (e == 0)
		e = hw_fault_install(classify_any, HW_FAULT_RANK_ANY);
	if (e != 0)
		hw_report_write("heapward: debug: no fault reports: the fault handler could not "
				"be installed (errno %d)\n",
				e);
	thread_in = true; /* hw_fault_install gave this thread its stack */
	if (key_made)
		(void)hw_thread_key_set(thread_key, &thread_key);
}

void hw_mc_fault_thread(void)
{
	if (HW_LIKELY(thread_in))
		return;
	thread_in = true;
	if (hw_fault_thread_start() == 0 && key_made)
		(void)hw_thread_key_set(thread_key, &thread_key);
}

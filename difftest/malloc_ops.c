/* malloc_ops.c: the malloc target's op handlers and its op generator.
 *
 * Owns: one handler op_NAME per row of ops.h HW_MALLOC_OPS, the handler
 * table made from it, and the fixed-seed generator weighted by it; what
 * each handler expects from heapward.h's words before it calls the layer,
 * and how it brings the model along; the REMOTE op's thread.
 *
 * Invariants:
 *   MQ1. A call may fail (NULL, or ENOMEM from hw_posix_memalign) only
 *        when the platform refused a call during the op (an injection or
 *        a full simulator); its errno is then ENOMEM, and the model and
 *        every object are as before (a failed realloc keeps its object and
 *        its contents). A call the header says must fail (a request above
 *        SIZE_MAX / 4 or the heap's window, an overflowing product, a bad
 *        alignment) fails with the header's errno whatever the platform
 *        did. hw_free and hw_posix_memalign never change errno.
 *   MQ2. A new object is checked before the model takes it: alignment,
 *        usable size == the request, place (MK2), no overlap (MM1), zero
 *        (calloc) or fill (fill_on_alloc); then stamped (MK1). An object
 *        is checked (MK1) before the layer frees or reallocates it.
 *   MQ3. hw_realloc keeps the object's place exactly when the model says
 *        so (hw_mm_realloc_in_place), and its result holds the old stamps
 *        up to the smaller size.
 *   MQ4. A MISUSE, DELETE_WRONG or FREE_WRONG_SIZE op makes exactly one
 *        report (errors + 1: the layer continues, abort_on_error=0) and
 *        changes no object, except the overflow kinds, whose free or
 *        realloc goes on after the report. An object made by NEW is freed
 *        by its own delete (hw_mc_free_kind), sized for every other one;
 *        one of the malloc family by hw_free, or, one in four each, by
 *        hw_free_sized or hw_free_aligned_sized with its request (and the
 *        largest power of two, up to 64 KiB, dividing its address).
 *   MQ5. An opcode outside the table, or an op that needs an object when
 *        none is live (or would pass MR_MAX_LIVE), does nothing (O2).
 *   MQ6. A write after free (UAF_WRITE) touches only an object the model
 *        holds in its quarantine (MM4), which the layer's holds too (so
 *        no other object, nor the layer's own data, is hit); without a
 *        quarantine it does nothing.
 *   MQ7. An allocation the layer served only by emptying its quarantine
 *        (malloc.c MA9: a refused platform call, or a full window, while
 *        objects were held) empties the model's quarantine at the same
 *        point, its damaged objects counted as reports.
 *
 * Locking: none; the REMOTE thread runs while the caller waits for it.
 */
#include "malloc_driver_internal.h"

#include "guard.h"
#include "inspect.h"
#include "malloc_internal.h"
#include "sim.h"
#include "thread.h"

#include <errno.h>
#include <string.h>

/* errno before calls that must leave it alone (MQ1). */
#define ERRNO_MARK 7777

/* What the header says of a request (MQ1, ML3). */
typedef enum expect { RUN,
		      MUST_FAIL,
		      SKIP } expect;

/* A request of n bytes aligned to align (a power of two). */
static expect classify(size_t n, size_t align)
{
	if (n > HW_MM_MAX_REQUEST || n > MR_WINDOW || align > MR_WINDOW)
		return MUST_FAIL;
	if (n > MR_MAX_REQUEST || align > MR_MAX_REQUEST)
		return SKIP;
	return RUN;
}

/* The live object an op names (c % live), or -1 when none is live. */
static long pick(const mdrv *d, uint32_t c)
{
	return d->m.nlive ? (long)(c % d->m.nlive) : -1;
}

static bool room(const mdrv *d, size_t more)
{
	return d->m.nlive + more <= MR_MAX_LIVE;
}

/* A call that must fail did: result NULL and errno want. */
static void must_have_failed(mdrv *d, const char *call, void *p, int err, int want)
{
	if (p)
		hw_mdrv_fail(d, "%s returned %p; the header says it fails with errno %d", call, p,
			     want);
	else if (err != want)
		hw_mdrv_fail(d, "%s failed with errno %d, not %d", call, err, want);
}

/* MQ1 for a call that returned NULL with errno err where it may succeed. */
static void check_refused(mdrv *d, const char *call, int err)
{
	if (!hw_mdrv_refused(d))
		hw_mdrv_fail(d, "%s returned NULL though the platform refused nothing", call);
	else if (err != ENOMEM)
		hw_mdrv_fail(d, "%s failed with errno %d, not ENOMEM", call, err);
}

typedef enum fresh { PLAIN,
		     ZEROED,
		     MOVED } fresh;

/* MQ2: p, just returned for n bytes aligned to align, joins the model. */
static void take(mdrv *d, const char *call, void *p, size_t n, size_t align, fresh how)
{
	hw_mm_obj o = {.addr = (uintptr_t)p, .n = n, .cls = hw_mm_place(n, align)};
	o.pages = o.cls == HW_MM_LARGE ? hw_mm_large_pages(n) : 0;
	mc_guard_obj g;
	if (d->cfg.guard && hw_mc_guard_describe(o.addr, &g) && g.start == o.addr) {
		o.cls = HW_MM_GUARDED; /* its place is checked below */
		o.pages = 0;
		/* Its run less its one guard page (guard_side=right). */
		o.qbytes = g.run_end - g.run - hw_heap_page_size(hw_mc_guard_heap());
	}
	size_t a = align > 16 ? align : 16;
	size_t usable = hw_malloc_usable_size(p);
	if (how != MOVED)
		hw_mdrv_trace(d, "\tvoid *o%u = %s; /* -> %p */\n", (unsigned)d->m.next_id, call,
			      p);
	if (o.addr % a != 0) {
		hw_mdrv_fail(d, "%s returned %p, not aligned to %zu", call, p, a);
		return;
	}
	if (usable != n) {
		hw_mdrv_fail(d, "hw_malloc_usable_size(%p) is %zu after %s; the request was %zu", p,
			     usable, call, n);
		return;
	}
	const hw_mm_obj *other = hw_mm_overlap(&d->m, o.addr, n);
	if (other) {
		hw_mdrv_fail(d, "%s returned [%p, +%zu), which overlaps live #%u [%p, +%zu)", call,
			     p, n, (unsigned)other->id, (void *)other->addr, other->n);
		return;
	}
	if (!hw_mdrv_check_place(d, &o))
		return;
	if (how == ZEROED && !hw_mdrv_check_zero(d, &o))
		return;
	int fill = d->cfg.fill_on_alloc;
	if (how == PLAIN && fill >= 0 && !hw_mdrv_check_fill(d, &o, fill))
		return;
	hw_mdrv_stamp(d, &o);
	if (hw_mm_add(&d->m, &o) != 0)
		hw_mdrv_fail(d, "harness out of memory");
}

/* Whether the layer holds o, which this op freed, in its quarantine: not a
 * guarded object whose guard install a refused platform call stopped
 * (guard.c GD4: its run goes back to the heap at once, so it is no longer
 * a freed guarded object). */
static bool layer_holds(const mdrv *d, const hw_mm_obj *o)
{
	mc_guard_obj g;
	return o->cls != HW_MM_GUARDED || !hw_mdrv_refused(d) ||
	       (hw_mc_guard_describe(o->addr, &g) && g.freed);
}

/* MQ7: an allocation that emptied the layer's quarantine to be served
 * (malloc.c MA9) empties the model's too, before the model takes the
 * result or (realloc) frees the old object. */
static void follow_give_back(mdrv *d)
{
	uint64_t n = hw_mc_give_backs();
	if (n == d->give_backs)
		return;
	d->give_backs = n;
	if (d->m.qn == 0) {
		hw_mdrv_fail(d, "the layer emptied its quarantine for an allocation, though the "
				"model holds nothing in it");
		return;
	}
	hw_mdrv_trace(d, "	/* the quarantine is emptied to serve the allocation */\n");
	hw_mm_quar_drain(&d->m);
}

static void outcome(mdrv *d, const char *call, expect e, int want, void *p, int err, size_t n,
		    size_t align, fresh how)
{
	follow_give_back(d);
	if (!p)
		hw_mdrv_trace(d, "\t%s; /* -> NULL, errno %d */\n", call, err);
	if (e == MUST_FAIL)
		must_have_failed(d, call, p, err, want);
	else if (!p)
		check_refused(d, call, err);
	else
		take(d, call, p, n, align, how);
}

void hw_mdrv_free_obj(mdrv *d, size_t i)
{
	hw_mm_obj *o = &d->m.live[i];
	if (!hw_mdrv_check_stamps(d, o, SIZE_MAX, "before its free"))
		return;
	errno = ERRNO_MARK;
	if (o->kind == MC_KIND_MALLOC && o->id % 4 == 2) {
		hw_mdrv_trace(d, "\thw_free_sized(o%u, %zu);\n", (unsigned)o->id, o->n);
		hw_free_sized((void *)o->addr, o->n);
	} else if (o->kind == MC_KIND_MALLOC && o->id % 4 == 3) {
		size_t align = hw_min(o->addr & -o->addr, (uintptr_t)65536);
		hw_mdrv_trace(d, "\thw_free_aligned_sized(o%u, %zu, %zu);\n", (unsigned)o->id,
			      align, o->n);
		hw_free_aligned_sized((void *)o->addr, align, o->n);
	} else if (o->kind == MC_KIND_MALLOC) {
		hw_mdrv_trace(d, "\thw_free(o%u);\n", (unsigned)o->id);
		hw_free((void *)o->addr);
	} else {
		/* Its own delete, sized for every other object (MC8). */
		bool sized = o->id & 1;
		hw_mdrv_trace(d, "\thw_mc_free_kind(o%u, %u, %d, %zu, \"delete\");\n",
			      (unsigned)o->id, o->kind, sized, o->n);
		hw_mc_free_kind((void *)o->addr, o->kind, sized, o->n, "operator delete");
	}
	if (errno != ERRNO_MARK)
		hw_mdrv_fail(d, "a free changed errno to %d", errno);
	/* A freed guarded object traps: in the quarantine every page of its
	 * run is a guard page, or the run is sealed, its pages still in use
	 * to the heap (guard.c GD10); out of it, its pages are free and
	 * released. */
	mc_guard_obj g;
	if (o->cls == HW_MM_GUARDED && hw_mc_guard_describe(o->addr, &g)) {
		hw_heap *gh = hw_mc_guard_heap();
		uintptr_t page = o->addr & ~(uintptr_t)(hw_heap_page_size(gh) - 1);
		bool head;
		hw_page_kind k = hw_heap_page_kind(gh, (void *)page, &head);
		bool sealed = k == HW_PAGE_INUSE && hw_sim_sealed(d->pf, (void *)page) &&
			      hw_sim_sealed(d->pf, (void *)(o->addr + o->n - (o->n > 0)));
		if (!g.freed || (k != HW_PAGE_GUARD && !sealed))
			hw_mdrv_fail(d,
				     "guarded #%u (%p) is not faulted in the quarantine after its "
				     "free",
				     (unsigned)o->id, (void *)o->addr);
	}
	hw_mm_remove(&d->m, i, layer_holds(d, o));
}

/* ---- allocation ops ------------------------------------------------------------------ */

static void op_NOP(mdrv *d, const hw_op *op)
{
	(void)d;
	(void)op;
}

/* An object of op's size from hw_malloc (kind MC_KIND_MALLOC) or from
 * operator new's entry, hw_mc_malloc_kind, which the model then frees with
 * its delete (MC8). */
static void alloc_kind(mdrv *d, const hw_op *op, unsigned kind)
{
	size_t n = hw_ops_malloc_size(op->a, op->b);
	expect e = classify(n, 16);
	if (e == SKIP || !room(d, 1))
		return;
	char call[64];
	void *p;
	if (kind == MC_KIND_MALLOC) {
		snprintf(call, sizeof call, "hw_malloc(%zu)", n);
		errno = 0;
		p = hw_malloc(n);
	} else {
		snprintf(call, sizeof call, "hw_mc_malloc_kind(%zu, %u)", n, kind);
		errno = 0;
		p = hw_mc_malloc_kind(n, kind);
	}
	outcome(d, call, e, ENOMEM, p, errno, n, 16, PLAIN);
	long j = kind != MC_KIND_MALLOC && p && !d->failed ? hw_mm_find(&d->m, (uintptr_t)p) : -1;
	if (j >= 0)
		d->m.live[j].kind = kind;
}

static void op_MALLOC(mdrv *d, const hw_op *op) { alloc_kind(d, op, MC_KIND_MALLOC); }

/* operator new's entry (the override library's): c & 1 makes it new[]. */
static void op_NEW(mdrv *d, const hw_op *op)
{
	alloc_kind(d, op, op->c & 1 ? MC_KIND_NEW_ARRAY : MC_KIND_NEW);
}

static void op_CALLOC(mdrv *d, const hw_op *op)
{
	size_t size = hw_ops_malloc_size(op->a, op->b), n;
	size_t nmemb = op->a & 0x80 ? SIZE_MAX - (op->c & 0xffff) : op->c & 0xffff;
	expect e = __builtin_mul_overflow(nmemb, size, &n) ? MUST_FAIL : classify(n, 16);
	if (e == SKIP || !room(d, 1))
		return;
	char call[80];
	snprintf(call, sizeof call, "hw_calloc(%zu, %zu)", nmemb, size);
	errno = 0;
	void *p = hw_calloc(nmemb, size);
	outcome(d, call, e, ENOMEM, p, errno, n, 16, ZEROED);
}

/* Free heap pages right after large object o's run, up to want (the heap's
 * own view), which a realloc may grow it into. */
static size_t free_pages_after(const hw_mm_obj *o, size_t want)
{
	size_t k = 0;
	while (k < want) {
		hw_page_kind pk = hw_heap_page_kind(
			hw_mc_heap(), (void *)(o->addr + (o->pages + k) * HW_MM_PAGE), NULL);
		if (pk != HW_PAGE_FREE_READY && pk != HW_PAGE_FREE_RELEASED)
			break;
		k++;
	}
	return k;
}

/* hw_realloc(live[i] or NULL, n) with n's expectation e; arrays name the
 * call (reallocarray). */
static void do_realloc(mdrv *d, long i, size_t n, expect e, const char *call,
		       void *(*fn)(void *, size_t, size_t), size_t nmemb, size_t size)
{
	if (e == SKIP)
		return;
	if (i < 0) {
		if (!room(d, 1))
			return;
		errno = 0;
		void *p = fn(NULL, nmemb, size);
		outcome(d, call, e, ENOMEM, p, errno, n, 16, PLAIN);
		return;
	}
	hw_mm_obj old = d->m.live[i];
	if (!hw_mdrv_check_stamps(d, &old, SIZE_MAX, "before its realloc"))
		return;
	size_t keep = n < old.n ? n : old.n;
	hw_mdrv_stamp_edge(&old, keep);
	size_t need = old.cls == HW_MM_LARGE && n > HW_MM_SMALL_MAX ? hw_mm_large_pages(n) : 0;
	size_t after = need > old.pages ? free_pages_after(&old, need - old.pages) : 0;
	errno = 0;
	void *q = fn((void *)old.addr, nmemb, size);
	int err = errno;
	follow_give_back(d);
	hw_mdrv_trace(d, "\tvoid *o%u = %s; /* o%u was %p -> %p, errno %d */\n",
		      (unsigned)d->m.next_id, call, (unsigned)old.id, (void *)old.addr, q, err);
	if (e == MUST_FAIL || (n > 0 && !q)) {
		if (e == MUST_FAIL)
			must_have_failed(d, call, q, err, ENOMEM);
		else
			check_refused(d, call, err);
		/* The object stays the caller's, untouched. */
		if (!d->failed && hw_mdrv_check_stamps(d, &old, SIZE_MAX, "by a failed realloc"))
			hw_mdrv_check_edge(d, &old, keep, "by a failed realloc");
		return;
	}
	if (n == 0) {
		if (q)
			hw_mdrv_fail(d,
				     "%s returned %p; a realloc to 0 bytes frees and returns NULL",
				     call, q);
		hw_mm_remove(&d->m, (size_t)i, layer_holds(d, &old));
		return;
	}
	bool in_place = hw_mm_realloc_in_place(&old, n, after);
	/* A growth in place whose make-Ready call was refused moves instead. */
	if (in_place && after > 0 && (uintptr_t)q != old.addr && hw_mdrv_refused(d))
		in_place = false;
	if (in_place != ((uintptr_t)q == old.addr)) {
		hw_mdrv_fail(d, "%s of #%u (%zu bytes at %p) returned %p: the header says it %s",
			     call, (unsigned)old.id, old.n, (void *)old.addr, q,
			     in_place ? "keeps its place" : "moves");
		return;
	}
	hw_mm_obj moved = old;
	moved.addr = (uintptr_t)q;
	if (!hw_mdrv_check_stamps(d, &moved, keep, "across realloc") ||
	    !hw_mdrv_check_edge(d, &moved, keep, "across realloc"))
		return;
	if (in_place) {
		size_t usable = hw_malloc_usable_size(q);
		if (usable != n) {
			hw_mdrv_fail(d, "hw_malloc_usable_size is %zu after %s in place", usable,
				     call);
			return;
		}
		hw_mm_resize(&d->m, (size_t)i, n);
		hw_mdrv_stamp(d, &d->m.live[i]);
		return;
	}
	hw_mm_remove(&d->m, (size_t)i, layer_holds(d, &old));
	take(d, call, q, n, 16, MOVED);
}

static void *realloc_fn(void *p, size_t nmemb, size_t size)
{
	(void)nmemb;
	return hw_realloc(p, size);
}

static void *reallocarray_fn(void *p, size_t nmemb, size_t size)
{
	return hw_reallocarray(p, nmemb, size);
}

static void op_REALLOC(mdrv *d, const hw_op *op)
{
	size_t n = hw_ops_malloc_size(op->a, op->b);
	long i = op->a & 0x80 ? -1 : pick(d, op->c);
	if (i < 0 && !(op->a & 0x80))
		return;
	char call[80];
	if (i < 0)
		snprintf(call, sizeof call, "hw_realloc(NULL, %zu)", n);
	else
		snprintf(call, sizeof call, "hw_realloc(o%u, %zu)", (unsigned)d->m.live[i].id, n);
	do_realloc(d, i, n, classify(n, 16), call, realloc_fn, 1, n);
}

static void op_REALLOCARRAY(mdrv *d, const hw_op *op)
{
	size_t size = hw_ops_malloc_size(op->a, op->b), n;
	size_t nmemb = op->a & 0x40 ? SIZE_MAX - (op->c >> 16) : op->c >> 16;
	long i = op->a & 0x80 ? -1 : pick(d, op->c & 0xffff);
	if (i < 0 && !(op->a & 0x80))
		return;
	expect e = __builtin_mul_overflow(nmemb, size, &n) ? MUST_FAIL : classify(n, 16);
	char call[96];
	if (i < 0)
		snprintf(call, sizeof call, "hw_reallocarray(NULL, %zu, %zu)", nmemb, size);
	else
		snprintf(call, sizeof call, "hw_reallocarray(o%u, %zu, %zu)",
			 (unsigned)d->m.live[i].id, nmemb, size);
	do_realloc(d, i, n, e, call, reallocarray_fn, nmemb, size);
}

static bool pow2(size_t x) { return x && !(x & (x - 1)); }

/* heapward.h on the alignment of each aligned call: false when the call
 * must fail with EINVAL; else *eff is the alignment the object gets. */
static bool alignment_ok(uint8_t code, size_t align, size_t *eff)
{
	*eff = align;
	switch (code) {
	case HW_MOP_MEMALIGN:
		/* EINVAL only above 2^63; other non-powers round up. */
		if (align > (SIZE_MAX >> 1) + 1)
			return false;
		if (!pow2(align) && align > 1)
			*eff = (size_t)1 << (64 - __builtin_clzll(align));
		return true;
	case HW_MOP_ALIGNED_ALLOC:
		return pow2(align);
	default:
		return pow2(align) && align % sizeof(void *) == 0;
	}
}

/* MEMALIGN, ALIGNED_ALLOC, POSIX_MEMALIGN: (align(c), size(a & 7, b)). */
static void aligned_op(mdrv *d, const hw_op *op)
{
	size_t n = hw_ops_malloc_size(op->a, op->b), align = hw_ops_malloc_align(op->c), eff;
	bool bad = !alignment_ok(op->code, align, &eff);
	expect e = bad ? MUST_FAIL : classify(n, eff);
	if (e == SKIP || !room(d, 1))
		return;
	char call[80];
	snprintf(call, sizeof call, "hw_%s(%s%zu, %zu)", hw_ops_malloc_name(op->code),
		 op->code == HW_MOP_POSIX_MEMALIGN ? "&p, " : "", align, n);
	void *p = NULL;
	int err;
	if (op->code == HW_MOP_POSIX_MEMALIGN) {
		errno = ERRNO_MARK;
		err = hw_posix_memalign(&p, align, n);
		if (errno != ERRNO_MARK) {
			hw_mdrv_fail(d, "%s changed errno to %d", call, errno);
			return;
		}
		if (err != 0 && err != EINVAL && err != ENOMEM) {
			hw_mdrv_fail(d, "%s returned %d", call, err);
			return;
		}
		p = err ? NULL : p;
	} else {
		errno = 0;
		p = op->code == HW_MOP_MEMALIGN ? hw_memalign(align, n)
						: hw_aligned_alloc(align, n);
		err = errno;
	}
	outcome(d, call, e, bad ? EINVAL : ENOMEM, p, err, n, eff, PLAIN);
}

static void op_MEMALIGN(mdrv *d, const hw_op *op) { aligned_op(d, op); }
static void op_ALIGNED_ALLOC(mdrv *d, const hw_op *op) { aligned_op(d, op); }
static void op_POSIX_MEMALIGN(mdrv *d, const hw_op *op) { aligned_op(d, op); }

static void op_VALLOC(mdrv *d, const hw_op *op)
{
	size_t n = hw_ops_malloc_size(op->a, op->b), pg = d->os_page;
	bool pv = op->a & 0x80;
	/* pvalloc: whole OS pages, one for 0 bytes. */
	size_t size = n;
	expect e = classify(n, pg);
	if (pv && e == RUN)
		size = n ? hw_align_up(n, pg) : pg;
	if (e == SKIP || !room(d, 1))
		return;
	char call[64];
	snprintf(call, sizeof call, "hw_%svalloc(%zu)", pv ? "p" : "", n);
	errno = 0;
	void *p = pv ? hw_pvalloc(n) : hw_valloc(n);
	outcome(d, call, e, ENOMEM, p, errno, size, pg, PLAIN);
}

/* ---- other ops ----------------------------------------------------------------------- */

static void op_INJECT(mdrv *d, const hw_op *op)
{
	uint64_t nth = hw_ops_inject_nth(op);
	unsigned mask = hw_ops_inject_mask(op);
	hw_mdrv_trace(d, "\thw_platform_inject(pf, %llu, %#x);\n", (unsigned long long)nth, mask);
	hw_platform_inject(d->pf, nth, mask);
}

static void op_FREE(mdrv *d, const hw_op *op)
{
	long i = pick(d, op->c);
	if (i >= 0)
		hw_mdrv_free_obj(d, (size_t)i);
}

static void op_USABLE_SIZE(mdrv *d, const hw_op *op)
{
	long i = pick(d, op->c);
	if (i < 0)
		return;
	const hw_mm_obj *o = &d->m.live[i];
	size_t got = hw_malloc_usable_size((void *)o->addr);
	hw_mdrv_trace(d, "\thw_malloc_usable_size(o%u); /* -> %zu */\n", (unsigned)o->id, got);
	if (got != o->n)
		hw_mdrv_fail(d, "hw_malloc_usable_size(#%u) is %zu, the request was %zu",
			     (unsigned)o->id, got, o->n);
}

static void op_TRIM(mdrv *d, const hw_op *op)
{
	(void)op;
	hw_mdrv_trace(d, "\thw_malloc_trim(0);\n");
	(void)hw_malloc_trim(0);
	d->census_now = d->validate_now = true;
}

static void op_CHECK(mdrv *d, const hw_op *op)
{
	(void)op;
	hw_mdrv_check_all(d);
	d->validate_now = true;
}

static void op_FREE_ALL(mdrv *d, const hw_op *op)
{
	(void)op;
	while (d->m.nlive > 0 && !d->failed)
		hw_mdrv_free_obj(d, 0);
}

/* The REMOTE op's other thread: it frees, allocates, and exits (its cache
 * goes back to the spans at its exit). */
typedef struct remote {
	void *frees[15];
	unsigned nfree, nalloc;
	size_t n;
	void *got[15];
	int err[15];
} remote;

static void *remote_main(void *arg)
{
	remote *r = arg;
	for (unsigned k = 0; k < r->nfree; k++)
		hw_free(r->frees[k]);
	for (unsigned k = 0; k < r->nalloc; k++) {
		errno = 0;
		r->got[k] = hw_malloc(r->n);
		r->err[k] = errno;
	}
	return NULL;
}

static void op_REMOTE(mdrv *d, const hw_op *op)
{
	remote r;
	memset(&r, 0, sizeof r);
	long first = pick(d, op->c & 0xffff);
	r.nfree = first < 0 ? 0 : op->b & 15u;
	if (first >= 0 && r.nfree > d->m.nlive - (size_t)first)
		r.nfree = (unsigned)(d->m.nlive - (size_t)first);
	r.n = hw_ops_malloc_size(op->a, (uint16_t)(op->c >> 16));
	r.nalloc = classify(r.n, 16) == RUN ? (op->b >> 4) & 15u : 0;
	while (r.nalloc > r.nfree && !room(d, r.nalloc - r.nfree))
		r.nalloc--;
	for (unsigned k = 0; k < r.nfree; k++) {
		const hw_mm_obj *o = &d->m.live[(size_t)first + k];
		if (!hw_mdrv_check_stamps(d, o, SIZE_MAX, "before another thread frees it"))
			return;
		r.frees[k] = (void *)o->addr;
	}
	hw_mdrv_trace(d, "\t/* another thread frees %u objects from #%ld, allocates %u of %zu "
			 "bytes, exits */\n",
		      r.nfree, first, r.nalloc, r.n);
	hw_thread t;
	if (hw_thread_start(&t, remote_main, &r) != 0)
		return;
	hw_thread_join(&t);
	for (unsigned k = 0; k < r.nfree; k++)
		hw_mm_remove(&d->m, (size_t)first, layer_holds(d, &d->m.live[(size_t)first]));
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	if (st.thread_caches != d->thread_caches) {
		hw_mdrv_fail(d, "thread_caches is %llu after the other thread exited, %llu before",
			     (unsigned long long)st.thread_caches,
			     (unsigned long long)d->thread_caches);
		return;
	}
	char call[64];
	snprintf(call, sizeof call, "hw_malloc(%zu) in another thread", r.n);
	for (unsigned k = 0; k < r.nalloc && !d->failed; k++)
		outcome(d, call, RUN, ENOMEM, r.got[k], r.err[k], r.n, 16, PLAIN);
}

/* MQ4: one report, and errors counts it. */
static void reported(mdrv *d)
{
	d->m.errors++;
}

/* A stale pointer for the misuse kinds: ring slot k, unless nothing was
 * freed there or a live object starts there again (then 0). */
static uintptr_t stale(const mdrv *d, unsigned k)
{
	uintptr_t q = hw_mm_ring(&d->m, k);
	return q && hw_mm_find(&d->m, q) < 0 ? q : 0;
}

static void op_MISUSE(mdrv *d, const hw_op *op)
{
	unsigned kind = op->a & 7;
	uintptr_t q = 0;
	long i = -1;
	int local = 0;
	errno = ERRNO_MARK;
	switch (kind) {
	case HW_MISUSE_DOUBLE_FREE:
		if (!(q = stale(d, op->c & 15)))
			return;
		hw_mdrv_trace(d, "\thw_free((void *)%p); /* a freed object's */\n", (void *)q);
		hw_free((void *)q);
		reported(d);
		break;
	case HW_MISUSE_INTERIOR:
		if ((i = pick(d, op->c)) < 0)
			return;
		q = d->m.live[i].addr + 1 + op->b % 15;
		hw_mdrv_trace(d, "\thw_free((char *)o%u + %zu);\n", (unsigned)d->m.live[i].id,
			      (size_t)(q - d->m.live[i].addr));
		hw_free((void *)q);
		reported(d);
		break;
	case HW_MISUSE_FOREIGN:
		hw_mdrv_trace(d, "\thw_free(&local);\n");
		hw_free(&local);
		reported(d);
		break;
	case HW_MISUSE_REALLOC_FREED: {
		if (!(q = stale(d, op->c & 15)))
			return;
		size_t n = hw_ops_malloc_size(0, op->b);
		errno = 0;
		void *r = hw_realloc((void *)q, n);
		hw_mdrv_trace(d, "\thw_realloc((void *)%p, %zu); /* -> %p */\n", (void *)q, n, r);
		/* n == 0 frees: a bad free, ignored after its report. */
		if (n > 0)
			must_have_failed(d, "hw_realloc of a freed object", r, errno, EINVAL);
		reported(d);
		return;
	}
	case HW_MISUSE_USABLE_FREED: {
		if (!(q = stale(d, op->c & 15)))
			return;
		size_t got = hw_malloc_usable_size((void *)q);
		hw_mdrv_trace(d, "\thw_malloc_usable_size((void *)%p); /* -> %zu */\n", (void *)q,
			      got);
		if (got != 0)
			hw_mdrv_fail(d, "hw_malloc_usable_size of freed %p is %zu, not 0",
				     (void *)q, got);
		reported(d);
		return;
	}
	case HW_MISUSE_OVERFLOW_FREE:
	case HW_MISUSE_OVERFLOW_REALLOC: {
		if ((i = pick(d, op->c)) < 0 || hw_mm_slack(&d->m.live[i]) == 0)
			return;
		hw_mm_obj *o = &d->m.live[i];
		if (!hw_mdrv_check_stamps(d, o, SIZE_MAX, "before an overflow"))
			return;
		volatile unsigned char *end = (unsigned char *)o->addr + o->n;
		*end = (unsigned char)~*end;
		hw_mdrv_trace(d, "\t((char *)o%u)[%zu] ^= 0xff; /* one byte past its end */\n",
			      (unsigned)o->id, o->n);
		reported(d);
		if (kind == HW_MISUSE_OVERFLOW_FREE) {
			hw_mdrv_free_obj(d, (size_t)i);
			return;
		}
		size_t n = hw_ops_malloc_size(0, op->b);
		char call[64];
		snprintf(call, sizeof call, "hw_realloc(o%u, %zu)", (unsigned)o->id, n);
		do_realloc(d, i, n, RUN, call, realloc_fn, 1, n);
		return;
	}
	default:
		hw_mdrv_trace(d, "\thw_free(NULL);\n");
		hw_free(NULL);
		break;
	}
	if (errno != ERRNO_MARK)
		hw_mdrv_fail(d, "hw_free changed errno to %d", errno);
}

/* MQ4 after a deallocation `what` of o that must have been refused: errno
 * kept (ERRNO_MARK), one report, and o still live, its size and contents
 * as they were. */
static void refused(mdrv *d, const hw_mm_obj *o, const char *what)
{
	if (errno != ERRNO_MARK)
		hw_mdrv_fail(d, "%s changed errno to %d", what, errno);
	reported(d);
	size_t usable = hw_malloc_usable_size((void *)o->addr);
	if (usable != o->n)
		hw_mdrv_fail(d, "#%u's usable size is %zu after %s; its request was %zu",
			     (unsigned)o->id, usable, what, o->n);
	else {
		char when[64];
		snprintf(when, sizeof when, "by %s", what);
		hw_mdrv_check_stamps(d, o, SIZE_MAX, when);
	}
}

/* MC8: a live object deleted by the wrong form (a & 1 clear: new's
 * object by delete[] and any other by delete), or by its own with a size
 * past its request (a & 1 set; a malloc'd object then by delete): one
 * report (MQ4), and the object stays live, its kind and size as they
 * were. */
static void op_DELETE_WRONG(mdrv *d, const hw_op *op)
{
	long i = pick(d, op->c);
	if (i < 0)
		return;
	const hw_mm_obj *o = &d->m.live[i];
	bool sized = (op->a & 1) && o->kind != MC_KIND_MALLOC;
	unsigned kind = sized ? o->kind : o->kind == MC_KIND_NEW ? MC_KIND_NEW_ARRAY
								 : MC_KIND_NEW;
	size_t size = sized ? o->n + 1 + op->b % 15 : 0;
	hw_mdrv_trace(d, "\thw_mc_free_kind(o%u, %u, %d, %zu, \"delete\"); /* wrong */\n",
		      (unsigned)o->id, kind, sized, size);
	errno = ERRNO_MARK;
	hw_mc_free_kind((void *)o->addr, kind, sized, size, "operator delete");
	refused(d, o, "a mismatched delete");
}

/* KD5: a live object freed by hw_free_sized with a size past its request
 * (a & 1 clear), or by hw_free_aligned_sized with twice the largest power
 * of two dividing its address (a & 1 set): one report (MQ4; an object of
 * operator new's is a kind mismatch first), and the object stays live,
 * its size and contents as they were. */
static void op_FREE_WRONG_SIZE(mdrv *d, const hw_op *op)
{
	long i = pick(d, op->c);
	if (i < 0)
		return;
	const hw_mm_obj *o = &d->m.live[i];
	errno = ERRNO_MARK;
	if (op->a & 1) {
		size_t align = (o->addr & -o->addr) * 2;
		hw_mdrv_trace(d, "\thw_free_aligned_sized(o%u, %zu, %zu); /* wrong */\n",
			      (unsigned)o->id, align, o->n);
		hw_free_aligned_sized((void *)o->addr, align, o->n);
	} else {
		size_t size = o->n + 1 + op->b % 15;
		hw_mdrv_trace(d, "\thw_free_sized(o%u, %zu); /* wrong */\n", (unsigned)o->id,
			      size);
		hw_free_sized((void *)o->addr, size);
	}
	refused(d, o, "a mismatched sized free");
}

/* MQ6: a byte of quarantined object c % qn (0: the oldest) set to 0, at
 * b * 257 modulo its slot (small) or its request (large): the pattern
 * check reports it when the object leaves (one error, MM4). */
static void op_UAF_WRITE(mdrv *d, const hw_op *op)
{
	if (d->m.qn == 0)
		return;
	size_t k = op->c % d->m.qn;
	const hw_mm_obj *o = hw_mm_quar_at(&d->m, k);
	if (o->cls == HW_MM_GUARDED)
		return; /* faulted: the write would trap (guarded_test checks it does) */
	size_t span = o->cls == HW_MM_LARGE ? o->n : hw_mm_class_size(o->cls);
	if (span == 0)
		return;
	size_t off = (size_t)op->b * 257 % span;
	hw_mdrv_trace(d, "\t((unsigned char *)%p)[%zu] = 0; /* freed #%u */\n", (void *)o->addr,
		      off, (unsigned)o->id);
	((volatile unsigned char *)o->addr)[off] = 0;
	hw_mm_quar_damage(&d->m, k);
}

/* ---- dispatch and generator -------------------------------------------------------- */

typedef void (*op_fn)(mdrv *d, const hw_op *op);

static const op_fn handlers[HW_MOP_COUNT_] = {
#define HW_MOPS_HANDLER_(name, code, str, weight) [code] = op_##name,
	HW_MALLOC_OPS(HW_MOPS_HANDLER_)
#undef HW_MOPS_HANDLER_
};

void hw_mdrv_run_op(mdrv *d, const hw_op *op)
{
	if (op->code < HW_MOP_COUNT_ && handlers[op->code])
		handlers[op->code](d, op);
}

static const uint16_t weights[HW_MOP_COUNT_] = {
#define HW_MOPS_WEIGHT_(name, code, str, weight) [code] = weight,
	HW_MALLOC_OPS(HW_MOPS_WEIGHT_)
#undef HW_MOPS_WEIGHT_
};

/* A size kind, mostly small (as programs ask): 0-3 85%, 4 8%, 5-6 6%, 7 1%. */
static uint8_t size_kind(uint64_t r)
{
	static const uint8_t cut[8] = {30, 55, 70, 85, 93, 96, 99, 100};
	unsigned v = (unsigned)(r % 100);
	uint8_t k = 0;
	while (v >= cut[k])
		k++;
	return k;
}

void hw_malloc_driver_generate(uint64_t *seed, size_t nops, uint8_t *out)
{
	unsigned total = 0;
	for (unsigned k = 0; k < HW_MOP_COUNT_; k++)
		total += weights[k];
	for (size_t i = 0; i < nops; i++) {
		uint64_t r = hw_harness_rand(seed), s = hw_harness_rand(seed);
		unsigned w = (unsigned)(r % total);
		uint8_t code = 0;
		while (w >= weights[code])
			w -= weights[code++];
		/* One op in 32 sets a's flag bit (NULL, overflow, pvalloc). */
		uint8_t a = (uint8_t)(size_kind(s) | ((s >> 16) % 32 == 0 ? 0x80 : 0));
		uint16_t b = (uint16_t)(s >> 24);
		uint32_t c = (uint32_t)(r >> 32);
		switch (code) {
		case HW_MOP_CALLOC:
			c = (c & 0xffff0000u) | (uint32_t)(1 + (s >> 40) % 16);
			break;
		case HW_MOP_REALLOCARRAY:
			c = (c & 0xffff) | (uint32_t)(1 + (s >> 40) % 4) << 16;
			a &= 0x87;
			break;
		case HW_MOP_MEMALIGN:
		case HW_MOP_ALIGNED_ALLOC:
		case HW_MOP_POSIX_MEMALIGN:
			/* Mostly 1 to 16 KiB; sometimes odd or huge. */
			c = (s >> 48) % 16 ? (uint32_t)((s >> 52) % 15) : c;
			break;
		case HW_MOP_INJECT:
			a = (uint8_t)((s >> 8) % 8);
			b = (uint16_t)((s >> 24) % 48);
			break;
		case HW_MOP_MISUSE:
			a = (uint8_t)((s >> 8) % 8);
			break;
		default:
			break;
		}
		hw_ops_put(out + i * HW_OPS_RECORD, code, a, b, c);
	}
}

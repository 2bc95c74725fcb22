/* malloc_compare.c: the malloc layer against its model (malloc_driver.h).
 *
 * Owns: objects' contents stamps and the zero and fill checks, where a new
 * object sits in the layer's heap (read through src/inspect.h's page
 * kinds, never the layer's internals), the layer's stats against the model,
 * the span census, and when the heap is validated.
 *
 * Invariants:
 *   MK1. Every live object carries stamps: every byte when it has at most
 *        256, else its first and last 128 bytes and the word at every
 *        multiple of 64 KiB between (each byte's value a function of the
 *        object's salt and its offset, so a byte copied to the wrong place
 *        reads wrong). They are checked before the object is freed or
 *        reallocated, at CHECK ops and at the end. Before a realloc the
 *        128 bytes below the smaller size are stamped too, and its result
 *        must hold the old stamps up to the smaller size. A calloc's
 *        object reads zero in every byte; with fill_on_alloc, a new object
 *        (not calloc's, not realloc's) reads the fill at every stamp place.
 *   MK2. A small object lies in a heap run that starts at most its span's
 *        page count before it, has exactly that many pages, and holds it
 *        at a multiple of its class's slot size from the run's start; a
 *        large object is exactly the run of its pages. So a wrong class
 *        (size or alignment) or a wrong span length shows at once.
 *   MK3. After every op, once the layer has started: large_objects,
 *        large_bytes and errors equal the model's; heap_inuse ==
 *        small_span_bytes + large_bytes (the heap holds nothing else);
 *        ready == mapped - released - released_inside and released <=
 *        mapped - inuse; thread_caches <= 1. Before the start every field
 *        is 0.
 *   MK4. The span census: distinct spans holding live small objects (and
 *        quarantined ones, malloc_model.h MM4), one
 *        class each, are at most small_spans, and exactly small_spans
 *        (with their bytes) after hw_malloc_trim emptied the caller's
 *        cache (the only cache: other threads have exited). Then the pages
 *        of those spans that no live or quarantined object touches, in
 *        whole release units (max(OS page, heap page)), are exactly
 *        heap_released_inside when the platform never refused a call (span.c
 *        SP7: the trim released every one), and at least it otherwise; a
 *        live object's pages are never released (MK2 finds each one on
 *        in-use pages).
 *   MK5. hw_heap_validate runs on the layer's heap at CHECK and TRIM ops,
 *        after the first op of a run in which the platform refused a call,
 *        at least every MR_VALIDATE_EVERY ops (every op when asked), and
 *        at the end; hw_sim_check_since at CHECK ops and the end.
 *
 * Locking: none; one run at a time.
 */
#include "malloc_driver_internal.h"

#include "debug.h"
#include "guard.h"
#include "inspect.h"
#include "malloc_internal.h"
#include "sim.h"

#include <stdlib.h>
#include <string.h>

/* ---- contents (MK1) --------------------------------------------------------------- */

#define FULL_STAMP 256
#define EDGE_STAMP 128
/* One word every SPREAD bytes between the edges: few enough that a large
 * object's untouched pages stay without memory (a page fault per stamp is
 * most of a large object's cost); the edges and a realloc's edge carry the
 * byte-exact checks. */
#define SPREAD 65536

/* The stamped byte ranges of an n-byte object, in order: [*a, *b) is the
 * first at or after offset from (false when there is none). */
static bool stamped_range(size_t n, size_t from, size_t *a, size_t *b)
{
	if (from >= n)
		return false;
	if (n <= FULL_STAMP || from < EDGE_STAMP) {
		*a = from;
		*b = n <= FULL_STAMP ? n : EDGE_STAMP;
		return true;
	}
	size_t tail = n - EDGE_STAMP;
	if (from >= tail) {
		*a = from;
		*b = n;
		return true;
	}
	/* Between the edges: the word at each multiple of SPREAD. */
	size_t w = from / SPREAD * SPREAD;
	if (from >= w + 8)
		w += SPREAD;
	if (w >= tail) {
		*a = tail;
		*b = n;
		return true;
	}
	*a = from > w ? from : w;
	*b = w + 8 < tail ? w + 8 : tail;
	return true;
}

/* The memory image of stamp word j (bytes [8j, 8j + 8)) of o. */
static uint64_t stamp_word(const hw_mm_obj *o, size_t j)
{
	uint64_t v = hw_harness_mix64(o->salt + j);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static unsigned char stamp_byte(const hw_mm_obj *o, size_t i)
{
	uint64_t v = stamp_word(o, i / 8);
	return ((const unsigned char *)&v)[i % 8];
}

/* Writes o's stamps over [a, b) at p (whole words where it can). */
static void write_range(const hw_mm_obj *o, unsigned char *p, size_t a, size_t b)
{
	size_t i = a;
	for (; i < b && i % 8; i++)
		p[i] = stamp_byte(o, i);
	for (; i + 8 <= b; i += 8) {
		uint64_t v = stamp_word(o, i / 8);
		memcpy(p + i, &v, 8);
	}
	for (; i < b; i++)
		p[i] = stamp_byte(o, i);
}

/* The first offset in [a, b) at p that does not hold o's stamp, or b. */
static size_t check_range(const hw_mm_obj *o, const unsigned char *p, size_t a, size_t b)
{
	size_t i = a;
	for (; i < b && i % 8; i++)
		if (p[i] != stamp_byte(o, i))
			return i;
	for (; i + 8 <= b; i += 8) {
		uint64_t v = stamp_word(o, i / 8), got;
		memcpy(&got, p + i, 8);
		if (got != v)
			break;
	}
	for (; i < b; i++)
		if (p[i] != stamp_byte(o, i))
			return i;
	return b;
}

void hw_mdrv_stamp(mdrv *d, hw_mm_obj *o)
{
	o->salt = hw_harness_mix64(++d->salt);
	size_t a, b;
	for (size_t from = 0; stamped_range(o->n, from, &a, &b); from = b)
		write_range(o, (unsigned char *)o->addr, a, b);
}

void hw_mdrv_stamp_edge(const hw_mm_obj *o, size_t end)
{
	size_t a = end > EDGE_STAMP ? end - EDGE_STAMP : 0;
	write_range(o, (unsigned char *)o->addr, a, end);
}

static bool report_range(mdrv *d, const hw_mm_obj *o, size_t a, size_t b, const char *when)
{
	const unsigned char *p = (const unsigned char *)o->addr;
	size_t i = check_range(o, p, a, b);
	if (i == b)
		return true;
	hw_mdrv_fail(d, "contents of #%u (%p, %zu bytes) changed %s: byte %zu reads %#x, wrote %#x",
		     (unsigned)o->id, (void *)o->addr, o->n, when, i, p[i], stamp_byte(o, i));
	return false;
}

bool hw_mdrv_check_stamps(mdrv *d, const hw_mm_obj *o, size_t limit, const char *when)
{
	size_t n = limit < o->n ? limit : o->n, a, b;
	for (size_t from = 0; stamped_range(o->n, from, &a, &b) && a < n; from = b)
		if (!report_range(d, o, a, b < n ? b : n, when))
			return false;
	return true;
}

bool hw_mdrv_check_edge(mdrv *d, const hw_mm_obj *o, size_t end, const char *when)
{
	return report_range(d, o, end > EDGE_STAMP ? end - EDGE_STAMP : 0, end, when);
}

bool hw_mdrv_check_zero(mdrv *d, const hw_mm_obj *o)
{
	static const unsigned char zero[4096];
	const unsigned char *p = (const unsigned char *)o->addr;
	for (size_t i = 0; i < o->n; i += sizeof zero) {
		size_t len = o->n - i < sizeof zero ? o->n - i : sizeof zero;
		if (memcmp(p + i, zero, len) == 0)
			continue;
		while (p[i] == 0)
			i++;
		hw_mdrv_fail(d, "calloc's #%u (%p, %zu bytes) reads %#x at byte %zu, not 0",
			     (unsigned)o->id, (void *)o->addr, o->n, p[i], i);
		return false;
	}
	return true;
}

bool hw_mdrv_check_fill(mdrv *d, const hw_mm_obj *o, int byte)
{
	const unsigned char *p = (const unsigned char *)o->addr;
	size_t a, b;
	for (size_t from = 0; stamped_range(o->n, from, &a, &b); from = b) {
		for (size_t i = a; i < b; i++) {
			if (p[i] == byte)
				continue;
			hw_mdrv_fail(d,
				     "#%u (%p, %zu bytes) reads %#x at byte %zu, not the "
				     "fill_on_alloc byte %#x",
				     (unsigned)o->id, (void *)o->addr, o->n, p[i], i, byte);
			return false;
		}
	}
	return true;
}

/* ---- placement (MK2) ------------------------------------------------------------ */

static const char *kind_name(hw_page_kind k)
{
	switch (k) {
	case HW_PAGE_UNMAPPED:
		return "not the heap's";
	case HW_PAGE_FREE_READY:
		return "free";
	case HW_PAGE_FREE_RELEASED:
		return "free and released";
	case HW_PAGE_GUARD:
		return "a guard page";
	case HW_PAGE_INSIDE:
		return "released inside its run";
	default:
		return "in use";
	}
}

/* Whether page pg is a page of a run other than its first (Ready, or
 * released inside the run: a span's pages no live object touches). */
static bool run_body(hw_heap *h, uintptr_t pg)
{
	bool head;
	hw_page_kind k = hw_heap_page_kind(h, (void *)pg, &head);
	return (k == HW_PAGE_INUSE || k == HW_PAGE_INSIDE) && !head;
}

/* The run starting at head has exactly np pages. */
static bool run_is(mdrv *d, hw_heap *h, const hw_mm_obj *o, uintptr_t head, size_t np)
{
	if ((np > 1 && !run_body(h, head + (np - 1) * HW_MM_PAGE)) ||
	    run_body(h, head + np * HW_MM_PAGE)) {
		hw_mdrv_fail(d,
			     "#%u (%p, %zu bytes) lies in the heap run at %p, which is not %zu "
			     "pages long",
			     (unsigned)o->id, (void *)o->addr, o->n, (void *)head, np);
		return false;
	}
	return true;
}

/* The model's live guarded objects. */
static size_t guarded_live(const mdrv *d)
{
	size_t n = 0;
	for (size_t i = 0; i < d->m.nlive; i++)
		n += d->m.live[i].cls == HW_MM_GUARDED;
	return n;
}

bool hw_mdrv_check_place(mdrv *d, hw_mm_obj *o)
{
	hw_heap *h = hw_mc_heap();
	if (!h) {
		hw_mdrv_fail(d, "an object exists, but the layer has no heap");
		return false;
	}
	uintptr_t a = o->addr, page = a & ~(HW_MM_PAGE - 1);
	if (o->cls == HW_MM_GUARDED) {
		/* Live, exactly its request, inside its run of the guarded heap,
		 * which starts or ends with a guard page; no page of it sealed
		 * (guard.c GD10: a run is unsealed before it is reused). */
		mc_guard_obj g;
		bool head, h2;
		hw_heap *gh = hw_mc_guard_heap();
		size_t gp = gh ? hw_heap_page_size(gh) : 0;
		if (!hw_mc_guard_describe(a, &g) || g.start != a || g.size != o->n || g.freed ||
		    a < g.run || a + o->n > g.run_end || !gh ||
		    (hw_heap_page_kind(gh, (void *)g.run, &head) != HW_PAGE_GUARD &&
		     hw_heap_page_kind(gh, (void *)(g.run_end - gp), &h2) != HW_PAGE_GUARD) ||
		    hw_sim_sealed(d->pf, (void *)a) ||
		    hw_sim_sealed(d->pf, (void *)(a + o->n - 1))) {
			hw_mdrv_fail(d,
				     "guarded #%u (%p, %zu bytes) is not a live guarded object "
				     "of its size in a run of the guarded heap",
				     (unsigned)o->id, (void *)a, o->n);
			return false;
		}
		return true;
	}
	if (o->cls == HW_MM_LARGE) {
		bool head;
		hw_page_kind k = hw_heap_page_kind(h, (void *)a, &head);
		if (a != page || k != HW_PAGE_INUSE || !head) {
			hw_mdrv_fail(d,
				     "large #%u (%p, %zu bytes) is not at the start of a heap run "
				     "(its page is %s%s)",
				     (unsigned)o->id, (void *)a, o->n, kind_name(k),
				     k == HW_PAGE_INUSE && !head ? ", inside a run" : "");
			return false;
		}
		return run_is(d, h, o, a, o->pages);
	}
	size_t np = hw_mm_span_pages(o->cls), size = hw_mm_class_size(o->cls);
	uintptr_t head = 0;
	for (size_t k = 0; k < np && !head; k++) {
		uintptr_t pg = page - k * HW_MM_PAGE;
		bool is_head;
		hw_page_kind kind = hw_heap_page_kind(h, (void *)pg, &is_head);
		/* The object's own page is Ready; a page of its span below it
		 * may be released inside the span (span.c SP7). */
		if (kind != HW_PAGE_INUSE && (k == 0 || kind != HW_PAGE_INSIDE)) {
			hw_mdrv_fail(d,
				     "#%u (%p, %zu bytes, class of %zu) lies on a heap page that "
				     "is %s (%p)",
				     (unsigned)o->id, (void *)a, o->n, size, kind_name(kind),
				     (void *)pg);
			return false;
		}
		if (is_head)
			head = pg;
	}
	if (!head || (a - head) % size != 0 || a - head + size > np * HW_MM_PAGE) {
		hw_mdrv_fail(d,
			     "#%u (%p, %zu bytes) is not a %zu-byte slot of a %zu-page span (run "
			     "start %p)",
			     (unsigned)o->id, (void *)a, o->n, size, np, (void *)head);
		return false;
	}
	uintptr_t last = (a + size - 1) & ~(HW_MM_PAGE - 1);
	hw_page_kind lk = hw_heap_page_kind(h, (void *)last, NULL);
	if (lk != HW_PAGE_INUSE) {
		hw_mdrv_fail(
			d, "#%u (%p, %zu bytes, class of %zu) ends on a heap page that is %s (%p)",
			(unsigned)o->id, (void *)a, o->n, size, kind_name(lk), (void *)last);
		return false;
	}
	o->span = head;
	return run_is(d, h, o, head, np);
}

/* ---- stats, census, validation (MK3-MK5) ------------------------------------------ */

static int by_span(const void *x, const void *y)
{
	const hw_mm_obj *a = *(const hw_mm_obj *const *)x, *b = *(const hw_mm_obj *const *)y;
	return a->span < b->span ? -1 : a->span > b->span;
}

/* Pages of the np-page span at span that no live or quarantined object
 * touches (touched: bit p for page p), counted in whole release units only. */
static size_t untouched_pages(const mdrv *d, uintptr_t span, size_t np, uint64_t touched)
{
	size_t u = d->cfg.os_page_size > HW_MM_PAGE ? d->cfg.os_page_size / HW_MM_PAGE : 1;
	size_t lead = (span / HW_MM_PAGE) % u, count = 0;
	for (size_t j0 = lead ? u - lead : 0; j0 + u <= np; j0 += u) {
		bool any = false;
		for (size_t j = j0; j < j0 + u; j++)
			any |= (touched >> j) & 1;
		count += any ? 0 : u;
	}
	return count;
}

/* MK4: the spans of live and quarantined small objects against
 * small_spans, and the pages released inside them. */
static void census(mdrv *d, const hw_malloc_stats *st, bool exact)
{
	const hw_mm_obj **v = malloc((d->m.nlive + d->m.qn + 1) * sizeof *v);
	if (!v) {
		hw_mdrv_fail(d, "harness out of memory");
		return;
	}
	size_t n = 0, spans = 0, bytes = 0, untouched = 0;
	for (size_t i = 0; i < d->m.nlive; i++)
		if (d->m.live[i].cls != HW_MM_LARGE && d->m.live[i].cls != HW_MM_GUARDED)
			v[n++] = &d->m.live[i];
	for (size_t i = 0; i < d->m.qn; i++) {
		unsigned c = hw_mm_quar_at(&d->m, i)->cls;
		if (c != HW_MM_LARGE && c != HW_MM_GUARDED)
			v[n++] = hw_mm_quar_at(&d->m, i);
	}
	qsort(v, n, sizeof *v, by_span);
	uint64_t touched = 0;
	for (size_t i = 0; i < n && !d->failed; i++) {
		size_t off = v[i]->addr - v[i]->span, size = hw_mm_class_size(v[i]->cls);
		for (size_t p = off / HW_MM_PAGE; p <= (off + size - 1) / HW_MM_PAGE; p++)
			touched |= 1ull << p;
		bool last = i + 1 == n || v[i + 1]->span != v[i]->span;
		if (last) {
			untouched += untouched_pages(d, v[i]->span, hw_mm_span_pages(v[i]->cls),
						     touched);
			touched = 0;
		}
		if (i > 0 && v[i]->span == v[i - 1]->span) {
			if (v[i]->cls != v[i - 1]->cls)
				hw_mdrv_fail(d,
					     "#%u and #%u, of %zu and %zu bytes slots, share the "
					     "span at %p",
					     (unsigned)v[i - 1]->id, (unsigned)v[i]->id,
					     hw_mm_class_size(v[i - 1]->cls),
					     hw_mm_class_size(v[i]->cls), (void *)v[i]->span);
			continue;
		}
		spans++;
		bytes += hw_mm_span_pages(v[i]->cls) * HW_MM_PAGE;
	}
	free(v);
	if (d->failed)
		return;
	if (exact ? st->small_spans != spans || st->small_span_bytes != bytes
		  : st->small_spans < spans || st->small_span_bytes < bytes)
		hw_mdrv_fail(d,
			     "small_spans %zu (%zu bytes), but live objects hold %zu spans (%zu "
			     "bytes)%s",
			     st->small_spans, st->small_span_bytes, spans, bytes,
			     exact ? " and no cache holds a slot" : "");
	if (d->failed || !exact)
		return;
	/* Every span is known now (no cache holds a slot); all of its free
	 * pages are released unless the platform ever refused a call (a span
	 * made while it did may have kept its tail: span.c SP7). */
	size_t want = untouched * HW_MM_PAGE;
	bool all = true;
	for (int k = 0; k < HW_SYS_NKINDS; k++)
		all &= d->pf->failures[k] == 0;
	if (all ? st->heap_released_inside != want : st->heap_released_inside > want)
		hw_mdrv_fail(d,
			     "heap_released_inside %zu, but the pages of spans no live object "
			     "touches are %zu bytes%s",
			     st->heap_released_inside, want,
			     all ? ", all of which a trim releases" : "");
}

static void check_stats(mdrv *d)
{
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	if (!hw_mc_heap()) {
		static const hw_malloc_stats zero;
		if (memcmp(&st, &zero, sizeof st) != 0 || d->m.nlive != 0)
			hw_mdrv_fail(d, "the layer has not started, yet its stats are not all 0 or "
					"the model has %zu objects",
				     d->m.nlive);
		return;
	}
	if (st.large_objects != d->m.large_objects || st.large_bytes != d->m.large_bytes)
		hw_mdrv_fail(d, "large_objects %zu (%zu bytes), the model has %zu (%zu bytes)",
			     st.large_objects, st.large_bytes, d->m.large_objects,
			     d->m.large_bytes);
	else if (st.errors != d->m.errors)
		hw_mdrv_fail(d, "errors %llu, the model counted %llu misuse reports",
			     (unsigned long long)st.errors, (unsigned long long)d->m.errors);
	else if (st.heap_inuse != st.small_span_bytes + st.large_bytes)
		hw_mdrv_fail(d, "heap_inuse %zu, but spans hold %zu bytes and large objects %zu",
			     st.heap_inuse, st.small_span_bytes, st.large_bytes);
	else if (st.heap_ready != st.heap_mapped - st.heap_released - st.heap_released_inside ||
		 st.heap_released > st.heap_mapped - st.heap_inuse)
		hw_mdrv_fail(d, "heap mapped %zu, inuse %zu, released %zu, ready %zu disagree",
			     st.heap_mapped, st.heap_inuse, st.heap_released, st.heap_ready);
	else if (st.thread_caches > 1)
		hw_mdrv_fail(d, "thread_caches %llu with one thread left",
			     (unsigned long long)st.thread_caches);
	else if (st.guarded_objects != guarded_live(d) ||
		 st.guarded_objects > MR_GUARD_BUDGET_COUNT)
		hw_mdrv_fail(d, "guarded_objects %zu, the model holds %zu (budget %u)",
			     st.guarded_objects, guarded_live(d), MR_GUARD_BUDGET_COUNT);
	if (!d->failed && (d->census_now || d->validate_now))
		census(d, &st, d->census_now);
	d->thread_caches = st.thread_caches;
}

void hw_mdrv_validate(mdrv *d)
{
	hw_heap *h = hw_mc_heap();
	d->since_validate = 0;
	if (!h)
		return;
	char msg[256];
	int rc = hw_heap_validate(h, msg, sizeof msg);
	if (rc != 0)
		hw_mdrv_fail(d, "hw_heap_validate of the layer's heap: I%d: %s", rc, msg);
}

void hw_mdrv_check_all(mdrv *d)
{
	char msg[256];
	if (hw_mm_check(&d->m, msg, sizeof msg) != 0) {
		hw_mdrv_fail(d, "%s", msg);
		return;
	}
	for (size_t i = 0; i < d->m.nlive && !d->failed; i++)
		hw_mdrv_check_stamps(d, &d->m.live[i], SIZE_MAX, "while live");
	if (!d->failed && hw_sim_check_since(d->pf, msg, sizeof msg) != 0)
		hw_mdrv_fail(d, "the simulator: %s", msg);
}

void hw_mdrv_check_after_op(mdrv *d)
{
	/* MM4: a refused call at the layer's start may leave it without its
	 * quarantine (debug_quarantine.c): the model follows, since no object
	 * was freed before the start. */
	if (d->m.qmax && hw_mc_heap() && !hw_mc_quar_on()) {
		if (d->m.qn != 0 || !hw_mdrv_refused(d)) {
			hw_mdrv_fail(d, "the layer has no quarantine, though the platform refused "
					"nothing at its start (the model holds %zu objects)",
				     d->m.qn);
			return;
		}
		d->m.qmax = 0;
	}
	check_stats(d);
	if (d->failed)
		return;
	bool first_refusal = hw_mdrv_refused(d) && !d->refusal_validated;
	d->refusal_validated |= first_refusal;
	if (d->validate_now || first_refusal || d->opt->validate_every || d->cfg.deep_every_op ||
	    ++d->since_validate >= MR_VALIDATE_EVERY)
		hw_mdrv_validate(d);
}

/* validate.c: the O(heap) walker that checks every invariant.
 *
 * Owns: hw_validate_locked, which recomputes everything the heap keeps
 * incrementally (page counts, summaries, per-chunk counters, platform page
 * states on the simulator) from the bitmaps and the arena table, and names
 * the first invariant that does not hold (numbers from heap_internal.h and
 * docs/invariants.md). It reads only committed metadata, so it is safe on a
 * heap in any state the entry points can leave it in.
 *
 * Locking: callers hold h->lock.
 */
#include "heap_internal.h"

#include <stdarg.h>

typedef struct walk {
	hw_heap *h;
	char *msg;
	size_t len;
	int broken;
} walk;

static const char *const names[] = {
	"",
	"mapped == sum of arenas == present chunks",
	"inuse == allocated pages",
	"released <= idle",
	"released == released pages",
	"a released and allocated page is busy",
	"released pages form whole units",
	"allocated runs start at head pages",
	"leaf summary == summary of the chunk bitmap",
	"inner summary == merge of its children",
	"chunk free_ready == free unreleased pages",
	"arenas sorted, disjoint, aligned, inside the window, == present chunks",
	"platform page state agrees with heap page state",
	"meta_ready == committed metadata pages",
	"no page below the search hint is free",
	"guarded == guard pages; guard bits only on live runs and reserved free pages",
	"released_inside == inside pages; inside bits only on live, unguarded pages",
};

/* Records invariant n as broken (the first one wins). Returns false so
 * callers can `return fail(...)`. */
static bool fail(walk *w, int n, const char *fmt, ...) HW_PRINTF(3, 4);
static bool fail(walk *w, int n, const char *fmt, ...)
{
	if (w->broken)
		return false;
	w->broken = n;
	char detail[256];
	va_list ap;
	va_start(ap, fmt);
	hw_report_vformat(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (w->msg && w->len)
		hw_report_format(w->msg, w->len, "invariant I%d (%s) broken: %s", n, names[n],
				 detail);
	return false;
}

static bool check_arenas(walk *w)
{
	hw_heap *h = w->h;
	size_t total = 0;
	for (size_t i = 0; i < h->narenas; i++) {
		const hw_arena *a = &h->arenas[i];
		if (a->base & (h->arena_size - 1) || a->size == 0 || a->size % h->arena_size)
			return fail(w, 11, "arena %zu at %p (%zu bytes) misaligned", i,
				    (void *)a->base, a->size);
		if (a->base < h->base || a->base - h->base > h->address_space - a->size)
			return fail(w, 11, "arena %zu at %p outside the window", i,
				    (void *)a->base);
		if (i > 0 && h->arenas[i - 1].base + h->arenas[i - 1].size > a->base)
			return fail(w, 11, "arenas %zu and %zu overlap or are unsorted", i - 1, i);
		total += a->size;
	}
	if (total != h->mapped)
		return fail(w, 1, "mapped=%zu, arenas sum to %zu", h->mapped, total);
	return true;
}

/* Whether chunk ci lies in an arena; *cursor walks the sorted arena table
 * alongside increasing ci, so the whole walk is O(chunks + arenas). */
static bool covered(const hw_heap *h, size_t ci, size_t *cursor)
{
	uintptr_t a = h->base + ci * h->chunk_bytes;
	while (*cursor < h->narenas && h->arenas[*cursor].base + h->arenas[*cursor].size <= a)
		(*cursor)++;
	return *cursor < h->narenas && a >= h->arenas[*cursor].base;
}

/* Whether every aligned group of `unit` bits (a power of two) of the map is
 * all set or all clear (I6). Groups within a word are folded: after the
 * loop, the bit at each group's base holds the OR (o) and the AND (a) of the
 * group's bits, and the two agree exactly when the group is uniform. */
static bool whole_units(const uint64_t *map, size_t unit, unsigned *bad)
{
	if (unit == 1)
		return true;
	if (unit >= 64) {
		for (unsigned i = 0; i < HW_BITS_PAGES; i += (unsigned)unit) {
			unsigned n = hw_bits_count(map, i, (unsigned)unit);
			if (n != 0 && n != unit) {
				*bad = i;
				return false;
			}
		}
		return true;
	}
	uint64_t bases = 0;
	for (unsigned b = 0; b < 64; b += (unsigned)unit)
		bases |= 1ull << b;
	for (unsigned k = 0; k < HW_BITS_WORDS; k++) {
		uint64_t o = map[k], a = map[k];
		for (unsigned s = 1; s < unit; s <<= 1) {
			o |= o >> s;
			a &= a >> s;
		}
		uint64_t mixed = (o ^ a) & bases;
		if (mixed != 0) {
			*bad = k * 64 + (unsigned)__builtin_ctzll(mixed);
			return false;
		}
	}
	return true;
}

/* The end (below HW_BITS_PAGES) of the run of pages from i with i's bit
 * in map w. */
static unsigned same_bit_end(const uint64_t *w, unsigned i)
{
	unsigned e = hw_bits_test(w, i) ? hw_bits_find_clear_run(w, 1, i)
					: hw_bits_find_set_from(w, i);
	return e == HW_BITS_NONE ? HW_BITS_PAGES : e;
}

/* I12 on a platform that answers state queries (the simulator), one query
 * per run of pages with the same expected state: Reserved (a guard page; a
 * released or inside page under fault_on_free; a released page with the
 * guard bit), Prepared (other released and inside pages) or Ready. The
 * simulator scans its states a word or more at a time. */
static bool check_platform_states(walk *w, const hw_chunk *c, size_t first)
{
	hw_heap *h = w->h;
	uint64_t res[HW_BITS_WORDS], prep[HW_BITS_WORDS];
	for (unsigned k = 0; k < HW_BITS_WORDS; k++) {
		uint64_t gone = c->released[k] | c->inside[k];
		res[k] = c->guard[k] | (h->fault_on_free ? gone : 0);
		prep[k] = gone & ~res[k];
	}
	for (unsigned i = 0; i < HW_BITS_PAGES;) {
		hw_mem_state want = hw_bits_test(res, i)    ? HW_MEM_RESERVED
				    : hw_bits_test(prep, i) ? HW_MEM_PREPARED
							    : HW_MEM_READY;
		unsigned end = hw_min(same_bit_end(res, i), same_bit_end(prep, i));
		hw_mem_state got = want;
		const void *bad = hw_sys_find_other(h->pf, (void *)hw_heap_addr(h, first + i),
						    (size_t)(end - i) << h->page_shift, want, &got);
		if (bad != NULL)
			return fail(w, 12, "page %zu (%p): platform state %d, heap expects %d",
				    ((uintptr_t)bad - h->base) >> h->page_shift, bad, (int)got,
				    (int)want);
		i = end;
	}
	return true;
}

/* I15 for chunk ci: where its guard bits may be, and their count. */
static bool check_guards(walk *w, size_t ci, size_t *guard_pages)
{
	hw_heap *h = w->h;
	const hw_chunk *c = &h->chunks[ci];
	size_t first = ci * HW_BITS_PAGES;
	unsigned n = 0, bad;
	for (unsigned k = 0; k < HW_BITS_WORDS; k++) {
		uint64_t g = c->guard[k], busy = c->alloc[k] & c->released[k];
		uint64_t free_ready = ~c->alloc[k] & ~c->released[k];
		uint64_t wrong = g & (busy | free_ready);
		if (h->fault_on_free)
			wrong |= g & ~c->alloc[k];
		if (wrong)
			return fail(w, 15, "page %zu has the guard bit but is %s",
				    first + k * 64 + (unsigned)__builtin_ctzll(wrong),
				    (wrong & busy) ? "busy"
				    : (wrong & free_ready)
					    ? "free and Ready"
					    : "free in a heap that faults freed runs");
		n += (unsigned)__builtin_popcountll(g);
		*guard_pages += (unsigned)__builtin_popcountll(g & c->alloc[k]);
	}
	if (n != c->guards)
		return fail(w, 15, "chunk %zu: guards=%u, bitmap holds %u", ci, c->guards, n);
	if (!whole_units(c->guard, h->unit_pages, &bad))
		return fail(w, 15, "unit at page %zu is partly guard pages",
			    first + hw_align_down(bad, h->unit_pages));
	return true;
}

/* I16 for chunk ci: where its inside bits may be, and their count. */
static bool check_insides(walk *w, size_t ci, size_t *inside_pages)
{
	hw_heap *h = w->h;
	const hw_chunk *c = &h->chunks[ci];
	size_t first = ci * HW_BITS_PAGES;
	unsigned n = 0, bad;
	for (unsigned k = 0; k < HW_BITS_WORDS; k++) {
		uint64_t in = c->inside[k];
		uint64_t wrong = in & (~c->alloc[k] | c->released[k] | c->guard[k]);
		if (wrong)
			return fail(w, 16, "page %zu has the inside bit but is %s",
				    first + k * 64 + (unsigned)__builtin_ctzll(wrong),
				    (wrong & ~c->alloc[k])     ? "free"
				    : (wrong & c->released[k]) ? "busy"
							       : "a guard page");
		n += (unsigned)__builtin_popcountll(in);
	}
	if (n != c->insides)
		return fail(w, 16, "chunk %zu: insides=%u, bitmap holds %u", ci, c->insides, n);
	if (!whole_units(c->inside, h->unit_pages, &bad))
		return fail(w, 16, "unit at page %zu is partly released inside its run",
			    first + hw_align_down(bad, h->unit_pages));
	*inside_pages += n;
	return true;
}

static bool check_chunk(walk *w, size_t ci, bool prev_last_alloc, size_t *alloc_pages,
			size_t *rel_pages, size_t *guard_pages, size_t *inside_pages)
{
	hw_heap *h = w->h;
	const hw_chunk *c = &h->chunks[ci];
	size_t first = ci * HW_BITS_PAGES;
	unsigned na = 0, nr = 0, ready_free = 0, bad;
	uint64_t carry = prev_last_alloc;
	for (unsigned k = 0; k < HW_BITS_WORDS; k++) {
		/* Busy pages (alloc and released: I5) count as neither in use
		 * nor released nor free-Ready until their call settles them. */
		uint64_t busy = c->alloc[k] & c->released[k];
		uint64_t a = c->alloc[k] & ~busy, r = c->released[k] & ~busy, hd = c->head[k];
		if (busy && (h->inflight == 0 || (busy & (hd | c->guard[k] | c->inside[k]))))
			return fail(w, 5, "page %zu (%p) is released and allocated%s",
				    first + k * 64 + (unsigned)__builtin_ctzll(busy),
				    (void *)hw_heap_addr(
					    h, first + k * 64 + (unsigned)__builtin_ctzll(busy)),
				    h->inflight == 0 ? " with no platform call in flight"
						     : " and a run head, guard or inside page");
		uint64_t starts = a & ~((a << 1) | carry);
		if ((starts & ~hd) || (hd & ~a))
			return fail(w, 7,
				    "page %zu: run start without head, or head on a free page",
				    first + k * 64 +
					    (unsigned)__builtin_ctzll((starts & ~hd) | (hd & ~a)));
		carry = a >> 63;
		unsigned wa = (unsigned)__builtin_popcountll(a),
			 wr = (unsigned)__builtin_popcountll(r),
			 wb = (unsigned)__builtin_popcountll(busy);
		na += wa;
		nr += wr;
		ready_free += 64 - wa - wr - wb;
	}
	if (!whole_units(c->released, h->unit_pages, &bad))
		return fail(w, 6, "unit at page %zu is partly released",
			    first + hw_align_down(bad, h->unit_pages));
	if (c->free_ready != ready_free)
		return fail(w, 10, "chunk %zu: free_ready=%u, bitmap says %u", ci, c->free_ready,
			    ready_free);
	hw_sum s = hw_bits_summarize(c->alloc);
	if (!hw_sum_eq(h->tree.level[0][ci], s))
		return fail(w, 8, "chunk %zu: leaf (%u,%u,%u), bitmap (%u,%u,%u)", ci,
			    h->tree.level[0][ci].start, h->tree.level[0][ci].max,
			    h->tree.level[0][ci].end, s.start, s.max, s.end);
	if (!check_guards(w, ci, guard_pages) || !check_insides(w, ci, inside_pages))
		return false;
	if (hw_sys_can_query(h->pf) && !check_platform_states(w, c, first))
		return false;
	*alloc_pages += na;
	*rel_pages += nr;
	return true;
}

static bool check_chunks(walk *w)
{
	hw_heap *h = w->h;
	size_t alloc_pages = 0, rel_pages = 0, guard_pages = 0, inside_pages = 0, present = 0,
	       cursor = 0;
	bool prev_alloc = false;
	for (size_t ci = 0; ci < h->nchunks; ci++) {
		const hw_chunk *c = &h->chunks[ci];
		bool have = hw_meta_is_committed(&h->meta, c, sizeof *c);
		bool is_present = have && c->present;
		if (is_present != (h->base != 0 && covered(h, ci, &cursor)))
			return fail(w, 11,
				    "chunk %zu: present=%d but arena coverage says otherwise", ci,
				    (int)is_present);
		bool leaf_committed =
			hw_meta_is_committed(&h->meta, &h->tree.level[0][ci], sizeof(hw_sum));
		if (!is_present) {
			if (leaf_committed && h->tree.level[0][ci].max != 0)
				return fail(w, 8, "absent chunk %zu has free pages in its summary",
					    ci);
			prev_alloc = false;
			continue;
		}
		present++;
		if (!check_chunk(w, ci, prev_alloc, &alloc_pages, &rel_pages, &guard_pages,
				 &inside_pages))
			return false;
		size_t first = ci * HW_BITS_PAGES;
		if (first < h->low_free) {
			unsigned below = (unsigned)hw_min(h->low_free - first, HW_BITS_PAGES);
			if (!hw_bits_all(c->alloc, 0, below))
				return fail(w, 14, "low_free=%zu, page %zu is free", h->low_free,
					    first + hw_bits_find_clear_run(c->alloc, 1, 0));
		}
		prev_alloc = hw_bits_test(c->alloc, HW_BITS_PAGES - 1) &&
			     !hw_bits_test(c->released, HW_BITS_PAGES - 1); /* busy is free */
	}
	if (present * h->chunk_bytes != h->mapped)
		return fail(w, 1, "mapped=%zu, present chunks hold %zu", h->mapped,
			    present * h->chunk_bytes);
	if (alloc_pages << h->page_shift != h->inuse)
		return fail(w, 2, "inuse=%zu, bitmaps hold %zu", h->inuse,
			    alloc_pages << h->page_shift);
	if (h->released > h->mapped - h->inuse)
		return fail(w, 3, "released=%zu, idle=%zu", h->released, h->mapped - h->inuse);
	if (rel_pages << h->page_shift != h->released)
		return fail(w, 4, "released=%zu, bitmaps hold %zu", h->released,
			    rel_pages << h->page_shift);
	if (guard_pages << h->page_shift != h->guarded)
		return fail(w, 15, "guarded=%zu, bitmaps hold %zu", h->guarded,
			    guard_pages << h->page_shift);
	if (inside_pages << h->page_shift != h->released_inside)
		return fail(w, 16, "released_inside=%zu, bitmaps hold %zu", h->released_inside,
			    inside_pages << h->page_shift);
	return true;
}

static bool check_tree(walk *w)
{
	hw_heap *h = w->h;
	const hw_tree *t = &h->tree;
	for (unsigned l = 1; l <= t->top; l++) {
		for (size_t i = 0; i < t->count[l]; i++) {
			if (!hw_meta_is_committed(&h->meta, &t->level[l][i], sizeof(hw_sum)))
				continue;
			size_t k0 = i * HW_FANOUT, nk = hw_min(HW_FANOUT, t->count[l - 1] - k0);
			hw_sum want = {0, 0, 0};
			if (hw_meta_is_committed(&h->meta, &t->level[l - 1][k0],
						 nk * sizeof(hw_sum)))
				want = hw_tree_merged(t, l, i);
			if (!hw_sum_eq(t->level[l][i], want))
				return fail(w, 9,
					    "level %u entry %zu: (%u,%u,%u), children merge to "
					    "(%u,%u,%u)",
					    l, i, t->level[l][i].start, t->level[l][i].max,
					    t->level[l][i].end, want.start, want.max, want.end);
		}
	}
	return true;
}

static bool check_meta(walk *w)
{
	const hw_meta *m = &w->h->meta;
	size_t pages = m->size / m->page, n = 0;
	for (size_t i = 0; i < pages; i++)
		n += (m->committed[i / 64] >> (i % 64)) & 1;
	if (n != m->ready_pages)
		return fail(w, 13, "ready_pages=%zu, bitmap holds %zu", m->ready_pages, n);
	return true;
}

int hw_validate_locked(hw_heap *h, char *msg, size_t len)
{
	HW_ASSERT_LOCKED(h);
	walk w = {h, msg, len, 0};
	if (msg && len)
		msg[0] = '\0';
	(void)(check_arenas(&w) && check_chunks(&w) && check_tree(&w) && check_meta(&w));
	return w.broken;
}

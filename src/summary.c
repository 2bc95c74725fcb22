/* summary.c: the summary tree that makes first-fit O(log heap).
 *
 * Owns: the radix tree of free-run summaries over the window's chunks (I8,
 * I9), the lowest-address search, and the update after bitmap changes.
 *
 * Search. At each level the walk scans at most HW_FANOUT entries left to
 * right, carrying the length of the free run that ends at the current entry
 * boundary. A run that started in earlier entries and completes inside this
 * one (run + start >= n) is the answer at once; otherwise an entry whose max
 * is large enough holds the lowest fit, and the walk descends into it. Every
 * run inside an entry starts before (or is) the entry's end run, so no fit
 * crossing out of the entry can lie lower than the one found inside it. At
 * the leaf, the chunk bitmap gives the exact page. Cost: O(levels * 8) plus
 * 8 bitmap words.
 *
 * The search hint low_free (I14) bounds the walk from below: no free run
 * starts under it, so at each level the scan begins at the entry holding
 * it, with no run carried in. A heap whose low pages fill up (the usual
 * case under first fit) is then searched from where its free pages begin.
 * When the pages at the hint itself are free (a page freed just after it
 * was allocated, as a malloc layer taking and returning a span does), they
 * are the lowest fit and the walk is skipped.
 *
 * Locking: callers hold h->lock.
 */
#include "heap_internal.h"

_Static_assert(HW_BITS_PAGES == 1 << 9 && HW_FANOUT == 1 << 3, "entry sizes are shifts");

uint32_t hw_tree_entry_pages(unsigned level)
{
	return (uint32_t)HW_BITS_PAGES << (3 * level);
}

size_t hw_tree_bytes(size_t nchunks, size_t *counts, unsigned *top)
{
	size_t total = 0, n = nchunks;
	unsigned l = 0;
	for (;;) {
		counts[l] = n;
		total += n * sizeof(hw_sum);
		if (n <= HW_FANOUT)
			break;
		n = (n + HW_FANOUT - 1) / HW_FANOUT;
		l++;
		HW_CHECK(l < HW_MAX_LEVELS, "summary tree too deep");
	}
	*top = l;
	return total;
}

void hw_tree_init(hw_tree *t, hw_sum *mem, const size_t *counts, unsigned top)
{
	t->top = top;
	for (unsigned l = 0; l <= top; l++) {
		t->level[l] = mem;
		t->count[l] = counts[l];
		mem += counts[l];
	}
}

size_t hw_tree_find(hw_heap *h, size_t npages)
{
	const hw_tree *t = &h->tree;
	if (npages == 0 || npages > UINT32_MAX)
		return SIZE_MAX;
	uint32_t n = (uint32_t)npages;
	size_t hint = h->low_free;
	/* The hint may lie in an absent chunk whose record is not committed. */
	const hw_chunk *c =
		h->base && hint < h->nchunks * (size_t)HW_BITS_PAGES
			? hw_heap_present_chunk(h, hw_heap_addr(h, hint))
			: NULL;
	unsigned at = (unsigned)(hint % HW_BITS_PAGES);
	if (c && n <= HW_BITS_PAGES - at && !hw_bits_any(c->alloc, at, n))
		return hint;
	unsigned l = t->top;
	size_t lo = 0, hi = t->count[l];
	for (;;) {
		uint32_t per = hw_tree_entry_pages(l);
		size_t run = 0; /* free pages ending at entry i's start */
		size_t i;
		lo = hw_max(lo, hint >> (9 + 3 * l)); /* hint / per */
		for (i = lo; i < hi; i++) {
			hw_sum s = t->level[l][i];
			if (run + s.start >= n)
				return i * (size_t)per - run;
			if (s.max >= n)
				break;
			run = s.start == per ? run + per : s.end;
		}
		if (i >= hi)
			return SIZE_MAX;
		if (l == 0) {
			size_t first = i * (size_t)HW_BITS_PAGES;
			unsigned from = hint > first ? (unsigned)(hint - first) : 0;
			unsigned bit = hw_bits_find_clear_run(h->chunks[i].alloc, n, from);
			HW_CHECK(bit != HW_BITS_NONE,
				 "bad summary data: summary promised a run the bitmap lacks");
			return i * (size_t)HW_BITS_PAGES + bit;
		}
		l--;
		lo = i * HW_FANOUT;
		hi = hw_min(lo + HW_FANOUT, t->count[l]);
	}
}

/* Summary of level-l entry i from its children (absent children are full). */
hw_sum hw_tree_merged(const hw_tree *t, unsigned l, size_t i)
{
	size_t first = i * HW_FANOUT;
	const hw_sum *kids = &t->level[l - 1][first];
	if (first + HW_FANOUT <= t->count[l - 1])
		return hw_sum_merge(kids, HW_FANOUT, hw_tree_entry_pages(l - 1));
	/* The last entry of a level may have fewer children: pad with full. */
	hw_sum padded[HW_FANOUT] = {{0, 0, 0}};
	for (size_t k = 0; first + k < t->count[l - 1]; k++)
		padded[k] = kids[k];
	return hw_sum_merge(padded, HW_FANOUT, hw_tree_entry_pages(l - 1));
}

/* hw_sum_child_changed for level-l entry i, whose child k changed from
 * `was`; the last entry of a level may have fewer children, padded with
 * full (absent) ones as in hw_tree_merged. */
static inline bool child_changed(const hw_tree *t, unsigned l, size_t i, unsigned k, hw_sum *s,
				 hw_sum was)
{
	size_t first = i * HW_FANOUT;
	const hw_sum *kids = &t->level[l - 1][first];
	uint32_t per = hw_tree_entry_pages(l - 1);
	if (HW_LIKELY(first + HW_FANOUT <= t->count[l - 1]))
		return hw_sum_child_changed(s, kids, HW_FANOUT, k, was, per);
	hw_sum padded[HW_FANOUT] = {{0, 0, 0}};
	for (size_t j = 0; first + j < t->count[l - 1]; j++)
		padded[j] = kids[j];
	return hw_sum_child_changed(s, padded, HW_FANOUT, k, was, per);
}

void hw_tree_update(hw_heap *h, size_t page, size_t n, hw_tree_change how)
{
	static const hw_sum none = {0, 0, 0};
	hw_tree *t = &h->tree;
	size_t c0 = page / HW_BITS_PAGES, c1 = (page + n - 1) / HW_BITS_PAGES;
	bool changed = false;
	hw_sum was = none; /* the last entry updated, before its update */
	for (size_t c = c0; c <= c1; c++) {
		const hw_chunk *ch = &h->chunks[c];
		unsigned i = c == c0 ? (unsigned)(page % HW_BITS_PAGES) : 0;
		unsigned e = c == c1 ? (unsigned)((page + n - 1) % HW_BITS_PAGES) + 1
				     : HW_BITS_PAGES;
		hw_sum old = t->level[0][c], s;
		if (!ch->present)
			s = none;
		else if (how == HW_TREE_CLEARED)
			s = hw_sum_after_clear(old, ch->alloc, i, e - i);
		else if (how == HW_TREE_SET)
			s = hw_sum_after_set(old, ch->alloc, i, e - i);
		else
			s = hw_bits_summarize(ch->alloc);
		HW_ASSERT_SLOW(hw_sum_eq(s, ch->present ? hw_bits_summarize(ch->alloc) : none));
		changed |= !hw_sum_eq(s, old);
		t->level[0][c] = s;
		was = old;
	}
	/* A level whose entries all came out unchanged leaves every ancestor
	 * unchanged too: most small allocations stop at the leaf. Levels with
	 * several changed entries below an entry merge its children again;
	 * from the first level with one changed entry below, its parent is
	 * usually updated from the change and the entry's neighbours alone
	 * (B4), which is what lets a change climb every level cheaply. */
	unsigned l = 1;
	for (; l <= t->top && changed && c0 != c1; l++) {
		c0 /= HW_FANOUT;
		c1 /= HW_FANOUT;
		changed = false;
		for (size_t i = c0; i <= c1; i++) {
			hw_sum prev = t->level[l][i], s = hw_tree_merged(t, l, i);
			changed |= !hw_sum_eq(s, prev);
			t->level[l][i] = s;
			was = prev;
		}
	}
	for (size_t c = c0; l <= t->top && changed; l++) {
		unsigned k = (unsigned)(c % HW_FANOUT);
		c /= HW_FANOUT;
		hw_sum prev = t->level[l][c], s = prev;
		if (!child_changed(t, l, c, k, &s, was))
			s = hw_tree_merged(t, l, c);
		HW_ASSERT_SLOW(hw_sum_eq(s, hw_tree_merged(t, l, c)));
		changed = !hw_sum_eq(s, prev);
		t->level[l][c] = s;
		was = prev;
	}
}

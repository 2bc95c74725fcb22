/* pagebits.h: the page allocator's fast bitmap and summary functions.
 *
 * Owns: operations on one chunk's 512-bit page maps (bit i = page i of the
 * chunk, word i/64, bit i%64), and run summaries (start, max, end) of free
 * pages, both for one bitmap and merged across neighbouring ranges. Pure
 * functions with naive twins in the fuzz target fuzz/pagebits_fuzzer.c.
 *
 * Invariants:
 *   B1. A summary of a range of L pages has start <= L, end <= L, max <= L,
 *       max >= start, max >= end, and start == L <=> max == L <=> end == L
 *       (a fully free range).
 *   B2. hw_sum_merge of k children equals hw_bits_summarize of the
 *       concatenated bitmaps (the summary tree's correctness rests on it).
 *   B3. hw_sum_after_clear and hw_sum_after_set, given their preconditions,
 *       equal hw_bits_summarize of the changed map (the leaf updates of the
 *       free and allocation paths rest on it).
 *   B4. When hw_sum_child_changed returns true, the parent it leaves equals
 *       hw_sum_merge of the children with the one changed, whether or not
 *       that child's start or end moved (the tree's inner updates rest on
 *       it).
 *
 * Locking: none (pure functions).
 */
#ifndef HW_PAGEBITS_H
#define HW_PAGEBITS_H

#include <stdbool.h>
#include <stdint.h>

#define HW_BITS_WORDS 8
#define HW_BITS_PAGES (HW_BITS_WORDS * 64)
#define HW_BITS_NONE 0xffffffffu

/* A free-run summary of a range: free pages at its start, the longest free
 * run anywhere in it, free pages at its end (a set bit = not free). */
typedef struct hw_sum {
	uint32_t start, max, end;
} hw_sum;

/* Set, clear, count, test [i, i+n) with i + n <= HW_BITS_PAGES. */
void hw_bits_set(uint64_t *w, unsigned i, unsigned n);
void hw_bits_clear(uint64_t *w, unsigned i, unsigned n);
unsigned hw_bits_count(const uint64_t *w, unsigned i, unsigned n);
/* Whether any (every) bit of [i, i+n) is set; the hot paths' tests, which
 * need no population count. */
bool hw_bits_any(const uint64_t *w, unsigned i, unsigned n);
bool hw_bits_all(const uint64_t *w, unsigned i, unsigned n);
bool hw_bits_test(const uint64_t *w, unsigned i);

/* The bits of word k that lie in [i, i+n) (n >= 1), for loops over the
 * words a range touches (k from i / 64 to (i + n - 1) / 64). */
static inline uint64_t hw_bits_word_mask(unsigned k, unsigned i, unsigned n)
{
	uint64_t m = ~0ull;
	if (k == i / 64)
		m &= ~0ull << (i % 64);
	if (k == (i + n - 1) / 64 && (i + n) % 64)
		m &= ~0ull >> (64 - (i + n) % 64);
	return m;
}

/* Lowest i >= from such that bits [i, i+n) are all clear, or HW_BITS_NONE. */
unsigned hw_bits_find_clear_run(const uint64_t *w, unsigned n, unsigned from);

/* Highest i < below whose bit is set, or HW_BITS_NONE. */
unsigned hw_bits_find_set_below(const uint64_t *w, unsigned below);

/* Lowest i >= from whose bit is set, or HW_BITS_NONE. */
unsigned hw_bits_find_set_from(const uint64_t *w, unsigned from);

/* Summary of the clear (free) runs of a whole 512-page map. */
hw_sum hw_bits_summarize(const uint64_t *alloc);

static inline bool hw_sum_eq(hw_sum a, hw_sum b)
{
	return a.start == b.start && a.max == b.max && a.end == b.end;
}

/* The summary of a map after one change to [i, i+n) (n >= 1), from `old`,
 * the map's summary before the change, and w, the map after it; each
 * equals hw_bits_summarize(w) (B3). Only the free run around the change
 * is read (two word scans), except when a set splits the map's longest
 * run, which needs a rescan.
 *   after_clear: [i, i+n) is clear in w (it may have been partly clear).
 *   after_set:   [i, i+n) is set in w and was wholly clear before. */
hw_sum hw_sum_after_clear(hw_sum old, const uint64_t *w, unsigned i, unsigned n);
hw_sum hw_sum_after_set(hw_sum old, const uint64_t *w, unsigned i, unsigned n);

/* A range's summary after one of its children changed, from the range's
 * summary before, when the change and at most the free runs beside the
 * child determine it. The range is n children of child_pages pages; kids
 * holds them as they are now (child k changed from `was` to kids[k]), and
 * *parent is hw_sum_merge of them with `was` at k. When the child's start
 * and end are unchanged only the child is read: its longest run grew, or it
 * shrank without having been the range's longest. When they changed (and
 * the child neither was nor became wholly free) the neighbours' edges are
 * read too, and the same holds of the runs through the child's two edges.
 * Updates *parent and returns true, or returns false when the children must
 * be merged again (B4). */
static inline bool hw_sum_child_changed(hw_sum *parent, const hw_sum *kids, unsigned n,
					unsigned k, hw_sum was, uint32_t child_pages);

/* Summary of n consecutive ranges of child_pages pages each (B2). */
hw_sum hw_sum_merge(const hw_sum *children, unsigned n, uint32_t child_pages);

/* Defined here so that the tree's inner update, which runs it at every
 * level an update reaches, keeps the summaries in registers.
 *
 * The range's longest run is the longest of: the other children's longest
 * and the runs crossing boundaries away from this child (all unchanged),
 * and three runs that involve this child: the one through its first page
 * (the free pages ending at its left edge, plus its start), its own
 * longest, and the one through its last page. When the child's start and
 * end are unchanged, so are the two edge runs and the range's start and
 * end. Otherwise the free runs beside the child are read from its
 * neighbours (a wholly free neighbour passes the run on to the next), and
 * the range's start (end) moves with the child's exactly when everything
 * before (after) the child is free. Either way, an involved run that
 * shrank from being the range's longest leaves the new longest unknown:
 * only a merge can tell. */
static inline bool hw_sum_child_changed(hw_sum *parent, const hw_sum *kids, unsigned n, unsigned k,
					hw_sum was, uint32_t child_pages)
{
	/* *parent is written whole, once: a caller reading it back as a
	 * whole right after a narrower store would wait for the store. */
	hw_sum now = kids[k], p = *parent;
	if (was.start == now.start && was.end == now.end) {
		if (now.max < was.max)
			return was.max < p.max;
		p.max = now.max > p.max ? now.max : p.max;
		*parent = p;
		return true;
	}
	/* A wholly free child joins the runs on its two sides. */
	if (was.start == child_pages || now.start == child_pages)
		return false;
	uint32_t left = 0, right = 0;
	for (unsigned j = k; j > 0; j--) {
		left += kids[j - 1].end;
		if (kids[j - 1].start != child_pages)
			break;
	}
	for (unsigned j = k + 1; j < n; j++) {
		right += kids[j].start;
		if (kids[j].start != child_pages)
			break;
	}
	const uint32_t before[3] = {left + was.start, was.max, was.end + right};
	const uint32_t after[3] = {left + now.start, now.max, now.end + right};
	for (unsigned r = 0; r < 3; r++) {
		if (after[r] < before[r] && before[r] >= p.max)
			return false;
		p.max = after[r] > p.max ? after[r] : p.max;
	}
	if (left == k * child_pages)
		p.start = left + now.start;
	if (right == (n - 1 - k) * child_pages)
		p.end = now.end + right;
	*parent = p;
	return true;
}

#endif

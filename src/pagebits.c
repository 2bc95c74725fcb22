/* pagebits.c: bitmap and summary arithmetic for 512-page chunks.
 *
 * Owns the fast paths the page allocator's correctness rests on; see
 * pagebits.h for the contract (B1, B2). Word-at-a-time throughout: a chunk
 * is 8 words, so every function is O(8) word operations plus O(n/64) for
 * ranges.
 *
 * Locking: none (pure functions).
 */
#include "pagebits.h"

#include "base.h"

/* Mask of bits [lo, lo+n) within one word; n in 1..64, lo + n <= 64. */
static inline uint64_t word_mask(unsigned lo, unsigned n)
{
	uint64_t m = n == 64 ? ~0ull : ((1ull << n) - 1);
	return m << lo;
}

/* Applies fn's effect to [i, i+n) word by word. */
#define FOR_EACH_WORD_SPAN(i, n, W, M, BODY)                                  \
	do {                                                                  \
		unsigned pos_ = (i), left_ = (n);                             \
		while (left_ > 0) {                                           \
			unsigned W = pos_ / 64, lo_ = pos_ % 64;              \
			unsigned take_ = 64 - lo_ < left_ ? 64 - lo_ : left_; \
			uint64_t M = word_mask(lo_, take_);                   \
			BODY;                                                 \
			pos_ += take_;                                        \
			left_ -= take_;                                       \
		}                                                             \
	} while (0)

void hw_bits_set(uint64_t *w, unsigned i, unsigned n)
{
	HW_ASSERT(i + n <= HW_BITS_PAGES);
	FOR_EACH_WORD_SPAN(i, n, k, m, w[k] |= m);
}

void hw_bits_clear(uint64_t *w, unsigned i, unsigned n)
{
	HW_ASSERT(i + n <= HW_BITS_PAGES);
	FOR_EACH_WORD_SPAN(i, n, k, m, w[k] &= ~m);
}

unsigned hw_bits_count(const uint64_t *w, unsigned i, unsigned n)
{
	unsigned c = 0;
	HW_ASSERT(i + n <= HW_BITS_PAGES);
	FOR_EACH_WORD_SPAN(i, n, k, m, c += (unsigned)__builtin_popcountll(w[k] & m));
	return c;
}

bool hw_bits_test(const uint64_t *w, unsigned i)
{
	return (w[i / 64] >> (i % 64)) & 1;
}

unsigned hw_bits_find_set_from(const uint64_t *w, unsigned from)
{
	if (from >= HW_BITS_PAGES)
		return HW_BITS_NONE;
	unsigned k = from / 64;
	uint64_t x = w[k] & (~0ull << (from % 64));
	for (;;) {
		if (x)
			return k * 64 + (unsigned)__builtin_ctzll(x);
		if (++k == HW_BITS_WORDS)
			return HW_BITS_NONE;
		x = w[k];
	}
}

unsigned hw_bits_find_set_below(const uint64_t *w, unsigned below)
{
	if (below == 0)
		return HW_BITS_NONE;
	if (below > HW_BITS_PAGES)
		below = HW_BITS_PAGES;
	unsigned last = below - 1;
	int k = (int)(last / 64);
	unsigned sh = 63 - last % 64;
	uint64_t x = (w[k] << sh) >> sh; /* keep bits 0..last%64 */
	for (;;) {
		if (x)
			return (unsigned)k * 64 + (63 - (unsigned)__builtin_clzll(x));
		if (--k < 0)
			return HW_BITS_NONE;
		x = w[k];
	}
}

/* Lowest clear bit at or after from, or HW_BITS_PAGES. */
static unsigned find_clear_from(const uint64_t *w, unsigned from)
{
	if (from >= HW_BITS_PAGES)
		return HW_BITS_PAGES;
	unsigned k = from / 64;
	uint64_t x = ~w[k] & (~0ull << (from % 64));
	for (;;) {
		if (x)
			return k * 64 + (unsigned)__builtin_ctzll(x);
		if (++k == HW_BITS_WORDS)
			return HW_BITS_PAGES;
		x = ~w[k];
	}
}

unsigned hw_bits_find_clear_run(const uint64_t *w, unsigned n, unsigned from)
{
	if (n == 0 || n > HW_BITS_PAGES)
		return HW_BITS_NONE;
	unsigned i = find_clear_from(w, from);
	while (i + n <= HW_BITS_PAGES) {
		/* The run starting at i ends at the next set bit. */
		unsigned j = hw_bits_find_set_from(w, i);
		if (j == HW_BITS_NONE)
			j = HW_BITS_PAGES;
		if (j - i >= n)
			return i;
		i = find_clear_from(w, j);
	}
	return HW_BITS_NONE;
}

hw_sum hw_bits_summarize(const uint64_t *alloc)
{
	hw_sum s = {0, 0, 0};
	uint32_t run = 0; /* clear bits ending at the current position */
	bool seen_set = false;
	for (unsigned k = 0; k < HW_BITS_WORDS; k++) {
		uint64_t x = alloc[k];
		if (x == 0) {
			run += 64;
			continue;
		}
		unsigned low = (unsigned)__builtin_ctzll(x);
		unsigned high = 63 - (unsigned)__builtin_clzll(x);
		/* Clear bits below the lowest set bit close the current run. */
		run += low;
		if (!seen_set) {
			s.start = run;
			seen_set = true;
		}
		if (run > s.max)
			s.max = run;
		/* Clear runs strictly between the lowest and highest set bits,
		 * one run per step: skip the set bits, measure the clear ones.
		 * An all-set word has none (and ctz(~x) would be ctz(0)). */
		for (unsigned pos = low; x != ~0ull && pos < high;) {
			pos += (unsigned)__builtin_ctzll(~(x >> pos)); /* past the set bits */
			if (pos > high)
				break;
			unsigned len = (unsigned)__builtin_ctzll(x >> pos); /* clear run */
			if (len > s.max)
				s.max = len;
			pos += len;
		}
		/* Clear bits above the highest set bit open the next run. */
		run = 63 - high;
	}
	if (!seen_set) {
		s.start = s.max = s.end = run;
		return s;
	}
	s.end = run;
	if (run > s.max)
		s.max = run;
	return s;
}

hw_sum hw_sum_merge(const hw_sum *c, unsigned n, uint32_t child_pages)
{
	hw_sum s = {0, 0, 0};
	uint32_t run = 0; /* free pages ending at the current boundary */
	bool all_free = true;
	for (unsigned k = 0; k < n; k++) {
		bool full = c[k].max == child_pages;
		if (all_free) {
			s.start += c[k].start;
		}
		uint32_t through = run + c[k].start + HW_MUTATE(4, 0, 1);
		if (through > s.max)
			s.max = through;
		if (c[k].max > s.max)
			s.max = c[k].max;
		if (full) {
			run += child_pages;
		} else {
			all_free = false;
			run = c[k].end;
		}
	}
	s.end = run;
	if (run > s.max)
		s.max = run;
	return s;
}

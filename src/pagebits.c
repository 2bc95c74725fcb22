/* pagebits.c: bitmap and summary arithmetic for 512-page chunks.
 *
 * Owns the fast paths the page allocator's correctness rests on; see
 * pagebits.h for the contract (B1-B4). Word-at-a-time throughout: a chunk
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

bool hw_bits_any(const uint64_t *w, unsigned i, unsigned n)
{
	HW_ASSERT(i + n <= HW_BITS_PAGES);
	FOR_EACH_WORD_SPAN(i, n, k, m, if (w[k] & m) return true);
	return false;
}

bool hw_bits_all(const uint64_t *w, unsigned i, unsigned n)
{
	HW_ASSERT(i + n <= HW_BITS_PAGES);
	FOR_EACH_WORD_SPAN(i, n, k, m, if ((w[k] & m) != m) return false);
	return true;
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

/* max(have, the longest run of set bits in y), where y's top bit is clear.
 * r marks the positions that start a run of at least len set bits;
 * r & (r >> s) with s <= len marks the starts of runs of len + s. Doubling
 * reaches have + 1 in O(log have) steps, and a word with no longer run
 * (the common case once the boundary runs set `have`) stops there. The
 * lowest mark of each run that remains is its first bit, so each such run
 * is then measured directly. */
static unsigned longest_set_run(uint64_t y, unsigned have)
{
	uint64_t r = y;
	unsigned len = 1;
	if (r == 0)
		return have;
	while (len <= have) {
		unsigned s = len < have + 1 - len ? len : have + 1 - len;
		r &= r >> s;
		len += s;
		if (r == 0)
			return have;
	}
	while (r != 0) {
		unsigned p = (unsigned)__builtin_ctzll(r);
		unsigned l = (unsigned)__builtin_ctzll(~(y >> p)); /* p + l <= 63 */
		if (l > have)
			have = l;
		r &= ~0ull << (p + l);
	}
	return have;
}

/* Two passes. The first walks the words once for the runs that touch a
 * word boundary: start, end, and the runs that cross words (each closes at
 * a word's lowest set bit). The second looks inside words, between their
 * lowest and highest set bits, only for a run longer than the first pass
 * found; such a run is at most 62 pages, so a max of 62 or more skips it. */
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
		/* Clear bits below the lowest set bit close the current run. */
		run += (unsigned)__builtin_ctzll(x);
		if (!seen_set) {
			s.start = run;
			seen_set = true;
		}
		if (run > s.max)
			s.max = run;
		/* Clear bits above the highest set bit open the next run. */
		run = (unsigned)__builtin_clzll(x);
	}
	if (!seen_set) {
		s.start = s.max = s.end = run;
		return s;
	}
	s.end = run;
	if (run > s.max)
		s.max = run;
	for (unsigned k = 0; k < HW_BITS_WORDS && s.max < 62; k++) {
		uint64_t x = alloc[k];
		if (x == 0)
			continue;
		unsigned low = (unsigned)__builtin_ctzll(x);
		unsigned high = 63 - (unsigned)__builtin_clzll(x);
		if (high - low <= s.max + 1)
			continue; /* no room inside for a longer run */
		/* Clear bits strictly between the lowest and highest set bit. */
		uint64_t inside = ~x & ((1ull << high) - 1) & ~((2ull << low) - 1);
		s.max = longest_set_run(inside, s.max);
	}
	return s;
}

/* The free run of w around the range starting at i and ending at e
 * (exclusive): [*a, *b), bounded by the nearest set bits outside it. */
static void run_around(const uint64_t *w, unsigned i, unsigned e, unsigned *a, unsigned *b)
{
	unsigned below = hw_bits_find_set_below(w, i);
	unsigned from = hw_bits_find_set_from(w, e);
	*a = below == HW_BITS_NONE ? 0 : below + 1;
	*b = from == HW_BITS_NONE ? HW_BITS_PAGES : from;
}

/* Clearing only joins runs: the run [a, b) around the range is new, every
 * other run is as it was, and the start (end) run changes only when [a, b)
 * reaches the map's first (last) page. */
hw_sum hw_sum_after_clear(hw_sum old, const uint64_t *w, unsigned i, unsigned n)
{
	HW_ASSERT(n >= 1 && i + n <= HW_BITS_PAGES && !hw_bits_any(w, i, n));
	unsigned a, b;
	run_around(w, i, i + n, &a, &b);
	hw_sum s = old;
	if (a == 0)
		s.start = b;
	if (b == HW_BITS_PAGES)
		s.end = HW_BITS_PAGES - a;
	if (b - a > s.max)
		s.max = b - a;
	return s;
}

/* Setting a wholly clear range splits the run [a, b) that held it into
 * [a, i) and [i+n, b). Every other run is as it was, so the longest run is
 * unchanged unless [a, b) was a longest one; only then is the map rescanned
 * (another run may be as long). */
hw_sum hw_sum_after_set(hw_sum old, const uint64_t *w, unsigned i, unsigned n)
{
	HW_ASSERT(n >= 1 && i + n <= HW_BITS_PAGES && hw_bits_all(w, i, n));
	unsigned a, b;
	run_around(w, i, i + n, &a, &b);
	/* Bits [a, i) and [i+n, b) were clear before, as was [i, i+n). */
	if (b - a >= old.max)
		return hw_bits_summarize(w);
	hw_sum s = old;
	if (a == 0)
		s.start = i;
	if (b == HW_BITS_PAGES)
		s.end = HW_BITS_PAGES - (i + n);
	return s;
}

/* One pass, written with conditional expressions so that the compiler can
 * keep it free of branches (it runs at every level an update reaches). */
hw_sum hw_sum_merge(const hw_sum *c, unsigned n, uint32_t child_pages)
{
	uint32_t start = 0, max = 0, run = 0; /* run: free pages ending here */
	bool all_free = true;
	for (unsigned k = 0; k < n; k++) {
		bool full = c[k].start == child_pages; /* B1 */
		uint32_t through = run + c[k].start;
		start += all_free ? c[k].start : 0;
		max = through > max ? through : max;
		max = c[k].max > max ? c[k].max : max;
		run = full ? run + child_pages : c[k].end;
		all_free = all_free && full;
	}
	max = run > max ? run : max;
	return (hw_sum){start, max, run};
}

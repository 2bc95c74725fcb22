/* scavenge.c: returning free Ready pages to the OS, and taking them back.
 *
 * Owns: the release policy (which pages go first), the reuse path that makes
 * released pages Ready again, and the scavenging an allocation does before it
 * returns: down to the memory limit, and toward the retained goal when it
 * grew the heap.
 *
 * Policy (docs/scavenging.md). Released state is kept in whole aligned units
 * of max(OS page, heap page), because the OS releases no less. A scavenge of
 * n bytes releases, from the highest address down:
 *   pass 1 (when the platform has huge pages), while at least one huge page
 *     of the n bytes is still to release: every free huge page that still
 *     has Ready units, whole, so a huge page is given back entirely or not
 *     at all and the OS can reassemble it;
 *   pass 2: free Ready units one by one;
 * stopping as soon as n bytes are released. So a scavenge never releases
 * more than n rounded up to one unit: a request smaller than a huge page
 * (every background step, hw_heap_scavenge(h, 1)) goes straight to pass 2
 * and takes units from the top. Highest addresses go first because
 * allocation is lowest-address-first: the top of the heap is the memory
 * least likely to be reused soon, and releasing it keeps the dense, reused
 * bottom backed.
 *
 * After an allocation (docs/scavenging.md, When): growth-time scavenging
 * wants min(Ready - retained goal, bytes the allocation grew the heap by),
 * the memory limit wants Ready - limit; one scavenge of the larger amount
 * runs, counted to the limit when its amount is at least the growth one
 * (the limit would have released it anyway), to growth otherwise. So an
 * allocation releases no more than it grew, unless the limit asks.
 *
 * Release: Ready -> Prepared (unuse), or Ready -> Reserved (fault) when the
 * heap faults freed memory, so every released page is in one state per mode.
 * Reuse: Prepared -> Ready (use), or Reserved -> Prepared -> Ready.
 *
 * Locking: callers hold h->lock.
 */
#include "heap_internal.h"
#include "track.h"

#include <errno.h>

size_t hw_scavenge_ready(const hw_heap *h)
{
	return h->mapped - h->released - h->guarded - h->released_inside;
}

void hw_scavenge_await_calls(hw_heap *h)
{
	HW_ASSERT_LOCKED(h);
	hw_mutex_unlock(&h->lock);
	hw_sleep_ns(20000); /* a release call takes tens of microseconds */
	hw_mutex_lock(&h->lock);
}

/* Releases chunk c's pages [i, i+n) (free, Ready, whole units), adding the
 * bytes released to *total. The pages are marked busy (SV1) before the
 * platform call and settle after it: released on success, free and Ready
 * again on failure. The lock may be dropped during the call
 * (hw_call_outside_lock): callers re-read the bitmaps afterwards. */
static int release_pages(hw_heap *h, hw_chunk *c, size_t chunk_index, unsigned i, unsigned n,
			 size_t *total)
{
	size_t page = chunk_index * HW_BITS_PAGES + i;
	size_t bytes = (size_t)n << h->page_shift;
	HW_ASSERT(!hw_bits_any(c->alloc, i, n) && !hw_bits_any(c->released, i, n));
	HW_ASSERT(i % h->unit_pages == 0 && n % h->unit_pages == 0);
	hw_bits_set(c->alloc, i, n);
	hw_bits_set(c->released, i, n);
	c->free_ready -= n;
	hw_tree_update(h, page, n, HW_TREE_SET);
	int rc = hw_call_outside_lock(h, hw_scavenge_release_op(h), (void *)hw_heap_addr(h, page),
				      bytes);
	hw_bits_clear(c->alloc, i, n);
	if (rc == 0) {
		h->released += bytes;
		h->counters.scavenged_bytes += bytes;
		*total += bytes;
	} else {
		hw_bits_clear(c->released, i, n);
		c->free_ready += n;
	}
	h->low_free = hw_min(h->low_free, page);
	hw_tree_update(h, page, n, HW_TREE_CLEARED);
	return rc;
}

/* Marks, in out[], the pages of whole free Ready units of chunk c. */
static void candidate_units(const hw_heap *h, const hw_chunk *c, uint64_t *out)
{
	unsigned u = (unsigned)h->unit_pages;
	for (unsigned k = 0; k < HW_BITS_WORDS; k++) {
		uint64_t x = ~(c->alloc[k] | c->released[k]);
		if (u > 1) {
			/* Keep only groups of u bits that are all set: fold each
			 * group onto its lowest bit, then spread it back. */
			for (unsigned s = 1; s < u; s <<= 1)
				x &= x >> s;
			uint64_t low = 0;
			for (unsigned b = 0; b < 64; b += u)
				low |= 1ull << b;
			x &= low;
			x = u == 64 ? (x ? ~0ull : 0) : x * ((1ull << u) - 1);
		}
		out[k] = x;
	}
}

/* Pass 2 over one chunk: release candidate units from the top down until
 * *left bytes are done. Returns ENOMEM if a release failed. The candidates
 * are read again after each release, which may have dropped the lock. */
static int scavenge_units(hw_heap *h, size_t ci, size_t *left, size_t *total)
{
	hw_chunk *c = &h->chunks[ci];
	uint64_t cand[HW_BITS_WORDS], inv[HW_BITS_WORDS];
	unsigned below = HW_BITS_PAGES;
	while (*left > 0) {
		candidate_units(h, c, cand);
		unsigned top = hw_bits_find_set_below(cand, below);
		if (top == HW_BITS_NONE)
			return 0;
		for (unsigned k = 0; k < HW_BITS_WORDS; k++)
			inv[k] = ~cand[k];
		/* The candidate run ending at top starts after the next
		 * non-candidate page below it. */
		unsigned gap = hw_bits_find_set_below(inv, top);
		unsigned start = gap == HW_BITS_NONE ? 0 : gap + 1;
		unsigned run = top + 1 - start;
		size_t unit_bytes = h->unit_pages << h->page_shift;
		size_t units = *left / unit_bytes + (*left % unit_bytes != 0);
		unsigned take = (unsigned)hw_min(run, units * h->unit_pages);
		if (release_pages(h, c, ci, top + 1 - take, take, total) != 0)
			return ENOMEM;
		size_t done = (size_t)take << h->page_shift;
		*left = done >= *left ? 0 : *left - done;
		below = top + 1 - take;
	}
	return 0;
}

/* Pass 1 over one chunk: whole free huge pages with Ready units left, while
 * *left is at least a huge page (a whole one then never overshoots). A huge
 * page that stops being wholly free between two of its releases (another
 * thread allocated in it while the lock was dropped) is left as it is. */
static int scavenge_huge(hw_heap *h, size_t ci, size_t *left, size_t *total)
{
	hw_chunk *c = &h->chunks[ci];
	unsigned hp = (unsigned)h->huge_pages;
	for (unsigned b = HW_BITS_PAGES - hp;; b -= hp) {
		if (*left < ((size_t)hp << h->page_shift))
			return 0;
		/* Release each Ready run inside the huge page. */
		unsigned i = b;
		while (i < b + hp && !hw_bits_any(c->alloc, b, hp)) {
			while (i < b + hp && hw_bits_test(c->released, i))
				i++;
			unsigned j = i;
			while (j < b + hp && !hw_bits_test(c->released, j))
				j++;
			if (j > i) {
				if (release_pages(h, c, ci, i, j - i, total) != 0)
					return ENOMEM;
				size_t done = (size_t)(j - i) << h->page_shift;
				*left = done >= *left ? 0 : *left - done;
			}
			i = j;
		}
		if (b == 0)
			return 0;
	}
}

size_t hw_scavenge_locked(hw_heap *h, size_t nbytes, hw_scav_reason why)
{
	HW_ASSERT_LOCKED(h);
	size_t left = nbytes, released = 0;
	if (h->narenas == 0 || nbytes == 0)
		return 0;
	size_t hi = (h->arenas[h->narenas - 1].base + h->arenas[h->narenas - 1].size - h->base) /
		    h->chunk_bytes;
	size_t lo = (h->arenas[0].base - h->base) / h->chunk_bytes;
	int err = 0;
	for (int pass = h->huge_pages ? 1 : 2; pass <= 2 && left > 0 && !err; pass++) {
		size_t enough = pass == 1 ? h->huge_pages << h->page_shift : 1;
		for (size_t ci = hi; ci-- > lo && left >= enough && !err;) {
			hw_chunk *c = &h->chunks[ci];
			/* Absent chunks between arenas may have no committed
			 * metadata; present ones always do. */
			if (!hw_meta_is_committed(&h->meta, c, sizeof *c) || !c->present ||
			    c->free_ready == 0)
				continue;
			err = pass == 1 ? scavenge_huge(h, ci, &left, &released)
					: scavenge_units(h, ci, &left, &released);
		}
	}
	if (why == HW_SCAV_BACKGROUND)
		h->counters.bg_scavenged_bytes += released;
	else if (why == HW_SCAV_LIMIT)
		h->counters.limit_scavenged_bytes += released;
	else if (why == HW_SCAV_GROW)
		h->counters.grow_scavenged_bytes += released;
	return released;
}

/* ---- reuse ----------------------------------------------------------------- */

/* Whether released page p is Reserved (faulted freed memory, or a guard
 * page whose run was freed: I15) rather than Prepared. */
static bool released_reserved(const hw_heap *h, size_t p)
{
	return h->fault_on_free ||
	       hw_bits_test(hw_heap_chunk((hw_heap *)h, p)->guard, (unsigned)(p % HW_BITS_PAGES));
}

/* The call that makes released page p's stretch Ready. Outside
 * fault_on_free a Reserved released page is a former guard page, faulted
 * (I15), so one unfault does it (P9); under fault_on_free a stretch may also
 * hold pages Reserved by the arena's reservation, which only map takes. */
static hw_call_op ready_op(const hw_heap *h, size_t p)
{
	if (!released_reserved(h, p))
		return HW_CALLOP_READY;
	return h->fault_on_free ? HW_CALLOP_READY_FROM_RESERVED : HW_CALLOP_UNFAULT;
}

/* The end of the run of pages from p (below hi) that share p's released bit
 * and, when released, its Reserved or Prepared state: the ranges one
 * platform call can take. */
static size_t same_state_end(const hw_heap *h, size_t p, size_t hi)
{
	hw_chunk *c = hw_heap_chunk((hw_heap *)h, p);
	bool rel = hw_bits_test(c->released, (unsigned)(p % HW_BITS_PAGES));
	bool res = rel && released_reserved(h, p);
	size_t q = p + 1;
	while (q < hi) {
		c = hw_heap_chunk((hw_heap *)h, q);
		bool r = hw_bits_test(c->released, (unsigned)(q % HW_BITS_PAGES));
		if (r != rel || (r && released_reserved(h, q) != res))
			break;
		q++;
	}
	return q;
}

/* Returns made-Ready runs [lo, upto) to released after a later failure,
 * each to the state it had: Prepared by unuse, Reserved by fault. */
static void undo_ready(hw_heap *h, size_t lo, size_t upto)
{
	for (size_t page = lo; page < upto;) {
		size_t end = same_state_end(h, page, upto);
		if (hw_bits_test(hw_heap_chunk(h, page)->released,
				 (unsigned)(page % HW_BITS_PAGES))) {
			void *p = (void *)hw_heap_addr(h, page);
			size_t bytes = (end - page) << h->page_shift;
			if (released_reserved(h, page))
				HW_CHECK(hw_call_fault(h->pf, &h->sys, p, bytes) == 0,
					 "cannot roll back a failed reuse of faulted pages");
			else
				hw_call_unuse(h->pf, &h->sys, p, bytes);
		}
		page = end;
	}
}

static size_t span_any_released(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)h;
	(void)arg;
	return hw_bits_any(c->released, i, n);
}

/* Clears the guard bits of the released pages of c's [i, i + n): they are
 * about to be Ready (I15). */
static void forget_guards(hw_chunk *c, unsigned i, unsigned n)
{
	for (unsigned k = i / 64; k <= (i + n - 1) / 64; k++) {
		uint64_t g = c->guard[k] & c->released[k] & hw_bits_word_mask(k, i, n);
		c->guard[k] &= ~g;
		c->guards -= (uint32_t)__builtin_popcountll(g);
	}
}

/* Free Ready pages become in use. */
static size_t span_mark_alloc(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)h;
	(void)arg;
	HW_ASSERT(!hw_bits_any(c->alloc, i, n) && !hw_bits_any(c->released, i, n));
	hw_bits_set(c->alloc, i, n);
	c->free_ready -= n;
	return 0;
}

/* The claim with every call under the lock, for a range of more released
 * stretches than CLAIM_SEGS: make each Ready first, so a failure can be
 * undone before any bitmap changes, then account. */
static int claim_in_place(hw_heap *h, size_t page, size_t n, size_t lo, size_t hi, bool *zeroed)
{
	size_t released_in_run = 0;
	/* First make every released run in [lo, hi) Ready, so a failure can
	 * be undone before any bitmap changes. */
	for (size_t p = lo; p < hi;) {
		size_t q = same_state_end(h, p, hi);
		if (hw_bits_test(hw_heap_chunk(h, p)->released, (unsigned)(p % HW_BITS_PAGES))) {
			hw_call_op op = ready_op(h, p);
			if (hw_call_op_locked(h, op, (void *)hw_heap_addr(h, p),
					      (q - p) << h->page_shift) != 0) {
				undo_ready(h, lo, p);
				return ENOMEM;
			}
			size_t zs = hw_max(p, page), ze = hw_min(q, page + n);
			if (h->zero_released && ze > zs)
				hw_track_zeroed((void *)hw_heap_addr(h, zs),
						(ze - zs) << h->page_shift);
		}
		p = q;
	}
	/* Then account: clear the released bits chunk by chunk. */
	for (size_t p = lo; p < hi;) {
		hw_chunk *c = hw_heap_chunk(h, p);
		unsigned i = (unsigned)(p % HW_BITS_PAGES);
		unsigned take = (unsigned)hw_min(hi - p, HW_BITS_PAGES - i);
		unsigned rel = hw_bits_count(c->released, i, take);
		/* Pages of the run itself that were released. */
		size_t rs = hw_max(p, page), re = hw_min(p + take, page + n);
		unsigned rel_run =
			re > rs ? hw_bits_count(c->released, (unsigned)(rs % HW_BITS_PAGES),
						(unsigned)(re - rs))
				: 0;
		released_in_run += rel_run;
		if (c->guards)
			forget_guards(c, i, take);
		hw_bits_clear(c->released, i, take);
		c->free_ready += rel;
		h->released -= (size_t)rel << h->page_shift;
		p += take;
	}
	*zeroed = h->zero_released && released_in_run == n;
	hw_heap_for_spans(h, page, n, span_mark_alloc, NULL);
	hw_tree_update(h, page, n, HW_TREE_SET);
	return 0;
}

/* ---- claiming pages for an allocation ------------------------------------ */

/* The most released stretches a claim makes Ready with the lock dropped;
 * a range with more (a run over many scavenged units) is made Ready with
 * the lock held (claim_in_place): the stretches must be remembered while
 * their pages are busy, and there is no memory to remember more in. */
#define CLAIM_SEGS 8

/* A released stretch one call makes Ready. */
typedef struct claim_seg {
	size_t page, n;
	hw_call_op op; /* ready_op's: READY from Prepared, the others from Reserved */
} claim_seg;

/* The released stretches of [lo, hi), in address order; returns how many,
 * or CLAIM_SEGS + 1 when there are more. */
static size_t collect_segs(hw_heap *h, size_t lo, size_t hi, claim_seg *out)
{
	size_t k = 0;
	for (size_t p = lo; p < hi;) {
		size_t q = same_state_end(h, p, hi);
		if (hw_bits_test(hw_heap_chunk(h, p)->released, (unsigned)(p % HW_BITS_PAGES))) {
			if (k == CLAIM_SEGS)
				return k + 1;
			out[k++] = (claim_seg){p, q - p, ready_op(h, p)};
		}
		p = q;
	}
	return k;
}

/* Free pages (Ready or released) become busy (I5): out of every count. */
static size_t span_free_to_busy(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)arg;
	HW_ASSERT(!hw_bits_any(c->alloc, i, n));
	unsigned rel = hw_bits_count(c->released, i, n);
	h->released -= (size_t)rel << h->page_shift;
	c->free_ready -= n - rel;
	if (c->guards)
		forget_guards(c, i, n);
	hw_bits_set(c->alloc, i, n);
	hw_bits_set(c->released, i, n);
	return 0;
}

/* Busy pages become in use (the claimed run). */
static size_t span_busy_to_used(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)h;
	(void)arg;
	hw_bits_clear(c->released, i, n);
	return 0;
}

/* Busy pages (or pages just made free and Ready) become free and
 * released again; with *(bool *)arg, Reserved former guard pages (I15). */
static size_t span_to_released(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	unsigned busy = hw_bits_count(c->alloc, i, n);
	c->free_ready -= n - busy;
	hw_bits_clear(c->alloc, i, n);
	hw_bits_set(c->released, i, n);
	h->released += (size_t)n << h->page_shift;
	if (*(bool *)arg) {
		c->guards += n - hw_bits_count(c->guard, i, n);
		hw_bits_set(c->guard, i, n);
	}
	return 0;
}

/* Busy pages become free and Ready. */
static size_t span_busy_to_ready(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)h;
	(void)arg;
	hw_bits_clear(c->alloc, i, n);
	hw_bits_clear(c->released, i, n);
	c->free_ready += n;
	return 0;
}

/* Applies fn to the parts of [p, p + n) outside [page, page + m). */
static void outside_run(hw_heap *h, size_t p, size_t n, size_t page, size_t m, hw_span_fn fn,
			void *arg)
{
	if (p < page)
		hw_heap_for_spans(h, p, hw_min(p + n, page) - p, fn, arg);
	if (p + n > page + m) {
		size_t from = hw_max(p, page + m);
		hw_heap_for_spans(h, from, p + n - from, fn, arg);
	}
}

/* The claim with the lock dropped around each call: the run and the
 * released stretches become busy, so no other thread can take them; the
 * calls run; then they settle as one: the run in use and the rest of the
 * stretches free and Ready, or, when a call is refused, the stretches made
 * Ready released again and every page as it was. */
static int claim_busy(hw_heap *h, size_t page, size_t n, size_t lo, size_t hi,
		      const claim_seg *seg, size_t nseg, bool *zeroed)
{
	hw_heap_for_spans(h, page, n, span_free_to_busy, NULL);
	for (size_t k = 0; k < nseg; k++)
		outside_run(h, seg[k].page, seg[k].n, page, n, span_free_to_busy, NULL);
	hw_tree_update(h, lo, hi - lo, HW_TREE_RESCAN);
	size_t k = 0;
	for (; k < nseg; k++)
		if (hw_call_outside_lock(h, seg[k].op, (void *)hw_heap_addr(h, seg[k].page),
					 seg[k].n << h->page_shift) != 0)
			break;
	if (k < nseg) {
		for (size_t j = 0; j < k; j++) {
			bool reserved = seg[j].op != HW_CALLOP_READY;
			HW_CHECK(hw_call_outside_lock(h,
						      reserved ? HW_CALLOP_FAULT : HW_CALLOP_UNUSE,
						      (void *)hw_heap_addr(h, seg[j].page),
						      seg[j].n << h->page_shift) == 0,
				 "cannot roll back a failed reuse of faulted pages");
		}
		hw_heap_for_spans(h, page, n, span_busy_to_ready, NULL);
		for (size_t j = 0; j < nseg; j++) {
			bool guard = seg[j].op == HW_CALLOP_UNFAULT;
			hw_heap_for_spans(h, seg[j].page, seg[j].n, span_to_released, &guard);
		}
		hw_tree_update(h, lo, hi - lo, HW_TREE_RESCAN);
		return ENOMEM;
	}
	size_t released_in_run = 0;
	for (size_t j = 0; j < nseg; j++) {
		size_t zs = hw_max(seg[j].page, page),
		       ze = hw_min(seg[j].page + seg[j].n, page + n);
		if (ze > zs) {
			released_in_run += ze - zs;
			if (h->zero_released)
				hw_track_zeroed((void *)hw_heap_addr(h, zs),
						(ze - zs) << h->page_shift);
		}
		outside_run(h, seg[j].page, seg[j].n, page, n, span_busy_to_ready, NULL);
	}
	hw_heap_for_spans(h, page, n, span_busy_to_used, NULL);
	hw_tree_update(h, lo, hi - lo, HW_TREE_RESCAN);
	*zeroed = h->zero_released && released_in_run == n;
	return 0;
}

int hw_scavenge_claim_locked(hw_heap *h, size_t page, size_t n, bool *zeroed)
{
	HW_ASSERT_LOCKED(h);
	size_t u = h->unit_pages;
	size_t lo = page / u * u, hi = (page + n + u - 1) / u * u;
	/* Reusing dirty pages, the common case, needs no platform call. */
	if (hw_heap_for_spans(h, lo, hi - lo, span_any_released, NULL) == 0) {
		*zeroed = false;
		hw_heap_for_spans(h, page, n, span_mark_alloc, NULL);
		hw_tree_update(h, page, n, HW_TREE_SET);
		return 0;
	}
	claim_seg seg[CLAIM_SEGS];
	size_t nseg = collect_segs(h, lo, hi, seg);
	if (nseg > CLAIM_SEGS)
		return claim_in_place(h, page, n, lo, hi, zeroed);
	return claim_busy(h, page, n, lo, hi, seg, nseg, zeroed);
}

void hw_scavenge_after_alloc_locked(hw_heap *h, size_t grown)
{
	HW_ASSERT_LOCKED(h);
	size_t ready = hw_scavenge_ready(h), goal = hw_scavenger_goal(h);
	size_t for_grow = grown > 0 && ready > goal ? hw_min(ready - goal, grown) : 0;
	bool limited = h->memory_limit != 0;
	size_t for_limit = limited && ready > h->memory_limit ? ready - h->memory_limit : 0;
	if (for_limit > 0 && for_limit >= for_grow)
		hw_scavenge_locked(h, for_limit, HW_SCAV_LIMIT);
	else if (for_grow > 0)
		hw_scavenge_locked(h, for_grow, HW_SCAV_GROW);
	if (limited && hw_scavenge_ready(h) > h->memory_limit)
		h->counters.limit_exceeded++;
}

size_t hw_heap_scavenge(hw_heap *h, size_t nbytes)
{
	HW_HEAP_ARG(h, "hw_heap_scavenge");
	hw_mutex_lock(&h->lock);
	h->counters.scavenge_calls++;
	size_t r = hw_scavenge_locked(h, nbytes, HW_SCAV_EXPLICIT);
	/* Pages another thread is releasing right now are busy (I5), so this
	 * call passed them over. When it fell short, wait for those calls to
	 * settle and go on: on return no free Ready page is left that the
	 * request could have taken (a release that failed brought its pages
	 * back Ready, and the next pass takes them). */
	while (r < nbytes && h->inflight > 0) {
		hw_scavenge_await_calls(h);
		r += hw_scavenge_locked(h, nbytes - r, HW_SCAV_EXPLICIT);
	}
	hw_mutex_unlock(&h->lock);
	return r;
}

size_t hw_heap_set_memory_limit(hw_heap *h, size_t limit)
{
	HW_HEAP_ARG(h, "hw_heap_set_memory_limit");
	hw_mutex_lock(&h->lock);
	h->memory_limit = limit;
	size_t ready = hw_scavenge_ready(h), r = 0;
	if (limit && ready > limit)
		r = hw_scavenge_locked(h, ready - limit, HW_SCAV_LIMIT);
	hw_mutex_unlock(&h->lock);
	return r;
}

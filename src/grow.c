/* grow.c: growing the heap by whole arenas, and giving them all back.
 *
 * Owns: arena reservation (aligned, contiguous when the address space
 * allows), the heap's address window, metadata commits for new chunks, and
 * the seed's accounting rule: new memory is counted as released. It is
 * Prepared after grow (Reserved under fault_on_free, whose reuse path maps
 * it), so nothing is backed until an allocation makes it Ready, and the
 * scavenger never sees untouched memory as work (the Go runtime's
 * "mark newly-mapped memory as scavenged").
 *
 * Window. The first grow fixes a window of address_space bytes; later
 * arenas must land inside, so page indices stay small and the summary tree
 * stays fixed in size. The window is placed where the platform finds that
 * many free bytes (its probe, P11: on Linux low in the address space, away
 * from where the kernel puts the process's later mappings) and the first
 * arena at its low end, so growth upwards finds free space: centred on an arena
 * the platform placed, a window's upper half lay over the mappings made
 * before it (Linux places a mapping at the highest free address) and a
 * heap could use little more than half its window. A window the platform
 * cannot reserve (an address-space limit, a simulator's backing) is
 * centred on wherever the first arena lands, as is one whose low end was
 * taken in between. Growth tries, in order: just above the highest arena,
 * just below the lowest, wherever the platform puts an aligned reservation,
 * then the lowest free aligned range of the window the platform's probe
 * finds (where placement is bottom-up, the process's other reservations
 * fill the window from just above the arenas, and the first aligned fit
 * lies in a hole below the window), skipping further up each time a range
 * it names refuses the reservation.
 *
 * Failure. Any failure (reservation, metadata commit, map) leaves the heap
 * exactly as it was and returns ENOMEM; committed metadata pages stay
 * committed and counted in meta_ready.
 *
 * Locking: callers hold h->lock.
 */
#include "heap_internal.h"
#include "track.h"

#include <errno.h>
#include <string.h>

static void release(hw_heap *h, uintptr_t p, size_t n)
{
	hw_call_release(h->pf, &h->sys, (void *)p, n);
}

static bool in_window(const hw_heap *h, uintptr_t p, size_t n)
{
	return h->base == 0 || (p >= h->base && p - h->base <= h->address_space - n);
}

/* How many times a platform that cannot trim (Windows) looks for an aligned
 * range: it releases the over-sized reservation that showed it one, then
 * reserves the aligned part, and another thread of the process can take the
 * range in between (heap_test's thief does). Each try is a fresh range, so
 * a few suffice. reserve_arena's search of the window uses the same bound. */
#define RESERVE_ALIGNED_TRIES 8

/* Reserves n bytes at hint exactly (hint != 0), or anywhere aligned to the
 * arena size (hint == 0). 0 and *out, or ENOMEM. */
static int reserve_at(hw_heap *h, uintptr_t hint, size_t n, uintptr_t *out)
{
	void *got;
	if (hw_call_reserve(h->pf, &h->sys, (void *)hint, n, &got) != 0)
		return ENOMEM;
	uintptr_t g = (uintptr_t)got;
	if ((hint && g == hint) || (!hint && (g & (h->arena_size - 1)) == 0)) {
		*out = g;
		return 0;
	}
	release(h, g, n);
	if (hint)
		return ENOMEM;
	/* Over-reserve and trim to the alignment. */
	size_t big = n + h->arena_size;
	if (big < n)
		return ENOMEM;
	for (int try = 0; try < RESERVE_ALIGNED_TRIES; try++) {
		if (hw_call_reserve(h->pf, &h->sys, NULL, big, &got) != 0)
			return ENOMEM;
		g = (uintptr_t)got;
		uintptr_t a = hw_align_up(g, h->arena_size);
		if (h->pf->caps.partial_release) {
			if (a > g)
				release(h, g, a - g);
			if (g + big > a + n)
				release(h, a + n, g + big - (a + n));
			*out = a;
			return 0;
		}
		release(h, g, big);
		if (reserve_at(h, a, n, out) == 0)
			return 0;
	}
	return ENOMEM;
}

/* The first arena, at the low end of a window found free (the top of the
 * file); *base is the window's start, or 0 to centre it on the arena. */
static int reserve_first(hw_heap *h, size_t n, uintptr_t *out, uintptr_t *base)
{
	uintptr_t w;
	*base = 0;
	if (hw_sys_probe(h->pf, h->address_space, h->arena_size, 0, &w) == 0 &&
	    reserve_at(h, w, n, out) == 0) {
		*base = w;
		return 0;
	}
	return reserve_at(h, 0, n, out);
}

static int reserve_arena(hw_heap *h, size_t n, uintptr_t *out)
{
	if (h->narenas > 0) {
		uintptr_t lo = h->arenas[0].base;
		uintptr_t hi = h->arenas[h->narenas - 1].base + h->arenas[h->narenas - 1].size;
		if (in_window(h, hi, n) && reserve_at(h, hi, n, out) == 0)
			return 0;
		if (lo >= n && in_window(h, lo - n, n) && reserve_at(h, lo - n, n, out) == 0)
			return 0;
	}
	if (reserve_at(h, 0, n, out) != 0)
		return ENOMEM;
	if (in_window(h, *out, n))
		return 0;
	release(h, *out, n);
	/* A platform that places bottom-up (Windows, the simulator) puts the
	 * process's other reservations in the window's free space just above
	 * the arenas, and the first aligned fit anywhere in a hole below the
	 * window: ask the probe for the lowest fit inside it. A fit it names
	 * can still refuse a reservation: taken in between, or held by what
	 * the probe cannot see (under Wine, the host's own mappings read as
	 * free: ERROR_INVALID_ADDRESS). The next try looks twice as far up. */
	uintptr_t from = h->base;
	for (int try = 0; try < RESERVE_ALIGNED_TRIES; try++) {
		uintptr_t w;
		if (hw_sys_probe(h->pf, n, h->arena_size, from, &w) != 0 || !in_window(h, w, n))
			return ENOMEM;
		if (reserve_at(h, w, n, out) == 0)
			return 0;
		from = w + (h->arena_size << try);
		if (from < w)
			return ENOMEM;
	}
	return ENOMEM;
}

/* Commits the metadata the chunks [c0, c1] need: their bitmaps, their
 * tree entries with every sibling group the search and update read, and
 * one more arena slot. */
static int commit_metadata(hw_heap *h, size_t c0, size_t c1)
{
	hw_platform *pf = h->pf;
	if (hw_meta_ensure(pf, &h->sys, &h->meta, &h->chunks[c0],
			   (c1 - c0 + 1) * sizeof(hw_chunk)) ||
	    hw_meta_ensure(pf, &h->sys, &h->meta, h->arenas, (h->narenas + 1) * sizeof(hw_arena)))
		return ENOMEM;
	for (unsigned l = 0; l <= h->tree.top; l++) {
		size_t lo = (c0 >> (3 * l)) & ~(size_t)(HW_FANOUT - 1);
		size_t hi = hw_min((c1 >> (3 * l)) | (HW_FANOUT - 1), h->tree.count[l] - 1);
		if (hw_meta_ensure(pf, &h->sys, &h->meta, &h->tree.level[l][lo],
				   (hi - lo + 1) * sizeof(hw_sum)))
			return ENOMEM;
	}
	return 0;
}

static void insert_arena(hw_heap *h, uintptr_t base, size_t size)
{
	size_t i = h->narenas;
	while (i > 0 && h->arenas[i - 1].base > base) {
		h->arenas[i] = h->arenas[i - 1];
		i--;
	}
	h->arenas[i] = (hw_arena){base, size};
	h->narenas++;
}

int hw_grow_locked(hw_heap *h, size_t npages, uintptr_t *arena)
{
	HW_ASSERT_LOCKED(h);
	if (npages > (h->address_space >> h->page_shift))
		return ENOMEM;
	size_t ask = hw_align_up(npages << h->page_shift, h->arena_size);
	uintptr_t addr, base = 0;
	bool first = h->base == 0;
	if ((first ? reserve_first(h, ask, &addr, &base) : reserve_arena(h, ask, &addr)) != 0)
		return ENOMEM;
	if (first && base != 0) {
		h->base = base;
	} else if (first) {
		size_t half = h->address_space / 2;
		h->base = addr > half + h->arena_size ? hw_align_down(addr - half, h->arena_size)
						      : h->arena_size;
		if (!in_window(h, addr, ask))
			h->base = addr;
	}
	size_t c0 = (addr - h->base) / h->chunk_bytes;
	size_t c1 = c0 + ask / h->chunk_bytes - 1;
	if (commit_metadata(h, c0, c1) != 0)
		goto fail;
	if (!h->fault_on_free &&
	    hw_call_map(h->pf, &h->sys, (void *)addr, ask) != 0) {
		goto fail;
	}
	for (size_t c = c0; c <= c1; c++) {
		hw_chunk *ch = &h->chunks[c];
		memset(ch, 0, sizeof *ch);
		ch->present = 1;
		memset(ch->released, 0xff, sizeof ch->released);
	}
	insert_arena(h, addr, ask);
	h->low_free = first ? c0 * HW_BITS_PAGES : hw_min(h->low_free, c0 * HW_BITS_PAGES);
	h->mapped += ask;
	h->released += ask;
	h->counters.grows++;
	hw_tree_update(h, c0 * HW_BITS_PAGES, (c1 - c0 + 1) * HW_BITS_PAGES, HW_TREE_RESCAN);
	hw_track_noaccess((void *)addr, ask);
	if (arena)
		*arena = addr;
	return 0;
fail:
	release(h, addr, ask);
	if (first)
		h->base = 0;
	return ENOMEM;
}

/* Whether chunk c is as grow left it: no page allocated, every page
 * released, no guard bit (inside bits are only on allocated pages, I16). */
static bool pristine(const hw_chunk *c)
{
	for (unsigned k = 0; k < HW_BITS_WORDS; k++)
		if (c->alloc[k] != 0 || c->released[k] != ~0ull || c->guard[k] != 0)
			return false;
	return true;
}

void hw_grow_undo_locked(hw_heap *h, uintptr_t arena)
{
	HW_ASSERT_LOCKED(h);
	size_t i = 0;
	while (i < h->narenas && h->arenas[i].base != arena)
		i++;
	HW_CHECK(i < h->narenas, "grow undo: no such arena");
	size_t size = h->arenas[i].size;
	/* Another thread may have allocated in it while the failed claim had
	 * the lock dropped: then it stays, a grow like any other. */
	for (size_t c = (arena - h->base) / h->chunk_bytes, e = c + size / h->chunk_bytes; c < e;
	     c++)
		if (!pristine(&h->chunks[c]))
			return;
	for (; i + 1 < h->narenas; i++)
		h->arenas[i] = h->arenas[i + 1];
	h->narenas--;
	size_t c0 = (arena - h->base) / h->chunk_bytes, c1 = c0 + size / h->chunk_bytes - 1;
	for (size_t c = c0; c <= c1; c++)
		memset(&h->chunks[c], 0, sizeof h->chunks[c]);
	hw_tree_update(h, c0 * HW_BITS_PAGES, (c1 - c0 + 1) * HW_BITS_PAGES, HW_TREE_RESCAN);
	h->mapped -= size;
	h->released -= size;
	h->counters.grows--; /* a failed allocation changes no heap stat */
	hw_track_unmap((void *)arena, size);
	release(h, arena, size);
	if (h->narenas == 0)
		h->base = 0;
}

static bool allocated_body(hw_heap *h, size_t page)
{
	hw_chunk *c = hw_heap_present_chunk(h, hw_heap_addr(h, page));
	unsigned i = (unsigned)(page % HW_BITS_PAGES);
	return c && hw_bits_test(c->alloc, i) && !hw_bits_test(c->head, i);
}

/* Calls hw_track_forget on every live run (tracking builds only: O(heap)).
 * A run may cross into an address-contiguous arena. */
static void forget_live_runs(hw_heap *h)
{
	size_t window = h->nchunks * HW_BITS_PAGES;
	for (size_t ci = 0; ci < h->nchunks; ci++) {
		hw_chunk *c = hw_heap_present_chunk(h, hw_heap_addr(h, ci * HW_BITS_PAGES));
		if (!c)
			continue;
		for (unsigned i = hw_bits_find_set_from(c->head, 0); i != HW_BITS_NONE;
		     i = hw_bits_find_set_from(c->head, i + 1)) {
			size_t run = ci * HW_BITS_PAGES + i, q = run + 1;
			bool guarded = false;
			while (q < window && allocated_body(h, q))
				q++;
			for (size_t g = run; g < q && !guarded; g++) {
				const hw_chunk *gc = hw_heap_chunk(h, g);
				unsigned gi = (unsigned)(g % HW_BITS_PAGES);
				guarded =
					hw_bits_test(gc->guard, gi) || hw_bits_test(gc->inside, gi);
			}
			/* A run with guard pages or pages released inside it is
			 * no root region (K2). */
			if (!guarded)
				hw_track_forget((void *)hw_heap_addr(h, run),
						(q - run) << h->page_shift);
		}
	}
}

void hw_grow_release_all(hw_heap *h)
{
	if (HW_TRACK_ASAN)
		forget_live_runs(h);
	for (size_t i = 0; i < h->narenas; i++) {
		/* Sanitizers keep poison across munmap; clear it first. */
		hw_track_unmap((void *)h->arenas[i].base, h->arenas[i].size);
		release(h, h->arenas[i].base, h->arenas[i].size);
	}
	h->narenas = 0;
}

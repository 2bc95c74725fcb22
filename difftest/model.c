/* model.c: the reference model (model.h).
 *
 * Owns: the page-state array, the arena and live-object tables, and the
 * policy scans. Every scan is a plain loop over pages in address order (or
 * its reverse for scavenging), written to match the policy text in
 * fuzz/FORMAT.md line by line rather than to be fast.
 *
 * Invariants: M1-M5 of model.h. The page-state array and the page-address
 * array share one block (page_cap states, then page_cap addresses), so
 * "address-adjacent" is always the literal test addr[i] + P == addr[i + 1].
 *
 * Locking: none.
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uintptr_t *addrs(const hw_model *m)
{
	return (uintptr_t *)(void *)(m->page + m->page_cap);
}

static void touch(hw_model *m, size_t lo, size_t hi)
{
	if (lo >= hi)
		return;
	if (m->dirty_lo >= m->dirty_hi) {
		m->dirty_lo = lo;
		m->dirty_hi = hi;
		return;
	}
	if (lo < m->dirty_lo)
		m->dirty_lo = lo;
	if (hi > m->dirty_hi)
		m->dirty_hi = hi;
}

void hw_model_dirty_reset(hw_model *m)
{
	m->dirty_lo = 0;
	m->dirty_hi = 0;
}

int hw_model_init(hw_model *m, size_t P, size_t u, size_t hp, bool zero_released)
{
	memset(m, 0, sizeof *m);
	m->P = P;
	m->u = u ? u : 1;
	m->hp = hp;
	m->zero_released = zero_released;
	m->next_id = 1;
	return 0;
}

void hw_model_fini(hw_model *m)
{
	free(m->arena);
	free(m->page);
	free(m->live);
	free(m->journal);
	memset(m, 0, sizeof *m);
}

/* page[] and the address array share one block: page_cap states, then
 * page_cap addresses (aligned, since page_cap is kept even). */
static int reserve_pages(hw_model *m, size_t need)
{
	if (need <= m->page_cap)
		return 0;
	size_t cap = m->page_cap ? m->page_cap : 1024;
	while (cap < need)
		cap *= 2;
	uint32_t *blk = malloc(cap * (sizeof(uint32_t) + sizeof(uintptr_t)));
	if (blk == NULL)
		return -1;
	uintptr_t *na = (uintptr_t *)(void *)(blk + cap);
	if (m->npages) {
		memcpy(blk, m->page, m->npages * sizeof(uint32_t));
		memcpy(na, addrs(m), m->npages * sizeof(uintptr_t));
	}
	free(m->page);
	m->page = blk;
	m->page_cap = cap;
	return 0;
}

static int grow_array(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 16;
	while (c < need)
		c *= 2;
	void *p = realloc(*arr, c * elem);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = c;
	return 0;
}

uintptr_t hw_model_addr(const hw_model *m, size_t idx) { return addrs(m)[idx]; }

static bool adjacent(const hw_model *m, size_t i)
{
	const uintptr_t *a = addrs(m);
	return i + 1 < m->npages && a[i] + m->P == a[i + 1];
}

int hw_model_add_arena(hw_model *m, uintptr_t base, size_t bytes)
{
	if (bytes == 0 || bytes % m->P != 0 || base % m->P != 0)
		return -1;
	size_t n = bytes / m->P;
	size_t k = 0;
	while (k < m->narenas && m->arena[k].base < base)
		k++;
	if (k > 0 && m->arena[k - 1].base + m->arena[k - 1].npages * m->P > base)
		return -1;
	if (k < m->narenas && base + bytes > m->arena[k].base)
		return -1;
	if (grow_array((void **)&m->arena, &m->arena_cap, m->narenas + 1, sizeof *m->arena) ||
	    reserve_pages(m, m->npages + n))
		return -1;
	size_t first = k < m->narenas ? m->arena[k].first : m->npages;
	uintptr_t *a = addrs(m);
	memmove(m->page + first + n, m->page + first, (m->npages - first) * sizeof(uint32_t));
	memmove(a + first + n, a + first, (m->npages - first) * sizeof(uintptr_t));
	for (size_t i = 0; i < n; i++) {
		m->page[first + i] = HW_MP_RELEASED;
		a[first + i] = base + i * m->P;
	}
	memmove(m->arena + k + 1, m->arena + k, (m->narenas - k) * sizeof *m->arena);
	m->arena[k] = (hw_model_arena){.base = base, .npages = n, .first = first};
	m->narenas++;
	for (size_t j = k + 1; j < m->narenas; j++)
		m->arena[j].first += n;
	m->npages += n;
	m->released_pages += n;
	/* The new pages are not "changed" pages (M5): they are compared by the
	 * driver's next full check. Later indices moved up by n. */
	if (m->dirty_lo < m->dirty_hi && m->dirty_hi > first) {
		if (m->dirty_lo >= first)
			m->dirty_lo += n;
		m->dirty_hi += n;
	}
	return 0;
}

size_t hw_model_index(const hw_model *m, uintptr_t addr)
{
	size_t lo = 0, hi = m->narenas;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const hw_model_arena *ar = &m->arena[mid];
		if (addr < ar->base)
			hi = mid;
		else if (addr >= ar->base + ar->npages * m->P)
			lo = mid + 1;
		else
			return ar->first + (addr - ar->base) / m->P;
	}
	return SIZE_MAX;
}

static bool is_free(uint32_t s) { return s < HW_MP_USED; }

size_t hw_model_fit(const hw_model *m, size_t n, size_t align)
{
	size_t ap = align > m->P ? align / m->P : 1;
	size_t need = n + ap - 1;
	size_t run = 0, start = 0;
	for (size_t i = 0; i < m->npages; i++) {
		if (!is_free(m->page[i])) {
			run = 0;
			continue;
		}
		if (run == 0 || !adjacent(m, i - 1))
			run = 0;
		if (run == 0)
			start = i;
		run++;
		if (run == need) {
			uintptr_t base = hw_model_addr(m, start);
			uintptr_t a = (base + (align > m->P ? align : m->P) - 1) &
				      ~(uintptr_t)((align > m->P ? align : m->P) - 1);
			return start + (a - base) / m->P;
		}
	}
	return SIZE_MAX;
}

/* First index of the aligned group of g pages holding page i, when the whole
 * group is mapped and contiguous; SIZE_MAX otherwise. */
static size_t group_start(const hw_model *m, size_t i, size_t g)
{
	uintptr_t a = hw_model_addr(m, i);
	uintptr_t gb = a - (a % (g * m->P));
	size_t s = hw_model_index(m, gb);
	if (s == SIZE_MAX || s + g > m->npages)
		return SIZE_MAX;
	if (hw_model_addr(m, s + g - 1) != gb + (g - 1) * m->P)
		return SIZE_MAX;
	return s;
}

/* Makes the released units touching [start, start + n) Ready (M4), and
 * returns whether every page of the range was released. */
static bool make_ready(hw_model *m, size_t start, size_t n)
{
	bool all_released = true;
	for (size_t i = start; i < start + n; i++)
		all_released &= hw_mp_released(m->page[i]);
	size_t lo = start, hi = start + n;
	for (size_t i = start; i < start + n; i++) {
		if (!hw_mp_released(m->page[i]))
			continue;
		/* The unit holding a released page is wholly released (M4). */
		size_t us = group_start(m, i, m->u);
		for (size_t j = us; j < us + m->u; j++) {
			if (hw_mp_released(m->page[j])) {
				m->page[j] = HW_MP_READY;
				m->released_pages--;
			}
		}
		if (us < lo)
			lo = us;
		if (us + m->u > hi)
			hi = us + m->u;
	}
	touch(m, lo, hi);
	return all_released;
}

hw_model_obj *hw_model_alloc(hw_model *m, size_t start, size_t n)
{
	if (grow_array((void **)&m->live, &m->live_cap, m->nlive + 1, sizeof *m->live))
		return NULL;
	bool all_released = make_ready(m, start, n);
	hw_model_obj *o = &m->live[m->nlive++];
	*o = (hw_model_obj){
		.addr = hw_model_addr(m, start),
		.npages = n,
		.id = m->next_id++,
		.zeroed = all_released && m->zero_released,
	};
	for (size_t i = start; i < start + n; i++)
		m->page[i] = HW_MP_USED + o->id;
	m->inuse_pages += n;
	touch(m, start, start + n);
	return o;
}

bool hw_model_can_grow(const hw_model *m, size_t k, size_t n)
{
	const hw_model_obj *o = &m->live[k];
	size_t s = hw_model_index(m, o->addr), end = s + o->npages;
	if (n <= o->npages || s + n > m->npages)
		return false;
	for (size_t i = end; i < s + n; i++)
		if (!is_free(m->page[i]) || !adjacent(m, i - 1))
			return false;
	return true;
}

void hw_model_grow(hw_model *m, size_t k, size_t n)
{
	hw_model_obj *o = &m->live[k];
	size_t end = hw_model_index(m, o->addr) + o->npages, extra = n - o->npages;
	make_ready(m, end, extra);
	for (size_t i = end; i < end + extra; i++)
		m->page[i] = HW_MP_USED + o->id;
	m->inuse_pages += extra;
	o->npages = n;
	touch(m, end, end + extra);
}

long hw_model_find_live(const hw_model *m, uintptr_t addr, size_t npages)
{
	for (size_t k = 0; k < m->nlive; k++)
		if (m->live[k].addr == addr && m->live[k].npages == npages)
			return (long)k;
	return -1;
}

/* Frees pages [s, s + n) of an object (M2): released when `released`
 * (the fault_on_free path), Ready otherwise; its guard pages RELEASED, or
 * RESERVED when not `released`; its inside pages RELEASED. */
static void free_range(hw_model *m, size_t s, size_t n, bool released)
{
	for (size_t i = s; i < s + n; i++) {
		bool guard = (m->page[i] & HW_MP_GUARD) != 0;
		bool inside = (m->page[i] & HW_MP_INSIDE) != 0;
		m->page[i] = released || inside ? HW_MP_RELEASED
			     : guard            ? HW_MP_RESERVED
						: HW_MP_READY;
		m->released_pages += released || guard || inside;
		m->guarded_pages -= guard;
		m->inside_pages -= inside;
	}
	m->inuse_pages -= n;
	touch(m, s, s + n);
}

void hw_model_free(hw_model *m, size_t k, bool released)
{
	hw_model_obj o = m->live[k];
	free_range(m, hw_model_index(m, o.addr), o.npages, released);
	memmove(m->live + k, m->live + k + 1, (m->nlive - k - 1) * sizeof *m->live);
	m->nlive--;
}

void hw_model_shrink(hw_model *m, size_t k, size_t n, bool released)
{
	hw_model_obj *o = &m->live[k];
	free_range(m, hw_model_index(m, o->addr) + n, o->npages - n, released);
	o->npages = n;
}

size_t hw_model_free_settle(hw_model *m, uintptr_t addr, size_t n,
			    bool (*is_released)(void *ctx, uintptr_t addr), void *ctx)
{
	size_t s = hw_model_index(m, addr), stretches = 0;
	bool prev = false;
	for (size_t i = s; i < s + n; i++) {
		bool back = !is_released(ctx, hw_model_addr(m, i));
		if (back) {
			m->page[i] = HW_MP_READY;
			m->released_pages--;
		}
		stretches += back && !prev;
		prev = back;
	}
	touch(m, s, s + n);
	return stretches;
}

const char *hw_model_hole_problem(const hw_model *m, uintptr_t addr, size_t n,
				  hw_model_hole_op op, size_t *k, size_t *first)
{
	bool inside = op >= HW_MODEL_RELEASE_INSIDE;
	size_t s = hw_model_index(m, addr);
	if (s == SIZE_MAX || m->page[s] < HW_MP_USED)
		return "pages are not all in an allocated run";
	if (addr % (m->u * m->P) != 0)
		return inside ? "pointer is not aligned to the release unit"
			      : "pointer is not aligned to the guard unit";
	if (n == 0 || n % m->u != 0)
		return inside ? "page count is not a whole number of release units"
			      : "page count is not a whole number of guard units";
	uint32_t owner = hw_mp_owner(m->page[s]);
	size_t j = 0;
	while (m->live[j].id != owner - HW_MP_USED)
		j++;
	const hw_model_obj *o = &m->live[j];
	size_t start = hw_model_index(m, o->addr);
	if (s - start + n > o->npages)
		return "pages run past the end of the object";
	for (size_t i = s; i < s + n; i++) {
		bool g = (m->page[i] & HW_MP_GUARD) != 0, in = (m->page[i] & HW_MP_INSIDE) != 0;
		if (op == HW_MODEL_UNGUARD && !g)
			return "pages are not all guard pages";
		if (op == HW_MODEL_REUSE_INSIDE && !in)
			return "pages are not all released inside the run";
		if ((op == HW_MODEL_GUARD || op == HW_MODEL_RELEASE_INSIDE) && g)
			return inside ? "pages include guard pages"
				      : "pages include guard pages already";
		if ((op == HW_MODEL_GUARD || op == HW_MODEL_RELEASE_INSIDE) && in)
			return inside ? "pages include pages released inside the run already"
				      : "pages include pages released inside the run";
	}
	*k = j;
	*first = s - start;
	return NULL;
}

void hw_model_hole(hw_model *m, size_t k, size_t first, size_t n, hw_model_hole_op op)
{
	bool inside = op >= HW_MODEL_RELEASE_INSIDE;
	bool on = op == HW_MODEL_GUARD || op == HW_MODEL_RELEASE_INSIDE;
	uint32_t flag = inside ? HW_MP_INSIDE : HW_MP_GUARD;
	size_t *count = inside ? &m->inside_pages : &m->guarded_pages;
	size_t s = hw_model_index(m, m->live[k].addr) + first;
	for (size_t i = s; i < s + n; i++)
		m->page[i] = on ? m->page[i] | flag : m->page[i] & ~flag;
	if (on)
		*count += n;
	else
		*count -= n;
	touch(m, s, s + n);
}

/* Releases the Ready pages of [s, s + g) as plan item `item`, journaling
 * each contiguous piece; returns the pages released. */
static size_t release_group(hw_model *m, size_t s, size_t g, size_t item)
{
	size_t done = 0;
	for (size_t i = s; i < s + g;) {
		if (m->page[i] != HW_MP_READY) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < s + g && m->page[j] == HW_MP_READY) {
			m->page[j] = HW_MP_RELEASED;
			j++;
		}
		if (grow_array((void **)&m->journal, &m->journal_cap, m->njournal + 1,
			       sizeof *m->journal) == 0)
			m->journal[m->njournal++] = (hw_model_span){i, j - i, item};
		else
			abort(); /* the harness cannot continue without its journal */
		done += j - i;
		i = j;
	}
	m->released_pages += done;
	touch(m, s, s + g);
	return done;
}

/* One pass over aligned groups of g pages from the highest address down.
 * The huge pass releases a group when all its pages are free and some are
 * Ready, and only while at least a whole group of the nbytes is still to
 * release; the unit pass releases all-Ready groups. The pass stops after the
 * group that brings *r to nbytes. Returns true when it stopped that way. */
static bool scavenge_pass(hw_model *m, size_t g, bool huge, size_t nbytes, size_t *r)
{
	size_t i = m->npages;
	while (i > 0) {
		if (huge && nbytes - *r < g * m->P)
			return false;
		size_t top = i - 1;
		size_t s = group_start(m, top, g);
		if (s == SIZE_MAX) {
			/* Skip the mapped part of an incomplete group. */
			uintptr_t a = hw_model_addr(m, top);
			uintptr_t gb = a - (a % (g * m->P));
			size_t j = top;
			while (j > 0 && hw_model_addr(m, j - 1) >= gb &&
			       hw_model_addr(m, j - 1) + m->P == hw_model_addr(m, j))
				j--;
			i = j;
			continue;
		}
		i = s;
		bool all_free = true, any_ready = false, all_ready = true;
		for (size_t j = s; j < s + g; j++) {
			all_free &= is_free(m->page[j]);
			any_ready |= m->page[j] == HW_MP_READY;
			all_ready &= m->page[j] == HW_MP_READY;
		}
		bool take = huge ? (all_free && any_ready) : all_ready;
		if (!take)
			continue;
		*r += release_group(m, s, g, m->nitems++) * m->P;
		if (*r >= nbytes)
			return true;
	}
	return false;
}

size_t hw_model_scavenge(hw_model *m, size_t nbytes)
{
	m->njournal = 0;
	m->nitems = 0;
	size_t r = 0;
	/* Nothing to release without a free Ready page; the passes would walk
	 * every page to find that out. */
	if (nbytes == 0 || m->npages == m->inuse_pages + m->released_pages)
		return 0;
	if (m->hp > 0 && scavenge_pass(m, m->hp, true, nbytes, &r))
		return r;
	scavenge_pass(m, m->u, false, nbytes, &r);
	return r;
}

size_t hw_model_scavenge_settle(hw_model *m, bool (*is_released)(void *ctx, uintptr_t addr),
				void *ctx)
{
	/* Classify each item: 2 = all its pages released, 1 = some, 0 = none. */
	size_t nitems = m->nitems;
	unsigned char *cls = calloc(nitems ? nitems : 1, 1);
	size_t *got = calloc(nitems ? nitems : 1, sizeof *got);
	size_t *want = calloc(nitems ? nitems : 1, sizeof *want);
	if (cls == NULL || got == NULL || want == NULL)
		abort();
	for (size_t e = 0; e < m->njournal; e++) {
		const hw_model_span *sp = &m->journal[e];
		for (size_t i = sp->first; i < sp->first + sp->npages; i++) {
			want[sp->item]++;
			got[sp->item] += is_released(ctx, hw_model_addr(m, i));
		}
	}
	for (size_t it = 0; it < nitems; it++)
		cls[it] = got[it] == want[it] ? 2 : got[it] ? 1
							    : 0;
	/* A prefix: whole items, at most one partial item, then untouched. */
	size_t k = 0;
	while (k < nitems && cls[k] == 2)
		k++;
	bool ok = true;
	for (size_t it = k + 1; it < nitems; it++)
		ok &= cls[it] == 0;
	size_t bytes = SIZE_MAX;
	if (ok) {
		bytes = 0;
		for (size_t e = 0; e < m->njournal; e++) {
			const hw_model_span *sp = &m->journal[e];
			for (size_t i = sp->first; i < sp->first + sp->npages; i++) {
				if (is_released(ctx, hw_model_addr(m, i))) {
					bytes += m->P;
				} else {
					m->page[i] = HW_MP_READY;
					m->released_pages--;
				}
			}
		}
	}
	free(cls);
	free(got);
	free(want);
	return bytes;
}

int hw_model_check(const hw_model *m, char *msg, size_t len)
{
	size_t inuse = 0, rel = 0, guard = 0, inside = 0;
	for (size_t i = 0; i < m->npages; i++) {
		uint32_t s = m->page[i];
		if (hw_mp_released(s))
			rel++;
		else if (s >= HW_MP_USED)
			inuse++;
		guard += (s & HW_MP_GUARD) != 0;
		inside += (s & HW_MP_INSIDE) != 0;
		if ((s & HW_MP_GUARD) && (s & HW_MP_INSIDE)) {
			snprintf(msg, len, "model: page %zu is both a guard and an inside page", i);
			return -1;
		}
		if (i > 0 && hw_model_addr(m, i - 1) >= hw_model_addr(m, i)) {
			snprintf(msg, len, "model: page %zu out of address order", i);
			return -1;
		}
	}
	if (inuse != m->inuse_pages || rel != m->released_pages || guard != m->guarded_pages ||
	    inside != m->inside_pages) {
		snprintf(msg, len,
			 "model: counts inuse %zu/%zu released %zu/%zu guarded %zu/%zu inside "
			 "%zu/%zu",
			 inuse, m->inuse_pages, rel, m->released_pages, guard, m->guarded_pages,
			 inside, m->inside_pages);
		return -1;
	}
	for (size_t i = 0; i < m->npages; i++) {
		if (!hw_mp_released(m->page[i]))
			continue;
		size_t us = group_start(m, i, m->u);
		for (size_t j = us; us != SIZE_MAX && j < us + m->u; j++) {
			if (!hw_mp_released(m->page[j])) {
				snprintf(msg, len, "model: unit at page %zu partly released", us);
				return -1;
			}
		}
		if (us == SIZE_MAX) {
			snprintf(msg, len, "model: released page %zu in an incomplete unit", i);
			return -1;
		}
	}
	return 0;
}

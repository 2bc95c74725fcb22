/* malloc_model.c: the malloc layer's reference model (malloc_model.h).
 *
 * Owns: the policy functions, written from the header's words as plain
 * loops (no table, no division trick), and the object lists.
 *
 * Invariants: MM1-MM3 of malloc_model.h.
 * Locking: none.
 */
#include "malloc_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- policy (MM2) ---------------------------------------------------------- */

size_t hw_mm_class_size(unsigned k)
{
	if (k < 16)
		return 16 * (size_t)(k + 1);
	if (k < 32) {
		size_t base = k < 24 ? 256 : 512;
		return base + base / 8 * ((k - 16) % 8 + 1);
	}
	size_t base = 1024;
	for (unsigned d = (k - 32) / 16; d > 0; d--)
		base *= 2;
	return base + base / 16 * ((k - 32) % 16 + 1);
}

unsigned hw_mm_class_of(size_t n)
{
	unsigned k = 0;
	while (hw_mm_class_size(k) < n)
		k++;
	return k;
}

size_t hw_mm_span_pages(unsigned k)
{
	size_t size = hw_mm_class_size(k);
	size_t want = size * 8 < 65536 ? size * 8 : 65536;
	size_t np = (want + HW_MM_PAGE - 1) / HW_MM_PAGE;
	while ((np * HW_MM_PAGE) % size > np * HW_MM_PAGE / 8)
		np++;
	return np;
}

unsigned hw_mm_place(size_t n, size_t align)
{
	if (n > HW_MM_SMALL_MAX)
		return HW_MM_LARGE;
	unsigned k = hw_mm_class_of(n);
	if (align <= 16)
		return k;
	/* A slot is aligned when its size is a multiple of the alignment
	 * (spans start on heap pages); the requested size must leave less
	 * than 65535 bytes of slack (MC4). */
	if (align > HW_MM_PAGE)
		return HW_MM_LARGE;
	for (; k < HW_MM_NCLASSES; k++)
		if (hw_mm_class_size(k) % align == 0 && hw_mm_class_size(k) - n < 65535)
			return k;
	return HW_MM_LARGE;
}

size_t hw_mm_large_pages(size_t n)
{
	return n == 0 ? 1 : (n - 1) / HW_MM_PAGE + 1;
}

size_t hw_mm_slack(const hw_mm_obj *o)
{
	if (o->cls == HW_MM_LARGE)
		return o->pages * HW_MM_PAGE - o->n;
	if (o->cls == HW_MM_GUARDED)
		return ((o->n + 15) & ~(size_t)15) - o->n;
	return hw_mm_class_size(o->cls) - o->n;
}

bool hw_mm_realloc_in_place(const hw_mm_obj *o, size_t n, size_t free_after)
{
	if (o->cls == HW_MM_GUARDED)
		return false;
	if (o->cls != HW_MM_LARGE)
		return n <= HW_MM_SMALL_MAX && hw_mm_class_of(n) == o->cls;
	if (n <= HW_MM_SMALL_MAX)
		return false;
	return hw_mm_large_pages(n) <= o->pages + free_after;
}

/* ---- objects (MM1) ---------------------------------------------------------- */

int hw_mm_init(hw_mm *m)
{
	memset(m, 0, sizeof *m);
	m->cap = 256;
	m->live = malloc(m->cap * sizeof *m->live);
	m->byaddr = malloc(m->cap * sizeof *m->byaddr);
	if (!m->live || !m->byaddr) {
		hw_mm_fini(m);
		return -1;
	}
	return 0;
}

void hw_mm_fini(hw_mm *m)
{
	free(m->live);
	free(m->byaddr);
	free(m->quar);
	free(m->damaged);
	memset(m, 0, sizeof *m);
}

/* Object extent for overlap: at least one byte (a 0-byte object is unique). */
static uintptr_t end_of(const hw_mm_obj *o)
{
	return o->addr + (o->n ? o->n : 1);
}

/* The first position in byaddr[] whose object starts at or above addr. */
static size_t lower_bound(const hw_mm *m, uintptr_t addr)
{
	size_t lo = 0, hi = m->nlive;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->live[m->byaddr[mid]].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const hw_mm_obj *hw_mm_overlap(const hw_mm *m, uintptr_t addr, size_t n)
{
	uintptr_t end = addr + (n ? n : 1);
	size_t k = lower_bound(m, addr);
	if (k > 0 && end_of(&m->live[m->byaddr[k - 1]]) > addr)
		return &m->live[m->byaddr[k - 1]];
	if (k < m->nlive && m->live[m->byaddr[k]].addr < end)
		return &m->live[m->byaddr[k]];
	return NULL;
}

long hw_mm_find(const hw_mm *m, uintptr_t addr)
{
	size_t k = lower_bound(m, addr);
	if (k < m->nlive && m->live[m->byaddr[k]].addr == addr)
		return (long)m->byaddr[k];
	return -1;
}

/* MM3: a large object comes (add) or goes. */
static void count(hw_mm *m, const hw_mm_obj *o, bool add)
{
	if (o->cls != HW_MM_LARGE)
		return;
	if (add) {
		m->large_objects++;
		m->large_bytes += o->pages * HW_MM_PAGE;
	} else {
		m->large_objects--;
		m->large_bytes -= o->pages * HW_MM_PAGE;
	}
}

int hw_mm_add(hw_mm *m, hw_mm_obj *o)
{
	if (hw_mm_overlap(m, o->addr, o->n))
		return -1;
	if (m->nlive == m->cap) {
		size_t cap = m->cap * 2;
		hw_mm_obj *live = realloc(m->live, cap * sizeof *live);
		if (!live)
			return -1;
		m->live = live;
		uint32_t *byaddr = realloc(m->byaddr, cap * sizeof *byaddr);
		if (!byaddr)
			return -1;
		m->byaddr = byaddr;
		m->cap = cap;
	}
	o->id = m->next_id++;
	size_t k = lower_bound(m, o->addr);
	size_t i = m->nlive++;
	m->live[i] = *o;
	memmove(&m->byaddr[k + 1], &m->byaddr[k], (i - k) * sizeof *m->byaddr);
	m->byaddr[k] = (uint32_t)i;
	count(m, o, true);
	return 0;
}

int hw_mm_quarantine(hw_mm *m, size_t max_bytes)
{
	m->qcap = max_bytes / 16 + 1;
	m->quar = malloc(m->qcap * sizeof *m->quar);
	m->damaged = malloc(m->qcap * sizeof *m->damaged);
	if (!m->quar || !m->damaged)
		return -1;
	m->qmax = max_bytes;
	return 0;
}

size_t hw_mm_quar_bytes(const hw_mm_obj *o)
{
	if (o->cls == HW_MM_GUARDED)
		return o->qbytes;
	return o->cls == HW_MM_LARGE ? o->pages * HW_MM_PAGE : hw_mm_class_size(o->cls);
}

const hw_mm_obj *hw_mm_quar_at(const hw_mm *m, size_t k)
{
	return &m->quar[(m->qhead + k) % m->qcap];
}

void hw_mm_quar_damage(hw_mm *m, size_t k)
{
	m->damaged[(m->qhead + k) % m->qcap] = true;
}

/* An object leaves the quarantine (MM4). */
static void leave(hw_mm *m, const hw_mm_obj *o, bool damaged)
{
	count(m, o, false);
	m->errors += damaged;
}

static void quar_pop(hw_mm *m)
{
	hw_mm_obj o = m->quar[m->qhead];
	bool damaged = m->damaged[m->qhead];
	m->qhead = (m->qhead + 1) % m->qcap;
	m->qn--;
	m->qbytes -= hw_mm_quar_bytes(&o);
	leave(m, &o, damaged);
}

void hw_mm_quar_drain(hw_mm *m)
{
	while (m->qn > 0)
		quar_pop(m);
}

/* MM4: o, just freed, enters (or leaves at once). */
static void quar_put(hw_mm *m, const hw_mm_obj *o)
{
	size_t b = hw_mm_quar_bytes(o);
	bool fits = b <= m->qmax;
	while (m->qn > 0 && m->qbytes + (fits ? b : 0) > m->qmax)
		quar_pop(m);
	if (!fits) {
		leave(m, o, false);
		return;
	}
	size_t k = (m->qhead + m->qn) % m->qcap;
	m->quar[k] = *o;
	m->damaged[k] = false;
	m->qn++;
	m->qbytes += b;
}

void hw_mm_remove(hw_mm *m, size_t i, bool held)
{
	hw_mm_obj *o = &m->live[i];
	if (m->qmax && held)
		quar_put(m, o);
	else
		leave(m, o, false);
	m->ring[m->ring_next++ % HW_MM_RING] = o->addr;
	size_t k = lower_bound(m, o->addr);
	memmove(&m->byaddr[k], &m->byaddr[k + 1], (m->nlive - k - 1) * sizeof *m->byaddr);
	memmove(&m->live[i], &m->live[i + 1], (m->nlive - i - 1) * sizeof *m->live);
	m->nlive--;
	/* live[] shifted down by one above i: so do the indices naming it. */
	for (size_t j = 0; j < m->nlive; j++)
		if (m->byaddr[j] > i)
			m->byaddr[j]--;
}

void hw_mm_resize(hw_mm *m, size_t i, size_t n)
{
	hw_mm_obj *o = &m->live[i];
	o->n = n;
	if (o->cls == HW_MM_LARGE) {
		m->large_bytes -= o->pages * HW_MM_PAGE;
		o->pages = hw_mm_large_pages(n);
		m->large_bytes += o->pages * HW_MM_PAGE;
	}
}

uintptr_t hw_mm_ring(const hw_mm *m, unsigned k)
{
	if (k >= m->ring_next || k >= HW_MM_RING)
		return 0;
	return m->ring[(m->ring_next - 1 - k) % HW_MM_RING];
}

int hw_mm_check(const hw_mm *m, char *msg, size_t len)
{
	size_t large = 0, bytes = 0;
	for (size_t k = 0; k < m->qn; k++) {
		const hw_mm_obj *o = hw_mm_quar_at(m, k);
		if (o->cls == HW_MM_LARGE) {
			large++;
			bytes += o->pages * HW_MM_PAGE;
		}
	}
	for (size_t k = 0; k < m->nlive; k++) {
		const hw_mm_obj *o = &m->live[m->byaddr[k]];
		if (k + 1 < m->nlive && end_of(o) > m->live[m->byaddr[k + 1]].addr) {
			snprintf(msg, len, "model: objects #%u and #%u overlap", (unsigned)o->id,
				 (unsigned)m->live[m->byaddr[k + 1]].id);
			return -1;
		}
		if (o->cls == HW_MM_LARGE) {
			large++;
			bytes += o->pages * HW_MM_PAGE;
		}
	}
	if (large != m->large_objects || bytes != m->large_bytes) {
		snprintf(msg, len, "model: %zu large objects of %zu bytes, counted %zu of %zu",
			 large, bytes, m->large_objects, m->large_bytes);
		return -1;
	}
	return 0;
}

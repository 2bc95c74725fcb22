/* meta.c: the metadata region.
 *
 * Owns: one reservation per heap holding the heap struct, the commit bitmap,
 * the arena table, the chunk bitmaps and the summary tree, laid out at
 * create. Pages are committed (Reserved -> Prepared -> Ready) the first time
 * something in them is needed, so a heap sized for a terabyte of address
 * space costs metadata in proportion to what it has grown. Metadata never
 * lives in heap pages, so scavenging and fault-on-free cannot touch it.
 *
 * Invariants:
 *   MD1. Bit i of committed is set exactly when metadata page i is Ready.
 *   MD2. ready_pages == popcount(committed) (I13 in heap_internal.h).
 *
 * Locking: hw_meta_ensure runs under the heap lock; create and destroy run
 * before the heap is shared and after it is gone.
 */
#include "heap_internal.h"

#include <errno.h>
#include <string.h>

static bool committed(const hw_meta *m, size_t i)
{
	return (m->committed[i / 64] >> (i % 64)) & 1;
}

/* Metadata starts zeroed (absent chunks, empty summaries). Fresh pages are
 * zero on every OS we know, but the contract only promises it where
 * released pages read as zero, so clear them elsewhere. */
static void zero_if_needed(hw_platform *pf, void *p, size_t n)
{
	if (!pf->caps.released_reads_zero)
		memset(p, 0, n);
}

/* Commits metadata pages [first, last], skipping committed ones, one
 * platform call pair per uncommitted run. */
static int commit_pages(hw_platform *pf, hw_sys_counts *sys, hw_meta *m, size_t first, size_t last)
{
	size_t i = first;
	while (i <= last) {
		if (committed(m, i)) {
			i++;
			continue;
		}
		size_t j = i;
		while (j + 1 <= last && !committed(m, j + 1))
			j++;
		void *p = (void *)(m->base + i * m->page);
		size_t n = (j - i + 1) * m->page;
		if (hw_call_make_ready(pf, sys, p, n, true,
				       "metadata: cannot roll back a failed commit") != 0)
			return ENOMEM;
		zero_if_needed(pf, p, n);
		for (size_t k = i; k <= j; k++)
			m->committed[k / 64] |= 1ull << (k % 64);
		m->ready_pages += j - i + 1;
		i = j + 1;
	}
	return 0;
}

int hw_meta_create(hw_platform *pf, hw_sys_counts *sys, size_t size, size_t align,
		   size_t prefix, size_t bits_offset, hw_meta *out)
{
	hw_meta m = {0};
	m.page = pf->caps.page_size;
	m.size = hw_align_up(size, hw_max(m.page, pf->caps.granularity));
	/* Alignment beyond the platform's costs only address space: reserve
	 * that much more, start at the aligned address, release it all. */
	m.res_size = align > pf->caps.granularity ? m.size + align : m.size;
	void *res;
	if (hw_call_reserve(pf, sys, NULL, m.res_size, &res) != 0)
		return ENOMEM;
	m.res_base = (uintptr_t)res;
	m.base = m.res_size > m.size ? hw_align_up(m.res_base, align) : m.res_base;
	void *base = (void *)m.base;
	/* The bitmap lives inside the prefix, so commit the prefix by hand
	 * before the bitmap can record it. */
	size_t pre = hw_align_up(prefix, m.page);
	if (hw_call_map(pf, sys, base, pre) != 0 || hw_call_use(pf, sys, base, pre) != 0) {
		hw_call_release(pf, sys, res, m.res_size);
		return ENOMEM;
	}
	zero_if_needed(pf, base, pre);
	m.committed = (uint64_t *)(m.base + bits_offset);
	for (size_t k = 0; k < pre / m.page; k++)
		m.committed[k / 64] |= 1ull << (k % 64);
	m.ready_pages = pre / m.page;
	*out = m;
	return 0;
}

int hw_meta_ensure(hw_platform *pf, hw_sys_counts *sys, hw_meta *m, const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p;
	HW_ASSERT(n > 0 && a >= m->base && a + n <= m->base + m->size);
	return commit_pages(pf, sys, m, (a - m->base) / m->page, (a + n - 1 - m->base) / m->page);
}

/* Asked for every page the inspection view and the validator look at:
 * shifts rather than divisions. */
bool hw_meta_is_committed(const hw_meta *m, const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p;
	unsigned shift = (unsigned)__builtin_ctzll(m->page);
	return committed(m, (a - m->base) >> shift) &&
	       committed(m, (a + n - 1 - m->base) >> shift);
}

void hw_meta_destroy(hw_platform *pf, hw_meta m)
{
	/* Not counted (SY1 of calls.c): the counts live in the region. */
	hw_sys_release(pf, (void *)m.res_base, m.res_size);
}

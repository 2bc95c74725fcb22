/* compare.c: the heap against the model (D4 of driver.c).
 *
 * Owns: every comparison of the heap's state with the model's: the arena
 * list (learning new arenas when an op may grow), the per-page state of the
 * pages an op changed, the deep check (every page, the simulator's page
 * states or Linux residency, then hw_heap_validate) and its budget, the
 * stats counters and the platform's call counts; and the schedule of those
 * checks after each op.
 *
 * Invariants:
 *   CM1. After each op the stats and the pages the model says changed are
 *        compared exactly; the O(heap) checks run when forced (validate
 *        ops, the first refused platform call, the deep_every options) or
 *        paid for by DEEP_CREDIT per op, and a fuzz input spends at most
 *        DEEP_BUDGET page comparisons on them (the final check at teardown
 *        is outside the budget).
 *   CM2. A difference found a word at a time is reported through the
 *        per-page view (hw_heap_page_kind) where the view sees it too, so
 *        every page failure names the page the same way.
 *   CM3. The heap is read through its stats and its inspection calls
 *        (src/inspect.h) only, never its internals (ci/includes.sh), so a
 *        change of the heap's layout cannot silently change what is checked.
 *
 * Locking: none; one run at a time (driver.h). The heap's inspection calls
 * take its lock themselves.
 */
#include "driver_internal.h"

#include "sim.h"

/* ---- arenas ----------------------------------------------------------------------- */

/* Teaches the model the heap's arenas. Only ops that may grow pass `may`;
 * elsewhere any difference is a failure. Returns the number of new arenas. */
size_t hw_drv_sync_arenas(driver *d, bool may)
{
	size_t n = hw_heap_arena_count(d->h), added = 0;
	if (n < d->m.narenas) {
		hw_drv_fail(d, "the heap reports %zu arenas, fewer than the %zu it had", n,
			    d->m.narenas);
		return 0;
	}
	for (size_t i = 0; i < n && !d->failed; i++) {
		void *base;
		size_t size;
		hw_heap_arena_get(d->h, i, &base, &size);
		size_t idx = hw_model_index(&d->m, (uintptr_t)base);
		if (idx != SIZE_MAX) {
			/* Known: must be exactly a model arena. */
			bool same = false;
			for (size_t k = 0; k < d->m.narenas; k++)
				same |= d->m.arena[k].base == (uintptr_t)base &&
					d->m.arena[k].npages * d->P == size;
			if (!same)
				hw_drv_fail(d, "arena %zu (%p, %zu bytes) changed shape", i, base,
					    size);
			continue;
		}
		if (!may) {
			hw_drv_fail(d, "a new arena (%p, %zu bytes) appeared during %s", base, size,
				    d->op_name);
			return 0;
		}
		if ((uintptr_t)base % (d->cfg.arena_pages * d->P) != 0 ||
		    size % (d->cfg.arena_pages * d->P) != 0)
			hw_drv_fail(d, "new arena (%p, %zu bytes) is not arena-aligned", base,
				    size);
		if (hw_model_add_arena(&d->m, (uintptr_t)base, size) != 0)
			hw_drv_fail(d, "new arena (%p, %zu bytes) overlaps a known one", base,
				    size);
		hw_drv_trace(d, "\t/* new arena %p, %zu bytes */\n", base, size);
		added++;
	}
	if (!d->failed && n != d->m.narenas)
		hw_drv_fail(d, "the heap lists %zu arenas, the model knows %zu", n, d->m.narenas);
	return added;
}

/* ---- per-page comparison ---------------------------------------------------------- */

static const char *kind_name(hw_page_kind k)
{
	static const char *const names[] = {"unmapped", "free-ready", "free-released", "in-use",
					    "guard", "inside"};
	return (unsigned)k < 6 ? names[k] : "?";
}

static hw_page_kind expected_kind(const hw_model *m, size_t i, bool *head)
{
	uint32_t s = m->page[i];
	*head = false;
	if (s == HW_MP_READY)
		return HW_PAGE_FREE_READY;
	if (hw_mp_released(s))
		return HW_PAGE_FREE_RELEASED;
	*head = i == 0 || hw_mp_owner(m->page[i - 1]) != hw_mp_owner(s);
	return s & HW_MP_GUARD ? HW_PAGE_GUARD : s & HW_MP_INSIDE ? HW_PAGE_INSIDE
								  : HW_PAGE_INUSE;
}

/* The platform state every page of the model must be in on the simulator. */
static hw_mem_state expected_platform(const driver *d, uint32_t st)
{
	if (st == HW_MP_RESERVED || (st >= HW_MP_USED && (st & HW_MP_GUARD)))
		return HW_MEM_RESERVED;
	if (st != HW_MP_RELEASED && !(st >= HW_MP_USED && (st & HW_MP_INSIDE)))
		return HW_MEM_READY;
	return d->cfg.fault_on_free ? HW_MEM_RESERVED : HW_MEM_PREPARED;
}

void hw_drv_compare_page(driver *d, size_t i, bool platform)
{
	uintptr_t a = hw_model_addr(&d->m, i);
	bool head, want_head;
	hw_page_kind k = hw_heap_page_kind(d->h, (void *)a, &head);
	hw_page_kind want = expected_kind(&d->m, i, &want_head);
	if (k != want || head != want_head) {
		hw_drv_fail(d, "page %p is %s%s in the heap, %s%s in the model", (void *)a,
			    kind_name(k), head ? " (run head)" : "", kind_name(want),
			    want_head ? " (run head)" : "");
		return;
	}
	if (!d->sim || !platform)
		return;
	hw_mem_state ps = hw_sim_state(d->pf, (void *)a);
	hw_mem_state pw = expected_platform(d, d->m.page[i]);
	if (ps != pw)
		hw_drv_fail(d, "page %p (%s) is in platform state %d, expected %d", (void *)a,
			    kind_name(want), (int)ps, (int)pw);
}

static void compare_unmapped(driver *d, uintptr_t a)
{
	if (hw_model_index(&d->m, a) != SIZE_MAX)
		return;
	hw_page_kind k = hw_heap_page_kind(d->h, (void *)a, NULL);
	if (k != HW_PAGE_UNMAPPED)
		hw_drv_fail(d, "page %p outside every arena is %s in the heap", (void *)a,
			    kind_name(k));
}

/* Comparisons read the heap's page states as bit vectors, 64 pages per
 * word (hw_heap_page_bits), where the per-page view (hw_drv_compare_page)
 * would cost a lock and a lookup per page: a deep check covers every page,
 * and one op may change thousands. The vectors say the same as the view
 * (in use, run head, released), and a little more: an allocated page must
 * not be released either (I5). A difference is reported through the view
 * where it sees it too (CM2). */

#define CHUNK_WORDS (HW_CHUNK_PAGES / 64)

/* Pages [j0, j1) of the chunk at arena page `off` (a multiple of the chunk)
 * of model arena ar. */
static void compare_chunk_bits(driver *d, const hw_model_arena *ar, size_t off, size_t j0,
			       size_t j1)
{
	const uint32_t *page = d->m.page;
	size_t i0 = ar->first + off;
	/* The heap's vectors start at the word holding page j0. */
	size_t w0 = j0 / 64;
	uint64_t h_alloc[CHUNK_WORDS], h_head[CHUNK_WORDS], h_rel[CHUNK_WORDS];
	uint64_t h_guard[CHUNK_WORDS], h_inside[CHUNK_WORDS];
	const hw_page_bits hv = {h_alloc, h_head, h_rel, h_guard, h_inside};
	if (hw_heap_page_bits(d->h, (void *)(ar->base + (off + w0 * 64) * d->P), j1 - w0 * 64,
			      &hv) != 0) {
		hw_drv_compare_page(d, i0 + j0, false);
		if (!d->failed)
			hw_drv_fail(d, "page %p is in an arena but in no chunk of the heap",
				    (void *)hw_model_addr(&d->m, i0 + j0));
		return;
	}
	uint64_t alloc[CHUNK_WORDS] = {0}, head[CHUNK_WORDS] = {0};
	uint64_t rel[CHUNK_WORDS] = {0}, guard[CHUNK_WORDS] = {0}, mask[CHUNK_WORDS] = {0};
	uint64_t inside[CHUNK_WORDS] = {0};
	/* A run head is an in-use page whose predecessor is not the same
	 * object (expected_kind); READY never equals an object. The guard
	 * bit is on guard pages and on free pages Reserved because they were
	 * guard pages (I15). */
	uint32_t prev = i0 + j0 == 0 ? HW_MP_READY : hw_mp_owner(page[i0 + j0 - 1]);
	for (size_t j = j0; j < j1; j++) {
		uint32_t st = page[i0 + j];
		uint64_t bit = 1ull << (j % 64);
		mask[j / 64] |= bit;
		if (st >= HW_MP_USED) {
			alloc[j / 64] |= bit;
			if (hw_mp_owner(st) != prev)
				head[j / 64] |= bit;
			if (st & HW_MP_GUARD)
				guard[j / 64] |= bit;
			if (st & HW_MP_INSIDE)
				inside[j / 64] |= bit;
		} else if (hw_mp_released(st)) {
			rel[j / 64] |= bit;
			if (st == HW_MP_RESERVED)
				guard[j / 64] |= bit;
		}
		prev = hw_mp_owner(st);
	}
	for (size_t w = w0; w <= (j1 - 1) / 64; w++) {
		uint64_t ha = h_alloc[w - w0], hh = h_head[w - w0], hr = h_rel[w - w0];
		uint64_t hg = h_guard[w - w0], hi = h_inside[w - w0];
		uint64_t diff = ((alloc[w] ^ ha) | (head[w] ^ hh) | (rel[w] ^ hr) |
				 (guard[w] ^ hg) | (inside[w] ^ hi)) &
				mask[w];
		if (diff == 0)
			continue;
		unsigned b = (unsigned)__builtin_ctzll(diff);
		size_t i = i0 + w * 64 + b;
		hw_drv_compare_page(d, i, false);
		if (!d->failed)
			hw_drv_fail(
				d,
				"page %p: the heap's bitmaps say alloc %d, head %d, released %d, "
				"guard %d, inside %d; the model %d, %d, %d, %d, %d",
				(void *)hw_model_addr(&d->m, i), (int)(ha >> b & 1),
				(int)(hh >> b & 1), (int)(hr >> b & 1), (int)(hg >> b & 1),
				(int)(hi >> b & 1), (int)(alloc[w] >> b & 1),
				(int)(head[w] >> b & 1), (int)(rel[w] >> b & 1),
				(int)(guard[w] >> b & 1), (int)(inside[w] >> b & 1));
		return;
	}
}

/* Model pages [lo, hi) against the heap's bitmaps. */
static void compare_bits(driver *d, size_t lo, size_t hi)
{
	for (size_t k = 0; k < d->m.narenas && !d->failed; k++) {
		const hw_model_arena *ar = &d->m.arena[k];
		size_t from = hw_max(lo, ar->first), to = hw_min(hi, ar->first + ar->npages);
		while (from < to && !d->failed) {
			size_t off = (from - ar->first) / HW_CHUNK_PAGES * HW_CHUNK_PAGES;
			size_t end = hw_min(to, ar->first + off + HW_CHUNK_PAGES);
			compare_chunk_bits(d, ar, off, from - ar->first - off,
					   end - ar->first - off);
			from = end;
		}
	}
}

/* Every simulated page under the model's pages, a run of equal expected
 * states at a time (every OS page of a heap page, not only its first). */
static void compare_platform(driver *d)
{
	const hw_model *m = &d->m;
	for (size_t k = 0; k < m->narenas && !d->failed; k++) {
		const hw_model_arena *ar = &m->arena[k];
		size_t end = ar->first + ar->npages;
		for (size_t i = ar->first; i < end && !d->failed;) {
			hw_mem_state want = expected_platform(d, m->page[i]);
			size_t j = i + 1;
			while (j < end && expected_platform(d, m->page[j]) == want)
				j++;
			uintptr_t a = ar->base + (i - ar->first) * d->P;
			const char *bad = hw_sim_find_other(d->pf, (void *)a, (j - i) * d->P, want);
			if (bad != NULL) {
				bool head;
				size_t at = i + (size_t)((uintptr_t)bad - a) / d->P;
				hw_drv_fail(d, "page %p (%s) is in platform state %d, expected %d",
					    (const void *)bad,
					    kind_name(expected_kind(m, at, &head)),
					    (int)hw_sim_state(d->pf, bad), (int)want);
			}
			i = j;
		}
	}
}

void hw_drv_compare_all(driver *d)
{
	compare_bits(d, 0, d->m.npages);
	if (d->sim && !d->failed)
		compare_platform(d);
	for (size_t k = 0; k < d->m.narenas && !d->failed; k++) {
		const hw_model_arena *ar = &d->m.arena[k];
		compare_unmapped(d, ar->base - d->P);
		compare_unmapped(d, ar->base + ar->npages * d->P);
	}
	/* On Linux, released runs must hold no memory. */
	for (size_t i = 0; i < d->m.npages && !d->sim && !d->failed;) {
		if (!hw_mp_released(d->m.page[i])) {
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < d->m.npages && hw_mp_released(d->m.page[j]) &&
		       hw_model_addr(&d->m, j) == hw_model_addr(&d->m, j - 1) + d->P)
			j++;
		size_t res =
			hw_platform_resident_bytes((void *)hw_model_addr(&d->m, i), (j - i) * d->P);
		if (res != 0)
			hw_drv_fail(d, "%zu bytes resident in released pages %p..+%zu", res,
				    (void *)hw_model_addr(&d->m, i), (j - i) * d->P);
		i = j;
	}
}

/* ---- stats ------------------------------------------------------------------------- */

#define EXPECT_EQ(field, want)                                                                   \
	do {                                                                                     \
		unsigned long long got_ = (unsigned long long)(st->field);                       \
		unsigned long long want_ = (unsigned long long)(want);                           \
		if (got_ != want_) {                                                             \
			hw_drv_fail(d, "stats." #field " is %llu, the model expects %llu", got_, \
				    want_);                                                      \
			return;                                                                  \
		}                                                                                \
	} while (0)

void hw_drv_compare_stats(driver *d, const hw_heap_stats *st)
{
	const hw_model *m = &d->m;
	EXPECT_EQ(mapped, hw_model_mapped_bytes(m));
	EXPECT_EQ(inuse, hw_model_inuse_bytes(m));
	EXPECT_EQ(idle, hw_model_mapped_bytes(m) - hw_model_inuse_bytes(m));
	EXPECT_EQ(released, hw_model_released_bytes(m));
	EXPECT_EQ(guarded, hw_model_guarded_bytes(m));
	EXPECT_EQ(released_inside, hw_model_inside_bytes(m));
	EXPECT_EQ(ready, hw_model_ready_bytes(m));
	EXPECT_EQ(memory_limit, d->limit);
	EXPECT_EQ(arenas, m->narenas);
	EXPECT_EQ(grows, d->want.grows);
	EXPECT_EQ(allocs, d->want.allocs);
	EXPECT_EQ(frees, d->want.frees);
	EXPECT_EQ(invalid_frees, d->want.invalid_frees);
	EXPECT_EQ(scavenge_calls, d->want.scavenge_calls);
	EXPECT_EQ(scavenged_bytes, d->want.scavenged);
	EXPECT_EQ(bg_scavenged_bytes, d->want.bg);
	EXPECT_EQ(limit_scavenged_bytes, d->want.limit);
	EXPECT_EQ(grow_scavenged_bytes, d->want.grow);
	EXPECT_EQ(limit_exceeded, d->want.limit_exceeded);
	EXPECT_EQ(fault_failures, d->want.fault_failures);
	EXPECT_EQ(invalid_guards, d->want.invalid_guards);
	EXPECT_EQ(resizes, d->want.resizes);
	EXPECT_EQ(guard_failures, d->want.guard_failures);
	EXPECT_EQ(invalid_insides, d->want.invalid_insides);
	EXPECT_EQ(inside_failures, d->want.inside_failures);
	if (st->released > st->idle)
		hw_drv_fail(d, "stats: released %zu > idle %zu", st->released, st->idle);
	for (int k = 0; k < HW_CALL_KINDS && !d->failed; k++) {
		if (st->platform_calls[k] != d->pf->calls[k] ||
		    st->platform_failures[k] != d->pf->failures[k])
			hw_drv_fail(d,
				    "stats: %s calls %llu/%llu failures, the platform counted "
				    "%llu/%llu",
				    hw_sys_kind_name((hw_sys_kind)k),
				    (unsigned long long)st->platform_calls[k],
				    (unsigned long long)st->platform_failures[k],
				    (unsigned long long)d->pf->calls[k],
				    (unsigned long long)d->pf->failures[k]);
	}
	if (d->sim && !d->failed && hw_sim_ready_bytes(d->pf) != st->ready + st->meta_ready)
		hw_drv_fail(d,
			    "simulator has %zu Ready bytes, the heap accounts %zu + %zu metadata",
			    hw_sim_ready_bytes(d->pf), st->ready, st->meta_ready);
}

void hw_drv_validate(driver *d)
{
	char msg[256];
	int bad = hw_heap_validate(d->h, msg, sizeof msg);
	if (bad != 0)
		hw_drv_fail(d, "hw_heap_validate: invariant I%d: %s", bad, msg);
}

/* Every page against the model and the platform, then (with_validate) the
 * heap's own validator; skipped (with a trace line) once the input's budget
 * is spent. */
static void deep_check(driver *d, bool with_validate)
{
	size_t cost = (with_validate ? 2 : 1) * d->m.npages + 1;
	d->since_deep = 0;
	if (with_validate) {
		d->credit = 0;
		d->since_validate = 0;
	}
	if (cost > d->deep_left) {
		hw_drv_trace(d, "\t/* deep check skipped: the input's budget is spent */\n");
		return;
	}
	if (d->deep_left != SIZE_MAX)
		d->deep_left -= cost;
	hw_drv_compare_all(d);
	if (!d->failed && with_validate)
		hw_drv_validate(d);
}

/* Everything after an op (D4): stats and counters always, the pages the op
 * changed always, the deep check when forced or paid for. */
void hw_drv_check_after_op(driver *d)
{
	hw_heap_stats st;
	hw_drv_sync_arenas(d, false);
	hw_drv_stats(d, &st);
	if (!d->failed)
		hw_drv_compare_stats(d, &st);
	d->st = st;
	if (d->failed)
		return;
	/* deep_every counts ops that called into the heap: after any other op
	 * (nop, inject, touch, stats, verify) heap and model are as the last
	 * check left them, and a deep check would repeat it. */
	d->since_deep += d->called_heap;
	d->since_validate += d->called_heap;
	d->credit += DEEP_CREDIT;
	bool pages = d->deep_every && d->since_deep >= d->deep_every;
	bool whole = d->deep_now || d->credit >= d->m.npages ||
		     (d->validate_every && d->since_validate >= d->validate_every);
	if (hw_drv_refused(d)) {
		pages = true;
		if (!d->refusal_validated) {
			d->refusal_validated = true;
			whole = true;
		}
	}
	if (whole || pages) {
		deep_check(d, whole);
		return;
	}
	if (d->m.dirty_lo < d->m.dirty_hi)
		compare_bits(d, d->m.dirty_lo, d->m.dirty_hi);
}

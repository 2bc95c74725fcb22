/* heap_ops.c: the heap targets' op handlers and the op generator.
 *
 * Owns: one handler op_NAME per row of the op table (ops.h HW_HEAP_OPS),
 * the handler table made from it, and the fixed-seed generator weighted by
 * it; what each handler predicts with the model before calling the heap and
 * how it reconciles afterwards; the ring of recently freed runs (stale and
 * double frees); the driver's own cap on Linux heaps (D3).
 *
 * Invariants:
 *   HO1. A heap call may fail with ENOMEM only when the platform refused a
 *        call during it (platform failures grew: injection or a full
 *        simulator) or the request cannot fit the heap's address window.
 *   HO2. Apart from the model, every scavenge releases no more than it asked
 *        for rounded up to one unit (docs/scavenging.md).
 *   HO3. An opcode outside the table, or a row without a handler, does
 *        nothing (O2 of ops.h); whether an op may change the heap comes from
 *        its row alone.
 *
 * Locking: none; one run at a time (driver.h).
 */
#include "driver_internal.h"

#include "sim.h"
#include "trap.h"

#include <errno.h>

#if HW_TRACK_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* ---- scavenging --------------------------------------------------------------------- */

static bool heap_page_released(void *ctx, uintptr_t a)
{
	driver *d = ctx;
	return hw_heap_page_kind(d->h, (void *)a, NULL) == HW_PAGE_FREE_RELEASED;
}

/* Reconciles the model's last scavenge with the heap after the call: when a
 * platform call was refused, the heap may have stopped early (fault_on_free
 * releases by fault, which can fail), and the released set must be a prefix
 * of the plan. Returns the bytes the model now says were released. */
static size_t settle(driver *d, size_t planned)
{
	if (!hw_drv_refused(d))
		return planned;
	size_t got = hw_model_scavenge_settle(&d->m, heap_page_released, d);
	if (got == SIZE_MAX) {
		hw_drv_fail(d, "after a refused platform call the heap's released pages are not a "
			       "prefix of the scavenge order");
		return planned;
	}
	return got;
}

/* A scavenge asked for `asked` bytes never releases more than that rounded
 * up to one unit (docs/scavenging.md), whatever the model says. */
static void check_bound(driver *d, const char *what, size_t asked, size_t r)
{
	size_t unit = d->m.u * d->P;
	size_t bound = asked > SIZE_MAX - unit ? SIZE_MAX : (asked + unit - 1) / unit * unit;
	if (r > bound)
		hw_drv_fail(d,
			    "%s asked for %zu bytes and released %zu, more than a unit (%zu) over",
			    what, asked, r, unit);
}

static size_t model_limit_goal(const driver *d)
{
	size_t ready = hw_model_ready_bytes(&d->m);
	return d->limit && ready > d->limit ? ready - d->limit : 0;
}

/* The retained goal: inuse * (100 + retain_percent) / 100 bytes. */
static uint64_t model_retain_goal(const driver *d)
{
	uint64_t inuse = hw_model_inuse_bytes(&d->m);
	return inuse + inuse * d->retain / 100;
}

/* The scavenge after a successful allocation that grew the model by `grown`
 * bytes (docs/scavenging.md, When): one scavenge of the larger of the
 * growth amount, min(Ready - retained goal, grown), and the limit amount,
 * counted to the limit when its amount is at least the growth one. */
static void after_alloc(driver *d, size_t grown)
{
	uint64_t ready = hw_model_ready_bytes(&d->m), goal = model_retain_goal(d);
	size_t for_grow = grown > 0 && ready > goal ? (size_t)hw_min(ready - goal, grown) : 0;
	size_t for_limit = model_limit_goal(d);
	size_t want = for_limit > for_grow ? for_limit : for_grow;
	if (want > 0) {
		size_t r = settle(d, hw_model_scavenge(&d->m, want));
		check_bound(d, "the scavenge after an allocation", want, r);
		if (for_limit > 0 && for_limit >= for_grow)
			d->want.limit += r;
		else
			d->want.grow += r;
		d->want.scavenged += r;
	}
	if (model_limit_goal(d))
		d->want.limit_exceeded++;
}

/* ---- op handlers ----------------------------------------------------------------------- */

static void ring_push(driver *d, uintptr_t addr, size_t npages)
{
	d->ring[d->ring_next % RING] = (freed_run){addr, npages};
	d->ring_next++;
}

/* On Linux nothing but the driver bounds the heap (D3): a request that
 * would grow it past the cap is skipped. The simulator's backing bounds it
 * by itself (a full backing is a refusal, HO1). */
static bool over_cap(driver *d, size_t want_pages)
{
	if (d->sim)
		return false;
	size_t arena = d->cfg.arena_pages * d->P;
	size_t ask = (want_pages * d->P + arena - 1) / arena * arena;
	if (hw_model_mapped_bytes(&d->m) + ask <= d->cap)
		return false;
	hw_drv_trace(d, "\t/* skipped: growing by %zu bytes would pass the cap of %zu */\n", ask,
		     d->cap);
	return true;
}

static void do_alloc(driver *d, const hw_op *op, bool aligned)
{
	size_t n = hw_ops_alloc_pages(op);
	if (n > d->max_alloc_pages)
		n = d->max_alloc_pages;
	size_t align = aligned ? hw_ops_align(op) : 0;
	size_t eff = align > d->P ? align : d->P;
	size_t fit = hw_model_fit(&d->m, n, eff);
	if (fit == SIZE_MAX && over_cap(d, n + eff / d->P - 1))
		return;
	uint64_t grows0 = d->st.grows;
	size_t mapped0 = hw_model_mapped_bytes(&d->m);
	bool z = false;
	errno = 0;
	void *p = aligned ? hw_heap_alloc_aligned(d->h, n, align, &z) : hw_heap_alloc(d->h, n);
	int err = errno;
	if (aligned)
		hw_drv_trace(
			d,
			"\tvoid *p%u = hw_heap_alloc_aligned(h, %zu, %zu, &z); /* -> %p, z=%d */\n",
			(unsigned)d->m.next_id, n, align, p, (int)z);
	else
		hw_drv_trace(d, "\tvoid *p%u = hw_heap_alloc(h, %zu); /* -> %p */\n",
			     (unsigned)d->m.next_id, n, p);
	hw_heap_stats st;
	hw_drv_stats(d, &st);
	if (st.grows != grows0) {
		if (fit != SIZE_MAX) {
			hw_drv_fail(d,
				    "alloc(%zu, align %zu) grew the heap although the model fits "
				    "it at %p",
				    n, eff, (void *)hw_model_addr(&d->m, fit));
			return;
		}
		d->want.grows += hw_drv_sync_arenas(d, true);
	}
	if (d->failed)
		return;
	if (p == NULL) {
		size_t ap = eff / d->P;
		bool too_big = n + ap - 1 > d->address_space / d->P;
		if (err != ENOMEM)
			hw_drv_fail(d,
				    "alloc(%zu, align %zu) returned NULL with errno %d, not ENOMEM",
				    n, eff, err);
		else if (!hw_drv_refused(d) && !too_big)
			hw_drv_fail(
				d,
				"alloc(%zu, align %zu) failed with ENOMEM but the platform refused "
				"nothing%s",
				n, eff, fit != SIZE_MAX ? " and the model has a fit" : "");
		d->m.next_id++; /* keep trace names unique */
		return;
	}
	if (fit == SIZE_MAX)
		fit = hw_model_fit(&d->m, n, eff);
	if (fit == SIZE_MAX) {
		hw_drv_fail(
			d,
			"alloc(%zu, align %zu) returned %p but the model has no fit even in the "
			"new arenas",
			n, eff, p);
		return;
	}
	uintptr_t want = hw_model_addr(&d->m, fit);
	if ((uintptr_t)p != want) {
		hw_drv_fail(d, "alloc(%zu, align %zu) returned %p, the model's lowest fit is %p", n,
			    eff, p, (void *)want);
		return;
	}
	if ((uintptr_t)p % eff != 0) {
		hw_drv_fail(d, "alloc returned %p, not aligned to %zu", p, eff);
		return;
	}
	hw_model_obj *o = hw_model_alloc(&d->m, fit, n);
	if (o == NULL) {
		hw_drv_fail(d, "harness out of memory");
		return;
	}
	o->salt = hw_harness_mix64(++d->salt);
	/* On the simulator, see that the run is Ready before touching it: a
	 * heap that hands out Prepared pages is reported, not a SEGV. */
	for (size_t j = 0; d->sim && j < n; j++) {
		if (!hw_drv_stamped(j, n))
			continue;
		hw_mem_state ps = hw_sim_state(d->pf, (char *)p + j * d->P);
		if (ps != HW_MEM_READY) {
			hw_drv_fail(
				d,
				"alloc(%zu) returned %p but its page %zu is in platform state %d, "
				"not Ready",
				n, p, j, (int)ps);
			return;
		}
	}
	if (aligned && z != o->zeroed) {
		hw_drv_fail(d, "alloc_aligned(%zu) at %p reported zeroed=%d, the model says %d", n,
			    p, (int)z, (int)o->zeroed);
		return;
	}
	if (!hw_drv_stamp(d, o) || (o->zeroed && !hw_drv_check_zero(d, o)))
		return;
	d->want.allocs++;
	after_alloc(d, hw_model_mapped_bytes(&d->m) - mapped0);
}

void hw_drv_free_obj(driver *d, size_t k)
{
	hw_model_obj o = d->m.live[k];
	if (!hw_drv_check_stamps(d, &o, "before its free"))
		return;
	uint64_t pf0 = hw_drv_platform_failures(d);
	int rc = hw_heap_free(d->h, (void *)o.addr, o.npages);
	hw_drv_trace(d, "\thw_heap_free(h, p%u, %zu); /* -> %d */\n", (unsigned)o.id, o.npages, rc);
	if (rc != 0) {
		hw_drv_fail(d, "free of live p%u (%p, %zu pages) returned %d", (unsigned)o.id,
			    (void *)o.addr, o.npages, rc);
		return;
	}
	hw_model_free(&d->m, k, d->cfg.fault_on_free);
	if (d->cfg.fault_on_free && hw_drv_platform_failures(d) != pf0)
		/* A refused fault call leaves its stretch (between guard pages)
		 * free and Ready, and is counted. */
		d->want.fault_failures +=
			hw_model_free_settle(&d->m, o.addr, o.npages, heap_page_released, d);
	d->want.frees++;
	ring_push(d, o.addr, o.npages);
}

static void do_free(driver *d, const hw_op *op)
{
	if (d->m.nlive == 0) {
		hw_drv_trace(d, "\t/* free: nothing live */\n");
		return;
	}
	hw_drv_free_obj(d, op->b % d->m.nlive);
}

/* Freeing NULL is not an invalid free: like free(3) it does nothing, with
 * no report and no counter moved, whatever the page count. */
static void free_null(driver *d, size_t n)
{
	uint64_t reports0 = d->reports;
	errno = 0;
	int rc = hw_heap_free(d->h, NULL, n);
	hw_drv_trace(d, "\thw_heap_free(h, NULL, %zu); /* -> %d */\n", n, rc);
	if (rc != 0)
		hw_drv_fail(d, "free(NULL, %zu pages) returned %d, not 0", n, rc);
	else if (d->reports != reports0)
		hw_drv_fail(d, "free(NULL, %zu pages) made a report", n);
}

/* Frees (p, n), which the model says is not exactly one live run unless it
 * was handed out again exactly (then it is a valid free, checked as one):
 * the heap must refuse it with EINVAL and one report, and change nothing. */
static void free_wrong(driver *d, uintptr_t p, size_t n)
{
	long k = hw_model_find_live(&d->m, p, n);
	if (k >= 0) {
		/* A "double free" of a run that was handed out again exactly:
		 * valid, and checked as a free. */
		hw_drv_free_obj(d, (size_t)k);
		return;
	}
	uint64_t reports0 = d->reports;
	errno = 0;
	int rc = hw_heap_free(d->h, (void *)p, n);
	hw_drv_trace(d, "\thw_heap_free(h, (void *)%#llx, %zu); /* invalid -> %d */\n",
		     (unsigned long long)p, n, rc);
	if (rc != EINVAL) {
		hw_drv_fail(d, "invalid free (%p, %zu pages) returned %d, not EINVAL", (void *)p, n,
			    rc);
		return;
	}
	if (d->reports != reports0 + 1)
		hw_drv_fail(d, "invalid free (%p, %zu pages) made %llu report lines, not 1",
			    (void *)p, n, (unsigned long long)(d->reports - reports0));
	d->want.invalid_frees++;
	/* Look closely at the pages it named: they must be untouched. */
	size_t idx = hw_model_index(&d->m, hw_align_down(p, d->P));
	if (idx != SIZE_MAX) {
		size_t hi = idx + (n < 8192 ? n : 8192) + 1;
		for (size_t i = idx; i < hi && i < d->m.npages && !d->failed; i++)
			hw_drv_compare_page(d, i, false);
	}
}

static void do_invalid_free(driver *d, const hw_op *op)
{
	unsigned kind = op->a & 7;
	const hw_model_obj *o = d->m.nlive ? &d->m.live[op->c % d->m.nlive] : NULL;
	uintptr_t p = 0;
	size_t n = 1;
	int local;
	switch (kind) {
	case HW_BADFREE_WRONG_SIZE:
		if (!o)
			goto skip;
		p = o->addr;
		n = (op->b & 0x8000) && o->npages > 1 ? 1 + (op->b & 0x7fff) % (o->npages - 1)
						      : o->npages + 1 + ((op->b >> 8) & 7);
		break;
	case HW_BADFREE_INTERIOR:
		if (!o || o->npages < 2)
			goto skip;
		{
			size_t off = 1 + op->b % (o->npages - 1);
			p = o->addr + off * d->P;
			n = (op->b & 0x8000) ? o->npages : o->npages - off;
		}
		break;
	case HW_BADFREE_DOUBLE: {
		const freed_run *r = &d->ring[op->b & (RING - 1)];
		if (r->npages == 0)
			goto skip;
		p = r->addr;
		n = r->npages;
		break;
	}
	case HW_BADFREE_OUTSIDE:
		switch (op->b & 3) {
		case 0:
			p = hw_align_down((uintptr_t)&local, d->P);
			break;
		case 1:
			p = d->m.narenas ? d->m.arena[0].base - d->P : (uintptr_t)d->P;
			break;
		case 2:
			p = d->m.narenas ? d->m.arena[d->m.narenas - 1].base +
						   d->m.arena[d->m.narenas - 1].npages * d->P
					 : hw_align_down((uintptr_t)d, d->P);
			break;
		default:
			p = hw_align_down(UINTPTR_MAX, d->P);
			break;
		}
		n = 1 + ((op->b >> 2) & 3);
		break;
	case HW_BADFREE_UNALIGNED:
		if (!o)
			goto skip;
		p = o->addr + 1 + (op->b & 0xff);
		n = o->npages;
		break;
	case HW_BADFREE_ZERO:
		if (!o)
			goto skip;
		p = o->addr;
		n = 0;
		break;
	case HW_BADFREE_NULL:
		free_null(d, 1 + (op->b & 0xfff));
		return;
	default: /* HW_BADFREE_PAST_END */
		if (!o)
			goto skip;
		p = o->addr;
		n = o->npages + 1 + (op->b & 0xfff);
		break;
	}
	free_wrong(d, p, n);
	return;
skip:
	hw_drv_trace(d, "\t/* invalid free kind %u: no candidate */\n", kind);
}

static void do_scavenge(driver *d, size_t nbytes)
{
	size_t planned = hw_model_scavenge(&d->m, nbytes);
	size_t r = hw_heap_scavenge(d->h, nbytes);
	if (nbytes == SIZE_MAX)
		hw_drv_trace(d, "\thw_heap_scavenge(h, SIZE_MAX); /* -> %zu */\n", r);
	else
		hw_drv_trace(d, "\thw_heap_scavenge(h, %zu); /* -> %zu */\n", nbytes, r);
	planned = settle(d, planned);
	check_bound(d, "scavenge", nbytes, r);
	if (!d->failed && r != planned)
		hw_drv_fail(d, "scavenge(%zu) released %zu bytes, the model %zu", nbytes, r,
			    planned);
	d->want.scavenge_calls++;
	d->want.scavenged += r;
}

static void do_set_limit(driver *d, const hw_op *op)
{
	size_t limit = hw_ops_limit_bytes(op->b);
	d->limit = limit;
	size_t planned = 0, over = model_limit_goal(d);
	if (over)
		planned = hw_model_scavenge(&d->m, over);
	size_t r = hw_heap_set_memory_limit(d->h, limit);
	hw_drv_trace(d, "\thw_heap_set_memory_limit(h, %zu); /* -> %zu */\n", limit, r);
	if (over)
		planned = settle(d, planned);
	if (r != planned)
		hw_drv_fail(d, "set_memory_limit(%zu) released %zu bytes, the model %zu", limit, r,
			    planned);
	d->want.limit += r;
	d->want.scavenged += r;
}

static void do_bg_step(driver *d, const hw_op *op)
{
	unsigned times = hw_ops_bg_times(op);
	for (unsigned t = 0; t < times && !d->failed; t++) {
		d->failures_before = hw_drv_platform_failures(d);
		uint64_t goal = model_retain_goal(d);
		/* The step's target is the memory limit when set and lower. */
		if (d->limit && d->limit < goal)
			goal = d->limit;
		uint64_t ready = hw_model_ready_bytes(&d->m);
		size_t planned = 0, asked = 0;
		if (ready > goal) {
			uint64_t want = ready - goal;
			asked = want < HW_SCAVENGE_QUANTUM ? (size_t)want : HW_SCAVENGE_QUANTUM;
			planned = hw_model_scavenge(&d->m, asked);
		}
		size_t r = hw_heap_scavenger_step(d->h);
		hw_drv_trace(d, "\thw_heap_scavenger_step(h); /* -> %zu */\n", r);
		if (ready > goal)
			planned = settle(d, planned);
		check_bound(d, "scavenger step", asked, r);
		if (!d->failed && r != planned)
			hw_drv_fail(d,
				    "scavenger step released %zu bytes, the model %zu (ready %llu, "
				    "goal "
				    "%llu)",
				    r, planned, (unsigned long long)ready,
				    (unsigned long long)goal);
		d->want.bg += r;
		d->want.scavenged += r;
	}
}

static void do_grow(driver *d, const hw_op *op)
{
	size_t n = hw_ops_grow_pages(op);
	if (n > d->max_alloc_pages)
		n = d->max_alloc_pages;
	size_t before = d->m.npages;
	if (over_cap(d, n))
		return;
	int rc = hw_heap_grow(d->h, n);
	hw_drv_trace(d, "\thw_heap_grow(h, %zu); /* -> %d */\n", n, rc);
	if (rc == 0) {
		size_t added = hw_drv_sync_arenas(d, true);
		if (!d->failed && (added == 0 || d->m.npages - before < n))
			hw_drv_fail(d, "grow(%zu) added %zu arenas with %zu pages", n, added,
				    d->m.npages - before);
		d->want.grows += added;
	} else if (rc != ENOMEM) {
		hw_drv_fail(d, "grow(%zu) returned %d", n, rc);
	} else {
		hw_drv_sync_arenas(d, false);
		if (!hw_drv_refused(d) && n <= d->address_space / d->P)
			hw_drv_fail(d,
				    "grow(%zu) failed with ENOMEM but the platform refused nothing",
				    n);
	}
}

static void do_touch(driver *d, const hw_op *op)
{
	const freed_run *r = &d->ring[op->a & (RING - 1)];
	if (r->npages == 0) {
		hw_drv_trace(d, "\t/* touch: no freed run in slot %u */\n", op->a & (RING - 1));
		return;
	}
	uintptr_t a = r->addr + (op->b % r->npages) * d->P;
	size_t idx = hw_model_index(&d->m, a);
	if (idx == SIZE_MAX) {
		hw_drv_fail(d, "freed page %p left the heap", (void *)a);
		return;
	}
	uint32_t s = d->m.page[idx];
#if HW_TRACK_ASAN
	/* K1 of src/track.h: every byte outside a live run is poisoned; a
	 * probe of a poisoned byte would be an ASan report, not a trap. */
	bool poisoned = __asan_address_is_poisoned((void *)a) != 0;
	bool dead = s < HW_MP_USED || hw_mp_hole(s);
	if (poisoned != dead) {
		hw_drv_fail(d, "page %p is %s under ASan but %s in the model", (void *)a,
			    poisoned ? "poisoned" : "unpoisoned",
			    s < HW_MP_USED ? "free" : dead ? "a guard or inside page"
							   : "in use");
		return;
	}
	if (poisoned) {
		hw_drv_trace(d, "\t/* touch %p: poisoned, as expected */\n", (void *)a);
		return;
	}
#endif
	bool expect_trap;
	hw_trap_kind want_kind = HW_TRAP_ACCERR;
	if (d->sim) {
		expect_trap = hw_mp_released(s) || hw_mp_hole(s);
		/* The sim falls back to guard markers when out of VMAs. */
	} else if (s == HW_MP_RESERVED || (s & HW_MP_GUARD)) {
		expect_trap = true;
		want_kind = d->pf->caps.guard == HW_GUARD_MADVISE ? HW_TRAP_MAPERR : HW_TRAP_ACCERR;
	} else if (s == HW_MP_RELEASED || hw_mp_hole(s)) {
		/* A free released page, or one released inside its run: in the
		 * same state (I16). */
		if (!d->cfg.fault_on_free) {
			/* Prepared on Linux: readable, and a read would map the
			 * zero page; nothing to check. */
			hw_drv_trace(d, "\t/* touch %p: released, not faulted */\n", (void *)a);
			return;
		}
		expect_trap = true;
		want_kind = d->pf->caps.guard == HW_GUARD_MADVISE ? HW_TRAP_MAPERR : HW_TRAP_ACCERR;
	} else {
		expect_trap = false;
	}
	hw_trap_kind k = hw_trap_probe((volatile void *)a, false);
	hw_drv_trace(d, "\thw_trap_probe((void *)%#llx, false); /* -> %s */\n",
		     (unsigned long long)a, hw_trap_kind_name(k));
	if ((k != HW_TRAP_NONE) != expect_trap)
		hw_drv_fail(d, "stale access to %p (%s in the model) %s", (void *)a,
			    hw_mp_released(s)  ? "released"
			    : s == HW_MP_READY ? "free-ready"
			    : s & HW_MP_GUARD  ? "a guard page"
			    : s & HW_MP_INSIDE ? "released inside its run"
					       : "in use",
			    k != HW_TRAP_NONE ? "trapped" : "did not trap");
	else if (expect_trap && !d->sim && k != want_kind)
		hw_drv_fail(d, "stale access to %p trapped as %s, expected %s", (void *)a,
			    hw_trap_kind_name(k), hw_trap_kind_name(want_kind));
}

void hw_drv_verify(driver *d)
{
	for (size_t k = 0; k < d->m.nlive && !d->failed; k++)
		hw_drv_check_stamps(d, &d->m.live[k], "at a verify");
}

static void do_validate(driver *d)
{
	char msg[256];
	hw_drv_trace(d, "\thw_heap_validate(h, msg, sizeof msg); /* with every page compared */\n");
	d->deep_now = true;
	if (hw_model_check(&d->m, msg, sizeof msg) != 0) {
		hw_drv_fail(d, "%s", msg);
		return;
	}
	/* The simulator's own consistency, once per input: its real mapping
	 * where its calls changed it (the heap makes no system calls of its
	 * own, so nothing else can have). */
	if (d->sim && !d->sim_checked && hw_sim_check_since(d->pf, msg, sizeof msg) != 0)
		hw_drv_fail(d, "hw_sim_check_since: %s", msg);
	d->sim_checked = true;
}

static void do_stats(driver *d)
{
	/* The arena list must add up to mapped, and be sorted and disjoint. */
	hw_heap_stats st;
	hw_drv_stats(d, &st);
	size_t n = hw_heap_arena_count(d->h), sum = 0;
	uintptr_t prev_end = 0;
	for (size_t i = 0; i < n; i++) {
		void *b;
		size_t sz;
		hw_heap_arena_get(d->h, i, &b, &sz);
		if ((uintptr_t)b < prev_end)
			hw_drv_fail(d, "arena %zu at %p overlaps or precedes its predecessor", i,
				    b);
		prev_end = (uintptr_t)b + sz;
		sum += sz;
	}
	if (sum != st.mapped)
		hw_drv_fail(d, "arenas add up to %zu bytes, stats.mapped is %zu", sum, st.mapped);
	if (st.meta_ready == 0 && d->sim)
		hw_drv_fail(d, "stats.meta_ready is 0 although the heap lives in its metadata");
}

/* Whether an op calls an entry point that may change the heap. */
/* The next allocated run after model pages [i, end): its first page and
 * length, or false when free pages run to the end of the address-contiguous
 * arenas (or of the model) first. */
static bool next_run(const driver *d, size_t end, size_t *first, size_t *len)
{
	const hw_model *m = &d->m;
	size_t j = end;
	while (j < m->npages && m->page[j] < HW_MP_USED &&
	       hw_model_addr(m, j) == hw_model_addr(m, end) + (j - end) * d->P)
		j++;
	if (j >= m->npages || m->page[j] < HW_MP_USED ||
	    hw_model_addr(m, j) != hw_model_addr(m, end) + (j - end) * d->P)
		return false;
	size_t k = j;
	while (k < m->npages && m->page[k] == m->page[j])
		k++;
	*first = j;
	*len = k - j;
	return true;
}

/* A wrong-size free aimed at the run after an object (ops.h AIMED_FREE):
 * the counts a random op stream almost never makes, such as one that covers
 * exactly an object and the run that starts right after it at a chunk
 * boundary. */
static void do_aimed_free(driver *d, const hw_op *op)
{
	const hw_model *m = &d->m;
	hw_ops_aim aim;
	hw_ops_aim_decode(op, &aim);
	uintptr_t p;
	size_t npages;
	if (aim.from_freed) {
		const freed_run *r = &d->ring[aim.index & (RING - 1)];
		if (r->npages == 0)
			goto skip;
		p = r->addr;
		npages = r->npages;
	} else {
		if (m->nlive == 0)
			goto skip;
		size_t k0 = aim.index % m->nlive, pick = k0;
		size_t chunk = (size_t)HW_CHUNK_PAGES * d->P;
		for (size_t t = 0; aim.chunk_edge && t < m->nlive; t++) {
			const hw_model_obj *o = &m->live[(k0 + t) % m->nlive];
			size_t f, l, i = hw_model_index(m, o->addr);
			if ((o->addr + o->npages * d->P) % chunk == 0 &&
			    next_run(d, i + o->npages, &f, &l) && f == i + o->npages) {
				pick = (k0 + t) % m->nlive;
				break;
			}
		}
		p = m->live[pick].addr;
		npages = m->live[pick].npages;
	}
	size_t i = hw_model_index(m, p);
	if (i == SIZE_MAX)
		goto skip;
	size_t first = 0, len = 0, extra = aim.extra, n;
	bool next = next_run(d, i + npages, &first, &len);
	switch (aim.how) {
	case HW_AIM_THROUGH_NEXT:
		n = next ? first + len - i : npages + extra;
		break;
	case HW_AIM_INTO_NEXT:
		n = next ? first - i + (extra < len ? extra : len - 1 + (len == 1))
			 : npages + extra;
		break;
	case HW_AIM_PAST_OWN:
		n = npages + extra;
		break;
	default: /* HW_AIM_TO_NEXT */
		n = next ? first - i : npages + extra;
		break;
	}
	free_wrong(d, p, n);
	return;
skip:
	hw_drv_trace(d, "\t/* aimed free: no candidate */\n");
}

/* GUARD, UNGUARD, RELEASE_INSIDE and REUSE_INSIDE (ops.h): the range from
 * the op's fields, which may leave the object (the heap must refuse what the
 * model refuses, wherever the range lands); a refused platform call leaves
 * the pages as they were (HO1). A page just guarded must trap, and so must
 * one just released inside its run on the simulator (Prepared there). */
static void do_hole(driver *d, const hw_op *op, hw_model_hole_op how)
{
	static const char *const names[] = {"guard", "unguard", "release_inside",
					    "reuse_inside"};
	const char *name = names[how];
	bool inside = how >= HW_MODEL_RELEASE_INSIDE;
	hw_ops_guard g;
	hw_ops_guard_decode(op, &g);
	if (d->m.nlive == 0) {
		hw_drv_trace(d, "\t/* %s: nothing live */\n", name);
		return;
	}
	const hw_model_obj *o = &d->m.live[g.index % d->m.nlive];
	if (g.from_end && g.npages + g.offset > o->npages) {
		hw_drv_trace(d, "\t/* %s: before p%u's start */\n", name, (unsigned)o->id);
		return;
	}
	size_t off = g.from_end ? o->npages - g.npages - g.offset : g.offset;
	uintptr_t p = o->addr + off * d->P;
	size_t k = 0, first = 0;
	const char *why = hw_model_hole_problem(&d->m, p, g.npages, how, &k, &first);
	uint64_t reports0 = d->reports, pf0 = hw_drv_platform_failures(d);
	errno = 0;
	int rc;
	switch (how) {
	case HW_MODEL_GUARD:
		rc = hw_heap_guard(d->h, (void *)p, g.npages);
		break;
	case HW_MODEL_UNGUARD:
		rc = hw_heap_unguard(d->h, (void *)p, g.npages);
		break;
	case HW_MODEL_RELEASE_INSIDE:
		rc = hw_heap_release_inside(d->h, (void *)p, g.npages);
		break;
	default:
		rc = hw_heap_reuse_inside(d->h, (void *)p, g.npages);
		break;
	}
	/* Relative to the run's own variable, so the printed program works at
	 * whatever address its heap lands. */
	hw_drv_trace(d, "\thw_heap_%s(h, (char *)p%u + %zu, %u); /* %#llx -> %d%s%s */\n", name,
		     (unsigned)o->id, off * d->P, g.npages, (unsigned long long)p, rc,
		     why ? ", invalid: " : "", why ? why : "");
	if (why) {
		if (rc != EINVAL || d->reports != reports0 + 1)
			hw_drv_fail(d, "%s of %u pages at %p (%s) returned %d with %llu reports, "
				       "not EINVAL with one",
				    name, g.npages, (void *)p, why, rc,
				    (unsigned long long)(d->reports - reports0));
		if (inside)
			d->want.invalid_insides++;
		else
			d->want.invalid_guards++;
		return;
	}
	if (rc == ENOMEM && hw_drv_platform_failures(d) != pf0) {
		if (inside)
			d->want.inside_failures++;
		else
			d->want.guard_failures++;
		return;
	}
	if (rc != 0) {
		hw_drv_fail(d, "%s of %u pages at %p returned %d", name, g.npages, (void *)p, rc);
		return;
	}
	hw_model_hole(&d->m, k, first, g.npages, how);
	if (how == HW_MODEL_UNGUARD || how == HW_MODEL_REUSE_INSIDE) {
		hw_drv_restamp(d, &d->m.live[k], first, g.npages);
		return;
	}
#if !HW_TRACK_ASAN
	/* Under ASan the page is poisoned (K1): a probe would be a report. A
	 * page released inside its run traps where it is not Ready: on the
	 * simulator, and under fault_on_free (Reserved). */
	if (how == HW_MODEL_GUARD || d->sim || d->cfg.fault_on_free) {
		hw_trap_kind t = hw_trap_probe((volatile void *)p, false);
		if (t == HW_TRAP_NONE)
			hw_drv_fail(d, "%s page %p did not trap",
				    how == HW_MODEL_GUARD ? "guard" : "released inside", (void *)p);
	}
#endif
}

/* Free, address-contiguous model pages right after live[k]. */
static size_t free_after(const driver *d, size_t k)
{
	const hw_model *m = &d->m;
	size_t end = hw_model_index(m, m->live[k].addr) + m->live[k].npages, j = end;
	while (j < m->npages && m->page[j] < HW_MP_USED &&
	       hw_model_addr(m, j) == hw_model_addr(m, end - 1) + (j - end + 1) * d->P)
		j++;
	return j - end;
}

/* RESIZE (ops.h): the model says whether a growth fits; a refused platform
 * call may still fail it (HO1). The contents of the pages kept must
 * survive; the object is stamped anew for its new size. */
static void do_resize(driver *d, const hw_op *op)
{
	if (d->m.nlive == 0) {
		hw_drv_trace(d, "\t/* resize: nothing live */\n");
		return;
	}
	size_t k = op->b % d->m.nlive;
	hw_model_obj o = d->m.live[k];
	size_t by = 1 + (op->c & 0x3f), n = o.npages;
	switch (op->a & 3) {
	case HW_RESIZE_GROW:
		n = o.npages + by;
		break;
	case HW_RESIZE_SHRINK:
		n = by >= o.npages ? 0 : o.npages - by;
		break;
	case HW_RESIZE_TO:
		n = op->c & 0xfff;
		break;
	default:
		n = o.npages + free_after(d, k);
		break;
	}
	if (n > d->max_alloc_pages)
		n = d->max_alloc_pages;
	if (!hw_drv_check_stamps(d, &o, "before a resize"))
		return;
	bool fits = n <= o.npages || hw_model_can_grow(&d->m, k, n);
	/* A shrink may not split a guard unit or an inside one (heapward.h). */
	size_t cut = hw_model_index(&d->m, o.addr) + n;
	bool splits = n > 0 && n < o.npages && (o.addr + n * d->P) % (d->m.u * d->P) != 0 &&
		      hw_mp_hole(d->m.page[cut]);
	uint64_t reports0 = d->reports, pf0 = hw_drv_platform_failures(d);
	errno = 0;
	int rc = hw_heap_resize(d->h, (void *)o.addr, o.npages, n);
	hw_drv_trace(d, "\thw_heap_resize(h, p%u, %zu, %zu); /* -> %d */\n", (unsigned)o.id,
		     o.npages, n, rc);
	if (n == 0 || splits) {
		if (rc != EINVAL || d->reports != reports0 + 1)
			hw_drv_fail(d,
				    "resize of p%u to %zu pages returned %d with %llu reports, "
				    "not EINVAL with one",
				    (unsigned)o.id, n, rc,
				    (unsigned long long)(d->reports - reports0));
		d->want.invalid_frees++;
		return;
	}
	if (!fits || (rc == ENOMEM && hw_drv_platform_failures(d) != pf0)) {
		if (rc != ENOMEM)
			hw_drv_fail(d, "resize of p%u from %zu to %zu pages returned %d; the pages "
				       "after it are not free",
				    (unsigned)o.id, o.npages, n, rc);
		return;
	}
	if (rc != 0) {
		hw_drv_fail(d, "resize of p%u from %zu to %zu pages returned %d", (unsigned)o.id,
			    o.npages, n, rc);
		return;
	}
	if (n == o.npages)
		return;
	d->want.resizes++;
	if (n < o.npages) {
		hw_model_shrink(&d->m, k, n, d->cfg.fault_on_free);
		if (d->cfg.fault_on_free && hw_drv_platform_failures(d) != pf0)
			d->want.fault_failures +=
				hw_model_free_settle(&d->m, o.addr + n * d->P, o.npages - n,
						     heap_page_released, d);
	} else {
		hw_model_grow(&d->m, k, n);
		after_alloc(d, 0);
	}
	if (hw_drv_check_stamps_upto(d, &o, n < o.npages ? n : o.npages, "by a resize"))
		hw_drv_restamp(d, &d->m.live[k], 0, n);
}

/* One handler per row of the op table (ops.h HW_HEAP_OPS), named op_NAME. */
static void op_NOP(driver *d, const hw_op *op)
{
	(void)d;
	(void)op;
}
static void op_ALLOC(driver *d, const hw_op *op) { do_alloc(d, op, false); }
static void op_ALLOC_ALIGNED(driver *d, const hw_op *op) { do_alloc(d, op, true); }
static void op_FREE(driver *d, const hw_op *op) { do_free(d, op); }
static void op_SCAVENGE(driver *d, const hw_op *op) { do_scavenge(d, op->c); }
static void op_SCAVENGE_ALL(driver *d, const hw_op *op)
{
	(void)op;
	do_scavenge(d, SIZE_MAX);
}
static void op_GROW(driver *d, const hw_op *op) { do_grow(d, op); }
static void op_SET_LIMIT(driver *d, const hw_op *op) { do_set_limit(d, op); }
static void op_BG_STEP(driver *d, const hw_op *op) { do_bg_step(d, op); }
static void op_INJECT(driver *d, const hw_op *op)
{
	uint64_t nth = hw_ops_inject_nth(op);
	unsigned mask = hw_ops_inject_mask(op);
	hw_platform_inject(d->pf, nth, mask);
	hw_drv_trace(d, "\thw_platform_inject(pf, %llu, %#x);\n", (unsigned long long)nth, mask);
}
static void op_TOUCH_STALE(driver *d, const hw_op *op) { do_touch(d, op); }
static void op_INVALID_FREE(driver *d, const hw_op *op) { do_invalid_free(d, op); }
static void op_VALIDATE(driver *d, const hw_op *op)
{
	(void)op;
	do_validate(d);
}
static void op_STATS(driver *d, const hw_op *op)
{
	(void)op;
	do_stats(d);
}
static void op_VERIFY(driver *d, const hw_op *op)
{
	(void)op;
	hw_drv_verify(d);
}
static void op_FREE_ALL(driver *d, const hw_op *op)
{
	(void)op;
	while (d->m.nlive > 0 && !d->failed)
		hw_drv_free_obj(d, 0);
}
static void op_AIMED_FREE(driver *d, const hw_op *op) { do_aimed_free(d, op); }
static void op_GUARD(driver *d, const hw_op *op) { do_hole(d, op, HW_MODEL_GUARD); }
static void op_UNGUARD(driver *d, const hw_op *op) { do_hole(d, op, HW_MODEL_UNGUARD); }
static void op_RESIZE(driver *d, const hw_op *op) { do_resize(d, op); }
static void op_RELEASE_INSIDE(driver *d, const hw_op *op)
{
	do_hole(d, op, HW_MODEL_RELEASE_INSIDE);
}
static void op_REUSE_INSIDE(driver *d, const hw_op *op) { do_hole(d, op, HW_MODEL_REUSE_INSIDE); }

typedef struct op_row {
	void (*handler)(driver *d, const hw_op *op);
	bool changes_heap;
} op_row;

static const op_row op_table[HW_OP_HEAP_COUNT_] = {
#define HW_OPS_ROW_(name, code, str, changes, weight) [code] = {op_##name, changes},
	HW_HEAP_OPS(HW_OPS_ROW_)
#undef HW_OPS_ROW_
};

void hw_drv_run_op(driver *d, const hw_op *op)
{
	/* O2: unassigned opcodes do nothing. */
	const op_row *row = op->code < HW_OP_HEAP_COUNT_ ? &op_table[op->code] : NULL;
	d->called_heap = row && row->changes_heap;
	if (row && row->handler)
		row->handler(d, op);
}

/* ---- generator ------------------------------------------------------------------------ */

void hw_driver_generate(uint64_t *seed, size_t nops, uint8_t *out)
{
	/* Weights per thousand, from the op table (ops.h). */
	static const struct {
		uint8_t op;
		unsigned weight;
	} table[] = {
#define HW_OPS_WEIGHT_(name, code, str, changes, weight) {code, weight},
		HW_HEAP_OPS(HW_OPS_WEIGHT_)
#undef HW_OPS_WEIGHT_
			{0x3e, 20}, /* unassigned: must do nothing */
	};
	unsigned total = 0;
	for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
		total += table[k].weight;
	for (size_t i = 0; i < nops; i++) {
		uint64_t r = hw_harness_rand(seed);
		unsigned pick = (unsigned)(r % total);
		uint8_t op = HW_OP_NOP;
		for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
			if (pick < table[k].weight) {
				op = table[k].op;
				break;
			}
			pick -= table[k].weight;
		}
		uint64_t x = hw_harness_rand(seed);
		uint8_t a = (uint8_t)x;
		uint16_t b = (uint16_t)(x >> 8);
		uint32_t c = (uint32_t)(x >> 24);
		/* Shape the arguments the way interesting inputs look: mostly
		 * small sizes, scavenges of a few pages, limits near the heap. */
		if (op == HW_OP_ALLOC || op == HW_OP_ALLOC_ALIGNED) {
			/* Classes 0-3 tiny half the time, then small, medium,
			 * and large one time in sixteen. */
			unsigned cls = (unsigned)(x >> 60);
			a = (uint8_t)((a & ~7u) | (cls < 8 ? 0 : cls < 13 ? 4
							 : cls < 15       ? 6
									  : 7));
			if (op == HW_OP_ALLOC_ALIGNED && ((x >> 56) & 3) != 0)
				a = (uint8_t)((a & 0x87) | (((x >> 40) % 6) << 3));
		} else if (op == HW_OP_SCAVENGE) {
			c = (uint32_t)((x >> 24) & 0x3fffff);
		} else if (op == HW_OP_SET_LIMIT) {
			b = (x >> 63) ? 0 : (uint16_t)((x >> 8) & 0x3ff);
		} else if (op == HW_OP_INJECT) {
			b = (uint16_t)((x >> 8) & 7);
		} else if (op == HW_OP_RESIZE) {
			c = (uint32_t)((x >> 44) & 0x3f);
		} else if (op == HW_OP_GUARD || op == HW_OP_UNGUARD || op == HW_OP_RELEASE_INSIDE ||
			   op == HW_OP_REUSE_INSIDE) {
			/* A page or a few, at or near either end of the object. */
			a = (uint8_t)((a & 0x20) | (1 + ((x >> 40) & 3)));
			c = (uint32_t)((x >> 44) & 3);
		}
		hw_ops_put(out + i * HW_OPS_RECORD, op, a, b, c);
	}
}

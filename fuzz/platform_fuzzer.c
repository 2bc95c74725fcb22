/* platform_fuzzer.c: random transitions on the checked simulator against the
 * contract's transition table.
 *
 * Owns: a model of every page of the simulator's backing (its contract
 * state and its contents stamp; the backing's bounds come from the
 * simulator, so a hint at either edge is checked like any other),
 * a table of the regions reserve and alloc handed out, a mirror of the
 * failure injection rule (P7), and the expected call and failure counters.
 * The simulator runs under its record_illegal policy, so an illegal call is
 * refused instead of aborting.
 *
 * Invariants (checked after every op):
 *   X1. A legal transition succeeds and moves every page of its range to the
 *       contract's target state, unless the injection mirror says this call
 *       fails: then ENOMEM and nothing changes (P2, P7).
 *   X2. An illegal transition (a page in a state the call does not accept,
 *       None included) is refused with EINVAL (void calls: silently),
 *       changes nothing and is counted by hw_sim_illegal_count (S4, P6).
 *   X3. Every page's hw_sim_state equals the model; hw_sim_ready_bytes is the
 *       model's Ready pages; calls[k]/failures[k] equal the model's (P5).
 *   X4. Ready pages keep their contents while Ready, sealed or not (P13:
 *       checked when an unseal makes them readable again); pages that
 *       become Ready read as zero (released_reads_zero) or as the
 *       simulator's junk byte (S5); alloc hands out zero pages; a probe
 *       traps exactly on pages that are not Ready or are sealed.
 *   X5. The model tracks which Reserved pages a fault made so (P9) and
 *       which Ready pages are sealed (P13, S10): unfault takes only the
 *       former; seal takes Ready pages not sealed and faulted ones, unseal
 *       sealed and faulted ones (the simulator's caps.seal_spans_faults);
 *       unuse and fault take no sealed page; release takes them all.
 *   Header (record 0) as for the heap targets: OS page, huge page,
 *   ignore_hints, released_reads_zero, use_needs_call (difftest/ops.h).
 *
 * Locking: none.
 */
#include "fuzz.h"

#include "harness.h"
#include "ops.h"
#include "platform.h"
#include "sim.h"
#include "trap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKING_PAGES 256
#define MAX_REGIONS 64
#define SIM_JUNK_BYTE 0xA5

typedef struct pmodel {
	uint8_t state;   /* hw_mem_state */
	uint8_t faulted; /* Reserved by a fault (X5) */
	uint8_t sealed;  /* Ready and sealed (X5) */
	uint32_t gen;    /* stamp generation while Ready */
} pmodel;

typedef struct region {
	uintptr_t base;
	size_t npages;
} region;

typedef struct pfz {
	hw_ops_config cfg;
	hw_platform *pf;
	size_t O, B;
	uintptr_t lo; /* window start; 0 until the first hand-out */
	size_t nwin;
	pmodel *win;
	region regions[MAX_REGIONS];
	unsigned nregions, next_region;
	uint64_t calls[HW_SYS_NKINDS], failures[HW_SYS_NKINDS], illegal;
	uint64_t inj_at, inj_seen;
	unsigned inj_mask;
	size_t ready;
	uint32_t gen;
	uintptr_t touch_lo, touch_hi; /* addresses the current op named */
	bool sim_checked;
	size_t op_index;
	const char *op_name;
} pfz;

static void fail(pfz *z, const char *fmt, ...) HW_PRINTF(2, 3) HW_NORETURN;
static void fail(pfz *z, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	hw_harness_banner(
		"platform", what, "    at op #%zu (%s); os page %zu, ignore_hints %d, zero %d\n",
		z->op_index, z->op_name, z->O, z->cfg.ignore_hints, z->cfg.released_reads_zero);
	abort();
}

/* Model entry of the page at a, or NULL outside the backing (such pages are
 * None and can never be handed out). */
static pmodel *page(pfz *z, uintptr_t a)
{
	if (z->lo == 0 || a < z->lo || (a - z->lo) / z->O >= z->nwin)
		return NULL;
	return &z->win[(a - z->lo) / z->O];
}

static hw_mem_state state_of(pfz *z, uintptr_t a)
{
	pmodel *p = page(z, a);
	return p ? (hw_mem_state)p->state : HW_MEM_NONE;
}

static void set_state(pfz *z, uintptr_t a, hw_mem_state s)
{
	pmodel *p = page(z, a);
	if (p == NULL)
		fail(z, "page %p outside the model's window changed state", (void *)a);
	z->ready -= p->state == HW_MEM_READY;
	z->ready += s == HW_MEM_READY;
	p->state = (uint8_t)s;
	p->faulted = 0;
	p->sealed = 0;
}

/* Whether the page at a is Ready and readable (not sealed). */
static bool readable(pfz *z, uintptr_t a)
{
	pmodel *p = page(z, a);
	return p != NULL && p->state == HW_MEM_READY && !p->sealed;
}

/* ---- contents (X4) ---- */

static uint64_t stamp_of(uintptr_t a, uint32_t gen)
{
	return hw_harness_mix64(a ^ ((uint64_t)gen << 40)) | 1;
}

static void stamp(pfz *z, uintptr_t a)
{
	pmodel *p = page(z, a);
	p->gen = ++z->gen;
	uint64_t v = stamp_of(a, p->gen);
	*(volatile uint64_t *)a = v;
	*(volatile uint64_t *)(a + z->O - 8) = ~v;
}

static void check_stamp(pfz *z, uintptr_t a, const char *when)
{
	pmodel *p = page(z, a);
	uint64_t v = stamp_of(a, p->gen);
	uint64_t x = *(volatile uint64_t *)a, y = *(volatile uint64_t *)(a + z->O - 8);
	if (x != v || y != ~v)
		fail(z, "Ready page %p lost its contents %s: %#llx/%#llx, wrote %#llx/%#llx",
		     (void *)a, when, (unsigned long long)x, (unsigned long long)y,
		     (unsigned long long)v, (unsigned long long)~v);
}

/* A page that just became Ready holds `fill` at every stamp place. */
static void check_fresh(pfz *z, uintptr_t a, uint8_t fill, const char *how)
{
	uint64_t want;
	memset(&want, fill, sizeof want);
	uint64_t x = *(volatile uint64_t *)a, y = *(volatile uint64_t *)(a + z->O - 8);
	if (x != want || y != want)
		fail(z, "page %p after %s reads %#llx/%#llx, expected bytes of %#x", (void *)a, how,
		     (unsigned long long)x, (unsigned long long)y, fill);
}

/* ---- injection mirror (P7) and counters (P5) ---- */

static bool fallible(hw_sys_kind k) { return k != HW_SYS_UNUSE && k != HW_SYS_RELEASE; }

/* Counts a call of kind k and says whether injection makes it fail. */
static bool enter(pfz *z, hw_sys_kind k)
{
	z->calls[k]++;
	if (z->inj_at == 0 || !fallible(k))
		return false;
	if (z->inj_mask != 0 && (z->inj_mask & (1u << k)) == 0)
		return false;
	if (++z->inj_seen != z->inj_at)
		return false;
	z->inj_at = 0;
	return true;
}

/* ---- the window ---- */

/* The model's window is exactly the simulator's backing. */
static void set_window(pfz *z)
{
	size_t bytes = 0;
	z->lo = (uintptr_t)hw_sim_backing(z->pf, &bytes);
	z->nwin = bytes / z->O;
	z->win = calloc(z->nwin, sizeof *z->win);
	if (z->win == NULL)
		fail(z, "harness out of memory");
}

static void add_region(pfz *z, uintptr_t base, size_t npages)
{
	z->regions[z->next_region % MAX_REGIONS] = (region){base, npages};
	z->next_region++;
	if (z->nregions < MAX_REGIONS)
		z->nregions++;
}

/* ---- ops ---- */

static void touched(pfz *z, uintptr_t a, size_t n)
{
	z->touch_lo = a;
	z->touch_hi = a + n * z->O;
}

static void do_handout(pfz *z, const hw_op *op, bool alloc)
{
	hw_sys_kind k = alloc ? HW_SYS_ALLOC : HW_SYS_RESERVE;
	size_t n = 1 + (op->b & 63);
	uintptr_t hint = 0;
	if (!alloc && (op->a & 0x40) && z->nregions) {
		const region *r = &z->regions[op->c % z->nregions];
		hint = (op->a & 0x80) ? r->base - n * z->O : r->base + r->npages * z->O;
	} else if (!alloc && (op->a & 0x20)) {
		/* The backing's edges: a range that starts at its bottom or
		 * ends exactly at its top, or (b & 0x40) one page further out,
		 * across the edge, where the hint cannot be honoured. */
		uintptr_t top = z->lo + z->nwin * z->O;
		bool out = (op->b & 0x40) != 0;
		hint = (op->a & 0x80) ? top - n * z->O + (out ? z->O : 0)
				      : z->lo - (out ? z->O : 0);
	}
	bool inject = enter(z, k);
	void *out = NULL;
	int rc = alloc ? hw_sys_alloc(z->pf, n * z->O, &out)
		       : hw_sys_reserve(z->pf, (void *)hint, n * z->O, &out);
	if (inject || rc == ENOMEM) {
		/* Injected, or the backing has no room: both refusals count. */
		z->failures[k]++;
		if (rc != ENOMEM || out != NULL)
			fail(z, "%s of %zu pages: injected failure gave rc %d, out %p",
			     hw_sys_kind_name(k), n, rc, out);
		return;
	}
	if (rc != 0)
		fail(z, "%s of %zu pages returned %d", hw_sys_kind_name(k), n, rc);
	uintptr_t a = (uintptr_t)out;
	touched(z, a, n);
	if (a % z->O != 0)
		fail(z, "%s returned %p, not page aligned", hw_sys_kind_name(k), out);
	for (size_t i = 0; i < n; i++) {
		pmodel *p = page(z, a + i * z->O);
		if (p == NULL || p->state != HW_MEM_NONE)
			fail(z, "%s handed out page %p which is %s in the model (S3)",
			     hw_sys_kind_name(k), (void *)(a + i * z->O),
			     p ? "not None" : "outside the backing");
	}
	if (!alloc && hint) {
		bool hint_free = true;
		for (size_t i = 0; i < n; i++) {
			pmodel *p = page(z, hint + i * z->O);
			hint_free &= p != NULL && p->state == HW_MEM_NONE;
		}
		if (!z->cfg.ignore_hints && hint_free && a != hint)
			fail(z, "reserve at free hint %p returned %p", (void *)hint, out);
	}
	/* ignore_hints keeps hand-outs apart: a None page (or the backing's
	 * edge, which the model also sees as None) on each side. Landing on a
	 * hint by chance is allowed. */
	bool apart = state_of(z, a - z->O) == HW_MEM_NONE &&
		     state_of(z, a + n * z->O) == HW_MEM_NONE;
	if (z->cfg.ignore_hints && !apart)
		fail(z, "%s with ignore_hints returned %p next to an owned page",
		     hw_sys_kind_name(k), out);
	for (size_t i = 0; i < n; i++) {
		uintptr_t pa = a + i * z->O;
		set_state(z, pa, alloc ? HW_MEM_READY : HW_MEM_RESERVED);
		if (alloc) {
			check_fresh(z, pa, 0, "alloc");
			stamp(z, pa);
		}
	}
	add_region(z, a, n);
}

/* Accepted states per transition (platform.h's table). */
static unsigned accepts(hw_sys_kind k)
{
	switch (k) {
	case HW_SYS_MAP:
		return 1u << HW_MEM_RESERVED;
	case HW_SYS_USE:
		return 1u << HW_MEM_PREPARED;
	case HW_SYS_UNUSE:
		return 1u << HW_MEM_READY;
	case HW_SYS_FAULT:
		return (1u << HW_MEM_READY) | (1u << HW_MEM_PREPARED);
	case HW_SYS_RELEASE:
		return (1u << HW_MEM_RESERVED) | (1u << HW_MEM_PREPARED) | (1u << HW_MEM_READY);
	case HW_SYS_UNFAULT:
		return 1u << HW_MEM_RESERVED;
	case HW_SYS_SEAL:
	case HW_SYS_UNSEAL:
		return (1u << HW_MEM_RESERVED) | (1u << HW_MEM_READY);
	default:
		return 0;
	}
}

/* X5: whether the page at a may take a call of kind k, past accepts(). */
static bool page_legal(pfz *z, uintptr_t a, hw_sys_kind k)
{
	pmodel *p = page(z, a);
	if (p == NULL || !((accepts(k) >> p->state) & 1))
		return false;
	switch (k) {
	case HW_SYS_UNFAULT:
		return p->faulted;
	case HW_SYS_SEAL:
	case HW_SYS_UNSEAL:
		if (p->state == HW_MEM_RESERVED)
			return p->faulted;
		return p->sealed == (k == HW_SYS_UNSEAL);
	case HW_SYS_UNUSE:
	case HW_SYS_FAULT:
		return !p->sealed;
	default:
		return true;
	}
}

static hw_mem_state target(hw_sys_kind k)
{
	switch (k) {
	case HW_SYS_MAP:
		return HW_MEM_PREPARED;
	case HW_SYS_USE:
		return HW_MEM_READY;
	case HW_SYS_UNUSE:
		return HW_MEM_PREPARED;
	case HW_SYS_FAULT:
		return HW_MEM_RESERVED;
	case HW_SYS_UNFAULT:
		return HW_MEM_READY;
	default:
		return HW_MEM_NONE;
	}
}

static bool pick_range(pfz *z, const hw_op *op, uintptr_t *start, size_t *n)
{
	if (z->nregions == 0)
		return false;
	const region *r = &z->regions[(op->b >> 10) % z->nregions];
	long off;
	hw_ops_platform_range(op, r->npages, &off, n);
	*start = r->base + (uintptr_t)(off * (long)z->O);
	touched(z, *start, *n);
	return true;
}

static void do_transition(pfz *z, const hw_op *op, hw_sys_kind k)
{
	uintptr_t a;
	size_t n;
	if (!pick_range(z, op, &a, &n))
		return;
	bool legal = true;
	for (size_t i = 0; i < n; i++)
		legal &= page_legal(z, a + i * z->O, k);
	/* Contents survive while Ready: check them before they are given up. */
	if (legal && (k == HW_SYS_UNUSE || k == HW_SYS_FAULT || k == HW_SYS_RELEASE ||
		      k == HW_SYS_SEAL))
		for (size_t i = 0; i < n; i++)
			if (readable(z, a + i * z->O))
				check_stamp(z, a + i * z->O, "before it left Ready");
	bool inject = enter(z, k);
	uint64_t ill0 = hw_sim_illegal_count(z->pf, NULL, 0);
	void *p = (void *)a;
	size_t bytes = n * z->O;
	int rc = 0;
	switch (k) {
	case HW_SYS_MAP:
		rc = hw_sys_map(z->pf, p, bytes);
		break;
	case HW_SYS_USE:
		rc = hw_sys_use(z->pf, p, bytes);
		break;
	case HW_SYS_UNUSE:
		hw_sys_unuse(z->pf, p, bytes);
		break;
	case HW_SYS_FAULT:
		rc = hw_sys_fault(z->pf, p, bytes);
		break;
	case HW_SYS_UNFAULT:
		rc = hw_sys_unfault(z->pf, p, bytes);
		break;
	case HW_SYS_SEAL:
		rc = hw_sys_seal(z->pf, p, bytes);
		break;
	case HW_SYS_UNSEAL:
		rc = hw_sys_unseal(z->pf, p, bytes);
		break;
	default:
		hw_sys_release(z->pf, p, bytes);
		break;
	}
	uint64_t ill = hw_sim_illegal_count(z->pf, NULL, 0) - ill0;
	if (inject) {
		z->failures[k]++;
		if (rc != ENOMEM || ill != 0)
			fail(z, "injected %s failure at %p+%zu gave rc %d, %llu illegal",
			     hw_sys_kind_name(k), p, n, rc, (unsigned long long)ill);
		return;
	}
	if (!legal) {
		z->illegal++;
		bool want_rc = fallible(k) ? rc == EINVAL : rc == 0;
		if (!want_rc || ill != 1)
			fail(z, "illegal %s at %p+%zu pages gave rc %d and %llu illegal records",
			     hw_sys_kind_name(k), p, n, rc, (unsigned long long)ill);
		return;
	}
	if (rc == ENOMEM && (k == HW_SYS_USE || k == HW_SYS_UNFAULT || k == HW_SYS_SEAL ||
			     k == HW_SYS_UNSEAL)) {
		/* A protection change may run out of VMAs: a real refusal,
		 * nothing changed. */
		z->failures[k]++;
		return;
	}
	if (rc != 0 || ill != 0)
		fail(z, "legal %s at %p+%zu pages gave rc %d and %llu illegal records",
		     hw_sys_kind_name(k), p, n, rc, (unsigned long long)ill);
	if (k == HW_SYS_SEAL || k == HW_SYS_UNSEAL) {
		/* X4, X5: faulted pages stay as they were; Ready ones change
		 * only their seal, and what was sealed reads as it did. */
		for (size_t i = 0; i < n; i++) {
			pmodel *pm = page(z, a + i * z->O);
			if (pm->state != HW_MEM_READY)
				continue;
			pm->sealed = k == HW_SYS_SEAL;
			if (k == HW_SYS_UNSEAL)
				check_stamp(z, a + i * z->O, "after a seal and an unseal");
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uintptr_t pa = a + i * z->O;
		set_state(z, pa, target(k));
		if (k == HW_SYS_FAULT)
			page(z, pa)->faulted = 1;
		if (k == HW_SYS_USE || k == HW_SYS_UNFAULT) {
			if (z->cfg.released_reads_zero)
				check_fresh(z, pa, 0, "use (released pages read as zero)");
			else
				check_fresh(z, pa, SIM_JUNK_BYTE, "use (junk fill, S5)");
			stamp(z, pa);
		}
	}
}

static void do_probe(pfz *z, const hw_op *op)
{
	if (z->nregions == 0)
		return;
	const region *r = &z->regions[(op->b >> 10) % z->nregions];
	uintptr_t a = r->base + ((op->c & 0xffff) % r->npages) * z->O + (op->b & 0x3ff);
	touched(z, a - (op->b & 0x3ff), 1);
	hw_mem_state s = state_of(z, a);
	bool ok = readable(z, a);
	bool write = (op->a & 1) && ok;
	hw_trap_kind t = hw_trap_probe((volatile void *)a, write);
	if ((t != HW_TRAP_NONE) != !ok)
		fail(z, "probe of %p in state %d%s %s", (void *)a, (int)s, ok ? "" : " (or sealed)",
		     t != HW_TRAP_NONE ? "trapped" : "did not trap");
}

static void do_write(pfz *z, const hw_op *op)
{
	uintptr_t a;
	size_t n;
	if (!pick_range(z, op, &a, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		uintptr_t pa = a + i * z->O;
		if (readable(z, pa)) {
			check_stamp(z, pa, "before a rewrite");
			stamp(z, pa);
		}
	}
}

/* X3 over the pages the op named, or over the whole window and the
 * contents when `deep`; `sim` adds the simulator's own (slow) check. */
static void check_all(pfz *z, bool deep, bool sim)
{
	if (hw_sim_ready_bytes(z->pf) != z->ready * z->O)
		fail(z, "simulator has %zu Ready bytes, the model %zu", hw_sim_ready_bytes(z->pf),
		     z->ready * z->O);
	if (hw_sim_illegal_count(z->pf, NULL, 0) != z->illegal)
		fail(z, "simulator recorded %llu illegal calls, the model %llu",
		     (unsigned long long)hw_sim_illegal_count(z->pf, NULL, 0),
		     (unsigned long long)z->illegal);
	for (int k = 0; k < HW_SYS_NKINDS; k++)
		if (z->pf->calls[k] != z->calls[k] || z->pf->failures[k] != z->failures[k])
			fail(z, "%s: %llu calls/%llu failures, the model %llu/%llu",
			     hw_sys_kind_name((hw_sys_kind)k), (unsigned long long)z->pf->calls[k],
			     (unsigned long long)z->pf->failures[k],
			     (unsigned long long)z->calls[k], (unsigned long long)z->failures[k]);
	uintptr_t lo = z->lo, hi = z->lo + z->nwin * z->O;
	if (!deep) {
		lo = z->touch_lo > lo ? z->touch_lo : lo;
		hi = z->touch_hi < hi ? z->touch_hi : hi;
	}
	for (uintptr_t a = lo; a < hi; a += z->O) {
		hw_mem_state s = hw_sim_state(z->pf, (void *)a), want = state_of(z, a);
		if (s != want)
			fail(z, "page %p is in state %d, the model says %d", (void *)a, (int)s,
			     (int)want);
		if (deep && readable(z, a))
			check_stamp(z, a, "at a check");
	}
	if (sim) {
		char msg[256];
		if (hw_sim_check(z->pf, msg, sizeof msg) != 0)
			fail(z, "hw_sim_check: %s", msg);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pfz z;
	memset(&z, 0, sizeof z);
	hw_ops_config_decode(data, size, &z.cfg);
	z.O = z.cfg.os_page_size;
	z.B = BACKING_PAGES * z.O;
	z.op_name = "setup";
	hw_sim_config sc = {
		.backing_bytes = z.B,
		.page_size = z.O,
		.huge_page_size = z.cfg.huge_page_size,
		.use_needs_call = z.cfg.use_needs_call,
		.released_reads_zero = z.cfg.released_reads_zero,
		.ignore_hints = z.cfg.ignore_hints,
		.record_illegal = true,
	};
	z.pf = hw_platform_sim_create(&sc);
	if (z.pf == NULL)
		fail(&z, "hw_platform_sim_create failed (errno %d)", errno);
	set_window(&z);
	size_t nops = hw_ops_count(size);
	for (size_t i = 0; i < nops; i++) {
		hw_op op = hw_ops_get(data, i);
		z.op_index = i;
		z.op_name = hw_ops_platform_name(op.code);
		bool deep = false;
		z.touch_lo = z.touch_hi = 0;
		switch (op.code) {
		case HW_POP_RESERVE:
			do_handout(&z, &op, false);
			break;
		case HW_POP_ALLOC:
			do_handout(&z, &op, true);
			break;
		case HW_POP_MAP:
			do_transition(&z, &op, HW_SYS_MAP);
			break;
		case HW_POP_USE:
			do_transition(&z, &op, HW_SYS_USE);
			break;
		case HW_POP_UNUSE:
			do_transition(&z, &op, HW_SYS_UNUSE);
			break;
		case HW_POP_FAULT:
			do_transition(&z, &op, HW_SYS_FAULT);
			break;
		case HW_POP_RELEASE:
			do_transition(&z, &op, HW_SYS_RELEASE);
			break;
		case HW_POP_INJECT:
			z.inj_at = hw_ops_inject_nth(&op);
			z.inj_mask = hw_ops_inject_mask(&op);
			z.inj_seen = 0;
			hw_platform_inject(z.pf, z.inj_at, z.inj_mask);
			break;
		case HW_POP_PROBE:
			do_probe(&z, &op);
			break;
		case HW_POP_CHECK:
			deep = true;
			break;
		case HW_POP_WRITE:
			do_write(&z, &op);
			break;
		case HW_POP_UNFAULT:
			do_transition(&z, &op, HW_SYS_UNFAULT);
			break;
		case HW_POP_SEAL:
			do_transition(&z, &op, HW_SYS_SEAL);
			break;
		case HW_POP_UNSEAL:
			do_transition(&z, &op, HW_SYS_UNSEAL);
			break;
		default:
			break; /* unassigned: nothing */
		}
		/* Every page now and then: a change outside the named range
		 * shows up in the Ready count at once, and here by page. */
		/* hw_sim_check reads /proc/self/maps: once per input. */
		check_all(&z, deep || i % 16 == 15, deep && !z.sim_checked);
		z.sim_checked |= deep;
	}
	/* Give everything back, run by run, and check nothing stays Ready. */
	z.op_name = "teardown";
	for (size_t i = 0; i < z.nwin;) {
		if (z.win[i].state == HW_MEM_NONE) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < z.nwin && z.win[j].state != HW_MEM_NONE)
			j++;
		z.calls[HW_SYS_RELEASE]++;
		hw_sys_release(z.pf, (void *)(z.lo + i * z.O), (j - i) * z.O);
		for (size_t k = i; k < j; k++)
			set_state(&z, z.lo + k * z.O, HW_MEM_NONE);
		i = j;
	}
	z.touch_lo = z.touch_hi = 0;
	check_all(&z, false, false);
	if (hw_sim_ready_bytes(z.pf) != 0)
		fail(&z, "%zu bytes Ready after releasing everything", hw_sim_ready_bytes(z.pf));
	hw_platform_destroy(z.pf);
	free(z.win);
	return 0;
}

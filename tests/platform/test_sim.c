/* test_sim.c: the checked simulated platform (platform/sim.c).
 *
 * For 4 KiB and 64 KiB simulated pages: every (transition, state) pair is
 * tried on the middle page of three, so each legal arrow of the contract is
 * seen to land in the right state with Ready bytes exact (S2) and each
 * illegal one to be refused with its message and nothing changed (S4). Also:
 * the default policy aborts with the fixed message, failure injection,
 * placement (hints, ignore_hints, first fit, ENOMEM at the end of the
 * backing), partial release, junk versus zero on reuse (S5), real traps on
 * non-Ready pages (S1), hw_sim_check catching a protection changed behind
 * the simulator's back, and the cost of create/destroy. Placement against a
 * page-by-page reference over random reservations and releases (both
 * policies), fault and release over ranges mixing Ready and other pages, the
 * run query hw_sim_find_other, and hw_sim_reset (S6): a reset instance is a
 * fresh one (states, counters, injection, traps, nothing resident) and places
 * reservations exactly as a new instance does. unfault (P9, S9): accepted
 * only on pages a fault made Reserved, refused on reserved, re-mapped,
 * released or reset ones and on a range mixing both, with the contents S5
 * promises and the injected ENOMEM changing nothing. unfault_many (P10):
 * stopped by an illegal range or an injected failure, the ranges before it
 * done, each range tried counted. The populate hint: accepted on Ready
 * pages, changing nothing, refused on others.
 */
#include "platform.h"
#include "ptest.h"
#include "sim.h"
#include "thread.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static const char *const state_names[] = {"None", "Reserved", "Prepared", "Ready"};

static hw_platform *new_sim(size_t page, size_t pages, bool rrz, bool record)
{
	hw_sim_config cfg = {
		.backing_bytes = pages * page,
		.page_size = page,
		.released_reads_zero = rrz,
		.record_illegal = record,
	};
	return hw_platform_sim_create(&cfg);
}

/* Brings page `p` (Reserved) to state st along legal arrows. */
static bool bring_to(hw_platform *pf, char *p, size_t n, hw_mem_state st)
{
	switch (st) {
	case HW_MEM_NONE:
		hw_sys_release(pf, p, n);
		return true;
	case HW_MEM_RESERVED:
		return true;
	case HW_MEM_PREPARED:
		return hw_sys_map(pf, p, n) == 0;
	case HW_MEM_READY:
		return hw_sys_map(pf, p, n) == 0 && hw_sys_use(pf, p, n) == 0;
	}
	return false;
}

/* Calls op on [p, p+n); void ops report 0. */
static int call_op(hw_platform *pf, hw_sys_kind op, char *p, size_t n)
{
	switch (op) {
	case HW_SYS_MAP:
		return hw_sys_map(pf, p, n);
	case HW_SYS_USE:
		return hw_sys_use(pf, p, n);
	case HW_SYS_UNUSE:
		hw_sys_unuse(pf, p, n);
		return 0;
	case HW_SYS_FAULT:
		return hw_sys_fault(pf, p, n);
	case HW_SYS_RELEASE:
		hw_sys_release(pf, p, n);
		return 0;
	default:
		return -1;
	}
}

/* The contract's arrows for the ops that take a range: the state each
 * source state goes to, or -1 when the transition is illegal. */
static int arrow(hw_sys_kind op, hw_mem_state from)
{
	switch (op) {
	case HW_SYS_MAP:
		return from == HW_MEM_RESERVED ? HW_MEM_PREPARED : -1;
	case HW_SYS_USE:
		return from == HW_MEM_PREPARED ? HW_MEM_READY : -1;
	case HW_SYS_UNUSE:
		return from == HW_MEM_READY ? HW_MEM_PREPARED : -1;
	case HW_SYS_FAULT:
		return from == HW_MEM_READY || from == HW_MEM_PREPARED ? HW_MEM_RESERVED : -1;
	case HW_SYS_RELEASE:
		return from == HW_MEM_NONE ? -1 : HW_MEM_NONE;
	default:
		return -1;
	}
}

static void transition_matrix(size_t ps)
{
	static const hw_sys_kind ops[] = {HW_SYS_MAP, HW_SYS_USE, HW_SYS_UNUSE, HW_SYS_FAULT,
					  HW_SYS_RELEASE};
	for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
		for (int from = HW_MEM_NONE; from <= HW_MEM_READY; from++) {
			hw_sys_kind op = ops[o];
			const char *name = hw_sys_kind_name(op);
			hw_platform *pf = new_sim(ps, 16, true, true);
			REQUIRE(pf != NULL);
			char *base;
			REQUIRE(hw_sys_reserve(pf, NULL, 3 * ps, (void **)&base) == 0);
			char *mid = base + ps;
			/* Neighbours Ready, so a range overrun would show. */
			REQUIRE(bring_to(pf, base, ps, HW_MEM_READY));
			REQUIRE(bring_to(pf, base + 2 * ps, ps, HW_MEM_READY));
			REQUIRE(bring_to(pf, mid, ps, (hw_mem_state)from));
			size_t ready0 = hw_sim_ready_bytes(pf);
			int to = arrow(op, (hw_mem_state)from);
			int rc = call_op(pf, op, mid, ps);
			hw_mem_state after = hw_sim_state(pf, mid);
			char msg[256];
			uint64_t illegal = hw_sim_illegal_count(pf, msg, sizeof msg);
			if (to >= 0) {
				EXPECT(rc == 0 && illegal == 0 && after == (hw_mem_state)to,
				       "ps %zu: %s from %s: rc %d, state %s (want %s), %s", ps,
				       name, state_names[from], rc, state_names[after],
				       state_names[to], msg);
				size_t want = ready0 - (from == HW_MEM_READY ? ps : 0) +
					      (to == HW_MEM_READY ? ps : 0);
				EXPECT(hw_sim_ready_bytes(pf) == want,
				       "ps %zu: %s from %s: ready %zu want %zu", ps, name,
				       state_names[from], hw_sim_ready_bytes(pf), want);
			} else {
				bool has_ret = op != HW_SYS_UNUSE && op != HW_SYS_RELEASE;
				/* Built by the formatter that built msg (the C
				 * runtime's %p differs on Windows). */
				char want[128];
				hw_report_format(
					want, sizeof want,
					"heapward: sim: illegal %s at page 1 (%p) in state %s",
					name, (void *)mid, state_names[from]);
				EXPECT((!has_ret || rc == EINVAL) && illegal == 1,
				       "ps %zu: %s from %s: rc %d, illegal %llu", ps, name,
				       state_names[from], rc, (unsigned long long)illegal);
				EXPECT(strcmp(msg, want) == 0,
				       "ps %zu: message \"%s\", want \"%s\"", ps, msg, want);
				EXPECT(after == (hw_mem_state)from &&
					       hw_sim_ready_bytes(pf) == ready0,
				       "ps %zu: refused %s from %s changed the state", ps, name,
				       state_names[from]);
			}
			EXPECT(hw_sim_state(pf, base) == HW_MEM_READY &&
				       hw_sim_state(pf, base + 2 * ps) == HW_MEM_READY,
			       "ps %zu: %s from %s touched a neighbour", ps, name,
			       state_names[from]);
			char check[256];
			EXPECT(hw_sim_check(pf, check, sizeof check) == 0, "ps %zu: %s from %s: %s",
			       ps, name, state_names[from], check);
			hw_platform_destroy(pf);
		}
	}
}

static void test_transitions_4k(void)
{
	transition_matrix(4096);
}

static void test_transitions_64k(void)
{
	transition_matrix(65536);
}

static void test_reserve_and_alloc(void)
{
	const size_t ps = 65536;
	hw_platform *pf = new_sim(ps, 16, true, true);
	REQUIRE(pf != NULL);
	char *r, *a;
	REQUIRE(hw_sys_reserve(pf, NULL, 3 * ps, (void **)&r) == 0);
	REQUIRE(hw_sys_alloc(pf, 2 * ps, (void **)&a) == 0);
	for (int i = 0; i < 3; i++)
		EXPECT(hw_sim_state(pf, r + i * ps) == HW_MEM_RESERVED, "reserve page %d", i);
	for (int i = 0; i < 2; i++)
		EXPECT(hw_sim_state(pf, a + i * ps) == HW_MEM_READY, "alloc page %d", i);
	EXPECT(hw_sim_ready_bytes(pf) == 2 * ps);
	EXPECT(a == r + 3 * ps, "first fit puts alloc right after the reservation");
	EXPECT(((uintptr_t)r & ((2u << 20) - 1)) == 0, "backing aligned to 2 MiB");
	/* alloc hands out zero memory (S5), all of each simulated page. */
	EXPECT(a[0] == 0 && a[2 * ps - 1] == 0);
	a[2 * ps - 1] = 1;
	EXPECT(hw_trap_probe(a + 2 * ps, false) == HW_TRAP_ACCERR, "the page after is None");
	EXPECT(hw_sim_state(pf, r - 1) == HW_MEM_NONE, "outside the backing reads None");
	char msg[256];
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(pf);
}

static void test_out_of_backing_refused(void)
{
	static const hw_sys_kind ops[] = {HW_SYS_MAP, HW_SYS_USE, HW_SYS_UNUSE, HW_SYS_FAULT,
					  HW_SYS_RELEASE};
	const size_t ps = 4096;
	hw_platform *pf = new_sim(ps, 8, true, true);
	REQUIRE(pf != NULL);
	char *base;
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * ps, (void **)&base) == 0);
	char *outside[] = {base + 8 * ps, base - ps, base + 7 * ps /* 2 pages: overruns */};
	uint64_t count = 0;
	for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
		for (size_t w = 0; w < 3; w++) {
			int rc = call_op(pf, ops[o], outside[w], w == 2 ? 2 * ps : ps);
			char msg[256], want[128];
			uint64_t c = hw_sim_illegal_count(pf, msg, sizeof msg);
			hw_report_format(want, sizeof want,
					 "heapward: sim: illegal %s at page out-of-backing (%p)",
					 hw_sys_kind_name(ops[o]),
					 (void *)(w == 1 ? base - ps : base + 8 * ps));
			EXPECT(c == ++count, "%s case %zu not refused", hw_sys_kind_name(ops[o]),
			       w);
			EXPECT(rc == 0 || rc == EINVAL, "rc %d", rc);
			EXPECT(strncmp(msg, want, strlen(want)) == 0, "\"%s\" want \"%s\"", msg,
			       want);
		}
	}
	EXPECT(hw_sim_state(pf, base + 7 * ps) == HW_MEM_RESERVED, "the overrun changed nothing");
	hw_platform_destroy(pf);
}

static void illegal_by_default(void *arg)
{
	hw_platform *pf = new_sim(4096, 16, true, false);
	void *p;
	if (pf == NULL || hw_sys_reserve(pf, NULL, 4096, &p) != 0)
		return;
	hw_sys_use(pf, p, 4096); /* Reserved -> Ready skips map */
}

static void test_default_policy_aborts(void)
{
	char err[256];
	EXPECT(dies_with(illegal_by_default, NULL, "heapward: sim: illegal use at page 0 (0x", err,
			 sizeof err),
	       "stderr \"%s\"", err);
	EXPECT(strstr(err, ") in state Reserved\n") != NULL, "stderr \"%s\"", err);
}

static void test_injection(void)
{
	const size_t ps = 4096;
	hw_platform *pf = new_sim(ps, 64, true, true);
	REQUIRE(pf != NULL);
	char *p, *q;
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * ps, (void **)&p) == 0);

	/* The 2nd map fails; unuse and release in between do not count. */
	hw_platform_inject(pf, 2, 1u << HW_SYS_MAP);
	EXPECT(hw_sys_map(pf, p, ps) == 0);
	EXPECT(hw_sys_use(pf, p, ps) == 0, "use is not in the mask");
	hw_sys_unuse(pf, p, ps);
	EXPECT(hw_sys_map(pf, p + ps, ps) == ENOMEM, "the 2nd map fails");
	EXPECT(hw_sim_state(pf, p + ps) == HW_MEM_RESERVED, "the failed map changed nothing");
	EXPECT(pf->failures[HW_SYS_MAP] == 1 && pf->calls[HW_SYS_MAP] == 2);
	EXPECT(hw_sys_map(pf, p + ps, ps) == 0, "injection disarmed after firing");
	EXPECT(pf->fail_at == 0);

	/* Mask 0: every fallible kind counts. */
	REQUIRE(hw_sys_use(pf, p, 2 * ps) == 0);
	hw_platform_inject(pf, 3, 0);
	hw_sys_unuse(pf, p + ps, ps);                /* not counted */
	EXPECT(hw_sys_map(pf, p + 2 * ps, ps) == 0); /* 1 */
	EXPECT(hw_sys_use(pf, p + 2 * ps, ps) == 0); /* 2 */
	size_t ready = hw_sim_ready_bytes(pf);
	EXPECT(hw_sys_fault(pf, p, ps) == ENOMEM); /* 3 */
	EXPECT(hw_sim_state(pf, p) == HW_MEM_READY && hw_sim_ready_bytes(pf) == ready,
	       "the failed fault changed nothing");
	EXPECT(hw_trap_probe(p, true) == HW_TRAP_NONE, "the page is still usable");

	/* reserve and alloc fail with *out cleared and nothing handed out. */
	hw_platform_inject(pf, 1, 1u << HW_SYS_RESERVE | 1u << HW_SYS_ALLOC);
	q = (char *)1;
	EXPECT(hw_sys_alloc(pf, ps, (void **)&q) == ENOMEM && q == NULL);
	EXPECT(hw_sys_alloc(pf, ps, (void **)&q) == 0 && q == p + 8 * ps,
	       "nothing was handed out by the failed alloc");
	hw_platform_inject(pf, 1, 1u << HW_SYS_RESERVE);
	EXPECT(hw_sys_reserve(pf, NULL, ps, (void **)&q) == ENOMEM && q == NULL);
	EXPECT(pf->failures[HW_SYS_RESERVE] == 1 && pf->failures[HW_SYS_ALLOC] == 1);
	char msg[256];
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	EXPECT(hw_sim_illegal_count(pf, NULL, 0) == 0);
	hw_platform_destroy(pf);
}

static void test_placement(void)
{
	const size_t ps = 4096;
	hw_platform *pf = new_sim(ps, 64, true, true);
	REQUIRE(pf != NULL);
	char *a, *b, *c;
	REQUIRE(hw_sys_reserve(pf, NULL, 4 * ps, (void **)&a) == 0);
	/* A free hint is honoured. */
	REQUIRE(hw_sys_reserve(pf, a + 10 * ps, 4 * ps, (void **)&b) == 0);
	EXPECT(b == a + 10 * ps, "hint honoured");
	/* A taken hint falls back to first fit (the gap at a + 4). */
	REQUIRE(hw_sys_reserve(pf, a + 11 * ps, 2 * ps, (void **)&c) == 0);
	EXPECT(c == a + 4 * ps, "first fit, got page %td", (c - a) / (ptrdiff_t)ps);
	/* A hint outside the backing falls back to first fit too. */
	REQUIRE(hw_sys_reserve(pf, a - 64 * ps, 4 * ps, (void **)&c) == 0);
	EXPECT(c == a + 6 * ps, "first fit in the gap, got page %td", (c - a) / (ptrdiff_t)ps);
	/* Fill to the end: pages 14..63 are left, none more. */
	REQUIRE(hw_sys_reserve(pf, NULL, 50 * ps, (void **)&c) == 0);
	EXPECT(c == a + 14 * ps, "got page %td", (c - a) / (ptrdiff_t)ps);
	EXPECT(hw_sys_reserve(pf, NULL, ps, (void **)&c) == ENOMEM, "backing exhausted");
	EXPECT(hw_sys_alloc(pf, ps, (void **)&c) == ENOMEM, "backing exhausted");
	EXPECT(hw_sys_reserve(pf, NULL, 65 * ps, (void **)&c) == ENOMEM, "larger than the backing");
	/* Partial release opens a hole that is reused exactly. */
	hw_sys_release(pf, b + ps, 2 * ps);
	EXPECT(hw_sys_reserve(pf, NULL, 3 * ps, (void **)&c) == ENOMEM, "hole too small");
	EXPECT(hw_sys_reserve(pf, NULL, 2 * ps, (void **)&c) == 0 && c == b + ps);
	hw_platform_destroy(pf);
}

static void test_ignore_hints_discontiguous(void)
{
	const size_t ps = 4096;
	hw_sim_config cfg = {
		.backing_bytes = 64 * ps, .ignore_hints = true, .record_illegal = true};
	hw_platform *pf = hw_platform_sim_create(&cfg);
	REQUIRE(pf != NULL);
	char *prev = NULL;
	int n = 0;
	for (;;) {
		char *p;
		void *hint = prev ? prev + 4 * ps : NULL;
		if (hw_sys_reserve(pf, hint, 4 * ps, (void **)&p) != 0)
			break;
		n++;
		EXPECT(p != hint, "reservation %d landed on its hint", n);
		/* Isolated: a None page on each side, or the backing's edge. */
		bool lo_ok = hw_sim_state(pf, p - ps) == HW_MEM_NONE;
		bool hi_ok = hw_sim_state(pf, p + 4 * ps) == HW_MEM_NONE;
		EXPECT(lo_ok && hi_ok, "reservation %d touches another", n);
		if (prev != NULL)
			EXPECT(p < prev, "top-down placement");
		prev = p;
	}
	/* 64 pages: the top one ends at the edge (4 pages), every other one
	 * needs 5 (a gap below): 4 + 5*12 = 64. */
	EXPECT(n == 13, "%d reservations fit", n);
	hw_platform_destroy(pf);
}

/* P11: the probe answers the lowest aligned free range at or above its
 * bound, which is where a reservation at that hint lands; it changes
 * nothing. Under ignore_hints it answers the top-down fit, or ENOMEM when
 * that lies below the bound. */
static void test_probe(void)
{
	const size_t ps = 4096;
	hw_platform *pf = new_sim(ps, 64, true, true);
	REQUIRE(pf != NULL);
	char *base, *lo, *mid;
	REQUIRE(hw_sys_reserve(pf, NULL, ps, (void **)&base) == 0);
	uintptr_t w;
	REQUIRE(hw_sys_probe(pf, 4 * ps, 8 * ps, 0, &w) == 0);
	EXPECT(w == (uintptr_t)base + 8 * ps, "first aligned fit %p, base %p", (void *)w, base);
	/* An owned page at the first fit moves the answer past it. */
	REQUIRE(hw_sys_reserve(pf, (void *)w, ps, (void **)&mid) == 0 && (uintptr_t)mid == w);
	REQUIRE(hw_sys_probe(pf, 4 * ps, 8 * ps, 0, &w) == 0);
	EXPECT(w == (uintptr_t)base + 16 * ps, "past the owned page: %p", (void *)w);
	REQUIRE(hw_sys_probe(pf, 4 * ps, 8 * ps, (uintptr_t)base + 17 * ps, &w) == 0);
	EXPECT(w == (uintptr_t)base + 24 * ps, "bounded: %p", (void *)w);
	EXPECT(hw_sys_probe(pf, 4 * ps, 8 * ps, (uintptr_t)base + 57 * ps, &w) == ENOMEM,
	       "no aligned fit above the bound");
	EXPECT(pf->owned == 2 * ps && pf->calls[HW_SYS_RESERVE] == 2, "the probe changed state");
	REQUIRE(hw_sys_reserve(pf, (void *)(base + 24 * ps), 4 * ps, (void **)&lo) == 0);
	EXPECT(lo == base + 24 * ps, "a reservation at the answer lands there");
	hw_platform_destroy(pf);

	hw_sim_config top = {.backing_bytes = 64 * ps, .ignore_hints = true};
	pf = hw_platform_sim_create(&top);
	REQUIRE(pf != NULL);
	REQUIRE(hw_sys_probe(pf, 4 * ps, 8 * ps, 0, &w) == 0);
	REQUIRE(hw_sys_reserve(pf, NULL, 12 * ps, (void **)&lo) == 0);
	EXPECT(w == hw_align_up((uintptr_t)lo, 8 * ps), "top-down answer %p, reserved %p",
	       (void *)w, lo);
	hw_sys_release(pf, lo, 12 * ps);
	EXPECT(hw_sys_probe(pf, 4 * ps, 8 * ps, w + ps, &w) == ENOMEM,
	       "top-down fit below the bound");
	hw_platform_destroy(pf);
}

static void test_partial_release(void)
{
	const size_t ps = 65536;
	hw_platform *pf = new_sim(ps, 16, true, true);
	REQUIRE(pf != NULL);
	char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 8 * ps) == 0);
	REQUIRE(hw_sys_use(pf, p, 4 * ps) == 0);
	EXPECT(hw_sim_ready_bytes(pf) == 4 * ps);
	hw_sys_release(pf, p + 3 * ps, 2 * ps); /* one Ready, one Prepared */
	EXPECT(hw_sim_ready_bytes(pf) == 3 * ps);
	EXPECT(hw_sim_state(pf, p + 3 * ps) == HW_MEM_NONE &&
	       hw_sim_state(pf, p + 4 * ps) == HW_MEM_NONE);
	EXPECT(hw_sim_state(pf, p + 2 * ps) == HW_MEM_READY &&
	       hw_sim_state(pf, p + 5 * ps) == HW_MEM_PREPARED);
	EXPECT(hw_trap_probe(p + 3 * ps, false) == HW_TRAP_ACCERR, "released pages trap");
	hw_sys_release(pf, p + 3 * ps, ps);
	EXPECT(hw_sim_illegal_count(pf, NULL, 0) == 1, "releasing a None page is refused");
	char msg[256];
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(pf);
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void reuse_contents(size_t ps, bool rrz)
{
	hw_platform *pf = new_sim(ps, 16, rrz, false);
	REQUIRE(pf != NULL);
	EXPECT(pf->caps.released_reads_zero == rrz);
	unsigned char *p;
	unsigned char want = rrz ? 0 : 0xA5;
	REQUIRE(hw_sys_reserve(pf, NULL, 2 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 2 * ps) == 0);
	REQUIRE(hw_sys_use(pf, p, 2 * ps) == 0);
	EXPECT(all_bytes(p, 2 * ps, want), "ps %zu rrz %d: first use", ps, rrz);
	memset(p, 0x3c, 2 * ps);
	hw_sys_unuse(pf, p, ps);
	REQUIRE(hw_sys_use(pf, p, ps) == 0);
	EXPECT(all_bytes(p, ps, want), "ps %zu rrz %d: after unuse", ps, rrz);
	EXPECT(all_bytes(p + ps, ps, 0x3c), "ps %zu rrz %d: the other page kept", ps, rrz);
	REQUIRE(hw_sys_fault(pf, p + ps, ps) == 0);
	REQUIRE(hw_sys_map(pf, p + ps, ps) == 0);
	REQUIRE(hw_sys_use(pf, p + ps, ps) == 0);
	EXPECT(all_bytes(p + ps, ps, want), "ps %zu rrz %d: after fault", ps, rrz);
	hw_platform_destroy(pf);
}

static void test_released_contents(void)
{
	reuse_contents(4096, true);
	reuse_contents(4096, false);
	reuse_contents(65536, true);
	reuse_contents(65536, false);
}

static void trap_states(size_t ps)
{
	hw_platform *pf = new_sim(ps, 16, true, false);
	REQUIRE(pf != NULL);
	char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 4 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p + ps, 3 * ps) == 0);
	REQUIRE(hw_sys_use(pf, p + 2 * ps, 2 * ps) == 0);
	hw_sys_unuse(pf, p + 3 * ps, ps);
	/* Reserved, Prepared, Ready, Prepared-after-unuse; and None beyond. */
	static const hw_trap_kind want[5] = {HW_TRAP_ACCERR, HW_TRAP_ACCERR, HW_TRAP_NONE,
					     HW_TRAP_ACCERR, HW_TRAP_ACCERR};
	for (int i = 0; i < 5; i++) {
		/* First and last byte of each simulated page. */
		hw_trap_kind first = hw_trap_probe(p + i * ps, true);
		hw_trap_kind last = hw_trap_probe(p + (i + 1) * ps - 1, true);
		EXPECT(first == want[i] && last == want[i], "ps %zu page %d: %s/%s want %s", ps, i,
		       hw_trap_kind_name(first), hw_trap_kind_name(last),
		       hw_trap_kind_name(want[i]));
	}
	hw_platform_destroy(pf);
}

static void test_non_ready_pages_trap(void)
{
	trap_states(4096);
	trap_states(65536);
}

static void test_check_catches_protection(void)
{
	const size_t ps = 4096;
	hw_platform *pf = new_sim(ps, 16, true, true);
	hw_platform *os = hw_platform_linux_create(true, false);
	REQUIRE(pf != NULL && os != NULL);
	char *p;
	char msg[256];
	REQUIRE(hw_sys_reserve(pf, NULL, 4 * ps, (void **)&p) == 0);
	REQUIRE(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	/* Make a Reserved page read/write behind the simulator's back. */
	REQUIRE(hw_sys_map(os, p + ps, ps) == 0);
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == -1, "S1 breach not seen");
	EXPECT(strstr(msg, "S1: page 1 ") != NULL && strstr(msg, "is Reserved") != NULL, "%s", msg);
	/* And back: PROT_NONE and discarded. */
	REQUIRE(hw_sys_fault(os, p + ps, ps) == 0);
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(os);
	hw_platform_destroy(pf);
}

/* hw_sim_check_since walks only what the simulator changed since the last
 * passing check (S8): a bad protection there is caught, one behind its back
 * elsewhere is left to hw_sim_check; and every transition, a reset and a
 * change of backing widen the window. */
static void test_check_since_walks_changes(void)
{
	const size_t ps = 4096;
	hw_platform *pf = new_sim(ps, 64, true, true);
	hw_platform *os = hw_platform_linux_create(true, false);
	REQUIRE(pf != NULL && os != NULL);
	char *p;
	char msg[256];
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * ps, (void **)&p) == 0);
	REQUIRE(hw_sim_check_since(pf, msg, sizeof msg) == 0, "%s", msg);
	/* Behind its back, on a page it has not touched since: not walked. */
	REQUIRE(hw_sys_map(os, p + 5 * ps, ps) == 0);
	EXPECT(hw_sim_check_since(pf, msg, sizeof msg) == 0, "%s", msg);
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == -1 && strstr(msg, "S1: page 5 ") != NULL,
	       "the whole walk sees it: %s", msg);
	/* A transition of that page (no real call: Reserved -> Prepared)
	 * brings it into the window. */
	REQUIRE(hw_sys_map(pf, p + 5 * ps, ps) == 0);
	EXPECT(hw_sim_check_since(pf, msg, sizeof msg) == -1 &&
		       strstr(msg, "S1: page 5 ") != NULL && strstr(msg, "is Prepared") != NULL,
	       "%s", msg);
	REQUIRE(hw_sys_fault(os, p + 5 * ps, ps) == 0);
	EXPECT(hw_sim_check_since(pf, msg, sizeof msg) == 0, "%s", msg);
	/* A reset widens it over the pages the run used. */
	REQUIRE(hw_sys_map(pf, p + 2 * ps, ps) == 0);
	REQUIRE(hw_sim_check_since(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_sim_config same = {.backing_bytes = 64 * ps,
			      .page_size = ps,
			      .released_reads_zero = true,
			      .record_illegal = true};
	REQUIRE(hw_sim_reset(pf, &same) == 0);
	REQUIRE(hw_sys_map(os, p + 2 * ps, ps) == 0);
	EXPECT(hw_sim_check_since(pf, msg, sizeof msg) == -1 && strstr(msg, "S1: page 2 ") != NULL,
	       "after a reset: %s", msg);
	REQUIRE(hw_sys_fault(os, p + 2 * ps, ps) == 0);
	/* Pages that rejoin the backing are walked again. */
	char *base = hw_sim_backing(pf, NULL);
	hw_sim_config half = same;
	half.backing_bytes = 32 * ps;
	REQUIRE(hw_sim_reset(pf, &half) == 0);
	REQUIRE(hw_sim_check_since(pf, msg, sizeof msg) == 0, "%s", msg);
	REQUIRE(hw_sys_map(os, base + 40 * ps, ps) == 0);
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "outside the backing: %s", msg);
	REQUIRE(hw_sim_reset(pf, &same) == 0);
	EXPECT(hw_sim_check_since(pf, msg, sizeof msg) == -1 &&
		       strstr(msg, "S1: page 40 ") != NULL,
	       "after the backing grew back: %s", msg);
	REQUIRE(hw_sys_fault(os, base + 40 * ps, ps) == 0);
	EXPECT(hw_sim_check_since(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(os);
	hw_platform_destroy(pf);
}

static void test_bad_config(void)
{
	hw_sim_config bad[] = {
		{.page_size = 3000},
		{.page_size = 2048},
		{.page_size = 8192, .huge_page_size = 4096},
		{.page_size = 4096, .huge_page_size = 3 << 20},
		{.backing_bytes = (size_t)1 << 50},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		hw_platform *pf = hw_platform_sim_create(&bad[i]);
		EXPECT(pf == NULL && errno == EINVAL, "config %zu accepted", i);
		hw_platform_destroy(pf);
	}
	hw_platform *pf = hw_platform_sim_create(NULL);
	REQUIRE(pf != NULL, "all defaults");
	EXPECT(pf->caps.page_size == 4096 && pf->caps.guard == HW_GUARD_SIM &&
	       pf->caps.partial_release && pf->caps.granularity == 4096 &&
	       !pf->caps.released_reads_zero);
	hw_platform_destroy(pf);
}

/* ---- placement against a page-by-page reference ---- */

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Where a reservation of np pages must land (sim.c's placement rules),
 * computed page by page from hw_sim_state; SIZE_MAX when nothing fits. */
static size_t naive_place(hw_platform *pf, char *base, size_t npages, size_t ps, size_t np,
			  bool ignore_hints)
{
	bool none[512];
	for (size_t i = 0; i < npages; i++)
		none[i] = hw_sim_state(pf, base + i * ps) == HW_MEM_NONE;
	if (!ignore_hints) {
		for (size_t a = 0; a + np <= npages; a++) {
			size_t k = 0;
			while (k < np && none[a + k])
				k++;
			if (k == np)
				return a;
		}
		return SIZE_MAX;
	}
	for (size_t a = npages - np + 1; a-- > 0;) {
		bool ok = true;
		size_t lo = a > 0 ? a - 1 : 0, hi = a + np < npages ? a + np + 1 : npages;
		for (size_t i = lo; i < hi && ok; i++)
			ok = none[i];
		if (ok)
			return a;
	}
	return SIZE_MAX;
}

static void placement_vs_reference(bool ignore_hints, uint64_t seed)
{
	const size_t ps = 4096, npages = 300;
	hw_sim_config cfg = {.backing_bytes = npages * ps,
			     .ignore_hints = ignore_hints,
			     .record_illegal = true};
	hw_platform *pf = hw_platform_sim_create(&cfg);
	REQUIRE(pf != NULL);
	char *base;
	REQUIRE(hw_sys_reserve(pf, NULL, npages * ps, (void **)&base) == 0);
	hw_sys_release(pf, base, npages * ps);
	for (int step = 0; step < 3000; step++) {
		uint64_t r = rng_next(&seed);
		size_t np = 1 + (size_t)(r % 7 == 0 ? (r >> 8) % 90 : (r >> 8) % 12);
		if ((r >> 20) % 3 == 0) {
			/* Release a random Reserved page range. */
			size_t i = (size_t)(r >> 24) % npages;
			size_t n = np < npages - i ? np : npages - i;
			bool owned = true;
			for (size_t k = 0; k < n; k++)
				owned &= hw_sim_state(pf, base + (i + k) * ps) != HW_MEM_NONE;
			if (owned)
				hw_sys_release(pf, base + i * ps, n * ps);
			continue;
		}
		size_t want = naive_place(pf, base, npages, ps, np, ignore_hints);
		char *got = NULL;
		int rc = hw_sys_reserve(pf, NULL, np * ps, (void **)&got);
		if (want == SIZE_MAX) {
			EXPECT(rc == ENOMEM, "step %d: %zu pages placed at %td, nothing fits", step,
			       np, (got - base) / (ptrdiff_t)ps);
			if (rc == 0)
				break;
		} else {
			EXPECT(rc == 0 && got == base + want * ps,
			       "step %d: %zu pages at page %td, the reference says %zu", step, np,
			       rc == 0 ? (got - base) / (ptrdiff_t)ps : -1, want);
			if (rc != 0 || got != base + want * ps)
				break;
		}
	}
	EXPECT(hw_sim_illegal_count(pf, NULL, 0) == 0);
	hw_platform_destroy(pf);
}

static void test_placement_matches_reference(void)
{
	placement_vs_reference(false, 0x9e3779b97f4a7c15ull);
	placement_vs_reference(true, 0x9e3779b97f4a7c15ull);
	placement_vs_reference(true, 12345);
}

/* ---- fault and release over mixed ranges ---- */

static void test_mixed_fault_and_release(void)
{
	const size_t ps = 4096;
	hw_platform *pf = new_sim(ps, 32, true, true);
	REQUIRE(pf != NULL);
	char *p;
	char msg[256];
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 8 * ps) == 0);
	/* Ready, Prepared, Ready, Ready, Prepared, Prepared, Ready, Prepared. */
	static const bool ready[8] = {true, false, true, true, false, false, true, false};
	for (int i = 0; i < 8; i++)
		if (ready[i]) {
			REQUIRE(hw_sys_use(pf, p + i * ps, ps) == 0);
			memset(p + i * ps, 0x77, ps);
		}
	REQUIRE(hw_sys_fault(pf, p, 4 * ps) == 0);
	for (int i = 0; i < 4; i++)
		EXPECT(hw_sim_state(pf, p + i * ps) == HW_MEM_RESERVED, "page %d", i);
	for (int i = 0; i < 4; i++)
		EXPECT(hw_trap_probe(p + i * ps, false) == HW_TRAP_ACCERR, "faulted page %d", i);
	EXPECT(hw_trap_probe(p + 6 * ps, true) == HW_TRAP_NONE, "page 6 untouched");
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_sys_release(pf, p + 4 * ps, 4 * ps);
	for (int i = 4; i < 8; i++) {
		EXPECT(hw_sim_state(pf, p + i * ps) == HW_MEM_NONE, "page %d", i);
		EXPECT(hw_trap_probe(p + i * ps, false) == HW_TRAP_ACCERR, "released page %d", i);
	}
	EXPECT(hw_sim_ready_bytes(pf) == 0);
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	/* Ready again after a fault: zero, not the old contents. */
	REQUIRE(hw_sys_map(pf, p + 2 * ps, ps) == 0 && hw_sys_use(pf, p + 2 * ps, ps) == 0);
	EXPECT(all_bytes((unsigned char *)p + 2 * ps, ps, 0), "faulted contents discarded");
	EXPECT(hw_sim_illegal_count(pf, NULL, 0) == 0);
	hw_platform_destroy(pf);
}

/* ---- hw_sim_find_other ---- */

static void test_find_other(void)
{
	const size_t ps = 4096;
	hw_platform *pf = new_sim(ps, 64, true, true);
	REQUIRE(pf != NULL);
	char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 40 * ps, (void **)&p) == 0);
	EXPECT(hw_sim_find_other(pf, p, 40 * ps, HW_MEM_RESERVED) == NULL);
	EXPECT(hw_sim_find_other(pf, p + 1, 3 * ps, HW_MEM_RESERVED) == NULL, "partial pages");
	REQUIRE(hw_sys_map(pf, p + 29 * ps, ps) == 0);
	EXPECT(hw_sim_find_other(pf, p, 40 * ps, HW_MEM_RESERVED) == p + 29 * ps);
	EXPECT(hw_sim_find_other(pf, p + 3 * ps, 26 * ps, HW_MEM_RESERVED) == NULL);
	EXPECT(hw_sim_find_other(pf, p + 3 * ps, 26 * ps + 1, HW_MEM_RESERVED) == p + 29 * ps,
	       "the last byte's page counts");
	EXPECT(hw_sim_find_other(pf, p + 29 * ps, ps, HW_MEM_PREPARED) == NULL);
	EXPECT(hw_sim_find_other(pf, p + 40 * ps, 24 * ps, HW_MEM_NONE) == NULL);
	EXPECT(hw_sim_find_other(pf, p + 40 * ps, 25 * ps, HW_MEM_NONE) == NULL,
	       "beyond the backing is None");
	EXPECT(hw_sim_find_other(pf, p + 39 * ps, 2 * ps, HW_MEM_RESERVED) == p + 40 * ps);
	EXPECT(hw_sim_find_other(pf, p + 60 * ps, 8 * ps, HW_MEM_NONE) == NULL);
	EXPECT(hw_sim_find_other(pf, p + 60 * ps, 8 * ps, HW_MEM_READY) == p + 60 * ps);
	EXPECT(hw_sim_find_other(pf, p + 64 * ps, ps, HW_MEM_READY) == p + 64 * ps,
	       "outside the backing");
	EXPECT(hw_sim_find_other(pf, p - ps, 2 * ps, HW_MEM_RESERVED) == p - ps);
	EXPECT(hw_sim_find_other(pf, p - ps, 2 * ps, HW_MEM_NONE) == p);
	hw_platform_destroy(pf);
}

/* The state scans skip runs of one state 32 pages at a time and check the
 * rest eight at a time: a single odd page is found at every position, from
 * starts on and off those steps, forwards (hw_sim_find_other) and backwards
 * (the span a fault makes inaccessible ends at the last Ready page). */
static void test_scans_find_every_position(void)
{
	const size_t ps = 4096, n = 200;
	hw_platform *pf = new_sim(ps, 256, true, true);
	REQUIRE(pf != NULL);
	char *p, msg[256];
	REQUIRE(hw_sys_reserve(pf, NULL, n * ps, (void **)&p) == 0);
	const size_t starts[] = {0, 1, 7, 8, 9, 31, 32, 33, 40};
	for (size_t k = 0; k < n; k++) {
		REQUIRE(hw_sys_map(pf, p + k * ps, ps) == 0);
		for (size_t j = 0; j < sizeof starts / sizeof starts[0]; j++) {
			size_t a = starts[j];
			if (a > k)
				continue;
			EXPECT(hw_sim_find_other(pf, p + a * ps, (n - a) * ps, HW_MEM_RESERVED) ==
				       p + k * ps,
			       "odd page %zu, scan from %zu", k, a);
			EXPECT(hw_sim_find_other(pf, p + a * ps, (k - a) * ps, HW_MEM_RESERVED) ==
				       NULL,
			       "pages %zu..%zu are all Reserved", a, k);
		}
		REQUIRE(hw_sys_fault(pf, p + k * ps, ps) == 0);
	}
	REQUIRE(hw_sys_map(pf, p, n * ps) == 0);
	for (size_t k = 0; k < n; k++) {
		REQUIRE(hw_sys_use(pf, p + 3 * ps, ps) == 0);
		if (k != 3)
			REQUIRE(hw_sys_use(pf, p + k * ps, ps) == 0);
		REQUIRE(hw_sys_fault(pf, p, n * ps) == 0);
		EXPECT(hw_trap_probe(p + k * ps, false) == HW_TRAP_ACCERR, "page %zu", k);
		EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "Ready page %zu: %s", k, msg);
		REQUIRE(hw_sys_map(pf, p, n * ps) == 0);
	}
	EXPECT(hw_sim_illegal_count(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(pf);
}

/* ---- hw_sim_reset (S6) ---- */

/* A fixed script of placements on an empty instance: the offsets from the
 * first reservation (which lands on the base) are what a fresh instance of
 * that configuration hands out. */
static void placement_script(hw_platform *pf, size_t ps, ptrdiff_t *out, int n)
{
	char *first = NULL, *p;
	for (int i = 0; i < n; i++) {
		size_t np = 1 + (size_t)(i * 7 % 5);
		int rc = i % 4 == 3
				 ? hw_sys_alloc(pf, np * ps, (void **)&p)
				 : hw_sys_reserve(pf, first && i % 3 == 1 ? first + 40 * ps : NULL,
						  np * ps, (void **)&p);
		if (rc != 0) {
			out[i] = -1;
			continue;
		}
		if (first == NULL)
			first = p;
		out[i] = (p - first) / (ptrdiff_t)ps;
		if (i % 5 == 4)
			hw_sys_release(pf, p, ps);
	}
}

static void reset_matches_fresh(const hw_sim_config *cfg)
{
	enum { N = 24 };
	ptrdiff_t fresh[N], reused[N];
	char msg[256];
	hw_platform *pf = hw_platform_sim_create(cfg);
	REQUIRE(pf != NULL);
	placement_script(pf, cfg->page_size, fresh, N);
	hw_platform_destroy(pf);

	/* A used instance of another shape, reset to cfg. */
	hw_sim_config other = {.backing_bytes = 256 * 65536,
			       .page_size = 65536,
			       .huge_page_size = 1 << 20,
			       .released_reads_zero = !cfg->released_reads_zero,
			       .ignore_hints = !cfg->ignore_hints,
			       .record_illegal = true,
			       .capacity_bytes = 512 * 65536};
	pf = hw_platform_sim_create(&other);
	REQUIRE(pf != NULL);
	char *p, *base;
	/* The whole backing fits only at its base, whatever the policy. */
	REQUIRE(hw_sys_reserve(pf, NULL, 256 * 65536, (void **)&base) == 0);
	hw_sys_release(pf, base, 256 * 65536);
	REQUIRE(hw_sys_reserve(pf, NULL, 16 * 65536, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 12 * 65536) == 0 && hw_sys_use(pf, p, 8 * 65536) == 0);
	memset(p, 0x5a, 8 * 65536);
	hw_sys_unuse(pf, p + 65536, 65536);
	REQUIRE(hw_sys_fault(pf, p + 2 * 65536, 65536) == 0);
	REQUIRE(hw_sys_alloc(pf, 3 * 65536, (void **)&p) == 0);
	memset(p, 0x6b, 3 * 65536);
	hw_sys_map(pf, p, 65536); /* illegal: recorded */
	hw_platform_inject(pf, 2, 0);
	REQUIRE(hw_sys_reserve(pf, NULL, 65536, (void **)&p) == 0);
	EXPECT(hw_sim_illegal_count(pf, NULL, 0) == 1 && hw_sim_ready_bytes(pf) != 0);

	REQUIRE(hw_sim_reset(pf, cfg) == 0);
	EXPECT(hw_sim_ready_bytes(pf) == 0 && hw_sim_illegal_count(pf, msg, sizeof msg) == 0 &&
		       msg[0] == '\0',
	       "ready %zu, illegal %s", hw_sim_ready_bytes(pf), msg);
	EXPECT(pf->caps.page_size == cfg->page_size &&
	       pf->caps.huge_page_size == cfg->huge_page_size &&
	       pf->caps.released_reads_zero == cfg->released_reads_zero &&
	       pf->caps.use_needs_call == cfg->use_needs_call);
	bool zero = true;
	for (int k = 0; k < HW_SYS_NKINDS; k++)
		zero &= pf->calls[k] == 0 && pf->failures[k] == 0;
	EXPECT(zero && pf->fail_at == 0 && pf->fail_seen == 0 && pf->fail_mask == 0,
	       "counters and injection cleared");
	EXPECT(hw_sim_find_other(pf, base, 512 * 65536, HW_MEM_NONE) == NULL, "all None");
	for (size_t off = 0; off < 512 * 65536; off += 65536)
		if (hw_trap_probe(base + off, false) != HW_TRAP_ACCERR) {
			EXPECT(false, "page at offset %zu does not trap", off);
			break;
		}
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	/* What was written before the reset is gone: the pages read as the new
	 * configuration says (S5). */
	size_t all = cfg->backing_bytes;
	REQUIRE(hw_sys_reserve(pf, NULL, all, (void **)&p) == 0 && p == base);
	REQUIRE(hw_sys_map(pf, p, all) == 0 && hw_sys_use(pf, p, all) == 0);
	EXPECT(all_bytes((unsigned char *)p, all, cfg->released_reads_zero ? 0 : 0xA5),
	       "old contents after a reset");
	hw_sys_release(pf, p, all);
	REQUIRE(hw_sim_reset(pf, cfg) == 0);

	placement_script(pf, cfg->page_size, reused, N);
	for (int i = 0; i < N; i++)
		EXPECT(fresh[i] == reused[i], "placement %d: fresh %td, after reset %td", i,
		       fresh[i], reused[i]);
	/* The first reservation of an empty first-fit backing is its base:
	 * the reset kept it. */
	if (!cfg->ignore_hints) {
		REQUIRE(hw_sim_reset(pf, cfg) == 0);
		REQUIRE(hw_sys_reserve(pf, NULL, cfg->page_size, (void **)&p) == 0);
		EXPECT(p == base, "base moved");
	}
	EXPECT(hw_sim_illegal_count(pf, NULL, 0) == 0);
	hw_platform_destroy(pf);
}

static void test_reset_is_fresh(void)
{
	hw_sim_config a = {.backing_bytes = 200 * 4096, .page_size = 4096};
	hw_sim_config b = {.backing_bytes = 100 * 16384,
			   .page_size = 16384,
			   .huge_page_size = 256 << 10,
			   .released_reads_zero = true,
			   .ignore_hints = true,
			   .use_needs_call = true};
	reset_matches_fresh(&a);
	reset_matches_fresh(&b);
}

static void test_reset_refuses_what_does_not_fit(void)
{
	hw_sim_config cfg = {.backing_bytes = 64 * 4096, .record_illegal = true};
	hw_platform *pf = hw_platform_sim_create(&cfg);
	REQUIRE(pf != NULL);
	char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 4 * 4096, (void **)&p) == 0);
	hw_sim_config big = {.backing_bytes = 65 * 4096};
	hw_sim_config bad = {.page_size = 3000};
	EXPECT(hw_sim_reset(pf, &big) == EINVAL, "backing beyond the capacity");
	EXPECT(hw_sim_reset(pf, &bad) == EINVAL, "invalid page size");
	EXPECT(hw_sim_state(pf, p) == HW_MEM_RESERVED && pf->calls[HW_SYS_RESERVE] == 1,
	       "a refused reset changes nothing");
	hw_sim_config same = {.backing_bytes = 64 * 4096};
	EXPECT(hw_sim_reset(pf, &same) == 0 && hw_sim_state(pf, p) == HW_MEM_NONE);
	hw_platform_destroy(pf);
}

/* ---- stale memory (S5, S7) ---- */

static void touch_pages(char *p, size_t n, size_t ps, char v)
{
	for (size_t off = 0; off < n; off += ps)
		p[off] = v;
}

static void test_stale_memory(void)
{
	const size_t ps = 4096, mib = (size_t)1 << 20;
	char msg[256];
	hw_sim_config cfg = {.backing_bytes = 80 * mib, .released_reads_zero = true};
	hw_platform *pf = hw_platform_sim_create(&cfg);
	REQUIRE(pf != NULL);
	char *p;
	/* Zero on reuse, for a few stale pages (cleared by hand) and for many
	 * (given back to the kernel), with some of the range never used. */
	REQUIRE(hw_sys_reserve(pf, NULL, 200 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 200 * ps) == 0 && hw_sys_use(pf, p, 150 * ps) == 0);
	memset(p, 0x3c, 150 * ps);
	hw_sys_unuse(pf, p, 3 * ps);
	hw_sys_unuse(pf, p + 10 * ps, 140 * ps);
	EXPECT(hw_platform_resident_bytes(p, 150 * ps) > 0, "left Ready, kept");
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	REQUIRE(hw_sys_use(pf, p, 3 * ps) == 0);
	EXPECT(all_bytes((unsigned char *)p, 3 * ps, 0), "3 stale pages reused");
	REQUIRE(hw_sys_use(pf, p + 10 * ps, 190 * ps) == 0);
	EXPECT(all_bytes((unsigned char *)p + 10 * ps, 190 * ps, 0), "140 stale pages reused");
	EXPECT(all_bytes((unsigned char *)p + 3 * ps, 7 * ps, 0x3c), "Ready pages kept");
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_sys_release(pf, p, 200 * ps);

	/* A large run of which the heap wrote a few pages: those hold memory
	 * and are cleared; the others never did and read zero as they are. */
	char *fresh = p + 4096 * ps; /* never used */
	REQUIRE(hw_sys_reserve(pf, fresh, 300 * ps, (void **)&p) == 0 && p == fresh);
	REQUIRE(hw_sys_map(pf, p, 300 * ps) == 0 && hw_sys_use(pf, p, 300 * ps) == 0);
	p[10 * ps] = 1;
	p[150 * ps + 77] = 2;
	p[300 * ps - 1] = 3;
	hw_sys_unuse(pf, p, 300 * ps);
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	REQUIRE(hw_sys_use(pf, p, 300 * ps) == 0);
	EXPECT(hw_platform_resident_bytes(p, 300 * ps) <= 3 * ps, "only the written pages held");
	EXPECT(all_bytes((unsigned char *)p, 300 * ps, 0), "a sparsely written run reused");
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_sys_release(pf, p, 300 * ps);

	/* A reset keeps a few MiB of stale memory for the next run... */
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * mib, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 8 * mib) == 0 && hw_sys_use(pf, p, 8 * mib) == 0);
	touch_pages(p, 8 * mib, ps, 1);
	hw_sys_release(pf, p, 8 * mib);
	REQUIRE(hw_sim_reset(pf, &cfg) == 0);
	EXPECT(hw_platform_resident_bytes(p, 8 * mib) == 8 * mib, "kept");
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	/* ...but not more than 64 MiB of it. */
	REQUIRE(hw_sys_reserve(pf, NULL, 72 * mib, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 72 * mib) == 0 && hw_sys_use(pf, p, 72 * mib) == 0);
	touch_pages(p, 72 * mib, ps, 1);
	hw_sys_release(pf, p, 72 * mib);
	REQUIRE(hw_sim_reset(pf, &cfg) == 0);
	EXPECT(hw_platform_resident_bytes(p, 80 * mib) == 0, "given back");
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(pf);
}

/* Junk comes from a file mapped over the range (when there is one): what the
 * heap wrote is gone at the next use, junk or zero, and alloc hands out
 * zero pages where junk was mapped. */
static void test_junk_mapping(void)
{
	const size_t ps = 4096;
	char msg[256];
	hw_sim_config junk = {.backing_bytes = 4096 * ps, .record_illegal = true};
	hw_platform *pf = hw_platform_sim_create(&junk);
	REQUIRE(pf != NULL);
	unsigned char *p;
	/* Across the junk file's 2 MiB windows. */
	REQUIRE(hw_sys_reserve(pf, NULL, 1200 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 1200 * ps) == 0 && hw_sys_use(pf, p, 1200 * ps) == 0);
	EXPECT(all_bytes(p, 1200 * ps, 0xA5), "junk on first use");
	memset(p + 500 * ps, 0x11, 100 * ps);
	hw_sys_unuse(pf, p, 1200 * ps);
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	EXPECT(hw_trap_probe(p + 550 * ps, false) == HW_TRAP_ACCERR, "unused page traps");
	REQUIRE(hw_sys_use(pf, p + 400 * ps, 300 * ps) == 0);
	EXPECT(all_bytes(p + 400 * ps, 300 * ps, 0xA5), "junk again, the writes gone");
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	/* A range whose every page holds memory gets its junk written. */
	memset(p + 500 * ps, 0x22, 100 * ps);
	hw_sys_unuse(pf, p + 500 * ps, 100 * ps);
	REQUIRE(hw_sys_use(pf, p + 500 * ps, 100 * ps) == 0);
	EXPECT(all_bytes(p + 400 * ps, 300 * ps, 0xA5), "junk written over held pages");
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_sys_release(pf, p, 1200 * ps);
	void *a;
	REQUIRE(hw_sys_alloc(pf, 1200 * ps, &a) == 0 && a == p);
	EXPECT(all_bytes(p, 1200 * ps, 0), "alloc hands out zero where junk was");
	hw_sys_release(pf, p, 1200 * ps);
	/* Zero mode over former junk pages, after a reset. */
	hw_sim_config zero = junk;
	zero.released_reads_zero = true;
	REQUIRE(hw_sim_reset(pf, &zero) == 0);
	REQUIRE(hw_sys_reserve(pf, NULL, 1200 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 1200 * ps) == 0 && hw_sys_use(pf, p, 600 * ps) == 0);
	REQUIRE(hw_sys_use(pf, p + 600 * ps, 600 * ps) == 0);
	EXPECT(all_bytes(p, 1200 * ps, 0), "zero mode after junk");
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	EXPECT(hw_sim_illegal_count(pf, NULL, 0) == 0);
	hw_platform_destroy(pf);
}

/* Distinct inodes of the junk file mapped in this process (0 on failure). */
static int junk_inodes(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long inodes[16];
	int n = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long ino;
		if (strstr(line, "heapward-sim-junk") == NULL ||
		    sscanf(line, "%*s %*s %*s %*s %lu", &ino) != 1)
			continue;
		bool seen = false;
		for (int k = 0; k < n; k++)
			seen |= inodes[k] == ino;
		if (!seen && n < 16)
			inodes[n++] = ino;
	}
	fclose(f);
	return n;
}

/* Every instance maps the same junk file, made once: making one per
 * instance cost each short-lived simulator a 2 MiB file. */
static void test_junk_file_is_shared(void)
{
	const size_t ps = 4096;
	hw_platform *pf[2];
	for (int i = 0; i < 2; i++) {
		hw_sim_config junk = {.backing_bytes = 1024 * ps};
		pf[i] = hw_platform_sim_create(&junk);
		REQUIRE(pf[i] != NULL);
		unsigned char *p;
		REQUIRE(hw_sys_reserve(pf[i], NULL, 512 * ps, (void **)&p) == 0);
		REQUIRE(hw_sys_map(pf[i], p, 512 * ps) == 0 && hw_sys_use(pf[i], p, 512 * ps) == 0);
		EXPECT(all_bytes(p, 512 * ps, 0xA5), "instance %d: junk", i);
	}
#if defined(HW_TRACK_VALGRIND) && HW_TRACK_VALGRIND
	const int want = 0; /* junk is written under Valgrind tracking (sim.c) */
#else
	const int want = 1;
#endif
	EXPECT(junk_inodes() == want, "%d junk files mapped by two instances", junk_inodes());
	hw_platform_destroy(pf[0]);
	hw_platform_destroy(pf[1]);
}

/* *us: microseconds for n creates, first allocations and destroys of
 * simulators with the given backing. */
static void create_destroy_us(size_t backing, int n, double *us)
{
	hw_sim_config cfg = {.backing_bytes = backing};
	uint64_t t0 = hw_now_ns();
	for (int i = 0; i < n; i++) {
		hw_platform *pf = hw_platform_sim_create(&cfg);
		void *p;
		REQUIRE(pf != NULL);
		REQUIRE(hw_sys_alloc(pf, 4096, &p) == 0);
		hw_platform_destroy(pf);
	}
	*us = (double)(hw_now_ns() - t0) / 1e3 / n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define SAMPLES 15 /* alternated samples of each size */
#define PER 40     /* simulators per sample */
/* Under Valgrind a mapping costs Memcheck bookkeeping in proportion to its
 * size (its shadow of the 4 GiB backing): 8 to 9 times the 64 MiB case in
 * CI's Valgrind job, whatever the simulator does. */
#if defined(HW_TRACK_VALGRIND) && HW_TRACK_VALGRIND
#define RATIO_MAX 16
#else
#define RATIO_MAX 8
#endif

/* The contract (sim.h): create and destroy cost a few system calls whatever
 * the backing size. Work proportional to the backing (touching it, a call
 * per page) would make a 4 GiB simulator 64 times as dear as a 64 MiB one;
 * the check allows RATIO_MAX. Not an absolute bound on time, which a loaded
 * machine or a sanitizer breaks: the two sizes alternate, sample by sample,
 * and their medians are compared. */
static void test_create_destroy_is_cheap(void)
{
	double small[SAMPLES] = {0}, big[SAMPLES] = {0};
	for (int i = 0; i < SAMPLES; i++) {
		create_destroy_us((size_t)64 << 20, PER, &small[i]);
		create_destroy_us((size_t)4 << 30, PER, &big[i]);
	}
	qsort(small, SAMPLES, sizeof small[0], cmp_double);
	qsort(big, SAMPLES, sizeof big[0], cmp_double);
	double lo = small[SAMPLES / 2], hi = big[SAMPLES / 2];
	printf("sim create+alloc+destroy: %.1f us with 64 MiB of backing, %.1f us with 4 GiB\n", lo,
	       hi);
	EXPECT(hi < RATIO_MAX * lo + 5, "%.1f us at 4 GiB against %.1f us at 64 MiB", hi, lo);
}

/* True when the illegal-transition record grew by one and names op and
 * page i. */
static bool refused_op_at(hw_platform *pf, uint64_t *seen, const char *op, const char *page,
			  const char *why)
{
	char msg[256], head[64];
	snprintf(head, sizeof head, "illegal %s at page ", op);
	uint64_t n = hw_sim_illegal_count(pf, msg, sizeof msg);
	bool ok = n == *seen + 1 && strstr(msg, head) != NULL &&
		  strstr(msg, page) != NULL && strstr(msg, why) != NULL;
	if (!ok)
		fprintf(stderr, "  illegal %llu (was %llu): %s\n", (unsigned long long)n,
			(unsigned long long)*seen, msg);
	*seen = n;
	return ok;
}

static bool refused_at(hw_platform *pf, uint64_t *seen, const char *page, const char *why)
{
	return refused_op_at(pf, seen, "unfault", page, why);
}

static void unfault_case(size_t ps, bool rrz)
{
	hw_platform *pf = new_sim(ps, 16, rrz, true);
	REQUIRE(pf != NULL);
	uint64_t seen = 0;
	char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 4 * ps, (void **)&p) == 0);
	/* Reserved by reserve: refused, nothing changed. */
	EXPECT(hw_sys_unfault(pf, p, ps) == EINVAL);
	EXPECT(refused_at(pf, &seen, "page 0 ", "in state Reserved (not by a fault)"));
	EXPECT(hw_sim_state(pf, p) == HW_MEM_RESERVED && hw_sim_ready_bytes(pf) == 0);
	/* Ready, written, faulted, unfaulted: Ready with S5's contents. */
	REQUIRE(hw_sys_map(pf, p, 4 * ps) == 0 && hw_sys_use(pf, p, 4 * ps) == 0);
	memset(p, 0x5c, 4 * ps);
	REQUIRE(hw_sys_fault(pf, p, 2 * ps) == 0);
	EXPECT(hw_sys_unfault(pf, p + ps, ps) == 0);
	EXPECT(hw_sim_state(pf, p) == HW_MEM_RESERVED && hw_sim_state(pf, p + ps) == HW_MEM_READY);
	EXPECT(hw_sim_ready_bytes(pf) == 3 * ps, "ready %zu", hw_sim_ready_bytes(pf));
	unsigned char want = rrz ? 0 : 0xA5;
	EXPECT((unsigned char)p[ps] == want && (unsigned char)p[2 * ps - 1] == want,
	       "ps %zu rrz %d: reads %#x", ps, rrz, (unsigned char)p[ps]);
	EXPECT(hw_trap_probe(p, false) == HW_TRAP_ACCERR);
	p[ps] = 1; /* writable */
	/* Not a second time: the page is Ready now. */
	EXPECT(hw_sys_unfault(pf, p + ps, ps) == EINVAL);
	EXPECT(refused_at(pf, &seen, "page ", "in state Ready"));
	/* A range mixing a faulted page and a Ready one: refused whole (S4). */
	EXPECT(hw_sys_unfault(pf, p, 2 * ps) == EINVAL);
	EXPECT(refused_at(pf, &seen, "page ", "in state Ready"));
	EXPECT(hw_sim_state(pf, p) == HW_MEM_RESERVED);
	/* Faulted, then mapped: Prepared, refused; faulted from Prepared:
	 * accepted. */
	REQUIRE(hw_sys_map(pf, p, ps) == 0);
	EXPECT(hw_sys_unfault(pf, p, ps) == EINVAL);
	EXPECT(refused_at(pf, &seen, "page ", "in state Prepared"));
	REQUIRE(hw_sys_fault(pf, p, ps) == 0);
	/* An injected ENOMEM changes nothing; the retry succeeds. */
	hw_platform_inject(pf, 1, 1u << HW_SYS_UNFAULT);
	EXPECT(hw_sys_unfault(pf, p, ps) == ENOMEM && pf->failures[HW_SYS_UNFAULT] == 1);
	EXPECT(hw_sim_state(pf, p) == HW_MEM_RESERVED);
	EXPECT(hw_sys_unfault(pf, p, ps) == 0 && hw_sim_state(pf, p) == HW_MEM_READY);
	/* Faulted, released, reserved again at the same place: the page is
	 * a new reservation, not a faulted one. */
	REQUIRE(hw_sys_fault(pf, p + 3 * ps, ps) == 0);
	hw_sys_release(pf, p + 3 * ps, ps);
	char *q;
	REQUIRE(hw_sys_reserve(pf, p + 3 * ps, ps, (void **)&q) == 0 && q == p + 3 * ps);
	EXPECT(hw_sys_unfault(pf, q, ps) == EINVAL);
	EXPECT(refused_at(pf, &seen, "page 3 ", "Reserved (not by a fault)"));
	/* A reset forgets every fault. */
	REQUIRE(hw_sys_fault(pf, p + 2 * ps, ps) == 0);
	hw_sim_config cfg = {
		.backing_bytes = 16 * ps,
		.page_size = ps,
		.released_reads_zero = rrz,
		.record_illegal = true,
	};
	REQUIRE(hw_sim_reset(pf, &cfg) == 0);
	seen = 0;
	REQUIRE(hw_sys_reserve(pf, NULL, 4 * ps, (void **)&q) == 0 && q == p);
	EXPECT(hw_sys_unfault(pf, q + 2 * ps, ps) == EINVAL);
	EXPECT(refused_at(pf, &seen, "page 2 ", "Reserved (not by a fault)"));
	char msg[256];
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(pf);
}

static void test_unfault(void)
{
	unfault_case(4096, true);
	unfault_case(4096, false);
	unfault_case(65536, true);
	unfault_case(65536, false);
}

/* The populate hint: Ready ranges accepted, nothing changed (S2: Ready
 * counts as resident already); a range with a page that is not Ready is
 * refused (S4), the ranges before it having changed nothing either. */
static void test_populate(void)
{
	const size_t ps = 4096;
	hw_platform *pf = new_sim(ps, 16, true, true);
	REQUIRE(pf != NULL);
	uint64_t seen = 0;
	char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 4 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 4 * ps) == 0 && hw_sys_use(pf, p, 3 * ps) == 0);
	p[ps] = 7;
	hw_range ok[2] = {{p, ps}, {p + ps, 2 * ps}};
	hw_sys_populate(pf, ok, 2);
	EXPECT(hw_sim_illegal_count(pf, NULL, 0) == 0 && hw_sim_ready_bytes(pf) == 3 * ps);
	EXPECT(p[ps] == 7 && hw_sim_state(pf, p + 2 * ps) == HW_MEM_READY);
	hw_range bad[2] = {{p, ps}, {p + 2 * ps, 2 * ps}};
	hw_sys_populate(pf, bad, 2);
	EXPECT(refused_op_at(pf, &seen, "populate", "page 3 ", "in state Prepared"));
	EXPECT(hw_sim_ready_bytes(pf) == 3 * ps && hw_sim_state(pf, p + 3 * ps) == HW_MEM_PREPARED);
	char msg[256];
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(pf);
}

/* P10 on the simulator (one unfault per range): the ranges before an
 * illegal one are Ready, it and the rest unchanged, EINVAL; an injected
 * failure stops the batch the same way with ENOMEM; each range tried
 * counts one call. */
static void test_unfault_many(void)
{
	const size_t ps = 4096;
	hw_platform *pf = new_sim(ps, 16, true, true);
	REQUIRE(pf != NULL);
	uint64_t seen = 0;
	char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 6 * ps) == 0 && hw_sys_use(pf, p, 6 * ps) == 0);
	REQUIRE(hw_sys_fault(pf, p, 6 * ps) == 0);
	/* Pages 6 and 7 are Reserved by the reserve, not by a fault. */
	hw_range r[4] = {{p, ps}, {p + 2 * ps, 2 * ps}, {p + 6 * ps, ps}, {p + 4 * ps, ps}};
	size_t done = 99;
	EXPECT(hw_sys_unfault_many(pf, r, 4, &done) == EINVAL && done == 2, "done %zu", done);
	EXPECT(refused_at(pf, &seen, "page 6 ", "Reserved (not by a fault)"));
	EXPECT(hw_sim_state(pf, p) == HW_MEM_READY && hw_sim_state(pf, p + 3 * ps) == HW_MEM_READY);
	EXPECT(hw_sim_state(pf, p + ps) == HW_MEM_RESERVED &&
	       hw_sim_state(pf, p + 4 * ps) == HW_MEM_RESERVED);
	EXPECT(pf->calls[HW_SYS_UNFAULT] == 3 && pf->failures[HW_SYS_UNFAULT] == 0);
	hw_range r2[3] = {{p + ps, ps}, {p + 4 * ps, ps}, {p + 5 * ps, ps}};
	hw_platform_inject(pf, 2, 1u << HW_SYS_UNFAULT);
	EXPECT(hw_sys_unfault_many(pf, r2, 3, &done) == ENOMEM && done == 1, "done %zu", done);
	EXPECT(hw_sim_state(pf, p + ps) == HW_MEM_READY &&
	       hw_sim_state(pf, p + 4 * ps) == HW_MEM_RESERVED);
	EXPECT(pf->calls[HW_SYS_UNFAULT] == 5 && pf->failures[HW_SYS_UNFAULT] == 1);
	EXPECT(pf->fail_at == 0);
	EXPECT(hw_sys_unfault_many(pf, r2 + 1, 2, &done) == 0 && done == 2);
	EXPECT(hw_sim_ready_bytes(pf) == 6 * ps && pf->calls[HW_SYS_UNFAULT] == 7);
	char msg[256];
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(pf);
}

/* P10's fault_many on the simulator (one fault per range): the ranges
 * before an illegal one (a page Reserved already) are Reserved, it and the rest
 * unchanged, EINVAL; an injected failure stops the batch the same way
 * with ENOMEM; each range tried counts one call. */
static void test_fault_many(void)
{
	const size_t ps = 4096;
	hw_platform *pf = new_sim(ps, 16, true, true);
	REQUIRE(pf != NULL);
	uint64_t seen = 0;
	char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 6 * ps) == 0 && hw_sys_use(pf, p, 6 * ps) == 0);
	/* Pages 6 and 7 are Reserved already. */
	hw_range r[4] = {{p, ps}, {p + 2 * ps, 2 * ps}, {p + 6 * ps, ps}, {p + 4 * ps, ps}};
	size_t done = 99;
	EXPECT(hw_sys_fault_many(pf, r, 4, &done) == EINVAL && done == 2, "done %zu", done);
	EXPECT(refused_op_at(pf, &seen, "fault", "page 6 ", "in state Reserved"));
	EXPECT(hw_sim_state(pf, p) == HW_MEM_RESERVED &&
	       hw_sim_state(pf, p + 3 * ps) == HW_MEM_RESERVED);
	EXPECT(hw_sim_state(pf, p + ps) == HW_MEM_READY &&
	       hw_sim_state(pf, p + 4 * ps) == HW_MEM_READY);
	EXPECT(pf->calls[HW_SYS_FAULT] == 3 && pf->failures[HW_SYS_FAULT] == 0);
	hw_range r2[3] = {{p + ps, ps}, {p + 4 * ps, ps}, {p + 5 * ps, ps}};
	hw_platform_inject(pf, 2, 1u << HW_SYS_FAULT);
	EXPECT(hw_sys_fault_many(pf, r2, 3, &done) == ENOMEM && done == 1, "done %zu", done);
	EXPECT(hw_sim_state(pf, p + ps) == HW_MEM_RESERVED &&
	       hw_sim_state(pf, p + 4 * ps) == HW_MEM_READY);
	EXPECT(pf->calls[HW_SYS_FAULT] == 5 && pf->failures[HW_SYS_FAULT] == 1);
	EXPECT(pf->fail_at == 0);
	EXPECT(hw_sys_fault_many(pf, r2 + 1, 2, &done) == 0 && done == 2);
	EXPECT(hw_sim_ready_bytes(pf) == 0 && pf->calls[HW_SYS_FAULT] == 7);
	char msg[256];
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(pf);
}

/* P13, S10 on the simulator: sealed pages stay Ready (state, Ready bytes),
 * trap, keep their contents through unseal, and pass the check (their
 * real pages inaccessible); a seal may span a faulted page, not a page
 * Reserved by a reserve, a Prepared page or a sealed one; unseal only
 * sealed or faulted pages; unuse, fault and populate refuse sealed pages,
 * release takes them; an injected failure changes nothing. */
static void seal_case(size_t ps)
{
	hw_platform *pf = new_sim(ps, 16, true, true);
	REQUIRE(pf != NULL);
	EXPECT(pf->caps.seal_spans_faults);
	uint64_t seen = 0;
	char *p, msg[256];
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 6 * ps) == 0 && hw_sys_use(pf, p, 5 * ps) == 0);
	memset(p, 0x3c, 5 * ps);
	REQUIRE(hw_sys_fault(pf, p + 2 * ps, ps) == 0);
	EXPECT(hw_sys_seal(pf, p, 4 * ps) == 0);
	EXPECT(hw_sim_state(pf, p) == HW_MEM_READY && hw_sim_ready_bytes(pf) == 4 * ps);
	EXPECT(hw_trap_probe(p + ps, false) != HW_TRAP_NONE &&
	       hw_trap_probe(p + 3 * ps, true) != HW_TRAP_NONE);
	EXPECT(hw_trap_probe(p + 4 * ps, true) == HW_TRAP_NONE);
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	/* Refused: sealed again; unsealed when not sealed; Prepared page 5;
	 * page 6 Reserved by the reserve. */
	EXPECT(hw_sys_seal(pf, p + 3 * ps, 2 * ps) == EINVAL);
	EXPECT(refused_op_at(pf, &seen, "seal", "page 3 ", "in state Ready (sealed)"));
	EXPECT(hw_sys_unseal(pf, p + 3 * ps, 2 * ps) == EINVAL);
	EXPECT(refused_op_at(pf, &seen, "unseal", "page 4 ", "in state Ready (not sealed)"));
	EXPECT(hw_sys_seal(pf, p + 4 * ps, 2 * ps) == EINVAL);
	EXPECT(refused_op_at(pf, &seen, "seal", "page 5 ", "in state Prepared"));
	EXPECT(hw_sys_seal(pf, p + 6 * ps, ps) == EINVAL);
	EXPECT(refused_op_at(pf, &seen, "seal", "page 6 ", "Reserved (not by a fault)"));
	hw_sys_unuse(pf, p + 3 * ps, ps);
	EXPECT(refused_op_at(pf, &seen, "unuse", "page 3 ", "in state Ready (sealed)"));
	EXPECT(hw_sys_fault(pf, p, ps) == EINVAL);
	EXPECT(refused_op_at(pf, &seen, "fault", "page 0 ", "in state Ready (sealed)"));
	hw_range r = {p + ps, ps};
	hw_sys_populate(pf, &r, 1);
	EXPECT(refused_op_at(pf, &seen, "populate", "page 1 ", "in state Ready (sealed)"));
	EXPECT(hw_trap_probe(p + 3 * ps, false) != HW_TRAP_NONE &&
	       hw_sim_ready_bytes(pf) == 4 * ps);
	/* Injected: still sealed. */
	hw_platform_inject(pf, 1, 1u << HW_SYS_UNSEAL);
	EXPECT(hw_sys_unseal(pf, p, 4 * ps) == ENOMEM && hw_trap_probe(p, false) != HW_TRAP_NONE);
	EXPECT(hw_sys_unseal(pf, p, 4 * ps) == 0);
	for (int i = 0; i < 4; i++) {
		if (i == 2) {
			EXPECT(hw_sim_state(pf, p + 2 * ps) == HW_MEM_RESERVED &&
			       hw_trap_probe(p + 2 * ps, true) != HW_TRAP_NONE);
			continue;
		}
		EXPECT(hw_trap_probe(p + i * ps, true) == HW_TRAP_NONE, "page %d", i);
		EXPECT(p[i * ps + 1] == 0x3c && p[i * ps + ps - 1] == 0x3c, "page %d", i);
	}
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	/* Release takes sealed pages. */
	REQUIRE(hw_sys_seal(pf, p + 3 * ps, 2 * ps) == 0);
	hw_sys_release(pf, p, 8 * ps);
	EXPECT(hw_sim_ready_bytes(pf) == 0 && hw_sim_illegal_count(pf, NULL, 0) == seen);
	EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(pf);
}

static void test_seal(void)
{
	seal_case(4096);
	seal_case(65536);
}

HW_TEST_MAIN(T(test_unfault), T(test_populate), T(test_unfault_many), T(test_fault_many),
	     T(test_seal), T(test_transitions_4k), T(test_transitions_64k),
	     T(test_reserve_and_alloc), T(test_out_of_backing_refused),
	     T(test_default_policy_aborts), T(test_injection), T(test_placement),
	     T(test_ignore_hints_discontiguous), T(test_partial_release), T(test_probe),
	     T(test_released_contents), T(test_non_ready_pages_trap),
	     T(test_check_catches_protection), T(test_check_since_walks_changes),
	     T(test_create_destroy_is_cheap), T(test_bad_config),
	     T(test_placement_matches_reference), T(test_mixed_fault_and_release),
	     T(test_find_other), T(test_scans_find_every_position), T(test_reset_is_fresh),
	     T(test_reset_refuses_what_does_not_fit), T(test_stale_memory), T(test_junk_mapping),
	     T(test_junk_file_is_shared))

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
 * the simulator's back, and the cost of create/destroy.
 */
#include "platform.h"
#include "ptest.h"
#include "sim.h"
#include "thread.h"

#include <errno.h>
#include <stdint.h>

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
				char want[128];
				snprintf(want, sizeof want,
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
			snprintf(want, sizeof want,
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

static void test_create_destroy_is_cheap(void)
{
	const int n = 2000;
	uint64_t t0 = hw_now_ns();
	for (int i = 0; i < n; i++) {
		hw_platform *pf = hw_platform_sim_create(NULL); /* 1 GiB backing */
		void *p;
		REQUIRE(pf != NULL);
		REQUIRE(hw_sys_alloc(pf, 4096, &p) == 0);
		hw_platform_destroy(pf);
	}
	double us = (double)(hw_now_ns() - t0) / 1e3 / n;
	printf("sim create+alloc+destroy (1 GiB backing): %.1f us each\n", us);
	/* Tens of microseconds natively; the bound catches work proportional
	 * to the backing (touching it, a syscall per page) even under
	 * Valgrind. */
	EXPECT(us < 2000, "%.1f us per simulator", us);
}

HW_TEST_MAIN(T(test_transitions_4k), T(test_transitions_64k), T(test_reserve_and_alloc),
	     T(test_out_of_backing_refused), T(test_default_policy_aborts), T(test_injection),
	     T(test_placement), T(test_ignore_hints_discontiguous), T(test_partial_release),
	     T(test_released_contents), T(test_non_ready_pages_trap),
	     T(test_check_catches_protection), T(test_create_destroy_is_cheap), T(test_bad_config))

/* test_linux.c: the Linux backend (platform/linux.c) on real memory.
 *
 * For both guard mechanisms (MADV_GUARD_INSTALL when the kernel has it, and
 * the forced PROT_NONE fallback): Reserved pages trap, faulted pages trap
 * with the mechanism's si_code, map makes them usable and zero again,
 * unused pages read back zero (MADV_DONTNEED, P4), unfault (P9) makes
 * faulted pages usable and zero in one call (unfault_many: many ranges,
 * P10; fault_many faults many ranges the same way), populate backs
 * exactly the pages of its ranges and keeps their contents. Residency
 * from mincore agrees with the simulator's Ready count for one scripted
 * sequence run on both. Also the caps, ENOMEM from a reservation the address space cannot
 * hold (P3), and the OS views (VMA count, mappings, max_map_count). And
 * thread.h's processor number (T8) for a thread pinned to each processor,
 * and its process barrier (T9: membarrier, since Linux 4.14) available.
 * And a child whose main thread ended with pthread_exit: its last thread
 * knows it is the last (T11), and the maps, the executable's path and a
 * stop of the other threads still work there (file.h FI3). And a new
 * window's probe (L6): low, random, free. And thread.h T13: a lock taken
 * again by its holder, from a signal handler, aborts with its message
 * instead of hanging. And the mask a
 * thread of ours starts with (T12). And the one reader of /proc's numbers
 * (file.h FI4): bases, ends, empty input, the largest value and the first
 * that does not fit. And that the platform's calls an allocation reaches
 * are no cancellation points (nocancel.h NC1). And hw_world_read (stop.h
 * SW7): it copies up to the first page it cannot read, guard region or
 * unmapped, and never faults.
 */
#include "child.h"
#include "console.h"
#include "file.h"
#include "mappings.h"
#include "module.h"
#include "platform.h"
#include "ptest.h"
#include "sanitizers.h"
#include "sim.h"
#include "stop.h"
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_caps(void)
{
	hw_platform *os = hw_platform_os_instance();
	const hw_platform_caps *c = &os->caps;
	EXPECT(c->page_size >= 4096 && (c->page_size & (c->page_size - 1)) == 0);
	EXPECT(c->granularity == c->page_size && c->partial_release && !c->use_needs_call);
	EXPECT(c->released_reads_zero, "MADV_DONTNEED is the default");
	EXPECT(c->huge_page_size == 0 || (c->huge_page_size > c->page_size &&
					  (c->huge_page_size & (c->huge_page_size - 1)) == 0));
	EXPECT(c->guard == HW_GUARD_MADVISE || c->guard == HW_GUARD_PROTNONE);
	printf("linux caps: page %zu, huge %zu, guard %s\n", c->page_size, c->huge_page_size,
	       c->guard == HW_GUARD_MADVISE ? "MADV_GUARD_INSTALL" : "PROT_NONE");

	hw_platform *pn = hw_platform_linux_create(true, false);
	hw_platform *mf = hw_platform_linux_create(false, true);
	REQUIRE(pn != NULL && mf != NULL);
	EXPECT(pn->caps.guard == HW_GUARD_PROTNONE);
	EXPECT(mf->caps.guard == os->caps.guard && !mf->caps.released_reads_zero);
	hw_platform_destroy(pn);
	hw_platform_destroy(mf);
}

static void guard_cycle(bool force_protnone)
{
	hw_platform *pf = hw_platform_linux_create(force_protnone, false);
	REQUIRE(pf != NULL);
	const size_t ps = pf->caps.page_size;
	hw_trap_kind fault_trap =
		pf->caps.guard == HW_GUARD_MADVISE ? HW_TRAP_MAPERR : HW_TRAP_ACCERR;
	const char *mech = pf->caps.guard == HW_GUARD_MADVISE ? "madvise" : "protnone";
	if (!force_protnone && pf->caps.guard != HW_GUARD_MADVISE)
		printf("note: this kernel has no MADV_GUARD_INSTALL; testing the fallback twice\n");

	unsigned char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * ps, (void **)&p) == 0);
	for (int i = 0; i < 8; i++)
		EXPECT(hw_trap_probe(p + i * ps, false) == HW_TRAP_ACCERR, "%s: Reserved page %d",
		       mech, i);
	REQUIRE(hw_sys_map(pf, p, 8 * ps) == 0);
	REQUIRE(hw_sys_use(pf, p, 8 * ps) == 0);
	EXPECT(all_zero(p, 8 * ps), "%s: fresh pages are zero", mech);
	memset(p, 0x77, 8 * ps);

	/* fault 2..3 (Ready), and 5 after making it Prepared. */
	hw_sys_unuse(pf, p + 5 * ps, ps);
	REQUIRE(hw_sys_fault(pf, p + 2 * ps, 2 * ps) == 0);
	REQUIRE(hw_sys_fault(pf, p + 5 * ps, ps) == 0);
	for (int i = 0; i < 8; i++) {
		bool faulted = i == 2 || i == 3 || i == 5;
		hw_trap_kind want = faulted ? fault_trap : HW_TRAP_NONE;
		hw_trap_kind got = hw_trap_probe(p + i * ps + ps / 2, true);
		EXPECT(got == want, "%s: page %d: %s, want %s", mech, i, hw_trap_kind_name(got),
		       hw_trap_kind_name(want));
		if (!faulted)
			EXPECT(p[i * ps] == 0x77, "%s: page %d lost its contents", mech, i);
	}

	/* Reserved -> Prepared -> Ready again: usable, and zero. */
	REQUIRE(hw_sys_map(pf, p + 2 * ps, 2 * ps) == 0);
	REQUIRE(hw_sys_map(pf, p + 5 * ps, ps) == 0);
	REQUIRE(hw_sys_use(pf, p + 2 * ps, 2 * ps) == 0);
	REQUIRE(hw_sys_use(pf, p + 5 * ps, ps) == 0);
	static const int refaulted[] = {2, 3, 5};
	for (int k = 0; k < 3; k++) {
		int i = refaulted[k];
		EXPECT(hw_trap_probe(p + i * ps, true) == HW_TRAP_NONE, "%s: page %d after map",
		       mech, i);
		EXPECT(all_zero(p + i * ps, ps), "%s: page %d not zero after fault and map", mech,
		       i);
	}

	/* Ready -> Prepared -> Ready: zero (P4 with MADV_DONTNEED). */
	memset(p, 0x55, ps);
	hw_sys_unuse(pf, p, ps);
	EXPECT(all_zero(p, ps), "%s: unused page reads zero", mech);

	hw_sys_release(pf, p, 8 * ps);
	EXPECT(hw_trap_probe(p, false) == HW_TRAP_MAPERR, "%s: released pages are unmapped", mech);
	hw_platform_destroy(pf);
}

static void test_guard_madvise(void)
{
	guard_cycle(false);
}

static void test_guard_protnone(void)
{
	guard_cycle(true);
}

/* P9: unfault undoes a fault in one call: the pages are usable and zero,
 * their neighbours untouched, and the range is one read/write mapping again
 * (with PROT_NONE the split VMAs merge back). */
static void unfault_cycle(bool force_protnone)
{
	hw_platform *pf = hw_platform_linux_create(force_protnone, false);
	REQUIRE(pf != NULL);
	const size_t ps = pf->caps.page_size;
	const char *mech = pf->caps.guard == HW_GUARD_MADVISE ? "madvise" : "protnone";
	hw_trap_kind fault_trap =
		pf->caps.guard == HW_GUARD_MADVISE ? HW_TRAP_MAPERR : HW_TRAP_ACCERR;
	unsigned char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 6 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 6 * ps) == 0 && hw_sys_use(pf, p, 6 * ps) == 0);
	memset(p, 0x77, 6 * ps);
	REQUIRE(hw_sys_fault(pf, p + ps, 2 * ps) == 0);
	REQUIRE(hw_sys_fault(pf, p + 4 * ps, ps) == 0);
	EXPECT(hw_trap_probe(p + ps, true) == fault_trap, "%s", mech);
	EXPECT(hw_sys_unfault(pf, p + ps, 2 * ps) == 0);
	EXPECT(hw_sys_unfault(pf, p + 4 * ps, ps) == 0);
	EXPECT(pf->calls[HW_SYS_UNFAULT] == 2 && pf->calls[HW_SYS_MAP] == 1, "%s", mech);
	for (int i = 0; i < 6; i++) {
		EXPECT(hw_trap_probe(p + i * ps + ps / 2, true) == HW_TRAP_NONE, "%s: page %d",
		       mech, i);
		bool faulted = i == 1 || i == 2 || i == 4;
		if (faulted)
			EXPECT(all_zero(p + i * ps, ps), "%s: page %d not zero after unfault", mech,
			       i);
		else
			EXPECT(p[i * ps] == 0x77 && p[i * ps + ps - 1] == 0x77,
			       "%s: page %d lost its contents", mech, i);
	}
	int c[2] = {0, 0};
	EXPECT(hw_platform_mappings(p, 6 * ps, hw_test_count_mappings, c) == 0);
	EXPECT(c[0] == 1 && c[1] == 1, "%s: %d mappings, %d writable", mech, c[0], c[1]);
	/* An injected ENOMEM changes nothing: the page still traps. */
	REQUIRE(hw_sys_fault(pf, p, ps) == 0);
	hw_platform_inject(pf, 1, 1u << HW_SYS_UNFAULT);
	EXPECT(hw_sys_unfault(pf, p, ps) == ENOMEM && pf->failures[HW_SYS_UNFAULT] == 1);
	EXPECT(hw_trap_probe(p, false) == fault_trap, "%s", mech);
	hw_sys_release(pf, p, 6 * ps);
	hw_platform_destroy(pf);
}

/* L8: pages made Ready apart (each between two Reserved pages, as a guarded
 * run between guards) and touched, then made to trap again, merge back
 * into one mapping with the rest of their reservation: with trap_by_fault
 * by fault (PROT_NONE guards), else by seal. Without the reservation's
 * own anon_vma each touched page got one of its own, and stayed a
 * mapping apart. */
static void mappings_after_traps(bool force_protnone, bool trap_by_fault, int *out)
{
	*out = -1;
	hw_platform *pf = hw_platform_linux_create(force_protnone, false);
	REQUIRE(pf != NULL);
	const size_t ps = pf->caps.page_size;
	unsigned char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * ps, (void **)&p) == 0);
	for (int i = 0; i < 6; i += 2) {
		REQUIRE(hw_sys_map(pf, p + i * ps, ps) == 0 && hw_sys_use(pf, p + i * ps, ps) == 0);
		p[i * ps] = 1;
	}
	for (int i = 0; i < 6; i += 2)
		REQUIRE((trap_by_fault ? hw_sys_fault(pf, p + i * ps, ps)
				       : hw_sys_seal(pf, p + i * ps, ps)) == 0);
	int c[2] = {0, 0};
	EXPECT(hw_platform_mappings(p, 8 * ps, hw_test_count_mappings, c) == 0);
	hw_sys_release(pf, p, 8 * ps);
	hw_platform_destroy(pf);
	*out = c[0];
}

static void test_reserve_one_anon_vma(void)
{
	int faulted, sealed_protnone, sealed;
	mappings_after_traps(true, true, &faulted);
	mappings_after_traps(true, false, &sealed_protnone);
	mappings_after_traps(false, false, &sealed);
	EXPECT(faulted == 1 && sealed_protnone == 1 && sealed == 1,
	       "mappings over the reservation: %d faulted (PROT_NONE), %d sealed (PROT_NONE), %d "
	       "sealed",
	       faulted, sealed_protnone, sealed);
}

static void test_unfault(void)
{
	unfault_cycle(false);
	unfault_cycle(true);
}

/* P13, L7: sealed pages trap with SEGV_ACCERR, keep their memory and
 * their contents, and are usable again after unseal. With guard regions a
 * seal may span a faulted page, which stays a guard through both calls,
 * and neighbouring sealed stretches are one mapping; under PROT_NONE guards
 * the caps say a range may not span them. An injected ENOMEM changes
 * nothing. */
static void seal_cycle(bool force_protnone)
{
	hw_platform *pf = hw_platform_linux_create(force_protnone, false);
	REQUIRE(pf != NULL);
	const size_t ps = pf->caps.page_size;
	const bool spans = pf->caps.seal_spans_faults;
	const char *mech = spans ? "madvise" : "protnone";
	EXPECT(spans == (pf->caps.guard == HW_GUARD_MADVISE), "%s", mech);
	hw_trap_kind guard_trap = spans ? HW_TRAP_MAPERR : HW_TRAP_ACCERR;
	unsigned char *p;
	REQUIRE(hw_sys_alloc(pf, 6 * ps, (void **)&p) == 0);
	memset(p, 0x5a, 6 * ps);
	REQUIRE(hw_sys_fault(pf, p + 2 * ps, ps) == 0);
	/* Pages 0-1, then 2-3 (or 3 alone), sealed in two calls. */
	EXPECT(hw_sys_seal(pf, p, 2 * ps) == 0, "%s", mech);
	EXPECT(hw_sys_seal(pf, spans ? p + 2 * ps : p + 3 * ps, spans ? 2 * ps : ps) == 0, "%s",
	       mech);
	/* The guard page too: the mapping's protection is checked first. */
	for (int i = 0; i < 4; i++)
		EXPECT(hw_trap_probe(p + i * ps, i != 1) == HW_TRAP_ACCERR, "%s: page %d", mech, i);
	EXPECT(hw_trap_probe(p + 4 * ps, true) == HW_TRAP_NONE, "%s", mech);
	EXPECT(hw_platform_resident_bytes(p, 2 * ps) == 2 * ps, "%s: sealed pages keep memory",
	       mech);
	int c[2] = {0, 0};
	EXPECT(hw_platform_mappings(p, 6 * ps, hw_test_count_mappings, c) == 0);
	EXPECT(c[0] == 2 && c[1] == 1, "%s: %d mappings, %d writable", mech, c[0], c[1]);
	/* An injected failure leaves the pages sealed. */
	hw_platform_inject(pf, 1, 1u << HW_SYS_UNSEAL);
	EXPECT(hw_sys_unseal(pf, p, 2 * ps) == ENOMEM && pf->failures[HW_SYS_UNSEAL] == 1);
	EXPECT(hw_trap_probe(p, false) == HW_TRAP_ACCERR, "%s", mech);
	EXPECT(hw_sys_unseal(pf, p, spans ? 4 * ps : 2 * ps) == 0, "%s", mech);
	if (!spans)
		EXPECT(hw_sys_unseal(pf, p + 3 * ps, ps) == 0, "%s", mech);
	for (int i = 0; i < 6; i++) {
		if (i == 2) {
			EXPECT(hw_trap_probe(p + i * ps, true) == guard_trap,
			       "%s: the guard page opened", mech);
			continue;
		}
		EXPECT(hw_trap_probe(p + i * ps + 7, true) == HW_TRAP_NONE, "%s: page %d", mech,
		       i);
		EXPECT(p[i * ps] == 0x5a && p[i * ps + ps - 1] == 0x5a,
		       "%s: page %d lost its contents", mech, i);
	}
	hw_platform_inject(pf, 1, 1u << HW_SYS_SEAL);
	EXPECT(hw_sys_seal(pf, p, ps) == ENOMEM && hw_trap_probe(p, true) == HW_TRAP_NONE);
	EXPECT(pf->calls[HW_SYS_SEAL] == 3 && pf->calls[HW_SYS_UNSEAL] == (spans ? 2u : 3u),
	       "%s", mech);
	hw_sys_release(pf, p, 6 * ps);
	hw_platform_destroy(pf);
}

static void test_seal(void)
{
	seal_cycle(false);
	seal_cycle(true);
}

/* The populate hint: every page of its ranges resident, the pages between
 * them not, contents kept; one range (madvise) and more ranges than one
 * process_madvise call takes (L5). It counts no call. */
static void test_populate(void)
{
	hw_platform *pf = hw_platform_linux_create(false, false);
	REQUIRE(pf != NULL);
	const size_t ps = pf->caps.page_size, n = 2 * 70 + 4;
	unsigned char *p;
	REQUIRE(hw_sys_alloc(pf, n * ps, (void **)&p) == 0);
	EXPECT(hw_platform_resident_bytes(p, n * ps) == 0);
	p[2 * ps + 5] = 0x42;
	hw_range one = {p, ps};
	hw_sys_populate(pf, &one, 1);
	EXPECT(hw_platform_resident_bytes(p, ps) == ps);
	EXPECT(hw_platform_resident_bytes(p + ps, ps) == 0);
	/* 70 ranges, every other page from page 2: more than HW_IOV_BATCH. */
	hw_range r[70];
	for (size_t i = 0; i < 70; i++)
		r[i] = (hw_range){p + (2 + 2 * i) * ps, ps};
	hw_sys_populate(pf, r, 70);
	for (size_t i = 1; i < n; i++) {
		bool want = i >= 2 && i < 2 + 2 * 70 && i % 2 == 0;
		EXPECT(hw_platform_resident_bytes(p + i * ps, ps) == (want ? ps : 0), "page %zu",
		       i);
	}
	EXPECT(p[2 * ps + 5] == 0x42 && p[4 * ps] == 0, "contents changed");
	uint64_t calls = 0;
	for (int k = 0; k < HW_SYS_NKINDS; k++)
		calls += pf->calls[k];
	EXPECT(calls == 1, "%llu calls counted (the alloc only)", (unsigned long long)calls);
	hw_sys_release(pf, p, n * ps);
	hw_platform_destroy(pf);
}

/* P10: 70 faulted pages in 70 ranges (more than one process_madvise
 * takes), usable and zero again, the pages between them untouched, one
 * unfault counted per range; under PROT_NONE one mprotect each. An
 * injected failure at the second range leaves it and the rest faulted. */
static void unfault_many_cycle(bool force_protnone)
{
	hw_platform *pf = hw_platform_linux_create(force_protnone, false);
	REQUIRE(pf != NULL);
	const size_t ps = pf->caps.page_size, n = 2 * 70;
	unsigned char *p;
	REQUIRE(hw_sys_alloc(pf, n * ps, (void **)&p) == 0);
	memset(p, 0x33, n * ps);
	hw_range r[70];
	for (size_t i = 0; i < 70; i++) {
		r[i] = (hw_range){p + 2 * i * ps, ps};
		REQUIRE(hw_sys_fault(pf, r[i].p, ps) == 0);
	}
	size_t done = 0;
	hw_platform_inject(pf, 2, 1u << HW_SYS_UNFAULT);
	EXPECT(hw_sys_unfault_many(pf, r, 70, &done) == ENOMEM && done == 1, "done %zu", done);
	EXPECT(hw_trap_probe(p, true) == HW_TRAP_NONE);
	EXPECT(hw_trap_probe(p + 2 * ps, false) != HW_TRAP_NONE);
	EXPECT(hw_sys_unfault_many(pf, r + 1, 69, &done) == 0 && done == 69);
	EXPECT(pf->calls[HW_SYS_UNFAULT] == 71 && pf->failures[HW_SYS_UNFAULT] == 1);
	for (size_t i = 0; i < n; i++) {
		EXPECT(hw_trap_probe(p + i * ps + 1, true) == HW_TRAP_NONE, "page %zu", i);
		unsigned char want = i % 2 == 0 ? 0 : 0x33;
		EXPECT(p[i * ps] == want && p[i * ps + ps - 1] == want, "page %zu", i);
	}
	hw_sys_release(pf, p, n * ps);
	hw_platform_destroy(pf);
}

/* P10 for fault: 70 Ready pages in 70 ranges (more than one
 * process_madvise takes) trap, the pages between them keep their
 * contents, one fault counted per range; under PROT_NONE one mprotect
 * each. An injected failure at the second range leaves it and the rest
 * usable, contents kept. */
static void fault_many_cycle(bool force_protnone)
{
	hw_platform *pf = hw_platform_linux_create(force_protnone, false);
	REQUIRE(pf != NULL);
	const size_t ps = pf->caps.page_size, n = 2 * 70;
	unsigned char *p;
	REQUIRE(hw_sys_alloc(pf, n * ps, (void **)&p) == 0);
	memset(p, 0x44, n * ps);
	hw_range r[70];
	for (size_t i = 0; i < 70; i++)
		r[i] = (hw_range){p + 2 * i * ps, ps};
	size_t done = 0;
	hw_platform_inject(pf, 2, 1u << HW_SYS_FAULT);
	EXPECT(hw_sys_fault_many(pf, r, 70, &done) == ENOMEM && done == 1, "done %zu", done);
	EXPECT(hw_trap_probe(p, false) != HW_TRAP_NONE);
	EXPECT(hw_trap_probe(p + 2 * ps, true) == HW_TRAP_NONE && p[2 * ps] == 0x44);
	EXPECT(hw_sys_fault_many(pf, r + 1, 69, &done) == 0 && done == 69);
	EXPECT(pf->calls[HW_SYS_FAULT] == 71 && pf->failures[HW_SYS_FAULT] == 1);
	for (size_t i = 0; i < n; i++) {
		bool faulted = i % 2 == 0;
		EXPECT((hw_trap_probe(p + i * ps + 1, false) != HW_TRAP_NONE) == faulted,
		       "page %zu", i);
		EXPECT(faulted || (p[i * ps] == 0x44 && p[i * ps + ps - 1] == 0x44), "page %zu", i);
	}
	/* Faulted by the batch, usable again by the batch. */
	EXPECT(hw_sys_unfault_many(pf, r, 70, &done) == 0 && done == 70);
	for (size_t i = 0; i < n; i += 2)
		EXPECT(hw_trap_probe(p + i * ps, true) == HW_TRAP_NONE && p[i * ps] == 0,
		       "page %zu", i);
	hw_sys_release(pf, p, n * ps);
	hw_platform_destroy(pf);
}

static void test_unfault_many(void)
{
	unfault_many_cycle(false);
	unfault_many_cycle(true);
	fault_many_cycle(false);
	fault_many_cycle(true);
}

static void test_madv_free_unuse(void)
{
	hw_platform *pf = hw_platform_linux_create(false, true);
	REQUIRE(pf != NULL);
	const size_t ps = pf->caps.page_size;
	unsigned char *p;
	REQUIRE(hw_sys_alloc(pf, 4 * ps, (void **)&p) == 0);
	memset(p, 0x42, 4 * ps);
	hw_sys_unuse(pf, p, 4 * ps);
	/* MADV_FREE keeps the pages usable; they hold old bytes or zero. */
	bool old_or_zero = true;
	for (size_t i = 0; i < 4 * ps; i++)
		old_or_zero &= p[i] == 0x42 || p[i] == 0;
	EXPECT(old_or_zero && hw_trap_probe(p, true) == HW_TRAP_NONE);
	EXPECT(pf->calls[HW_SYS_UNUSE] == 1);
	hw_sys_release(pf, p, 4 * ps);
	hw_platform_destroy(pf);
}

/* One step of the scripted sequence, run on the Linux backend and on the
 * simulator; pages are counted from the start of a 48-page reservation. */
typedef struct step {
	hw_sys_kind op;
	unsigned first, count;
} step;

static const step script[] = {
	{HW_SYS_MAP, 0, 48},
	{HW_SYS_USE, 0, 32},
	{HW_SYS_UNUSE, 8, 8},
	{HW_SYS_FAULT, 16, 4},
	{HW_SYS_FAULT, 36, 4},
	{HW_SYS_MAP, 16, 4},
	{HW_SYS_USE, 16, 2},
	{HW_SYS_USE, 40, 8},
	{HW_SYS_UNUSE, 0, 2},
	{HW_SYS_RELEASE, 44, 4},
	{HW_SYS_USE, 8, 4},
	{HW_SYS_FAULT, 24, 8},
};

static int apply(hw_platform *pf, unsigned char *base, const step *s, bool touch)
{
	size_t ps = pf->caps.page_size;
	unsigned char *p = base + s->first * ps;
	size_t n = s->count * ps;
	int rc = 0;
	switch (s->op) {
	case HW_SYS_MAP:
		rc = hw_sys_map(pf, p, n);
		break;
	case HW_SYS_USE:
		rc = hw_sys_use(pf, p, n);
		/* What a heap does with Ready memory: write it. */
		for (size_t off = 0; rc == 0 && touch && off < n; off += ps)
			p[off] = 1;
		break;
	case HW_SYS_UNUSE:
		hw_sys_unuse(pf, p, n);
		break;
	case HW_SYS_FAULT:
		rc = hw_sys_fault(pf, p, n);
		break;
	case HW_SYS_RELEASE:
		hw_sys_release(pf, p, n);
		break;
	default:
		rc = -1;
	}
	return rc;
}

static void residency_matches_sim(bool force_protnone)
{
	/* 48 pages stay below a huge page, so THP cannot inflate residency. */
	hw_platform *lx = hw_platform_linux_create(force_protnone, false);
	REQUIRE(lx != NULL);
	const size_t ps = lx->caps.page_size;
	hw_sim_config cfg = {
		.backing_bytes = 64 * ps, .page_size = ps, .released_reads_zero = true};
	hw_platform *sim = hw_platform_sim_create(&cfg);
	REQUIRE(sim != NULL);
	unsigned char *lp, *sp;
	REQUIRE(hw_sys_reserve(lx, NULL, 48 * ps, (void **)&lp) == 0);
	REQUIRE(hw_sys_reserve(sim, NULL, 48 * ps, (void **)&sp) == 0);
	size_t measured = 48;
	for (size_t i = 0; i < sizeof script / sizeof script[0]; i++) {
		REQUIRE(apply(lx, lp, &script[i], true) == 0, "linux step %zu", i);
		REQUIRE(apply(sim, sp, &script[i], true) == 0, "sim step %zu", i);
		/* Released pages 44..47 are unmapped: measure 0..43 from then on. */
		if (script[i].op == HW_SYS_RELEASE)
			measured = script[i].first;
		size_t res = hw_platform_resident_bytes(lp, measured * ps);
		EXPECT(res == hw_sim_ready_bytes(sim),
		       "%s step %zu (%s %u+%u): resident %zu, sim Ready %zu",
		       force_protnone ? "protnone" : "default", i, hw_sys_kind_name(script[i].op),
		       script[i].first, script[i].count, res, hw_sim_ready_bytes(sim));
	}
	EXPECT(hw_sim_ready_bytes(sim) == 20 * ps, "the script ends with 20 Ready pages, not %zu",
	       hw_sim_ready_bytes(sim) / ps);
	char msg[256];
	EXPECT(hw_sim_check(sim, msg, sizeof msg) == 0, "%s", msg);
	EXPECT(hw_platform_resident_bytes(lp + 44 * ps, 4 * ps) == SIZE_MAX,
	       "residency of an unmapped range is SIZE_MAX");
	hw_sys_release(lx, lp, 44 * ps);
	hw_platform_destroy(sim);
	hw_platform_destroy(lx);
}

static void test_residency_matches_sim(void)
{
	residency_matches_sim(false);
	residency_matches_sim(true);
}

static void test_reserve_enomem(void)
{
	hw_platform *pf = hw_platform_linux_create(false, false);
	REQUIRE(pf != NULL);
	void *p = (void *)1;
	/* More than any x86-64 or arm64 user address space. */
	EXPECT(hw_sys_reserve(pf, NULL, (size_t)1 << 58, &p) == ENOMEM && p == NULL);
	EXPECT(hw_sys_alloc(pf, (size_t)1 << 58, &p) == ENOMEM && p == NULL);
	EXPECT(pf->failures[HW_SYS_RESERVE] == 1 && pf->failures[HW_SYS_ALLOC] == 1);
	hw_platform_destroy(pf);
}

/* T13: a signal handler that locks what the thread it interrupted holds
 * (as one that calls malloc while malloc holds a lock) ends the process
 * with the message, instead of waiting for ever. */
static hw_mutex relocked = HW_MUTEX_INIT;

static void relock_handler(int sig)
{
	(void)sig;
	hw_mutex_lock(&relocked);
}

static void relock_in_handler(void *arg)
{
	(void)arg;
	signal(SIGUSR1, relock_handler);
	hw_mutex_lock(&relocked);
	raise(SIGUSR1);
	fputs("came back from the handler\n", stderr);
}

static void test_mutex_relocked_in_signal_handler(void)
{
	char err[1024];
	hw_child_status st;
	REQUIRE(hw_trap_child(relock_in_handler, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == SIGABRT, "signo %d exit %d", st.signo, st.exit_code);
	EXPECT(strstr(err, "heapward: a lock of the allocator is taken again by the thread that "
			   "holds it: a signal handler that interrupted the allocator called it") !=
		       NULL,
	       "stderr: %s", err);
}

/* L6: a new window's probe answers a random aligned range in [size / 32,
 * size / 2), size being the power of two above where a mapping made
 * without a hint lands, and the range is free. Under a sanitizer, whose
 * shadow and protected ranges take much of that space (and where the
 * ranges tried are fixed), or Valgrind, which places mappings itself, the
 * answer may be another placement: only that it is aligned and free is
 * checked there. 64 GiB, a window all but Valgrind can hold (1 GiB
 * there). */
#if defined(HW_TRACK_VALGRIND) && HW_TRACK_VALGRIND
#define KERNEL_PLACES 0
#define PROBE_BYTES ((size_t)1 << 30) /* Valgrind maps no 64 GiB at once */
#else
#define KERNEL_PLACES (!HW_TEST_ASAN && !HW_TEST_TSAN)
#define PROBE_BYTES ((size_t)64 << 30)
#endif

static void test_probe_low(void)
{
	hw_platform *pf = hw_platform_linux_create(false, false);
	REQUIRE(pf != NULL);
	const size_t n = PROBE_BYTES, align = (size_t)64 << 20;
	void *top = mmap(NULL, pf->caps.page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(top != MAP_FAILED);
	munmap(top, pf->caps.page_size);
	uintptr_t space = (uintptr_t)1 << (64 - __builtin_clzll((uintptr_t)top));
	uintptr_t lo = space / 32, hi = space / 2;
	uintptr_t seen[8];
	int distinct = 0;
	for (int i = 0; i < 8; i++) {
		uintptr_t w = 0;
		REQUIRE(hw_sys_probe(pf, n, align, 0, &w) == 0);
		EXPECT(w % align == 0, "%#lx", (unsigned long)w);
		if (KERNEL_PLACES)
			EXPECT(w >= lo && w + n <= hi, "%#lx not in [%#lx, %#lx)", (unsigned long)w,
			       (unsigned long)lo, (unsigned long)hi);
		void *got = NULL;
		EXPECT(hw_sys_reserve(pf, (void *)w, n, &got) == 0 && got == (void *)w);
		if (got)
			hw_sys_release(pf, got, n);
		seen[i] = w;
		bool fresh = true;
		for (int j = 0; j < i; j++)
			fresh = fresh && seen[j] != w;
		distinct += fresh;
	}
	if (KERNEL_PLACES)
		EXPECT(distinct >= 4, "8 probes gave %d distinct ranges", distinct);
	/* A bound (from != 0) is the generic probe's: at or above it. */
	uintptr_t w = 0;
	if (hw_sys_probe(pf, n, align, lo, &w) == 0)
		EXPECT(w >= lo && w % align == 0);
	hw_platform_destroy(pf);
}

typedef struct seen_maps {
	int n;
	uintptr_t lo[4], hi[4];
	bool rw[4];
} seen_maps;

static int record_map(void *arg, uintptr_t lo, uintptr_t hi, bool rw)
{
	seen_maps *s = arg;
	if (s->n < 4) {
		s->lo[s->n] = lo;
		s->hi[s->n] = hi;
		s->rw[s->n] = rw;
	}
	s->n++;
	return 0;
}

static void test_os_views(void)
{
	hw_platform *pf = hw_platform_linux_create(true, false);
	REQUIRE(pf != NULL);
	const size_t ps = pf->caps.page_size;
	long max = hw_platform_max_map_count();
	EXPECT(max > 0, "vm.max_map_count %ld", max);
	long v0 = hw_platform_vma_count();
	EXPECT(v0 > 0);
	char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 3 * ps, (void **)&p) == 0);
	long v1 = hw_platform_vma_count();
	REQUIRE(hw_sys_map(pf, p + ps, ps) == 0);
	long v2 = hw_platform_vma_count();
	EXPECT(v1 - v0 <= 1 && v2 - v1 == 2,
	       "VMAs %ld -> %ld -> %ld: a split in the middle adds two", v0, v1, v2);
	seen_maps s = {0};
	EXPECT(hw_platform_mappings(p, 3 * ps, record_map, &s) == 0);
	uintptr_t a = (uintptr_t)p;
	EXPECT(s.n == 3 && s.lo[0] == a && s.hi[0] == a + ps && !s.rw[0] && s.lo[1] == a + ps &&
		       s.hi[1] == a + 2 * ps && s.rw[1] && s.lo[2] == a + 2 * ps &&
		       s.hi[2] == a + 3 * ps && !s.rw[2],
	       "%d mappings", s.n);
	hw_sys_release(pf, p, 3 * ps);
	long v3 = hw_platform_vma_count();
	EXPECT(v3 == v0, "VMAs after release %ld, before reserve %ld", v3, v0);
	hw_platform_destroy(pf);
}

/* advise_huge marks exactly the range it is given, keeps the mark through
 * map and unuse (mprotect and madvise split the mapping; the flag stays),
 * and is a no-op on the simulator. */
static void test_advise_huge(void)
{
	hw_platform *pf = hw_platform_linux_create(false, false);
	REQUIRE(pf != NULL);
	if (pf->caps.huge_page_size == 0) {
		printf("note: THP is off here; advise_huge is not tested\n");
		hw_platform_destroy(pf);
		return;
	}
	const size_t ps = pf->caps.page_size;
	char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * ps, (void **)&p) == 0);
	EXPECT(hw_platform_huge_advised(p, 8 * ps) == 0, "a fresh reservation is not advised");
	hw_sys_advise_huge(pf, p + 2 * ps, 4 * ps);
	EXPECT(hw_platform_huge_advised(p + 2 * ps, 4 * ps) == 1);
	EXPECT(hw_platform_huge_advised(p, 2 * ps) == 0 &&
		       hw_platform_huge_advised(p + 6 * ps, 2 * ps) == 0,
	       "the hint stays inside its range");
	REQUIRE(hw_sys_map(pf, p + 3 * ps, ps) == 0);
	hw_sys_unuse(pf, p + 3 * ps, ps);
	EXPECT(hw_platform_huge_advised(p + 2 * ps, 4 * ps) == 1, "map and unuse keep the hint");
	EXPECT(pf->calls[HW_SYS_MAP] == 1 && pf->calls[HW_SYS_UNUSE] == 1,
	       "the hint is not a counted transition");
	hw_sys_release(pf, p, 8 * ps);
	EXPECT(hw_platform_huge_advised(p, 8 * ps) == -1, "released: nothing mapped there");
	hw_platform_destroy(pf);

	hw_platform *sim = hw_platform_sim_create(NULL);
	REQUIRE(sim != NULL);
	REQUIRE(hw_sys_reserve(sim, NULL, 4 * sim->caps.page_size, (void **)&p) == 0);
	hw_sys_advise_huge(sim, p, 4 * sim->caps.page_size);
	EXPECT(hw_sim_state(sim, p) == HW_MEM_RESERVED, "a hint changes no state");
	hw_sys_release(sim, p, 4 * sim->caps.page_size);
	hw_platform_destroy(sim);
}

/* T8: pinned to processor i, the thread is told i. */
static void test_cpu_current_pinned(void)
{
	cpu_set_t all;
	REQUIRE(pthread_getaffinity_np(pthread_self(), sizeof all, &all) == 0);
	EXPECT(hw_cpu_count() >= (unsigned)CPU_COUNT(&all), "%u processors, %d allowed",
	       hw_cpu_count(), CPU_COUNT(&all));
	int checked = 0;
	for (int i = 0; i < CPU_SETSIZE && (unsigned)i < hw_cpu_count(); i++) {
		if (!CPU_ISSET(i, &all))
			continue;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(i, &one);
		REQUIRE(pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0);
		EXPECT(hw_cpu_current() == (unsigned)i, "pinned to %d, told %u", i,
		       hw_cpu_current());
		checked++;
	}
	REQUIRE(pthread_setaffinity_np(pthread_self(), sizeof all, &all) == 0);
	EXPECT(checked >= 1);
}

/* T9: the kernels this project supports have membarrier's private
 * expedited command; false here means a seccomp filter refused it (the
 * malloc layer then keeps idle threads' caches: cache.c CA5). */
static void test_process_barrier_available(void)
{
	EXPECT(hw_process_barrier_ready(), "membarrier(PRIVATE_EXPEDITED) unavailable");
	EXPECT(hw_process_barrier(), "membarrier(PRIVATE_EXPEDITED) failed after registering");
}

/* ---- a main thread that ended with pthread_exit (thread.h T11, file.h FI3) ---- */

static hw_world ended_world; /* large: not on a stack */

static void ended_child_checks(void)
{
	/* The main thread gone, and this one alone; under ThreadSanitizer its
	 * runtime's thread stays, and counts (thread.h T11). */
	uint64_t t0 = hw_now_ns();
	while (!hw_process_main_ended())
		CHILD_CHECK(hw_now_ns() - t0 < 5000000000u);
	while (!HW_TEST_TSAN && !hw_process_others_gone())
		CHILD_CHECK(hw_now_ns() - t0 < 5000000000u);
	CHILD_CHECK(hw_process_others_gone() == !HW_TEST_TSAN);
	/* /proc/self describes the ended thread now: its maps are empty and
	 * its exe link broken. The platform reads the thread's own view. */
	int local = 0;
	uintptr_t lo = 0, hi = 0;
	CHILD_CHECK(hw_platform_mapping_at(&local, &lo, &hi, NULL) == 0);
	CHILD_CHECK(lo <= (uintptr_t)&local && (uintptr_t)&local < hi);
	hw_module m;
	CHILD_CHECK(hw_module_find((uintptr_t)&ended_child_checks, &m));
	/* This program's path; under Valgrind, which answers only for
	 * /proc/self/exe, the tool's: a path to an executable either way. */
	CHILD_CHECK(m.path[0] == '/' && access(m.path, X_OK) == 0);
	/* A stop does not wait for the ended main thread: it is gone. (Not
	 * under ThreadSanitizer, which defers the stop's signal.) */
	if (HW_TEST_TSAN)
		return;
	t0 = hw_now_ns();
	CHILD_CHECK(hw_world_stop(&ended_world, 3000) == 0);
	bool all = ended_world.missed == 0;
	for (size_t i = 0; i < ended_world.n; i++)
		all &= ended_world.t[i].stopped || ended_world.t[i].gone;
	hw_world_resume(&ended_world);
	CHILD_CHECK(all);
	CHILD_CHECK(hw_now_ns() - t0 < 2000000000u);
}

static void *ended_child_thread(void *arg)
{
	(void)arg;
	ended_child_checks();
	_exit(0);
}

static void test_main_thread_ended(void)
{
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		alarm(30);
		pthread_t t;
		if (pthread_create(&t, NULL, ended_child_thread, NULL) != 0)
			_exit(2);
		pthread_exit(NULL);
	}
	int status = 0;
	REQUIRE(waitpid(pid, &status, 0) == pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "the child whose main thread ended: status %#x (its check is on stderr)",
	       status);
}

/* ---- the signal mask of a thread of ours (thread.h T12) ---- */

static void *read_own_mask(void *arg)
{
	pthread_sigmask(SIG_BLOCK, NULL, (sigset_t *)arg);
	return NULL;
}

static void test_thread_signal_mask(void)
{
	/* The creator blocks SIGUSR2 only: the new thread blocks every signal
	 * sent to the process, but not the faults or the stop's signal, and
	 * the creator's mask is what it was. */
	sigset_t usr2, before, after, theirs;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	REQUIRE(pthread_sigmask(SIG_SETMASK, &usr2, &before) == 0);
	sigemptyset(&theirs);
	hw_thread t;
	REQUIRE(hw_thread_start(&t, read_own_mask, &theirs) == 0);
	hw_thread_join(&t);
	REQUIRE(pthread_sigmask(SIG_SETMASK, &before, &after) == 0);
	const int blocked[] = {SIGALRM, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2, SIGPIPE,
			       SIGPROF, SIGIO, SIGRTMIN};
	for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
		EXPECT(sigismember(&theirs, blocked[i]) == 1, "signal %d not blocked", blocked[i]);
	const int open_[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, HW_STOP_SIGNAL};
	for (size_t i = 0; i < sizeof open_ / sizeof open_[0]; i++)
		EXPECT(sigismember(&theirs, open_[i]) == 0, "signal %d blocked", open_[i]);
	EXPECT(sigismember(&after, SIGUSR2) == 1 && sigismember(&after, SIGALRM) == 0,
	       "the creator's mask changed");
}

/* A thread with a cancel pending through every platform call the malloc
 * layer makes from inside an allocation or a free: each returns (stage
 * counts them), and only pthread_testcancel at the end cancels it. */
typedef struct cancel_run {
	pthread_t self;
	int go, stage;
} cancel_run;

static void *cancelled_caller(void *arg)
{
	cancel_run *r = arg;
	/* No cancellation point until the cancel is pending. */
	while (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE))
		;
	char buf[256];
	size_t len;
	int maps[2] = {0, 0};
	uintptr_t lo, hi;
	bool rw;
	hw_sleep_ns(1000);
	r->stage = 1;
	(void)hw_file_read("/proc/self/stat", buf, sizeof buf, &len);
	r->stage = 2;
	(void)hw_platform_mappings(NULL, UINTPTR_MAX, hw_test_count_mappings, maps);
	r->stage = 3;
	(void)hw_platform_mapping_at(&len, &lo, &hi, &rw);
	r->stage = 4;
	static const char line[] = "platform_linux: a line from a thread with a cancel pending\n";
	hw_console_write(line, sizeof line - 1);
	r->stage = 5;
	pthread_testcancel();
	r->stage = 6;
	return NULL;
}

static void test_no_cancellation_points(void)
{
	cancel_run r = {0};
	void *ret = NULL;
	REQUIRE(pthread_create(&r.self, NULL, cancelled_caller, &r) == 0);
	REQUIRE(pthread_cancel(r.self) == 0);
	__atomic_store_n(&r.go, 1, __ATOMIC_RELEASE);
	REQUIRE(pthread_join(r.self, &ret) == 0);
	EXPECT(ret == PTHREAD_CANCELED, "the thread was not cancelled at all");
	EXPECT(r.stage == 5,
	       "cancelled after stage %d of 5: a platform call is a cancellation point", r.stage);
}

static void test_world_read(void)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(p != MAP_FAILED);
	for (size_t i = 0; i < 4 * ps; i++)
		p[i] = (char)(i * 7 + 1);
	REQUIRE(munmap(p + 3 * ps, ps) == 0);
	static char buf[1 << 16];
	uintptr_t a = (uintptr_t)p;
	/* Whole, and from an odd address across a page boundary. */
	EXPECT(hw_world_read(buf, a, 3 * ps) == 3 * ps && memcmp(buf, p, 3 * ps) == 0);
	EXPECT(hw_world_read(buf, a + 5, ps) == ps && memcmp(buf, p + 5, ps) == 0);
	/* Up to the unmapped page, from the middle of the one before. */
	EXPECT(hw_world_read(buf, a + 2 * ps + 100, 2 * ps) == ps - 100);
	EXPECT(memcmp(buf, p + 2 * ps + 100, ps - 100) == 0);
	EXPECT(hw_world_read(buf, a + 3 * ps, ps) == 0);
	/* Up to a guard region inside the mapping, where the kernel has them. */
	if (madvise(p + ps, ps, 102 /* MADV_GUARD_INSTALL */) == 0) {
		EXPECT(hw_world_read(buf, a, 3 * ps) == ps && memcmp(buf, p, ps) == 0);
		EXPECT(hw_world_read(buf, a + 2 * ps, ps) == ps);
	} else {
		printf("(no MADV_GUARD_INSTALL here: the guard case not checked)\n");
	}
	munmap(p, 3 * ps);
}

/* The value and the length of the digits read, or -1 for a refusal. */
static int number(const char *s, unsigned base, uint64_t *v)
{
	*v = 12345;
	const char *end = hw_file_number(s, base, v);
	return end ? (int)(end - s) : -1;
}

static void test_proc_numbers(void)
{
	uint64_t v;
	EXPECT(number("0", 10, &v) == 1 && v == 0);
	EXPECT(number("4096 pages", 10, &v) == 4 && v == 4096, "%llu", (unsigned long long)v);
	/* A maps line's head: hex stops at '-'; decimal stops at 'f'. */
	EXPECT(number("7f00a000-7f00b000 rw-p", 16, &v) == 8 && v == 0x7f00a000);
	EXPECT(number("7f00a000", 10, &v) == 1 && v == 7);
	/* /proc writes lower case; no sign, blank or prefix is skipped, and a
	 * refusal leaves *out alone. */
	EXPECT(number("FF", 16, &v) == -1 && v == 12345);
	EXPECT(number("", 10, &v) == -1 && v == 12345);
	EXPECT(number(" 1", 10, &v) == -1);
	EXPECT(number("-1", 10, &v) == -1);
	EXPECT(number("0x10", 16, &v) == 1 && v == 0);
	/* The limits: UINT64_MAX is read, one more is refused, not wrapped. */
	EXPECT(number("18446744073709551615", 10, &v) == 20 && v == UINT64_MAX);
	EXPECT(number("18446744073709551616", 10, &v) == -1 && v == 12345);
	EXPECT(number("ffffffffffffffff", 16, &v) == 16 && v == UINT64_MAX);
	EXPECT(number("10000000000000000", 16, &v) == -1);
	EXPECT(number("000000000000000000000000001", 10, &v) == 27 && v == 1);
}

HW_TEST_MAIN(T(test_caps), T(test_guard_madvise), T(test_unfault), T(test_seal),
	     T(test_reserve_one_anon_vma), T(test_populate),
	     T(test_unfault_many), T(test_guard_protnone),
	     T(test_madv_free_unuse), T(test_residency_matches_sim), T(test_reserve_enomem),
	     T(test_os_views), T(test_advise_huge), T(test_cpu_current_pinned),
	     T(test_process_barrier_available), T(test_main_thread_ended),
	     T(test_thread_signal_mask), T(test_proc_numbers), T(test_no_cancellation_points),
	     T(test_world_read), T(test_probe_low), T(test_mutex_relocked_in_signal_handler))

/* test_guard_scale.c: how many faulted (guard) regions one process can hold.
 *
 * With MADV_GUARD_INSTALL, 100,000 separate single-page regions (alternating
 * pages of one Ready mapping) all fault, without adding VMAs. With the forced
 * PROT_NONE fallback, each region in the middle of a mapping costs two VMAs,
 * so faulting stops near vm.max_map_count / 2: the failing call must return
 * ENOMEM (P2: nothing changed), the backend must say so once on stderr (L3),
 * the regions already faulted must still trap and the rest still work. That
 * part runs in a child process, since a process at its VMA limit cannot
 * mmap. The simulator, whose unuse cannot fail, must keep working past the
 * limit by switching to guard markers. The numbers go to stdout, so they
 * appear in the test log.
 */
#include "platform.h"
#include "ptest.h"
#include "sim.h"
#include "thread.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define REGIONS 100000

static void test_madvise_guards_scale(void)
{
	hw_platform *pf = hw_platform_linux_create(false, false);
	REQUIRE(pf != NULL);
	if (pf->caps.guard != HW_GUARD_MADVISE) {
		printf("skipped: this kernel has no MADV_GUARD_INSTALL\n");
		EXPECT(pf->caps.guard == HW_GUARD_PROTNONE);
		hw_platform_destroy(pf);
		return;
	}
	const size_t ps = pf->caps.page_size, n = 2 * (size_t)REGIONS * ps;
	unsigned char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, n, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, n) == 0);
	REQUIRE(hw_sys_use(pf, p, n) == 0);
	long v0 = hw_platform_vma_count();
	uint64_t t0 = hw_now_ns();
	int failed = 0;
	for (size_t i = 0; i < REGIONS; i++)
		failed += hw_sys_fault(pf, p + (2 * i + 1) * ps, ps) != 0;
	double secs = (double)(hw_now_ns() - t0) / 1e9;
	long v1 = hw_platform_vma_count();
	printf("MADV_GUARD_INSTALL: %d regions faulted, %d failed, VMAs %ld -> %ld, %.3f s\n",
	       REGIONS, failed, v0, v1, secs);
	EXPECT(failed == 0);
	EXPECT(v1 >= 0 && v1 - v0 <= 1, "guard regions added %ld VMAs", v1 - v0);
	bool ok = true;
	for (size_t i = 0; i < REGIONS && ok; i += 997) {
		ok &= hw_trap_probe(p + (2 * i + 1) * ps, false) == HW_TRAP_MAPERR;
		ok &= hw_trap_probe(p + 2 * i * ps, true) == HW_TRAP_NONE;
		EXPECT(ok, "region %zu", i);
	}
	hw_sys_release(pf, p, n);
	hw_platform_destroy(pf);
}

static int child_fails;

#define CHILD_EXPECT(cond, ...)                                                \
	do {                                                                   \
		if (!(cond)) {                                                 \
			child_fails++;                                         \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
		}                                                              \
	} while (0)

static void protnone_until_enomem(void *arg)
{
	long max = *(long *)arg;
	hw_platform *pf = hw_platform_linux_create(true, false);
	if (pf == NULL)
		exit(100);
	const size_t ps = pf->caps.page_size;
	const size_t pages = (size_t)max + 8192, n = pages * ps;
	unsigned char *p;
	if (hw_sys_reserve(pf, NULL, n, (void **)&p) != 0 || hw_sys_map(pf, p, n) != 0)
		exit(101);
	long v0 = hw_platform_vma_count();
	uint64_t t0 = hw_now_ns();
	size_t regions = 0;
	int rc = 0;
	while (2 * regions + 1 < pages &&
	       (rc = hw_sys_fault(pf, p + (2 * regions + 1) * ps, ps)) == 0)
		regions++;
	double secs = (double)(hw_now_ns() - t0) / 1e9;
	long v1 = hw_platform_vma_count();
	printf("PROT_NONE fallback: %zu regions faulted before ENOMEM, vm.max_map_count %ld, "
	       "VMAs %ld -> %ld, %.3f s\n",
	       regions, max, v0, v1, secs);
	CHILD_EXPECT(rc == ENOMEM, "rc %d", rc);
	CHILD_EXPECT(regions + 16 >= (size_t)(max - v0) / 2 && regions <= (size_t)max / 2,
		     "%zu regions, limit %ld, %ld VMAs at start", regions, max, v0);
	/* /proc/self/maps also lists [vsyscall], which the limit does not count. */
	CHILD_EXPECT(v1 > max - 4 && v1 <= max + 1, "VMAs %ld at the limit %ld", v1, max);
	CHILD_EXPECT(pf->failures[HW_SYS_FAULT] == 1, "failures %llu",
		     (unsigned long long)pf->failures[HW_SYS_FAULT]);

	/* P2: the page whose fault failed is still Ready, and so is the rest. */
	unsigned char *failed_page = p + (2 * regions + 1) * ps;
	CHILD_EXPECT(hw_trap_probe(failed_page, true) == HW_TRAP_NONE, "failed page trapped");
	for (size_t pg = 2 * regions; pg < pages; pg += 1013)
		CHILD_EXPECT(hw_trap_probe(p + pg * ps, true) == HW_TRAP_NONE, "page %zu trapped",
			     pg);
	/* A second failure is not reported again (checked by the parent). */
	CHILD_EXPECT(hw_sys_fault(pf, p + (2 * regions + 3) * ps, ps) == ENOMEM, "second fault");

	/* The faulted regions still trap. */
	for (size_t i = 0; i < regions; i += 997)
		CHILD_EXPECT(hw_trap_probe(p + (2 * i + 1) * ps, false) == HW_TRAP_ACCERR,
			     "region %zu", i);
	CHILD_EXPECT(hw_trap_probe(p + (2 * regions - 1) * ps, false) == HW_TRAP_ACCERR,
		     "last region");

	/* Mapping them back merges the VMAs again and makes them usable. */
	t0 = hw_now_ns();
	int map_failed = 0;
	for (size_t i = 0; i < regions; i++)
		map_failed += hw_sys_map(pf, p + (2 * i + 1) * ps, ps) != 0;
	long v2 = hw_platform_vma_count();
	printf("mapped back in %.3f s, VMAs %ld\n", (double)(hw_now_ns() - t0) / 1e9, v2);
	CHILD_EXPECT(map_failed == 0, "%d maps failed", map_failed);
	/* Each of the two failed faults may leave one split (same protection
	 * on both sides) behind: the kernel splits the start of the range
	 * before the split at its end fails. */
	CHILD_EXPECT(v2 <= v0 + 2, "VMAs %ld after mapping back, %ld at start", v2, v0);
	CHILD_EXPECT(hw_trap_probe(p + ps, true) == HW_TRAP_NONE && p[ps] == 0,
		     "region 0 not usable");
	hw_sys_release(pf, p, n);
	hw_platform_destroy(pf);
	fflush(stdout);
	exit(child_fails);
}

static void test_protnone_vma_limit(void)
{
	long max = hw_platform_max_map_count();
	REQUIRE(max > 0, "vm.max_map_count unreadable");
	if (max > (1L << 20)) {
		printf("skipped: vm.max_map_count is %ld; the limit is too far to reach here\n",
		       max);
		EXPECT(hw_platform_vma_count() < max);
		return;
	}
	static char err[4096];
	hw_child_status st;
	REQUIRE(hw_trap_child(protnone_until_enomem, &max, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "child: signal %d, exit %d (stderr: %s)",
	       st.signo, st.exit_code, err);
	EXPECT(count_of(err, "out of VMAs") == 1, "stderr: \"%s\"", err);
	EXPECT(strncmp(err, "heapward: platform: fault(0x", 28) == 0, "stderr: \"%s\"", err);
	char want[64];
	snprintf(want, sizeof want, "vm.max_map_count=%ld", max);
	EXPECT(strstr(err, want) != NULL, "stderr: \"%s\"", err);
	printf("backend said: %s", err);
}

/* The simulator makes non-Ready pages PROT_NONE; past the VMA limit its
 * unuse (which cannot fail) falls back to guard markers (sim.c S1). */
static void sim_past_vma_limit(void *arg)
{
	long max = *(long *)arg;
	const size_t ps = 4096, pages = (size_t)max + 8192;
	hw_sim_config cfg = {
		.backing_bytes = pages * ps,
		.released_reads_zero = true,
		.record_illegal = true,
	};
	hw_platform *pf = hw_platform_sim_create(&cfg);
	unsigned char *p;
	if (pf == NULL || hw_sys_reserve(pf, NULL, pages * ps, (void **)&p) != 0 ||
	    hw_sys_map(pf, p, pages * ps) != 0 || hw_sys_use(pf, p, pages * ps) != 0)
		exit(100);
	uint64_t t0 = hw_now_ns();
	size_t unused = 0;
	for (size_t pg = 1; pg < pages; pg += 2, unused++) {
		p[pg * ps] = 1;
		hw_sys_unuse(pf, p + pg * ps, ps);
	}
	printf("sim: %zu alternating pages unused past vm.max_map_count %ld, VMAs %ld, %.3f s\n",
	       unused, max, hw_platform_vma_count(), (double)(hw_now_ns() - t0) / 1e9);
	char msg[256];
	CHILD_EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	CHILD_EXPECT(hw_sim_ready_bytes(pf) == (pages - unused) * ps, "ready %zu",
		     hw_sim_ready_bytes(pf));
	CHILD_EXPECT(hw_sim_illegal_count(pf, NULL, 0) == 0, "illegal calls");
	/* Early pages trap as PROT_NONE, the last ones as guard regions. */
	hw_trap_kind first = hw_trap_probe(p + ps, false);
	hw_trap_kind last = hw_trap_probe(p + (2 * unused - 1) * ps, false);
	CHILD_EXPECT(first == HW_TRAP_ACCERR, "first unused page: %s", hw_trap_kind_name(first));
	CHILD_EXPECT(last == HW_TRAP_MAPERR, "last unused page: %s", hw_trap_kind_name(last));
	/* Ready again: usable and zero, whichever way they were made to trap. */
	int failed = 0;
	for (size_t pg = 1; pg < pages; pg += 2)
		failed += hw_sys_use(pf, p + pg * ps, ps) != 0;
	CHILD_EXPECT(failed == 0, "%d uses failed", failed);
	CHILD_EXPECT(hw_trap_probe(p + (2 * unused - 1) * ps, true) == HW_TRAP_NONE &&
			     p[(2 * unused - 1) * ps] == 0 && p[ps] == 0,
		     "reused pages not usable or not zero");
	CHILD_EXPECT(hw_sim_ready_bytes(pf) == pages * ps, "ready %zu", hw_sim_ready_bytes(pf));
	CHILD_EXPECT(hw_sim_check(pf, msg, sizeof msg) == 0, "%s", msg);
	hw_platform_destroy(pf);
	fflush(stdout);
	exit(child_fails);
}

static void test_sim_past_vma_limit(void)
{
	long max = hw_platform_max_map_count();
	hw_platform *probe = hw_platform_linux_create(false, false);
	REQUIRE(max > 0 && probe != NULL);
	bool guards = probe->caps.guard == HW_GUARD_MADVISE;
	hw_platform_destroy(probe);
	if (max > (1L << 20) || !guards) {
		printf("skipped: vm.max_map_count %ld, guard regions %s\n", max,
		       guards ? "yes" : "no");
		EXPECT(hw_platform_vma_count() < max);
		return;
	}
	static char err[4096];
	hw_child_status st;
	REQUIRE(hw_trap_child(sim_past_vma_limit, &max, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "child: signal %d, exit %d (stderr: %s)",
	       st.signo, st.exit_code, err);
}

HW_TEST_MAIN(T(test_madvise_guards_scale), T(test_protnone_vma_limit), T(test_sim_past_vma_limit))

/* test_windows.c: the Windows backend (platform/windows.c) on real memory.
 *
 * Built only for Windows (run under Wine by ci/windows.sh). Checks the caps
 * (64 KiB granularity, a real commit, no partial release); every transition
 * against what Windows itself says (committed bytes from VirtualQuery,
 * traps from the probe): map commits nothing, use commits exactly the range,
 * unuse and fault decommit it and the pages trap and read zero when used
 * again (P4); the seed's point at the platform level, through the process's
 * commit charge; ranges that cross two reservations (WIN3); a commit the
 * system refuses is ENOMEM with the range unchanged (WIN1, WIN2); releasing part
 * of a reservation, and a transition on free address space, abort with
 * their message (WIN4, P3; children run by hw_trap_rerun); the OS views; the
 * environment as the C runtime holds it (ctest sets HW_WIN_ENV_TEST); and
 * the debug mode's services on Windows: the frame-pointer unwinder, the
 * modules from their PE headers, the log file, and the thread stop and
 * symbolizer that Windows does without (stop_windows.c,
 * symbolize_windows.c say why).
 */
#include "console.h"
#include "env.h"
#include "fault.h"
#include "module.h"
#include "platform.h"
#include "ptest.h"
#include "stackwalk.h"
#include "stop.h"
#include "symbolize.h"
#include "win.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdint.h>
#include <sys/stat.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static void test_caps(void)
{
	hw_platform *os = hw_platform_os_instance();
	const hw_platform_caps *c = &os->caps;
	EXPECT(strcmp(os->name, "windows") == 0, "%s", os->name);
	EXPECT(c->page_size == 4 * KiB && c->granularity == 64 * KiB, "page %zu granularity %zu",
	       c->page_size, c->granularity);
	EXPECT(c->use_needs_call && os->ops->use != NULL, "use is the commit");
	EXPECT(!c->partial_release, "MEM_RELEASE frees whole reservations only");
	EXPECT(c->released_reads_zero && c->huge_page_size == 0 && c->concurrent_calls);
	EXPECT(c->guard == HW_GUARD_DECOMMIT);
	EXPECT(!c->seal_spans_faults, "decommitted pages cannot be protected");
	hw_platform *pf = hw_platform_os_create();
	REQUIRE(pf != NULL);
	EXPECT(memcmp(&pf->caps, c, sizeof *c) == 0, "a private instance has the same caps");
	hw_platform_destroy(pf);
	errno = 0;
	EXPECT(hw_platform_linux_create(false, false) == NULL && errno == ENOSYS);
}

/* Every transition, with what Windows says after it. */
static void test_transitions(void)
{
	hw_platform *pf = hw_platform_os_create();
	REQUIRE(pf != NULL);
	const size_t ps = pf->caps.page_size, n = 256 * KiB;
	unsigned char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, n, (void **)&p) == 0);
	EXPECT((uintptr_t)p % (64 * KiB) == 0, "reservation at %p", (void *)p);
	EXPECT(hw_platform_resident_bytes(p, n) == 0, "a reservation commits nothing");
	EXPECT(hw_trap_probe(p, false) == HW_TRAP_ACCERR, "Reserved traps");

	REQUIRE(hw_sys_map(pf, p, n) == 0);
	EXPECT(hw_platform_resident_bytes(p, n) == 0, "map is bookkeeping");
	EXPECT(hw_trap_probe(p + ps, false) == HW_TRAP_ACCERR, "Prepared traps on Windows");

	REQUIRE(hw_sys_use(pf, p + 4 * ps, 8 * ps) == 0);
	EXPECT(hw_platform_resident_bytes(p, n) == 8 * ps, "use commits exactly its range: %zu",
	       hw_platform_resident_bytes(p, n));
	EXPECT(all_zero(p + 4 * ps, 8 * ps), "fresh commits read zero");
	memset(p + 4 * ps, 0x5a, 8 * ps);
	EXPECT(hw_trap_probe(p + 3 * ps, false) == HW_TRAP_ACCERR, "the page below is not Ready");

	hw_sys_unuse(pf, p + 4 * ps, 4 * ps);
	EXPECT(hw_platform_resident_bytes(p, n) == 4 * ps, "unuse decommits");
	EXPECT(hw_trap_probe(p + 4 * ps, true) == HW_TRAP_ACCERR, "decommitted pages trap");
	REQUIRE(hw_sys_use(pf, p + 4 * ps, 4 * ps) == 0);
	EXPECT(all_zero(p + 4 * ps, 4 * ps), "P4: released pages read zero when Ready again");
	EXPECT(p[8 * ps] == 0x5a, "the pages left Ready kept their contents");

	REQUIRE(hw_sys_fault(pf, p + 4 * ps, 8 * ps) == 0);
	EXPECT(hw_platform_resident_bytes(p, n) == 0, "fault decommits: nothing is charged");
	EXPECT(hw_trap_probe(p + 11 * ps, false) == HW_TRAP_ACCERR, "faulted pages trap");
	REQUIRE(hw_sys_map(pf, p + 4 * ps, 8 * ps) == 0);
	REQUIRE(hw_sys_use(pf, p + 4 * ps, 8 * ps) == 0);
	EXPECT(all_zero(p + 4 * ps, 8 * ps), "P4 after a fault too");

	/* P13: sealed pages trap, stay committed and keep their contents. */
	memset(p + 4 * ps, 0x3c, 2 * ps);
	REQUIRE(hw_sys_seal(pf, p + 4 * ps, 2 * ps) == 0);
	EXPECT(hw_trap_probe(p + 5 * ps, false) == HW_TRAP_ACCERR, "sealed pages trap");
	EXPECT(hw_platform_resident_bytes(p + 4 * ps, 2 * ps) == 2 * ps, "and stay committed");
	REQUIRE(hw_sys_unseal(pf, p + 4 * ps, 2 * ps) == 0);
	EXPECT(hw_trap_probe(p + 5 * ps, true) == HW_TRAP_NONE && p[4 * ps] == 0x3c &&
		       p[6 * ps - 1] == 0x3c,
	       "unsealed pages are usable, their contents kept");

	hw_sys_release(pf, p, n);
	EXPECT(hw_platform_resident_bytes(p, n) == SIZE_MAX, "released address space is free");
	EXPECT(hw_trap_probe(p, false) == HW_TRAP_MAPERR, "free address space is MAPERR");

	void *q;
	REQUIRE(hw_sys_alloc(pf, 3 * ps, &q) == 0);
	EXPECT(hw_platform_resident_bytes(q, 3 * ps) == 3 * ps && all_zero(q, 3 * ps),
	       "alloc commits zero pages");
	hw_sys_release(pf, q, 3 * ps);
	EXPECT(pf->owned == 0, "owned %zu", pf->owned);
	hw_platform_destroy(pf);
}

/* The seed's point, as Windows charges it: a large reservation costs no
 * commit charge; pages made Ready and touched do; decommitted ones stop. */
static void test_commit_charge(void)
{
	hw_platform *pf = hw_platform_os_create();
	REQUIRE(pf != NULL);
	const size_t big = 1024 * MiB, used = 64 * MiB;
	size_t c0 = hw_platform_commit_charge();
	REQUIRE(c0 != SIZE_MAX, "GetProcessMemoryInfo failed");
	unsigned char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, big, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, big) == 0);
	size_t c1 = hw_platform_commit_charge();
	EXPECT(c1 < c0 + 16 * MiB, "1 GiB reserved and Prepared charged %zu bytes", c1 - c0);
	REQUIRE(hw_sys_use(pf, p, used) == 0);
	for (size_t off = 0; off < used; off += pf->caps.page_size)
		p[off] = 1;
	size_t c2 = hw_platform_commit_charge();
	EXPECT(c2 >= c1 + used - used / 8 && c2 < c1 + used + 16 * MiB,
	       "64 MiB made Ready charged %zu bytes", c2 - c1);
	hw_sys_unuse(pf, p, used);
	size_t c3 = hw_platform_commit_charge();
	EXPECT(c3 + used - used / 8 <= c2, "decommitting 64 MiB returned %zu bytes", c2 - c3);
	printf("commit charge: +%zu KiB reserved, +%zu KiB Ready, -%zu KiB released\n",
	       (c1 - c0) / KiB, (c2 - c1) / KiB, (c2 - c3) / KiB);
	hw_sys_release(pf, p, big);
	hw_platform_destroy(pf);
}

/* WIN3: two adjacent reservations (placed by hint) behave as one range for
 * use, unuse and fault; release takes each whole. */
static void test_range_across_reservations(void)
{
	hw_platform *pf = hw_platform_os_create();
	REQUIRE(pf != NULL);
	const size_t half = 128 * KiB, ps = pf->caps.page_size;
	unsigned char *a, *b;
	REQUIRE(hw_sys_reserve(pf, NULL, 2 * half, (void **)&a) == 0);
	hw_sys_release(pf, a, 2 * half);
	REQUIRE(hw_sys_reserve(pf, a, half, (void **)&b) == 0 && b == a, "hint %p got %p",
		(void *)a, (void *)b);
	REQUIRE(hw_sys_reserve(pf, a + half, half, (void **)&b) == 0 && b == a + half,
		"hint %p got %p", (void *)(a + half), (void *)b);
	unsigned char *mid = a + half - 4 * ps;
	REQUIRE(hw_sys_map(pf, mid, 8 * ps) == 0);
	REQUIRE(hw_sys_use(pf, mid, 8 * ps) == 0, "a commit across the boundary");
	EXPECT(hw_platform_resident_bytes(a, 2 * half) == 8 * ps);
	memset(mid, 7, 8 * ps);
	hw_sys_unuse(pf, mid, 8 * ps);
	EXPECT(hw_platform_resident_bytes(a, 2 * half) == 0);
	REQUIRE(hw_sys_use(pf, mid, 8 * ps) == 0);
	EXPECT(all_zero(mid, 8 * ps));
	REQUIRE(hw_sys_fault(pf, mid, 8 * ps) == 0);
	EXPECT(hw_platform_resident_bytes(a, 2 * half) == 0);
	/* Both whole reservations in one call, then none is left. */
	hw_sys_release(pf, a, 2 * half);
	EXPECT(hw_platform_resident_bytes(a, 2 * half) == SIZE_MAX);
	hw_platform_destroy(pf);
}

/* WIN1, WIN2: a commit the system cannot grant (1 TiB: beyond any commit
 * limit, RAM plus page files; under Wine beyond what the Linux host's
 * overcommit check allows) is ENOMEM and leaves the range as it was. */
static void test_refused_commit_is_enomem(void)
{
	hw_platform *pf = hw_platform_os_create();
	REQUIRE(pf != NULL);
	const size_t tib = (size_t)1 << 40, ps = pf->caps.page_size;
	unsigned char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, tib, (void **)&p) == 0, "1 TiB of address space");
	REQUIRE(hw_sys_map(pf, p, tib) == 0);
	REQUIRE(hw_sys_use(pf, p, 16 * ps) == 0);
	memset(p, 3, 16 * ps);
	int rc = hw_sys_use(pf, p + 16 * ps, tib - 16 * ps);
	if (rc == 0)
		printf("note: the system granted a 1 TiB commit (a host without an overcommit "
		       "limit under Wine); the refusal is not checked\n");
	else
		EXPECT(rc == ENOMEM && pf->failures[HW_SYS_USE] == 1, "rc %d", rc);
	if (rc == ENOMEM) {
		EXPECT(hw_platform_resident_bytes(p, tib) == 16 * ps,
		       "P2: after the refusal %zu bytes are committed",
		       hw_platform_resident_bytes(p, tib));
		EXPECT(p[16 * ps - 1] == 3, "the Ready pages below kept their contents");
		EXPECT(hw_trap_probe(p + 16 * ps, false) == HW_TRAP_ACCERR);
		REQUIRE(hw_sys_use(pf, p + 16 * ps, 16 * ps) == 0, "a smaller commit still works");
	}
	/* An over-large reservation is ENOMEM too (ERROR_INVALID_PARAMETER). */
	void *q;
	EXPECT(hw_sys_reserve(pf, NULL, (size_t)1 << 50, &q) == ENOMEM && q == NULL);
	hw_sys_release(pf, p, tib);
	hw_platform_destroy(pf);
}

static void child_release_part(void)
{
	hw_trap_quiet_child();
	hw_platform *pf = hw_platform_os_instance();
	void *p;
	if (hw_sys_reserve(pf, NULL, 128 * KiB, &p) == 0)
		hw_sys_release(pf, p, 64 * KiB); /* must abort */
}

static void child_use_free_space(void)
{
	hw_trap_quiet_child();
	hw_platform *pf = hw_platform_os_instance();
	void *p;
	if (hw_sys_reserve(pf, NULL, 64 * KiB, &p) != 0)
		return;
	hw_sys_release(pf, p, 64 * KiB);
	(void)hw_sys_use(pf, p, 4 * KiB); /* must abort */
}

static bool died_with(const char *child, const char *what, char *err, size_t len)
{
	hw_child_status st;
	if (hw_trap_rerun(child, err, len, &st) != 0)
		return false;
	return st.signo == SIGABRT && st.exit_code == 3 && strstr(err, what) != NULL;
}

/* WIN4 and P3: misuse aborts with the call named (exit code 3, as abort()). */
static void test_misuse_aborts(void)
{
	char err[512];
	EXPECT(died_with("child_release_part", "): not whole reservations\n", err, sizeof err),
	       "got: %s", err);
	EXPECT(strncmp(err, "heapward: platform: release(", 28) == 0, "got: %s", err);
	EXPECT(died_with("child_use_free_space", " is not reserved\n", err, sizeof err), "got: %s",
	       err);
	EXPECT(strncmp(err, "heapward: platform: use(", 24) == 0, "got: %s", err);
}

/* The fault handler's view of an access violation (fault_windows.c): the
 * access from the exception record, the registers from its context; and
 * the faulting thread's stack by the unwind tables (stackwalk.h UW6), which
 * must start at the faulting instruction and go on into this program. */
static bool say_fault(const hw_fault *f)
{
	uintptr_t pc[8], lo, hi;
	bool is_program;
	hw_module_self(&lo, &hi, &is_program);
	size_t n = hw_unwind_tables_context(f->pc, pc, 8);
	bool walked = n >= 2 && pc[0] == f->pc && pc[1] >= lo && pc[1] < hi;
	hw_report_write("fault %s %s at %p regs %s tables %s\n", f->signal,
			f->access == HW_FAULT_READ    ? "READ"
			: f->access == HW_FAULT_WRITE ? "WRITE"
						      : "OTHER",
			(void *)f->addr, f->pc && f->sp && f->fp ? "set" : "unset",
			walked ? "walked" : "failed");
	return true;
}

/* A reserved, uncommitted page: any access traps. */
static volatile char *trap_page(void)
{
	hw_trap_quiet_child();
	hw_platform *pf = hw_platform_os_instance();
	void *p;
	if (hw_sys_reserve(pf, NULL, 64 * KiB, &p) != 0 ||
	    hw_fault_install(say_fault, HW_FAULT_RANK_ANY) != 0)
		return NULL;
	return (volatile char *)p + 40;
}

static void child_fault_read(void)
{
	volatile char *p = trap_page();
	if (p)
		(void)*p;
}

static void child_fault_write(void)
{
	volatile char *p = trap_page();
	if (p)
		*p = 1;
}

/* READ and WRITE told apart; the process still dies of the violation. */
static void test_fault_access(void)
{
	static const char *const child[] = {"child_fault_read", "child_fault_write"};
	static const char *const want[] = {"fault ACCESS_VIOLATION READ at ",
					   "fault ACCESS_VIOLATION WRITE at "};
	for (int i = 0; i < 2; i++) {
		char err[512];
		hw_child_status st;
		REQUIRE(hw_trap_rerun(child[i], err, sizeof err, &st) == 0);
		EXPECT(st.signo == SIGSEGV, "%s: signal %d exit %d", child[i], st.signo,
		       st.exit_code);
		EXPECT(strncmp(err, want[i], strlen(want[i])) == 0 &&
			       strstr(err, " regs set tables walked\n"),
		       "%s: got: %s", child[i], err);
	}
}

typedef struct region {
	uintptr_t lo, hi;
	bool rw;
} region;

typedef struct regions {
	region r[8];
	int n;
} regions;

static int collect(void *arg, uintptr_t lo, uintptr_t hi, bool rw)
{
	regions *rs = arg;
	if (rs->n == 8)
		return 1;
	rs->r[rs->n++] = (region){lo, hi, rw};
	return 0;
}

static void test_views(void)
{
	hw_platform *pf = hw_platform_os_create();
	REQUIRE(pf != NULL);
	const size_t ps = pf->caps.page_size;
	unsigned char *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 16 * ps, (void **)&p) == 0);
	REQUIRE(hw_sys_map(pf, p, 16 * ps) == 0 && hw_sys_use(pf, p + 4 * ps, 4 * ps) == 0);
	regions rs = {.n = 0};
	REQUIRE(hw_platform_mappings(p, 16 * ps, collect, &rs) == 0);
	uintptr_t a = (uintptr_t)p;
	EXPECT(rs.n == 3, "%d regions", rs.n);
	EXPECT(rs.r[0].lo == a && rs.r[0].hi == a + 4 * ps && !rs.r[0].rw);
	EXPECT(rs.r[1].lo == a + 4 * ps && rs.r[1].hi == a + 8 * ps && rs.r[1].rw);
	EXPECT(rs.r[2].lo == a + 8 * ps && rs.r[2].hi == a + 16 * ps && !rs.r[2].rw);
	EXPECT(hw_platform_vma_count() > 3 && hw_platform_max_map_count() == -1);
	EXPECT(hw_platform_huge_advised(p, 16 * ps) == 0, "no hint on Windows");

	char name[260];
	bool rw = false;
	EXPECT(hw_platform_describe(p + 4 * ps, name, sizeof name, &rw) == HW_ADDR_ANON && rw);
	volatile int local = 0;
	EXPECT(hw_platform_describe((const void *)&local, name, sizeof name, &rw) ==
	       HW_ADDR_OWN_STACK);
	EXPECT(hw_platform_describe((const void *)test_views, name, sizeof name, &rw) ==
			       HW_ADDR_MODULE &&
		       strstr(name, "platform_windows.exe") != NULL && !rw,
	       "module \"%s\"", name);
	EXPECT(hw_platform_describe((const void *)(uintptr_t)16, name, sizeof name, &rw) ==
	       HW_ADDR_UNMAPPED);
	hw_sys_release(pf, p, 16 * ps);
	EXPECT(hw_platform_huge_advised(p, 16 * ps) == -1, "nothing reserved there");
	hw_platform_destroy(pf);
}

/* env.c on Windows: the C runtime's copy of the environment, names in any
 * case. ctest sets HW_WIN_ENV_TEST=a=b:c for this test. */
static void test_environment(void)
{
	EXPECT(hw_env_available());
	const char *v = hw_env_get("HW_WIN_ENV_TEST");
	REQUIRE(v != NULL, "HW_WIN_ENV_TEST is unset: run this test through ctest");
	EXPECT(strcmp(v, "a=b:c") == 0, "got \"%s\"", v);
	const char *lower = hw_env_get("hw_win_env_test");
	EXPECT(lower == v, "names match in any case");
	EXPECT(hw_env_get("HW_WIN_ENV") == NULL && hw_env_get("HW_WIN_ENV_TEST_") == NULL,
	       "a prefix or a longer name is another variable");
}

/* ---- the debug mode's services ---- */

static int writable_global = 1;

__attribute__((noinline)) static size_t unwind_inner(uintptr_t *out, size_t max)
{
	size_t n = hw_unwind_here(out, max);
	__asm__ volatile("" ::
				 : "memory"); /* not a tail call */
	return n;
}

__attribute__((noinline)) static size_t unwind_tables_inner(uintptr_t *out, size_t max)
{
	size_t n = hw_unwind_tables_here(out, max);
	__asm__ volatile("" ::
				 : "memory"); /* not a tail call */
	return n;
}

__attribute__((noinline)) static size_t unwind_outer(uintptr_t *out, size_t max, bool tables)
{
	size_t n = tables ? unwind_tables_inner(out, max) : unwind_inner(out, max);
	__asm__ volatile("" ::
				 : "memory");
	return n;
}

typedef struct holds {
	uintptr_t addr;
	bool found;
} holds;

typedef struct found_in {
	int calls, kernel32;
} found_in;

static int kernel32_defines(void *arg, const char *path, uintptr_t addr)
{
	found_in *f = arg;
	f->calls++;
	f->kernel32 += addr != 0 && (strstr(path, "kernel32") || strstr(path, "KERNEL32"));
	return 0;
}

static int holds_addr(void *arg, uintptr_t lo, uintptr_t hi)
{
	holds *h = arg;
	h->found |= h->addr >= lo && h->addr < hi;
	return 0;
}

static void test_debug_services(void)
{
	/* The unwinder: our frames, innermost first, inside this program. */
	uintptr_t lo, hi, pc[16];
	bool is_program;
	hw_module_self(&lo, &hi, &is_program);
	EXPECT(lo < hi && (uintptr_t)test_debug_services >= lo &&
		       (uintptr_t)test_debug_services < hi && is_program,
	       "self [%p, %p)", (void *)lo, (void *)hi);
	size_t n = unwind_outer(pc, 16, false);
	EXPECT(n >= 3, "%zu frames", n);
	for (size_t i = 0; i < 3 && i < n; i++)
		EXPECT(pc[i] >= lo && pc[i] < hi, "frame %zu at %p, outside this program", i,
		       (void *)pc[i]);
	/* out[0] is in the caller of hw_unwind_here's caller (stackwalk.h): in
	 * unwind_outer, which lies between unwind_inner and this function. */
	EXPECT(n >= 2 && pc[0] > (uintptr_t)unwind_outer &&
		       pc[0] < (uintptr_t)test_debug_services &&
		       pc[1] > (uintptr_t)test_debug_services,
	       "frames in unwind_outer, then in the test");

	/* The table walk: the same frames (Windows has only that unwinder),
	 * and none from a pc outside a fault's handler. */
	uintptr_t tables[16];
	size_t nt = unwind_outer(tables, 16, true);
	EXPECT(nt >= 2 && tables[0] > (uintptr_t)unwind_outer &&
		       tables[0] < (uintptr_t)test_debug_services &&
		       tables[1] > (uintptr_t)test_debug_services,
	       "table walk: %zu frames", nt);
	EXPECT(hw_unwind_tables_context(pc[0], tables, 16) == 0);

	/* Modules: the program's path, and a bias that maps back into its
	 * preferred image. */
	hw_module m;
	REQUIRE(hw_module_find((uintptr_t)test_debug_services, &m));
	size_t len = strlen(m.path);
	EXPECT(len > 20 && strcmp(m.path + len - 20, "platform_windows.exe") == 0,
	       "path \"%s\"", m.path);
	EXPECT(!hw_module_find(16, &m) && m.path[0] == '\0', "no module at 16");
	uintptr_t lin;
	EXPECT(hw_module_linker(&lin, &lin) == false, "no dynamic linker image");
	holds h = {(uintptr_t)&writable_global, false};
	EXPECT(hw_module_writable(holds_addr, &h) == 0 && h.found,
	       "a global's section is among the writable ones");
	h = (holds){(uintptr_t)test_debug_services, false};
	EXPECT(hw_module_writable(holds_addr, &h) == 0 && !h.found, "code is not writable");
	/* MO4 through the loader's export lookup. */
	found_in f = {0, 0};
	EXPECT(hw_module_defining("GetProcAddress", kernel32_defines, &f) == 0 && f.kernel32 >= 1,
	       "%d modules define GetProcAddress, %d of them kernel32", f.calls, f.kernel32);
	f = (found_in){0, 0};
	EXPECT(hw_module_defining("hw_no_module_defines_this", kernel32_defines, &f) == 0 &&
	       f.calls == 0);
	EXPECT(hw_module_generation() >= 2, "modules: %llu",
	       (unsigned long long)hw_module_generation());

	/* The stop: nothing stopped, the caller's own state filled in. */
	static hw_world w;
	EXPECT(hw_world_stop(&w, 100) == -1 && w.n == 0 && w.self.stopped &&
		       w.self.nregs > 0 && w.self.sp != 0,
	       "n %zu, nregs %u", w.n, w.self.nregs);
	EXPECT(hw_thread_pointer() == 0);

	/* No symbolizer: every answer is unknown. */
	static hw_symbolizer s;
	hw_symbol sym;
	hw_symbolizer_open(&s, true, "");
	EXPECT(s.tool == HW_SYM_NONE && hw_symbolize(&s, m.path, 0x1000, &sym, 1) == 0);
	hw_symbolizer_close(&s);
	EXPECT(hw_process_id() == (int)hw_process_id() && hw_process_id() > 0);
}

/* Whether the file at path holds exactly want (its bytes, up to len - 1,
 * are left in got); the file is removed. */
static bool taken_file_holds(const char *path, const char *want, char *got, size_t len)
{
	got[0] = '\0';
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	size_t n = fread(got, 1, len - 1, f);
	got[n] = '\0';
	fclose(f);
	remove(path);
	return strcmp(got, want) == 0;
}

/* The log file (console.h CN1): "<prefix>.<pid>", appended to. */
static void test_log_path(void)
{
	char path[256];
	/* Wine reuses process ids: an earlier run's file may have this name. */
	hw_report_format(path, sizeof path, "hw_win_log_test.%d", hw_process_id());
	remove(path);
	REQUIRE(hw_console_log_path("hw_win_log_test"));
	hw_report_write("heapward: to the log %d\n", 7);
	hw_report_write("heapward: and again\n");
	REQUIRE(hw_console_log_path(""));
	char got[128];
	EXPECT(taken_file_holds(path, "heapward: to the log 7\nheapward: and again\n", got,
				sizeof got),
	       "log file holds \"%s\"", got);
	char long_prefix[HW_LOG_PREFIX_MAX + 1];
	memset(long_prefix, 'x', sizeof long_prefix - 1);
	long_prefix[sizeof long_prefix - 1] = '\0';
	EXPECT(!hw_console_log_path(long_prefix), "a prefix too long is refused");
}

/* The kept copy of standard error (console.h CN4): after the C runtime's
 * _close(2), which leaves no standard error handle, lines go to the copy
 * kept before, and only once. */
static void test_kept_stderr(void)
{
	const char *path = "hw_win_keep_test.tmp";
	int file = _open(path, _O_WRONLY | _O_CREAT | _O_TRUNC | _O_BINARY, _S_IREAD | _S_IWRITE);
	REQUIRE(file >= 0);
	int real = _dup(2);
	REQUIRE(real >= 0 && _dup2(file, 2) == 0);
	_close(file);
	hw_console_keep();
	hw_report_write("heapward: open %d\n", 1);
	_close(2);
	hw_report_write("heapward: kept %d\n", 2);
	REQUIRE(_dup2(real, 2) == 0);
	_close(real);
	hw_console_keep(); /* the copy is now of the real one; the file's closes */
	char got[128];
	EXPECT(taken_file_holds(path, "heapward: open 1\nheapward: kept 2\n", got, sizeof got),
	       "the file holds \"%s\"", got);
}

HW_TEST_MAIN(T(test_caps), T(test_transitions), T(test_commit_charge),
	     T(test_range_across_reservations), T(test_refused_commit_is_enomem),
	     T(test_misuse_aborts), T(test_views), T(test_environment), T(test_debug_services),
	     T(test_log_path), T(test_kept_stderr), T(test_fault_access), CHILD(child_release_part),
	     CHILD(child_use_free_space), CHILD(child_fault_read), CHILD(child_fault_write))

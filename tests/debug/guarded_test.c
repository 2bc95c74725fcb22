/* guarded_test.c: guarded objects (src/malloc/guard.c) through the prefixed
 * API: the guard page traps at the access, the pattern catches what lies
 * between the object and its guard, freed objects trap in the quarantine
 * and are reused after it, the policies (all, sample:N, size filters) and
 * budgets decide which allocations are guarded (under PROT_NONE guards,
 * within the kernel's mapping limit), and refused guards (an address-space
 * limit) fall back without a crash or a system call each.
 *
 * Each check runs in a child (hw_trap_child) that starts the layer with its
 * own options, so the parent never allocates through it. A child that must
 * die writes "before" on stderr just before the bad access and "after"
 * just after it: the parent wants the first, SIGSEGV, and not the second.
 *
 * Invariants:
 *   GT1. Every object a check judges is made by the child itself, with the
 *        options the check names; nothing else allocates from the guarded
 *        heap in a child (the layer's own metadata never does).
 */
#include "check.h"
#include "child.h"
#include "guard.h"
#include "heapward.h"
#include "layer_check.h"
#include "malloc_internal.h"
#include "mappings.h"
#include "sanitizers.h"
#include "trap.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static char err[65536];
static hw_child_status st;

static void say(const char *s)
{
	(void)!write(2, s, strlen(s));
}

static bool traps(const void *p, bool write)
{
	return hw_trap_probe((volatile void *)p, write) != HW_TRAP_NONE;
}

static bool guarded(const void *p)
{
	mc_span *s = hw_mc_guard_span((uintptr_t)p);
	return s && s->kind == MC_SPAN_GUARDED;
}

/* Runs fn in a child; true when it exited 0. */
static bool child_ok(void (*fn)(void *), void *arg)
{
	if (hw_trap_child(fn, arg, err, sizeof err, &st) != 0)
		return false;
	if (st.signo != 0 || st.exit_code != 0) {
		fprintf(stderr, "child: signal %d, exit %d:\n%s\n", st.signo, st.exit_code, err);
		return false;
	}
	return true;
}

/* Runs fn in a child that must die of SIGSEGV between its markers. */
static void expect_segv(void (*fn)(void *), void *arg, const char *what)
{
	REQUIRE(hw_trap_child(fn, arg, err, sizeof err, &st) == 0);
	/* Under AddressSanitizer with the heap's annotations (HW_TRACKING=asan)
	 * a guard page is poisoned: ASan stops the access first. */
	bool stopped =
		st.signo == SIGSEGV || strstr(err, "ERROR: AddressSanitizer: use-after-poison");
	EXPECT(stopped && strstr(err, "before\n") && !strstr(err, "after\n"),
	       "%s: signal %d, exit %d: %s", what, st.signo, st.exit_code, err);
}

/* ---- the guard page traps at the access ---- */

typedef struct bad_access {
	const char *options;
	size_t n;
	long at; /* offset of the bad access from the object's start */
	bool write;
	bool freed; /* free the object first */
} bad_access;

static void access_child(void *arg)
{
	const bad_access *a = arg;
	CHILD_CHECK(hw_mc_start(a->options));
	volatile char *p = hw_malloc(a->n);
	CHILD_CHECK(p && guarded((void *)p));
	memset((void *)p, 1, a->n);
	if (a->freed)
		hw_free((void *)p);
	say("before\n");
	if (a->write)
		p[a->at] = 7;
	else
		(void)p[a->at];
	say("after\n");
}

static void test_overflow_by_one_traps(void)
{
	/* guard_align=1: the object's end is the guard page's start. */
	bad_access r = {"guard=all:guard_align=1:scavenger=0", 13, 13, false, false};
	expect_segv(access_child, &r, "read 1 byte past a 13-byte object");
	bad_access w = r;
	w.write = true;
	expect_segv(access_child, &w, "write 1 byte past a 13-byte object");
	bad_access big = {"guard=all:guard_align=1:scavenger=0", 10000, 10000, true, false};
	expect_segv(access_child, &big, "write 1 byte past a 10000-byte object");
	/* The last byte of the object is its own. */
	bad_access in = {"guard=all:guard_align=1:scavenger=0", 13, 12, true, false};
	REQUIRE(hw_trap_child(access_child, &in, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && strstr(err, "after\n"), "%d %s", st.signo, err);
}

static void test_underflow_traps_left(void)
{
	bad_access r = {"guard=all:guard_side=left:scavenger=0", 13, -1, false, false};
	expect_segv(access_child, &r, "read 1 byte before a left-guarded object");
	bad_access w = r;
	w.write = true;
	expect_segv(access_child, &w, "write 1 byte before a left-guarded object");
}

static void test_use_after_free_traps(void)
{
	bad_access r = {"guard=all:scavenger=0", 100, 50, false, true};
	expect_segv(access_child, &r, "read of a freed guarded object");
	bad_access w = r;
	w.write = true;
	expect_segv(access_child, &w, "write to a freed guarded object");
}

/* ---- the pattern, checked at free ---- */

static void pattern_child(void *arg)
{
	long at = (long)(intptr_t)arg;
	CHILD_CHECK(hw_mc_start("guard=all:debug=1:abort_on_error=0:scavenger=0"));
	char *p = hw_malloc(13);
	CHILD_CHECK(p && guarded(p) && ((uintptr_t)p & 15) == 0);
	/* 16-byte aligned: 3 bytes of pattern, then the guard page. */
	CHILD_CHECK(traps(p + 16, false) && !traps(p + 15, true));
	p[at] = 0;
	hw_free(p);
	CHILD_CHECK(layer_stats().errors == (at < 0 || at >= 13 ? 1u : 0u));
}

static void test_pattern_overflow(void)
{
	for (long k = 1; k <= 3; k++) {
		REQUIRE(child_ok(pattern_child, (void *)(intptr_t)(12 + k)));
		EXPECT(strstr(err, "heapward: heap buffer overflow: the pattern after the 13-byte "
				   "guarded object"),
		       "overflow by %ld: %s", k, err);
		char tail[64];
		snprintf(tail, sizeof tail, "(%ld bytes past its end), found by free", k - 1);
		EXPECT(strstr(err, tail), "overflow by %ld: %s", k, err);
		EXPECT(strstr(err, "ERROR: heapward: heap-buffer-overflow on address") &&
			       strstr(err, "allocated by thread T0 here:"),
		       "%s", err);
	}
	/* Before the object (right side): the pattern says underflow. */
	REQUIRE(child_ok(pattern_child, (void *)(intptr_t)-2));
	EXPECT(strstr(err, "heapward: heap buffer underflow: the pattern before the 13-byte "
			   "guarded object") &&
		       strstr(err, "(2 bytes before its start)") &&
		       strstr(err, "ERROR: heapward: heap-buffer-underflow on address"),
	       "%s", err);
	/* Inside the object: nothing. */
	REQUIRE(child_ok(pattern_child, (void *)(intptr_t)12));
	EXPECT(!strstr(err, "overflow") && !strstr(err, "underflow"), "%s", err);
}

/* ---- the quarantine ---- */

static void quarantine_child(void *arg)
{
	(void)arg;
	/* 100-byte objects: one 4 KiB data page each; the quarantine holds two. */
	CHILD_CHECK(hw_mc_start("guard=all:quarantine_bytes=8192:scavenger=0"));
	char *p[3];
	for (int i = 0; i < 3; i++) {
		p[i] = hw_malloc(100);
		CHILD_CHECK(p[i] && guarded(p[i]));
		memset(p[i], i + 1, 100);
	}
	hw_free(p[0]);
	hw_free(p[1]);
	CHILD_CHECK(layer_stats().quarantine_objects == 2 &&
		    layer_stats().quarantine_bytes == 8192);
	CHILD_CHECK(traps(p[0], false) && traps(p[1], true) && traps(p[1] + 99, false));
	CHILD_CHECK(layer_stats().guarded_objects == 1 && layer_stats().guarded_bytes == 4096);
	hw_free(p[2]); /* p[0] leaves the quarantine */
	CHILD_CHECK(layer_stats().quarantine_objects == 2 &&
		    layer_stats().quarantine_bytes == 8192);
	/* Its run is cached (GD6): freed memory that traps, its record still
	 * naming the object for a report. */
	mc_guard_obj o;
	CHILD_CHECK(hw_mc_guard_span((uintptr_t)p[0]) != &hw_mc_freed_span);
	CHILD_CHECK(hw_mc_guard_describe((uintptr_t)p[0] + 7, &o) && o.freed &&
		    o.start == (uintptr_t)p[0] && o.size == 100);
	CHILD_CHECK(traps(p[0], false));
	/* The first allocation filled the ready list (GD7) with new runs,
	 * the heap's next ones after p[2]'s (lowest address first): populated
	 * (resident before anything touches them), not trapping, holding no
	 * object. They come first, while p[0]'s run stays cached and
	 * trapping. */
	uintptr_t next = ((uintptr_t)p[2] & ~(uintptr_t)4095) + 8192;
	for (int i = 0; i < MC_GUARD_READY_PAGES - 3; i++) {
		void *page = (void *)(next + (uintptr_t)i * 8192);
		CHILD_CHECK(hw_platform_resident_bytes(page, 4096) == 4096);
		CHILD_CHECK(hw_mc_guard_span((uintptr_t)page) == &hw_mc_freed_span);
		CHILD_CHECK(!traps(page, true) && traps((char *)page + 4096, false));
	}
	for (int i = 0; i < MC_GUARD_READY_PAGES - 3; i++) {
		char *f = hw_malloc(100);
		CHILD_CHECK(f && guarded(f) && (uintptr_t)f >= next && traps(p[0], false));
	}
	/* The list is empty: the next refill takes the cached run first. */
	char *q = hw_malloc(100);
	CHILD_CHECK(q == p[0] && guarded(q) && !traps(q, true));
	CHILD_CHECK(traps(p[1], false) && traps(p[2], false));
	CHILD_CHECK(hw_mc_guard_describe((uintptr_t)p[1] + 5, &o) && o.freed &&
		    o.start == (uintptr_t)p[1] && o.size == 100);
	CHILD_CHECK(hw_mc_guard_describe((uintptr_t)q + 100, &o) && !o.freed &&
		    o.start == (uintptr_t)q && o.run_end - o.run == 8192);
	/* The guard page itself belongs to the object too. */
	CHILD_CHECK(hw_mc_guard_describe(o.run_end - 1, &o) && o.start == (uintptr_t)q);
	/* q's free evicts p[1], whose run is cached; a trim gives it back to
	 * the heap (and the ready runs of the second refill too): free pages,
	 * still trapping until the heap hands them out. */
	hw_free(q);
	CHILD_CHECK(hw_mc_guard_span((uintptr_t)p[1]) != &hw_mc_freed_span);
	hw_malloc_trim(0);
	CHILD_CHECK(hw_mc_guard_span((uintptr_t)p[1]) == &hw_mc_freed_span);
	CHILD_CHECK(traps(p[1], false));
	char *r = hw_malloc(100); /* lowest address first: p[1]'s run */
	CHILD_CHECK(r == p[1] && guarded(r) && !traps(r, true));
	fprintf(stderr, "quarantine ok\n");
}

/* n guarded objects of 16 bytes in all[], all live at once, then freed. */
static void live_then_freed(char **all, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHILD_CHECK((all[i] = hw_malloc(16)) && guarded(all[i]));
	for (size_t i = 0; i < n; i++)
		hw_free(all[i]);
}

/* GD10: with a quarantine whose runs can all stay sealed, a freed guarded
 * object's run is sealed where the platform can: it traps, keeps its
 * memory, and is one inaccessible mapping; when it is reused its guard
 * page still traps; however many are freed, at most the quarantine's and
 * the cache's runs are sealed, and sealing stops while the cache is
 * full. With a larger quarantine freed runs are faulted instead (their
 * data pages guard pages of the heap), and trap all the same. */
static void sealed_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("guard=all:quarantine_bytes=64k:scavenger=0"));
	mc_guard_stats gs;
	hw_mc_guard_stats(&gs);
	if (!hw_platform_os()->caps.seal_spans_faults) {
		CHILD_CHECK(gs.seal_max == 0);
		fprintf(stderr, "sealed: no guard regions\n");
		return;
	}
	CHILD_CHECK(gs.seal_max == 16 + 256 && gs.sealed == 0);
	char *p = hw_malloc(100);
	mc_guard_obj o;
	CHILD_CHECK(p && hw_mc_guard_describe((uintptr_t)p, &o));
	memset(p, 9, 100);
	hw_free(p);
	hw_mc_guard_stats(&gs);
	CHILD_CHECK(gs.sealed == 1 && traps(p, false) && traps(p + 99, true));
	int c[2] = {0, 0};
	CHILD_CHECK(hw_platform_mappings((void *)o.run, o.run_end - o.run, hw_test_count_mappings,
					 c) == 0);
	CHILD_CHECK(c[0] == 1 && c[1] == 0);
	CHILD_CHECK(hw_platform_resident_bytes((void *)o.run, 4096) == 4096);
	/* Through the quarantine (16 pages) and the cache, back in use by a
	 * smaller object: the guard page after it still traps, and the bytes
	 * the old object held outside the new one hold the pattern again
	 * (GD11: a free finds no damage). */
	char *q = NULL;
	for (int i = 0; i < 1000 && (uintptr_t)q - o.run >= 4096; i++) {
		q = hw_malloc(40);
		CHILD_CHECK(q && guarded(q));
		if ((uintptr_t)q - o.run >= 4096)
			hw_free(q);
	}
	CHILD_CHECK(q == p + 112 - 48 && !traps(q, true) && traps(q + 48, false));
	memset(q, 3, 40);
	hw_free(q);
	CHILD_CHECK(layer_stats().errors == 0);
	/* 1000 objects live, then freed: the quarantine's 16 and at most the
	 * cache's 256 runs stay sealed, the rest go back to the heap. */
	enum { N = 1000 };
	static char *all[N];
	live_then_freed(all, N);
	hw_mc_guard_stats(&gs);
	CHILD_CHECK(gs.sealed >= 16 && gs.sealed <= gs.seal_max);
	CHILD_CHECK(traps(all[0], false) && traps(all[N - 1], true));
	size_t sealed = gs.sealed;
	/* The cache filled: sealing is off until a refill finds it short. */
	CHILD_CHECK(!gs.sealing);
	for (size_t i = 0; i < 300; i++)
		CHILD_CHECK((all[i] = hw_malloc(16)) && guarded(all[i]));
	hw_mc_guard_stats(&gs);
	CHILD_CHECK(gs.sealing);
	for (size_t i = 0; i < 300; i++)
		hw_free(all[i]);
	/* Half a budget spent: nothing is sealed until fewer are live. */
	mc_start_config half = {.options = "guard=all:quarantine_bytes=64k:guard_budget_count=10:"
					   "scavenger=0"};
	hw_mc_reset(&half);
	for (size_t i = 0; i < 6; i++)
		CHILD_CHECK((all[i] = hw_malloc(16)) && guarded(all[i]));
	hw_free(all[5]);
	hw_free(all[4]);
	hw_mc_guard_stats(&gs);
	CHILD_CHECK(gs.sealed == 0 && gs.sealing && traps(all[4], false));
	hw_free(all[3]);
	hw_mc_guard_stats(&gs);
	CHILD_CHECK(gs.sealed == 1);
	for (size_t i = 0; i < 3; i++)
		hw_free(all[i]);
	/* A quarantine too large to keep sealed: nothing is; every freed
	 * object's data page is a guard page (and so is each run's own, the
	 * ready runs' included). */
	mc_start_config cfg = {.options = "guard=all:quarantine_bytes=1g:scavenger=0"};
	hw_mc_reset(&cfg);
	hw_mc_guard_stats(&gs);
	CHILD_CHECK(gs.seal_max == 0);
	live_then_freed(all, N);
	hw_mc_guard_stats(&gs);
	hw_heap_stats hs;
	hw_heap_stats_get(hw_mc_guard_heap(), &hs);
	CHILD_CHECK(gs.sealed == 0 && hs.guarded >= (size_t)N * 2 * 4096);
	CHILD_CHECK(traps(all[0], false) && traps(all[N / 2], true) && traps(all[N - 1], true));
	fprintf(stderr, "sealed: %zu runs sealed of %d freed, bound %d\n", sealed, N, 16 + 256);
}

/* GD6: the cache keeps the runs the quarantine evicts, up to the
 * quarantine's own bound in bytes of runs (guard pages included), and at
 * least 256 one-page runs; allocations take them back before the heap
 * makes new runs; a trim empties it. */
static void cache_child(void *arg)
{
	(void)arg;
	enum { N = 2000 };
	const size_t Q = (size_t)4 << 20;
	CHILD_CHECK(hw_mc_start("guard=all:quarantine_bytes=4m:scavenger=0"));
	mc_guard_stats gs;
	hw_mc_guard_stats(&gs);
	CHILD_CHECK(gs.cached == 0 && gs.cache_max == Q);
	static char *all[N];
	live_then_freed(all, N);
	/* 1024 runs quarantined (4 MiB of data pages), 976 evicted: 512 of
	 * them (8 KiB each) cached, the rest back in the heap. */
	hw_mc_guard_stats(&gs);
	CHILD_CHECK(gs.cached == Q);
	CHILD_CHECK(traps(all[0], false) && traps(all[N - 1], true));
	hw_heap_stats before, after;
	hw_heap_stats_get(hw_mc_guard_heap(), &before);
	for (size_t i = 0; i < 512; i++)
		CHILD_CHECK((all[i] = hw_malloc(16)) && guarded(all[i]));
	hw_mc_guard_stats(&gs);
	hw_heap_stats_get(hw_mc_guard_heap(), &after);
	CHILD_CHECK(gs.cached == 0 && after.inuse == before.inuse);
	for (size_t i = 0; i < 512; i++)
		hw_free(all[i]);
	hw_malloc_trim(0);
	hw_mc_guard_stats(&gs);
	CHILD_CHECK(gs.cached == 0);
	/* A small quarantine: 256 one-page runs' worth. */
	mc_start_config small = {.options = "guard=all:quarantine_bytes=64k:scavenger=0"};
	hw_mc_reset(&small);
	char *one = hw_malloc(16); /* the layer starts at its first call */
	CHILD_CHECK(one && guarded(one));
	hw_mc_guard_stats(&gs);
	CHILD_CHECK(gs.cache_max == (size_t)256 * 8192);
	hw_free(one);
	fprintf(stderr, "cache ok\n");
}

static void test_cache_bound(void)
{
	EXPECT(child_ok(cache_child, NULL) && strstr(err, "cache ok"), "%s", err);
}

static void test_sealed_quarantine(void)
{
	EXPECT(child_ok(sealed_child, NULL) && strstr(err, "sealed: "), "%s", err);
	const char *line = strstr(err, "sealed: ");
	if (line)
		printf("(%.*s)\n", (int)strcspn(line, "\n"), line);
}

static void test_quarantine_and_reuse(void)
{
	EXPECT(child_ok(quarantine_child, NULL) && strstr(err, "quarantine ok"), "%s", err);
}

static void double_free_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("guard=all:abort_on_error=0:scavenger=0"));
	void *p = hw_malloc(40);
	CHILD_CHECK(guarded(p));
	hw_free(p);
	hw_free(p);
	CHILD_CHECK(layer_stats().errors == 1 && layer_stats().quarantine_objects == 1);
	/* An interior pointer of a live guarded object. */
	char *q = hw_malloc(40);
	hw_free(q + 8);
	CHILD_CHECK(layer_stats().errors == 2 && layer_stats().guarded_objects == 1);
	/* A kind mismatch: operator new's object freed by free. */
	void *k = hw_mc_malloc_kind(24, MC_KIND_NEW);
	CHILD_CHECK(guarded(k));
	hw_mc_free_kind(k, MC_KIND_MALLOC, false, 0, "free");
	CHILD_CHECK(layer_stats().errors == 3 && layer_stats().guarded_objects == 2);
	hw_mc_free_kind(k, MC_KIND_NEW, false, 0, "operator delete");
	CHILD_CHECK(layer_stats().errors == 3 && layer_stats().guarded_objects == 1);
}

static void test_double_free_in_quarantine(void)
{
	REQUIRE(child_ok(double_free_child, NULL));
	const char *e = strstr(err, "ERROR: heapward: double-free on address");
	EXPECT(strstr(err, "heapward: double free of 0x") &&
		       strstr(err, "(a quarantined 40-byte guarded object [0x") && e &&
		       strstr(e, "freed by thread T0 here:") &&
		       strstr(e, "previously allocated by thread T0 here:"),
	       "%s", err);
	EXPECT(strstr(err, "heapward: invalid free of 0x") &&
		       strstr(err, ": not the start of an object; it is 8 bytes into the live "
				   "40-byte object"),
	       "%s", err);
	EXPECT(strstr(err, "heapward: alloc-dealloc mismatch: free of 0x") &&
		       strstr(err, "(a 24-byte object allocated by operator new)"),
	       "%s", err);
}

/* ---- the API on guarded objects ---- */

static void api_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("guard=all:scavenger=0"));
	char *p = hw_malloc(13);
	CHILD_CHECK(hw_malloc_usable_size(p) == 13);
	memcpy(p, "hello, guard", 13);
	char *q = hw_realloc(p, 5000);
	CHILD_CHECK(q && q != p && guarded(q) && memcmp(q, "hello, guard", 13) == 0);
	CHILD_CHECK(hw_malloc_usable_size(q) == 5000 && traps(p, false));
	CHILD_CHECK(!traps(q + 4999, true) && traps(q + 5008, false));
	char *r = hw_realloc(q, 3);
	CHILD_CHECK(r && guarded(r) && memcmp(r, "hel", 3) == 0 && traps(q, false));
	hw_free(r);
	unsigned char *z = hw_calloc(100, 41);
	CHILD_CHECK(z && guarded(z));
	for (size_t i = 0; i < 4100; i++)
		CHILD_CHECK(z[i] == 0);
	hw_free(z);
	size_t aligns[] = {32, 64, 4096, 8192, 65536};
	for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
		void *a = NULL;
		CHILD_CHECK(hw_posix_memalign(&a, aligns[i], 100) == 0);
		CHILD_CHECK(guarded(a) && (uintptr_t)a % aligns[i] == 0);
		void *b = hw_aligned_alloc(aligns[i], 3 * aligns[i]);
		CHILD_CHECK(guarded(b) && (uintptr_t)b % aligns[i] == 0);
		hw_free(a);
		hw_free(b);
	}
	void *v = hw_valloc(10);
	CHILD_CHECK(guarded(v) && (uintptr_t)v % 4096 == 0);
	hw_free(v);
	/* Large objects are guarded too, their end against the guard. */
	char *big = hw_malloc(1 << 20);
	CHILD_CHECK(guarded(big) && traps(big + (1 << 20), false) && !traps(big, true));
	hw_free(big);
	/* Zero bytes: a unique pointer that is not to be touched. */
	void *z0 = hw_malloc(0);
	CHILD_CHECK(z0 && guarded(z0) && hw_malloc_usable_size(z0) == 0);
	hw_free(z0);
	CHILD_CHECK(layer_stats().errors == 0 && layer_stats().guarded_objects == 0);
	fprintf(stderr, "api ok\n");
}

static void test_api(void)
{
	EXPECT(child_ok(api_child, NULL) && strstr(err, "api ok"), "%s", err);
}

/* N one-page objects filled with 0x5a and freed, then as many calloc'd of
 * the same size, which land where the first ones were once the quarantine
 * and the cache give their runs back: each must read as zero. */
static void calloc_after_fill(void)
{
	enum { N = 400 };
	static char *all[N];
	for (size_t i = 0; i < N; i++) {
		CHILD_CHECK((all[i] = hw_malloc(100)) && guarded(all[i]));
		memset(all[i], 0x5a, 100);
	}
	for (size_t i = 0; i < N; i++)
		hw_free(all[i]);
	for (size_t i = 0; i < N; i++) {
		unsigned char *z = hw_calloc(1, 100);
		CHILD_CHECK(z && guarded(z));
		for (size_t k = 0; k < 100; k++)
			CHILD_CHECK(z[k] == 0);
		all[i] = (char *)z;
	}
	for (size_t i = 0; i < N; i++)
		hw_free(all[i]);
}

/* GD13: calloc of a guarded object skips its memset only where the run's
 * pages read as zero: runs faulted and made usable again, and new ones,
 * but not unsealed ones, which keep the bytes of their last object. */
static void calloc_child(void *arg)
{
	(void)arg;
	/* A quarantine small enough that freed runs are sealed (where the
	 * kernel has guard regions), then one where they are faulted, under
	 * PROT_NONE and under guard regions. */
	CHILD_CHECK(hw_mc_start("guard=all:quarantine_bytes=64k:scavenger=0"));
	calloc_after_fill();
	mc_guard_stats gs;
	hw_mc_guard_stats(&gs);
	CHILD_CHECK(!hw_platform_os()->caps.seal_spans_faults || gs.seal_max > 0);
	mc_start_config protnone = {.options = "guard=all:quarantine_bytes=1g:guard_regions=0:"
					       "scavenger=0"};
	hw_mc_reset(&protnone);
	calloc_after_fill();
	mc_start_config faulted = {.options = "guard=all:quarantine_bytes=1g:scavenger=0"};
	hw_mc_reset(&faulted);
	calloc_after_fill();
	/* A large calloc'd object is not written: its pages stay out of
	 * memory until the program touches them. */
	size_t big = (size_t)64 << 20;
	unsigned char *z = hw_calloc(1, big);
	CHILD_CHECK(z && guarded(z));
	size_t resident = hw_platform_resident_bytes(z, big);
	CHILD_CHECK(resident <= (size_t)64 << 10);
	/* Filled, freed (too large for the quarantine: its run goes back to
	 * the heap, faulted), and calloc'd again: zero. */
	hw_free(z);
	char *m = hw_malloc(big);
	CHILD_CHECK(m && guarded(m));
	memset(m, 0x77, big);
	hw_free(m);
	z = hw_calloc(1, big);
	CHILD_CHECK(z && guarded(z));
	for (size_t k = 0; k < big; k += 512)
		CHILD_CHECK(z[k] == 0 && z[k + 511] == 0);
	hw_free(z);
	CHILD_CHECK(layer_stats().errors == 0);
	fprintf(stderr, "calloc ok: %zu bytes resident of a 64 MiB calloc\n", resident);
}

static void test_calloc_zero(void)
{
	EXPECT(child_ok(calloc_child, NULL) && strstr(err, "calloc ok"), "%s", err);
}

static void left_aligned_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("guard=all:guard_side=left:scavenger=0"));
	size_t aligns[] = {16, 4096, 16384};
	for (size_t i = 0; i < 3; i++) {
		void *a = NULL;
		CHILD_CHECK(hw_posix_memalign(&a, aligns[i], 24) == 0);
		CHILD_CHECK(guarded(a) && (uintptr_t)a % aligns[i] == 0);
		CHILD_CHECK(traps((char *)a - 1, false) && !traps((char *)a + 23, true));
		hw_free(a);
	}
}

static void test_left_side_keeps_alignment(void)
{
	EXPECT(child_ok(left_aligned_child, NULL), "%s", err);
}

/* guard_align=1 places a malloc'd object's end at its guard page, at any
 * address; an aligned request of 16 or less keeps its alignment all the
 * same (it was served as a malloc, 13 bytes at an odd address). */
static void byte_align_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("guard=all:guard_align=1:scavenger=0"));
	char *m = hw_malloc(13);
	CHILD_CHECK(guarded(m) && (uintptr_t)m % 16 == 3 && traps(m + 13, false));
	hw_free(m);
	for (size_t a = 1; a <= 16; a *= 2) {
		char *p[4] = {hw_aligned_alloc(a, 13), hw_memalign(a, 13), NULL,
			      hw_mc_aligned_kind(a, 13, MC_KIND_NEW_ALIGNED)};
		if (a >= sizeof(void *))
			CHILD_CHECK(hw_posix_memalign((void **)&p[2], a, 13) == 0);
		for (size_t i = 0; i < 4; i++) {
			if (!p[i])
				continue;
			CHILD_CHECK(guarded(p[i]) && (uintptr_t)p[i] % a == 0);
			/* Its end rounded up to a, against the guard. */
			CHILD_CHECK(!traps(p[i] + 12, true) &&
				    traps(p[i] + hw_align_up(13, a), false));
			if (i == 3)
				hw_mc_free_kind(p[i], MC_KIND_NEW_ALIGNED, false, 0,
						"operator delete");
			else
				hw_free(p[i]);
		}
	}
	CHILD_CHECK(layer_stats().errors == 0);
}

static void test_byte_align_keeps_requested_alignment(void)
{
	EXPECT(child_ok(byte_align_child, NULL), "%s", err);
}

/* ---- policies and budgets ---- */

static void budget_child(void *arg)
{
	const char *options = arg;
	CHILD_CHECK(hw_mc_start(options));
	void *p[5];
	for (int i = 0; i < 5; i++)
		p[i] = hw_malloc(100);
	CHILD_CHECK(guarded(p[0]) && guarded(p[1]) && guarded(p[2]));
	CHILD_CHECK(!guarded(p[3]) && !guarded(p[4]));
	hw_malloc_stats m = layer_stats();
	CHILD_CHECK(m.guarded_objects == 3 && m.guard_over_budget == 2 && m.guard_refused == 0);
	/* The fallback objects are the layer's own, with their checks. */
	CHILD_CHECK(hw_malloc_usable_size(p[3]) == 100);
	hw_free(p[3]);
	hw_free(p[0]);
	void *q = hw_malloc(100); /* room again */
	CHILD_CHECK(guarded(q) && layer_stats().guarded_objects == 3);
	CHILD_CHECK(!guarded(hw_malloc(100)) && layer_stats().guard_over_budget == 3);
}

/* GD9: the warning is printed at once with verbosity=1, else not at all
 * in a run that reports no error. */
static void test_budgets(void)
{
	const char *cases[] = {
		"guard=all:guard_budget_count=3:scavenger=0:verbosity=1",
		"guard=all:guard_budget_bytes=12288:scavenger=0:verbosity=1",
		"guard=all:guard_budget_count=3:scavenger=0",
	};
	for (int i = 0; i < 3; i++) {
		REQUIRE(child_ok(budget_child, (void *)cases[i]), "%s", cases[i]);
		EXPECT(hw_test_count(err, "heapward: warning: the guard budget is spent") ==
			       (i < 2 ? 1 : 0),
		       "%s: %s warning: %s", cases[i], i < 2 ? "one" : "no", err);
	}
}

/* GD3: an alignment no run of the guarded heap's window could have is
 * not guarded, counted as refused, with no warning (nothing ran out); the
 * allocation goes on as without guards, and the next one is guarded. */
static void far_aligned_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("guard=all:scavenger=0"));
	void *keep = hw_malloc(100);
	CHILD_CHECK(guarded(keep));
	const size_t far = (size_t)1 << 40; /* past GD_WINDOW_MAX's slack */
	errno = 0;
	void *p = hw_aligned_alloc(far, 16);
	CHILD_CHECK(p ? ((uintptr_t)p & (far - 1)) == 0 && !guarded(p) : errno == ENOMEM);
	hw_free(p);
	hw_malloc_stats m = layer_stats();
	CHILD_CHECK(m.guard_refused == 1 && m.guarded_objects == 1 && m.guard_over_budget == 0);
	void *q = hw_malloc(100);
	CHILD_CHECK(guarded(q) && layer_stats().guarded_objects == 2);
	hw_free(q);
	hw_free(keep);
	CHILD_CHECK(layer_stats().errors == 0);
}

static void test_far_alignment_not_guarded(void)
{
	REQUIRE(child_ok(far_aligned_child, NULL), "%s", err);
	EXPECT(!strstr(err, "heapward: warning"), "%s", err);
}

/* GD9: a spent budget is said before the first error report, once. */
static void budget_report_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("guard=all:guard_budget_count=1:abort_on_error=0:scavenger=0"));
	void *p = hw_malloc(40), *q = hw_malloc(40);
	CHILD_CHECK(guarded(p) && !guarded(q));
	hw_free(q);
	hw_free(q);
	hw_free(q);
	CHILD_CHECK(layer_stats().errors == 2);
	hw_free(p);
}

static void test_budget_said_with_a_report(void)
{
	REQUIRE(child_ok(budget_report_child, NULL), "%s", err);
	const char *w = strstr(err, "heapward: warning: the guard budget is spent");
	const char *d = strstr(err, "heapward: double free of 0x");
	EXPECT(w && d && w < d && hw_test_count(err, "the guard budget is spent") == 1, "%s", err);
}

/* GD3: an object larger than the whole bytes budget is not guarded, with
 * its own warning; the budget is not spent by it. */
static void whole_budget_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("guard=all:guard_budget_bytes=64k:scavenger=0:verbosity=1"));
	void *big = hw_malloc(100000);
	CHILD_CHECK(big && !guarded(big) && layer_stats().guard_over_budget == 1);
	void *small = hw_malloc(100);
	CHILD_CHECK(guarded(small) && layer_stats().guarded_objects == 1);
	hw_free(big);
	hw_free(small);
}

static void test_larger_than_budget(void)
{
	REQUIRE(child_ok(whole_budget_child, NULL), "%s", err);
	EXPECT(hw_test_count(err,
			     "heapward: warning: an allocation of 100000 bytes is larger than the "
			     "guard budget (guard_budget_bytes=65536)") == 1 &&
		       hw_test_count(err, "the guard budget is spent") == 0,
	       "%s", err);
}

static void sample_child(void *arg)
{
	CHILD_CHECK(hw_mc_start(arg));
	char line[401];
	for (int i = 0; i < 400; i++) {
		void *p = hw_malloc(32);
		line[i] = guarded(p) ? 'G' : '.';
	}
	line[400] = 0;
	fprintf(stderr, "picks %s\n", line);
}

static void picks(const char *options, char *out)
{
	out[0] = 0;
	if (child_ok(sample_child, (void *)options) && strstr(err, "picks "))
		snprintf(out, 401, "%s", strstr(err, "picks ") + 6);
}

static void test_sampling(void)
{
	static char a[401], b[401], c[401];
	picks("guard=sample:4:seed=42:scavenger=0", a);
	picks("guard=sample:4:seed=42:scavenger=0", b);
	picks("guard=sample:4:seed=43:scavenger=0", c);
	REQUIRE(strlen(a) == 400 && strlen(c) == 400, "%s", err);
	EXPECT(strcmp(a, b) == 0, "the same seed, the same picks:\n%s\n%s", a, b);
	EXPECT(strcmp(a, c) != 0, "another seed, other picks");
	size_t n = hw_test_count(a, "G");
	EXPECT(n >= 60 && n <= 140, "about 1 in 4 of 400: %zu", n);
	static char all[401], none[401];
	picks("guard=sample:1:scavenger=0", all);
	picks("guard=none:scavenger=0", none);
	EXPECT(hw_test_count(all, "G") == 400 && hw_test_count(none, "G") == 0, "%s %s", all, none);
}

static void filter_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("guard=all:guard_min=100:guard_max=200:scavenger=0"));
	CHILD_CHECK(!guarded(hw_malloc(99)) && guarded(hw_malloc(100)));
	CHILD_CHECK(guarded(hw_malloc(200)) && !guarded(hw_malloc(201)));
	CHILD_CHECK(!guarded(hw_malloc(100000)) && layer_stats().guard_over_budget == 0);
}

static void test_size_filters(void)
{
	EXPECT(child_ok(filter_child, NULL), "%s", err);
}

/* ---- the leak check sees guarded objects ---- */

static void *volatile root;

__attribute__((noinline)) static void plant(void)
{
	void **a = hw_malloc(64);
	a[0] = hw_malloc(24);
	void **b = hw_malloc(64);
	b[0] = hw_malloc(24);
	root = b;
	hw_free(hw_malloc(4000)); /* quarantined: its pages must not be read */
}

__attribute__((no_sanitize("address"), noinline)) static void scrub(void)
{
	volatile char b[16384];
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = 0;
}

static void leak_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("guard=all:detect_leaks=1:scavenger=0"));
	plant();
	scrub();
	CHILD_CHECK(layer_stats().guarded_objects == 4 && layer_stats().quarantine_objects == 1);
	size_t n = hw_malloc_leak_check();
	fprintf(stderr, "leaked %zu\n", n);
	CHILD_CHECK(n == 2);
	_exit(0);
}

static void test_leak_check(void)
{
	REQUIRE(child_ok(leak_child, NULL));
	EXPECT(strstr(err, "leaked 2") &&
		       strstr(err, "Direct leak of 64 byte(s) in 1 object(s) allocated from:") &&
		       strstr(err, "Indirect leak of 24 byte(s) in 1 object(s) allocated from:"),
	       "%s", err);
}

/* guard_regions=0: the layer's platform is the OS's with PROT_NONE guards
 * (platform.h hw_platform_os_plain_guards), so a guard page and a freed
 * object trap as protection faults; with guard regions (where the kernel
 * has them) as unmapped pages. */
static void regions_child(void *arg)
{
	bool regions = arg != NULL;
	CHILD_CHECK(hw_mc_start(regions ? "guard=all:scavenger=0"
					: "guard=all:guard_regions=0:scavenger=0"));
	hw_trap_kind want = regions && hw_platform_os()->caps.guard == HW_GUARD_MADVISE
				    ? HW_TRAP_MAPERR
				    : HW_TRAP_ACCERR;
	CHILD_CHECK(hw_mc_g.pf->caps.guard == (want == HW_TRAP_MAPERR ? HW_GUARD_MADVISE
								      : HW_GUARD_PROTNONE));
	char *p = hw_malloc(64);
	CHILD_CHECK(guarded(p));
	CHILD_CHECK(hw_trap_probe(p + 64, false) == want);
	hw_free(p);
	CHILD_CHECK(hw_trap_probe(p, true) == want);
	_exit(0);
}

static void test_guard_regions_option(void)
{
	REQUIRE(child_ok(regions_child, NULL), "guard_regions=0: %s", err);
	REQUIRE(child_ok(regions_child, (void *)1), "guard_regions=1: %s", err);
}

/* ---- refused guards: PROT_NONE guards and an address-space limit ---- */

#define PROTNONE_OBJECTS 40000

static void protnone_child(void *arg)
{
	hw_platform *pf = hw_platform_linux_create(true, false);
	CHILD_CHECK(pf && pf->caps.guard == HW_GUARD_PROTNONE);
	mc_start_config cfg = {.platform = pf, .options = arg};
	hw_mc_reset(&cfg);
	/* GD3: each live guarded run is two mappings under PROT_NONE (its
	 * data, its guard). The budget stops at half of seven eighths of the
	 * kernel's limit, so the rest are made on the ordinary path, which
	 * still finds mappings for its spans: not one allocation fails. */
	long maps = hw_platform_max_map_count();
	uint64_t cap = maps > 0 ? (uint64_t)(maps - maps / 8) / 2 : 28669;
	static void *p[PROTNONE_OBJECTS];
	size_t plain = 0;
	for (size_t i = 0; i < PROTNONE_OBJECTS; i++) {
		p[i] = hw_malloc(16);
		CHILD_CHECK(p[i] != NULL);
		plain += !guarded(p[i]);
	}
	hw_malloc_stats m = layer_stats();
	long vmas = hw_platform_vma_count();
	fprintf(stderr,
		"protnone: %zu guarded, %llu over budget, %llu refused, %zu not guarded, %ld "
		"mappings of %ld\n",
		m.guarded_objects, (unsigned long long)m.guard_over_budget,
		(unsigned long long)m.guard_refused, plain, vmas, maps);
	CHILD_CHECK(m.guarded_objects == cap && plain == PROTNONE_OBJECTS - cap &&
		    m.guard_over_budget == plain && m.guard_refused == 0);
	CHILD_CHECK(maps <= 0 || vmas < maps - maps / 16);
	for (size_t i = 0; i < PROTNONE_OBJECTS; i++)
		hw_free(p[i]);
	/* Quarantined, the freed runs trap whole and merge with their
	 * neighbours (linux.c L8): a mapping apart each, before. */
	long freed_vmas = hw_platform_vma_count();
	fprintf(stderr, "protnone: %ld mappings once all are freed\n", freed_vmas);
	CHILD_CHECK(layer_stats().quarantine_objects >= cap && freed_vmas < 2000);
	CHILD_CHECK(layer_stats().errors == 0 && layer_stats().guarded_objects == 0);
	void *d = hw_malloc(16);
	CHILD_CHECK(guarded(d));
	hw_free(d);
	hw_free(d); /* a report, and GD9's warning before it */
	CHILD_CHECK(layer_stats().errors == 1);
	_exit(0);
}

/* GD9: the warning comes once, before the first report, or at once with
 * verbosity=1. */
static void warned_once(const char *what, const char *marker, bool at_once)
{
	const char *w = strstr(err, what), *mark = strstr(err, marker);
	const char *report = strstr(err, "heapward: double free of 0x");
	EXPECT(hw_test_count(err, what) == 1 && mark && report &&
		       (at_once ? w < mark : mark < w && w < report),
	       "%s", err);
	for (const char *line = mark; line; line = strstr(line + 1, marker))
		printf("(%.*s)\n", (int)strcspn(line, "\n"), line);
}

static void test_protnone_budget(void)
{
	const char *cases[] = {"guard=all:scavenger=0:abort_on_error=0",
			       "guard=all:scavenger=0:abort_on_error=0:verbosity=1"};
	for (int i = 0; i < 2; i++) {
		REQUIRE(child_ok(protnone_child, (void *)cases[i]), "%s", cases[i]);
		warned_once("heapward: warning: the guard budget is spent", "protnone: ", i == 1);
	}
}

#if !HW_TEST_ASAN /* ASan's shadow passes any address-space limit */
static uint64_t platform_calls(const hw_platform *pf)
{
	uint64_t n = 0;
	for (int k = 0; k < HW_SYS_NKINDS; k++)
		n += pf->calls[k];
	return n;
}

/* GD12: under an address-space limit set after start, the guarded heap
 * cannot grow; the allocations it refuses then go to the ordinary path
 * without asking the OS again each time (three failed reservations each,
 * before), and guarding resumes once a guarded object is freed. */
static void limited_child(void *arg)
{
	hw_platform *pf = hw_platform_linux_create(false, false);
	CHILD_CHECK(pf);
	mc_start_config cfg = {.platform = pf, .options = arg};
	hw_mc_reset(&cfg);
	void *first = hw_malloc(16);
	CHILD_CHECK(guarded(first));
	struct rlimit r;
	CHILD_CHECK(getrlimit(RLIMIT_AS, &r) == 0);
	r.rlim_cur = hw_test_mapped_bytes() + ((size_t)32 << 20);
	CHILD_CHECK(hw_test_mapped_bytes() != 0 && setrlimit(RLIMIT_AS, &r) == 0);
	static void *p[40000];
	size_t n = 0, plain = 0;
	while (n < sizeof p / sizeof p[0] && plain < 1000) {
		p[n] = hw_malloc(16);
		CHILD_CHECK(p[n] != NULL);
		plain += !guarded(p[n++]);
	}
	hw_malloc_stats m = layer_stats();
	uint64_t before = platform_calls(pf);
	static void *more[1000];
	for (size_t i = 0; i < 1000; i++) {
		more[i] = hw_malloc(16);
		CHILD_CHECK(more[i] && !guarded(more[i]));
	}
	uint64_t spent = platform_calls(pf) - before;
	fprintf(stderr, "limited: %zu guarded, %llu refused, %llu platform calls for 1000 more\n",
		m.guarded_objects, (unsigned long long)m.guard_refused, (unsigned long long)spent);
	CHILD_CHECK(plain == 1000 && m.guard_refused >= 1000 && spent < 100);
	hw_free(first);
	void *d = hw_malloc(16);
	CHILD_CHECK(guarded(d));
	hw_free(d);
	for (size_t i = 0; i < n; i++)
		hw_free(p[i]);
	hw_free(more[0]);
	hw_free(more[0]); /* a report, and GD9's warning before it */
	for (size_t i = 1; i < 1000; i++)
		hw_free(more[i]);
	CHILD_CHECK(layer_stats().errors == 1);
	_exit(0);
}

static void test_refused_under_limit(void)
{
	const char *cases[] = {
		"guard=all:scavenger=0:abort_on_error=0:quarantine_bytes=0",
		"guard=all:scavenger=0:abort_on_error=0:quarantine_bytes=0:verbosity=1"};
	for (int i = 0; i < 2; i++) {
		REQUIRE(child_ok(limited_child, (void *)cases[i]), "%s", cases[i]);
		warned_once("heapward: warning: a guarded allocation was refused", "limited: ",
			    i == 1);
	}
}
#endif

int main(int argc, char **argv)
{
	static const hw_test tests[] = {
		T(test_overflow_by_one_traps),
		T(test_underflow_traps_left),
		T(test_use_after_free_traps),
		T(test_pattern_overflow),
		T(test_quarantine_and_reuse),
		T(test_sealed_quarantine),
		T(test_cache_bound),
		T(test_double_free_in_quarantine),
		T(test_api),
		T(test_calloc_zero),
		T(test_left_side_keeps_alignment),
		T(test_byte_align_keeps_requested_alignment),
		T(test_budgets),
		T(test_far_alignment_not_guarded),
		T(test_budget_said_with_a_report),
		T(test_larger_than_budget),
		T(test_sampling),
		T(test_size_filters),
		T(test_leak_check),
		T(test_guard_regions_option),
		T(test_protnone_budget),
#if !HW_TEST_ASAN
		T(test_refused_under_limit),
#endif
	};
	return hw_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
}

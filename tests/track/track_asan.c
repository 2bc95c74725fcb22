/* track_asan.c: the heap's AddressSanitizer annotations (src/track.h, built
 * with HW_TRACKING=asan), seen from the prefixed API.
 *
 * Owns: tests that each run a scenario in a child (hw_trap_child) and read
 * the child's stderr and exit status, so an ASan report ends the child, not
 * this program:
 *   - a stale read or write of a freed run is reported as use-after-poison
 *     at the address touched, and the child exits non-zero;
 *   - a clean sequence (alloc, fill, free, scavenge, reuse, aligned runs,
 *     destroy with live runs) reports nothing;
 *   - memory that was an arena, mapped again after its heap is destroyed (on
 *     the simulator: deterministically the same pages), is clean, and heaps
 *     created and destroyed in a loop stay clean (unpoison before unmap);
 *   - LeakSanitizer treats a live run as a root region: a malloc'd block
 *     whose only pointer lives in heap memory is not a leak, and is one once
 *     that slot is overwritten; after destroy the range is no root any more;
 *     a leak check beside guard-faulted free pages works.
 *
 * Invariants:
 *   TA1. Every scenario ends its output with a line "done <name>" when it ran
 *        to the end; the parent requires it exactly when no report is
 *        expected, so a child that died early cannot pass as clean.
 *   TA2. The LeakSanitizer scenarios wipe the stack and registers' spill
 *        slots before each leak check, so the only pointer to the block is the
 *        one the scenario says.
 *
 * Locking: single-threaded.
 */
#include "check.h"
#include "heapward.h"
#include "platform.h"
#include "sim.h"
#include "trap.h"

#include <sanitizer/lsan_interface.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MiB ((size_t)1 << 20)
#define ERRLEN (64 * 1024)

static char err[ERRLEN];

/* Which platform a scenario's heap runs on. */
typedef enum backend {
	ON_OS,
	ON_SIM,      /* released pages read as zero */
	ON_SIM_JUNK, /* the simulator fills reused released pages (os_fill) */
	BACKENDS
} backend;

static const char *backend_name(backend b)
{
	static const char *const names[BACKENDS] = {"os", "sim", "sim-junk"};
	return names[b];
}

static hw_platform *open_platform(backend b)
{
	if (b == ON_OS)
		return hw_platform_os();
	hw_sim_config sc = {.backing_bytes = 256 * MiB, .released_reads_zero = b == ON_SIM};
	return hw_platform_sim_create(&sc);
}

static hw_heap *open_heap(hw_platform *pf)
{
	hw_heap_config c = {.platform = pf, .arena_size = 4 * MiB, .address_space = 64 * MiB};
	return hw_heap_create(&c);
}

/* A scenario failed in a way ASan did not report: say so and stop. */
static void die(const char *what)
{
	fprintf(stderr, "scenario failed: %s\n", what);
	fflush(NULL);
	_Exit(3);
}

/* Runs fn in a child; the child's stderr lands in err. */
static hw_child_status run(void (*fn)(void *), void *arg)
{
	hw_child_status st = {0, 0};
	err[0] = '\0';
	int rc = hw_trap_child(fn, arg, err, sizeof err, &st);
	if (rc != 0) {
		snprintf(err, sizeof err, "hw_trap_child failed: errno %d", rc);
		st.exit_code = -1;
	}
	return st;
}

static bool has(const char *needle) { return strstr(err, needle) != NULL; }

/* The child stopped at an ASan report of `kind` at the address it printed
 * as "touch <address>". ctx names the scenario's backend in messages. */
static void expect_report(hw_child_status st, const char *ctx, const char *kind, const char *access)
{
	EXPECT(st.signo == 0 && st.exit_code != 0, "[%s] child: exit %d signal %d", ctx,
	       st.exit_code, st.signo);
	char want[128];
	snprintf(want, sizeof want, "ERROR: AddressSanitizer: %s", kind);
	EXPECT(has(want), "[%s] no \"%s\" in:\n%s", ctx, want, err);
	EXPECT(has(access), "[%s] no \"%s\" in:\n%s", ctx, access, err);
	const char *t = strstr(err, "touch ");
	REQUIRE(t != NULL, "[%s] child did not say where it touched:\n%s", ctx, err);
	char addr[64];
	REQUIRE(sscanf(t, "touch %63s", addr) == 1);
	snprintf(want, sizeof want, "on address %s", addr);
	EXPECT(has(want), "[%s] report is not about %s:\n%s", ctx, addr, err);
	EXPECT(!has("done "), "[%s] the child went on after the stale access:\n%s", ctx, err);
}

/* TA1: ran to the end, and ASan said nothing. */
static void expect_clean(hw_child_status st, const char *ctx, const char *name)
{
	char want[64];
	snprintf(want, sizeof want, "done %s\n", name);
	EXPECT(st.signo == 0 && st.exit_code == 0, "[%s] child: exit %d signal %d:\n%s", ctx,
	       st.exit_code, st.signo, err);
	EXPECT(!has("Sanitizer"), "[%s] unexpected report:\n%s", ctx, err);
	EXPECT(has(want), "[%s] no \"%s\" in:\n%s", ctx, want, err);
}

/* ---- stale accesses ------------------------------------------------------ */

typedef struct stale_arg {
	backend b;
	bool write;
} stale_arg;

static void stale_access(void *arg)
{
	const stale_arg *a = arg;
	hw_heap *h = open_heap(open_platform(a->b));
	if (!h)
		die("heap");
	size_t ps = hw_heap_page_size(h);
	unsigned char *p = hw_heap_alloc(h, 2);
	if (!p)
		die("alloc");
	memset(p, 0x5a, 2 * ps);
	if (hw_heap_free(h, p, 2) != 0)
		die("free");
	volatile unsigned char *q = p + ps + 17;
	fprintf(stderr, "touch %p\n", (void *)q);
	if (a->write)
		*q = 1;
	else
		fprintf(stderr, "read %d\n", *q);
	fprintf(stderr, "done stale\n");
}

static void test_stale_read_reported(void)
{
	for (backend b = ON_OS; b < BACKENDS; b++) {
		stale_arg a = {b, false};
		hw_child_status st = run(stale_access, &a);
		expect_report(st, backend_name(b), "use-after-poison", "READ of size 1");
	}
}

static void test_stale_write_reported(void)
{
	for (backend b = ON_OS; b < BACKENDS; b++) {
		stale_arg a = {b, true};
		hw_child_status st = run(stale_access, &a);
		expect_report(st, backend_name(b), "use-after-poison", "WRITE of size 1");
	}
}

/* ---- clean use ------------------------------------------------------------ */

static void clean_sequence(void *arg)
{
	backend b = *(const backend *)arg;
	hw_heap *h = open_heap(open_platform(b));
	if (!h)
		die("heap");
	size_t ps = hw_heap_page_size(h);
	enum { N = 24 };
	unsigned char *run[N];
	size_t len[N];
	for (int i = 0; i < N; i++) {
		len[i] = 1 + (size_t)(i * 7) % 13;
		run[i] = hw_heap_alloc(h, len[i]);
		if (!run[i])
			die("alloc");
		memset(run[i], i, len[i] * ps);
	}
	for (int i = 0; i < N; i += 2)
		if (hw_heap_free(h, run[i], len[i]) != 0)
			die("free");
	hw_heap_scavenge(h, SIZE_MAX);
	/* Reuse freed, released pages: every byte of each run is usable. */
	for (int i = 0; i < N; i += 2) {
		bool z = false;
		run[i] = hw_heap_alloc_aligned(h, len[i], ps << (i % 3), &z);
		if (!run[i])
			die("realloc");
		unsigned sum = 0;
		for (size_t k = 0; k < len[i] * ps; k += 512)
			sum += run[i][k];
		if (z && sum != 0)
			die("a zeroed run is not zero");
		memset(run[i], 0xee, len[i] * ps);
	}
	for (int i = 1; i < N; i += 2)
		for (size_t k = 0; k < len[i] * ps; k += 4096)
			if (run[i][k] != i)
				die("contents lost");
	char msg[256];
	if (hw_heap_validate(h, msg, sizeof msg) != 0)
		die(msg);
	/* Live runs die with the heap. */
	hw_heap_destroy(h);
	fprintf(stderr, "done clean\n");
}

static void test_clean_sequence_is_clean(void)
{
	for (backend b = ON_OS; b < BACKENDS; b++) {
		hw_child_status st = run(clean_sequence, &b);
		expect_clean(st, backend_name(b), "clean");
	}
}

/* ---- poison does not outlive the arena ----------------------------------- */

/* A heap whose runs were freed (poisoned) is destroyed; the same simulated
 * pages are then handed out by the platform directly and written: any
 * poison left behind would be reported. */
static void remap_after_destroy(void *arg)
{
	(void)arg;
	hw_platform *pf = open_platform(ON_SIM);
	if (!pf)
		die("sim");
	for (int round = 0; round < 8; round++) {
		hw_heap *h = open_heap(pf);
		if (!h)
			die("heap");
		size_t ps = hw_heap_page_size(h);
		unsigned char *a = hw_heap_alloc(h, 8), *b = hw_heap_alloc(h, 3);
		if (!a || !b)
			die("alloc");
		memset(a, 1, 8 * ps);
		memset(b, 2, 3 * ps);
		if (hw_heap_free(h, a, 8) != 0)
			die("free");
		hw_heap_destroy(h);
		/* The simulator hands out its lowest free pages: these cover
		 * everything the heap had, metadata and arena. */
		size_t n = 32 * MiB;
		void *q;
		if (hw_sys_alloc(pf, n, &q) != 0)
			die("platform alloc");
		if (!((uintptr_t)a >= (uintptr_t)q && (uintptr_t)a + 8 * ps <= (uintptr_t)q + n))
			die("the freed run's pages were not handed out again");
		memset(q, 3, n);
		hw_sys_release(pf, q, n);
	}
	hw_platform_destroy(pf);
	fprintf(stderr, "done remap\n");
}

static void test_remap_after_destroy_is_clean(void)
{
	hw_child_status st = run(remap_after_destroy, NULL);
	expect_clean(st, "sim", "remap");
}

/* Heaps created and destroyed in a loop, each touching its runs. Counts
 * how often a run's address is written again after its heap is gone: on
 * the simulator, later heaps land where earlier arenas were; on the OS,
 * whose windows are drawn at random (platform/linux.c L6), the scenario
 * maps the first run's pages again itself and writes them. */
static void heap_loop(void *arg)
{
	backend b = *(const backend *)arg;
	hw_platform *pf = open_platform(b);
	if (!pf)
		die("platform");
	uintptr_t seen[64];
	unsigned reused = 0;
	for (int round = 0; round < 64; round++) {
		hw_heap *h = open_heap(pf);
		if (!h)
			die("heap");
		size_t ps = hw_heap_page_size(h);
		unsigned char *r[4];
		for (int i = 0; i < 4; i++) {
			r[i] = hw_heap_alloc(h, (size_t)(1 + i + round % 5));
			if (!r[i])
				die("alloc");
			memset(r[i], round, (size_t)(1 + i + round % 5) * ps);
		}
		if (hw_heap_free(h, r[1], (size_t)(2 + round % 5)) != 0)
			die("free");
		seen[round] = (uintptr_t)r[0];
		for (int k = 0; k < round; k++)
			if (seen[k] == seen[round]) {
				reused++;
				break;
			}
		hw_heap_destroy(h);
		size_t n = (size_t)(1 + round % 5) * ps;
		void *q = NULL;
		if (b == ON_OS && hw_sys_reserve(pf, r[0], n, &q) == 0) {
			if (q == r[0] && hw_sys_map(pf, q, n) == 0 && hw_sys_use(pf, q, n) == 0) {
				memset(q, round + 1, n);
				reused++;
			}
			hw_sys_release(pf, q, n);
		}
	}
	if (b != ON_OS)
		hw_platform_destroy(pf);
	fprintf(stderr, "reused %u\ndone loop\n", reused);
}

static void test_heap_loop_is_clean(void)
{
	for (backend b = ON_OS; b < BACKENDS; b++) {
		hw_child_status st = run(heap_loop, &b);
		expect_clean(st, backend_name(b), "loop");
		unsigned reused = 0;
		const char *t = strstr(err, "reused ");
		EXPECT(t && sscanf(t, "reused %u", &reused) == 1);
		/* Otherwise the loop proves nothing about stale poison. */
		EXPECT(reused > 0, "[%s] no address was ever reused", backend_name(b));
	}
}

/* ---- LeakSanitizer roots ------------------------------------------------- */

/* TA2: overwrites the stack below the caller, where callees spilled. */
__attribute__((noinline)) static void wipe_stack(void)
{
	volatile unsigned char junk[64 * 1024];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = 0;
}

/* Stores a fresh malloc'd block's only pointer at *slot. */
__attribute__((noinline)) static void plant(void *volatile *slot)
{
	void *m = malloc(48);
	if (!m)
		die("malloc");
	memset(m, 0x77, 48);
	*slot = m;
}

__attribute__((noinline)) static int leaks_now(void)
{
	wipe_stack();
	return __lsan_do_recoverable_leak_check();
}

static void roots(void *arg)
{
	backend b = *(const backend *)arg;
	hw_heap *h = open_heap(open_platform(b));
	if (!h)
		die("heap");
	void *volatile *slot = hw_heap_alloc(h, 1);
	if (!slot)
		die("alloc");
	plant(slot + 5);
	int held = leaks_now();
	slot[5] = NULL;
	int dropped = leaks_now();
	fprintf(stderr, "held %d dropped %d\ndone roots\n", held, dropped);
}

static void test_heap_pages_are_lsan_roots(void)
{
	for (backend b = ON_OS; b < BACKENDS; b++) {
		hw_child_status st = run(roots, &b);
		const char *ctx = backend_name(b);
		int held = -1, dropped = -1;
		const char *t = strstr(err, "held ");
		REQUIRE(t && sscanf(t, "held %d dropped %d", &held, &dropped) == 2, "[%s] %s", ctx,
			err);
		EXPECT(st.signo == 0 && st.exit_code == 0 && has("done roots\n"), "[%s] %s", ctx,
		       err);
		EXPECT(held == 0, "[%s] a block pointed to from heap memory was reported:\n%s", ctx,
		       err);
		/* Also shows LeakSanitizer is on at all. */
		EXPECT(dropped != 0, "[%s] a block with no pointer left was not reported", ctx);
		EXPECT(has("ERROR: LeakSanitizer: detected memory leaks"), "[%s] %s", ctx, err);
	}
}

/* After destroy the arena's range is no root: the same simulated pages,
 * handed out again and holding a block's only pointer, do not keep it. */
static void roots_gone(void *arg)
{
	(void)arg;
	hw_platform *pf = open_platform(ON_SIM);
	hw_heap *h = open_heap(pf);
	if (!h)
		die("heap");
	void *volatile *slot = hw_heap_alloc(h, 1);
	if (!slot)
		die("alloc");
	hw_heap_destroy(h);
	size_t n = 32 * MiB;
	void *q;
	if (hw_sys_alloc(pf, n, &q) != 0)
		die("platform alloc");
	if (!((uintptr_t)slot >= (uintptr_t)q && (uintptr_t)slot < (uintptr_t)q + n))
		die("the arena's pages were not handed out again");
	plant(slot + 5);
	slot = NULL;
	int after = leaks_now();
	fprintf(stderr, "after %d\ndone gone\n", after);
}

static void test_destroyed_arena_is_no_root(void)
{
	hw_child_status st = run(roots_gone, NULL);
	int after = -1;
	const char *t = strstr(err, "after ");
	REQUIRE(t && sscanf(t, "after %d", &after) == 1, "%s", err);
	EXPECT(st.signo == 0 && st.exit_code == 0 && has("done gone\n"), "%s", err);
	EXPECT(after != 0, "a destroyed arena's range still keeps blocks alive");
}

/* A leak check while a fault_on_free heap on Linux holds guard pages (freed
 * runs faulted with MADV_GUARD_INSTALL, inside readable mappings). When whole
 * arenas were root regions, LeakSanitizer read those pages and its tracer died
 * ("Tracer caught signal 11"); only live runs are roots now. */
static void guards_alive(void *arg)
{
	(void)arg;
	hw_heap_config c = {
		.arena_size = 4 * MiB,
		.address_space = 64 * MiB,
		.fault_on_free = true,
	};
	hw_heap *h = hw_heap_create(&c);
	if (!h)
		die("heap");
	void *volatile *keep = hw_heap_alloc(h, 1);
	void *gone = hw_heap_alloc(h, 4);
	if (!keep || !gone || hw_heap_free(h, gone, 4) != 0)
		die("alloc/free");
	plant(keep + 5);
	int held = leaks_now();
	fprintf(stderr, "held %d\ndone guards\n", held);
}

static void test_leak_check_beside_guard_pages(void)
{
	hw_child_status st = run(guards_alive, NULL);
	EXPECT(st.signo == 0 && st.exit_code == 0 && has("done guards\n"), "%s", err);
	EXPECT(has("held 0\n"), "the block kept by a live run was reported:\n%s", err);
	EXPECT(!has("Tracer caught signal"), "%s", err);
}

HW_TEST_MAIN(T(test_stale_read_reported), T(test_stale_write_reported),
	     T(test_clean_sequence_is_clean), T(test_remap_after_destroy_is_clean),
	     T(test_heap_loop_is_clean), T(test_heap_pages_are_lsan_roots),
	     T(test_destroyed_arena_is_no_root), T(test_leak_check_beside_guard_pages))

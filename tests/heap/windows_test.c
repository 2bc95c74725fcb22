/* windows_test.c: the heap on the Windows backend, and the seed's point there.
 *
 * Built only for Windows (run under Wine by ci/windows.sh). On Windows a
 * page is charged when it is committed, which is the heap's Prepared ->
 * Ready; the seed's rule (new memory is counted released) is what keeps a
 * heap from being charged for arenas it only reserved. Checked here:
 *   - after a grow the arena is all released in the stats and not one byte
 *     of it is committed (VirtualQuery); an allocation commits exactly its
 *     run, and the process's commit charge moves by the run, not by the
 *     arena; a scavenge decommits it again;
 *   - an injected commit failure (the run's, and the metadata's on a first
 *     grow) returns ENOMEM with every statistic as before and the heap
 *     valid; so does a commit the system itself refuses (1 TiB);
 *   - under fault_on_free a touch of a freed run is caught by the vectored
 *     exception handler and reported (the fault, its address, the heap, the
 *     run and the page's state) before the process dies of the access
 *     violation, as fault_report_test checks on Linux with fork; here each
 *     child is a new run of this program (hw_trap_rerun) that prints the
 *     report it expects, computed from its own heap, before it touches.
 */
#include "base.h"
#include "check.h"
#include "heapward.h"
#include "inspect.h"
#include "platform.h"
#include "trap.h"
#include "win.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

static hw_heap_stats stats(hw_heap *h)
{
	hw_heap_stats s;
	hw_heap_stats_get(h, &s);
	return s;
}

static bool valid(hw_heap *h)
{
	char msg[512];
	int rc = hw_heap_validate(h, msg, sizeof msg);
	if (rc != 0)
		fprintf(stderr, "validate: %d: %s\n", rc, msg);
	return rc == 0;
}

/* Committed bytes of every arena of h. */
static size_t arena_committed(hw_heap *h)
{
	size_t total = 0;
	for (size_t i = 0; i < stats(h).arenas; i++) {
		void *base;
		size_t size;
		hw_heap_arena_get(h, i, &base, &size);
		total += hw_platform_resident_bytes(base, size);
	}
	return total;
}

static void test_new_memory_is_released_and_uncharged(void)
{
	hw_platform *pf = hw_platform_os_create();
	REQUIRE(pf != NULL);
	hw_heap_config c = {.platform = pf};
	hw_heap *h = hw_heap_create(&c);
	REQUIRE(h != NULL);
	size_t c0 = hw_platform_commit_charge();
	REQUIRE(c0 != SIZE_MAX);

	REQUIRE(hw_heap_grow(h, 1) == 0);
	hw_heap_stats s = stats(h);
	EXPECT(s.mapped >= 64 * MiB && s.released == s.mapped && s.ready == 0,
	       "after a grow: mapped %zu released %zu ready %zu", s.mapped, s.released, s.ready);
	EXPECT(arena_committed(h) == 0, "the new arena is not committed: %zu", arena_committed(h));

	size_t run = 1 * MiB, P = hw_heap_page_size(h);
	unsigned char *p = hw_heap_alloc(h, run / P);
	REQUIRE(p != NULL);
	for (size_t off = 0; off < run; off += 4096)
		p[off] = 1;
	s = stats(h);
	EXPECT(s.ready == run && arena_committed(h) == run,
	       "a run commits exactly itself: ready %zu, committed %zu", s.ready,
	       arena_committed(h));
	EXPECT(s.mapped == 64 * MiB && s.arenas == 1, "no second grow");
	size_t c1 = hw_platform_commit_charge();
	EXPECT(c1 >= c0 + run - run / 8 && c1 < c0 + run + s.meta_ready + 8 * MiB,
	       "a 1 MiB run in a %zu MiB arena charged %zu KiB (metadata %zu KiB)",
	       s.mapped / MiB, (c1 - c0) >> 10, s.meta_ready >> 10);
	EXPECT(valid(h));

	EXPECT(hw_heap_free(h, p, run / P) == 0);
	EXPECT(hw_heap_scavenge(h, SIZE_MAX) == run);
	s = stats(h);
	EXPECT(s.released == s.mapped && arena_committed(h) == 0, "scavenged: committed %zu",
	       arena_committed(h));
	size_t c2 = hw_platform_commit_charge();
	EXPECT(c2 + run - run / 8 <= c1, "the scavenge returned %zu KiB of charge",
	       (c1 - c2) >> 10);
	printf("commit charge: +%zu KiB for a 1 MiB run in a %zu MiB arena, -%zu KiB scavenged\n",
	       (c1 - c0) >> 10, s.mapped / MiB, (c1 - c2) >> 10);
	EXPECT(valid(h));
	hw_heap_destroy(h);
	EXPECT(pf->owned == 0, "destroy returned every reservation: %zu left", pf->owned);
	hw_platform_destroy(pf);
}

/* The heap's figures that a failed allocation must leave as they were. */
static bool same_state(const hw_heap_stats *a, const hw_heap_stats *b)
{
	return a->mapped == b->mapped && a->inuse == b->inuse && a->released == b->released &&
	       a->ready == b->ready && a->arenas == b->arenas && a->grows == b->grows &&
	       a->allocs == b->allocs;
}

static void test_injected_commit_failure(void)
{
	hw_platform *pf = hw_platform_os_create();
	REQUIRE(pf != NULL);
	hw_heap_config c = {.platform = pf};
	hw_heap *h = hw_heap_create(&c);
	REQUIRE(h != NULL);

	/* A first allocation: the grow's metadata commit is the first use. */
	size_t owned = pf->owned;
	hw_platform_inject(pf, 1, 1u << HW_SYS_USE);
	errno = 0;
	EXPECT(hw_heap_alloc(h, 16) == NULL && errno == ENOMEM, "errno %d", errno);
	hw_heap_stats s = stats(h);
	EXPECT(s.mapped == 0 && s.arenas == 0 && s.allocs == 0, "mapped %zu", s.mapped);
	EXPECT(pf->owned == owned, "the arena's reservation was given back: owned %zu, was %zu",
	       pf->owned, owned);
	EXPECT(pf->failures[HW_SYS_USE] == 1);
	EXPECT(valid(h));

	/* A grown heap: the run's own commit fails. */
	unsigned char *keep = hw_heap_alloc(h, 4);
	REQUIRE(keep != NULL);
	keep[0] = 9;
	hw_heap_stats before = stats(h);
	size_t committed = arena_committed(h);
	hw_platform_inject(pf, 1, 1u << HW_SYS_USE);
	errno = 0;
	EXPECT(hw_heap_alloc(h, 16) == NULL && errno == ENOMEM, "errno %d", errno);
	s = stats(h);
	EXPECT(same_state(&s, &before), "stats changed: ready %zu -> %zu, released %zu -> %zu",
	       before.ready, s.ready, before.released, s.released);
	EXPECT(arena_committed(h) == committed && keep[0] == 9,
	       "the failed commit left nothing committed (P2)");
	EXPECT(pf->failures[HW_SYS_USE] == 2);
	EXPECT(valid(h));
	unsigned char *p = hw_heap_alloc(h, 16);
	EXPECT(p != NULL, "the next allocation commits");
	EXPECT(p == NULL || hw_heap_free(h, p, 16) == 0);
	EXPECT(hw_heap_free(h, keep, 4) == 0);
	hw_heap_destroy(h);
	EXPECT(pf->owned == 0);
	hw_platform_destroy(pf);
}

/* The same with a refusal by the system: a 1 TiB run (a window of 4 TiB)
 * gets its reservation, and its commit is refused. */
static void test_refused_commit_through_heap(void)
{
	hw_platform *pf = hw_platform_os_create();
	REQUIRE(pf != NULL);
	hw_heap_config c = {.platform = pf, .address_space = (size_t)4 << 40};
	hw_heap *h = hw_heap_create(&c);
	REQUIRE(h != NULL);
	size_t P = hw_heap_page_size(h), owned = pf->owned;
	errno = 0;
	void *p = hw_heap_alloc(h, ((size_t)1 << 40) / P);
	if (p != NULL) {
		printf("note: the system granted a 1 TiB commit (a host without an overcommit "
		       "limit under Wine); the refusal is not checked\n");
		EXPECT(hw_heap_free(h, p, ((size_t)1 << 40) / P) == 0);
	} else {
		hw_heap_stats s = stats(h);
		EXPECT(errno == ENOMEM && pf->failures[HW_SYS_USE] >= 1,
		       "errno %d, %llu use failures", errno,
		       (unsigned long long)pf->failures[HW_SYS_USE]);
		EXPECT(pf->calls[HW_SYS_RESERVE] >= 2, "the 1 TiB reservation itself succeeded");
		EXPECT(s.mapped == 0 && s.allocs == 0 && pf->owned == owned,
		       "mapped %zu owned %zu (was %zu)", s.mapped, pf->owned, owned);
	}
	EXPECT(valid(h));
	unsigned char *q = hw_heap_alloc(h, 8);
	EXPECT(q != NULL && hw_heap_free(h, q, 8) == 0, "a small allocation works after it");
	hw_heap_destroy(h);
	hw_platform_destroy(pf);
}

/* ---- stale accesses, in children (hw_trap_rerun) ---- */

/* Prints one line the report must hold, as "want <line>" (the parent
 * finds the real line by its start, which "want " hides). */
static void want(const char *fmt, ...) HW_PRINTF(1, 2);

static void want(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	hw_report_vformat(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "want %s\n", line);
	fflush(stderr);
}

/* A deliberate touch of dead memory. */
static void touch(uintptr_t a)
{
	*(volatile char *)a = 1;
}

static hw_heap *fault_heap(hw_report_fn report)
{
	hw_heap_config c = {.fault_on_free = true, .report = report};
	return hw_heap_create(&c);
}

/* Three pages freed below an allocated one, at the start of the arena. */
static void child_touch_freed(void)
{
	hw_trap_quiet_child();
	hw_heap *h = fault_heap(NULL);
	if (h == NULL)
		return;
	size_t ps = hw_heap_page_size(h);
	char *a = hw_heap_alloc(h, 3), *b = hw_heap_alloc(h, 1);
	void *arena;
	size_t size;
	hw_heap_arena_get(h, 0, &arena, &size);
	if (a == NULL || b != a + 3 * ps || arena != a || hw_heap_free(h, a, 3) != 0 ||
	    hw_fault_reports_enable() != 0 || hw_fault_reports_enable() != 0)
		return;
	uintptr_t addr = (uintptr_t)a + ps + 16;
	want("heapward: ACCESS_VIOLATION on address %p in heap %p: free run [%p, %p) (3 pages), "
	     "0x%zx bytes into it",
	     (void *)addr, (void *)h, (void *)a, (void *)(a + 3 * ps), ps + 16);
	want("heapward: the address is in page 1 of the run, released; this heap faults freed "
	     "runs (fault_on_free is set)");
	touch(addr);
}

static void prefixed_report(void *arg, const char *line)
{
	(void)arg;
	hw_report_write("own report: %s\n", line);
}

/* Arena memory never allocated (Reserved): the free run to the arena's end,
 * through the heap's own report function. */
static void child_touch_reserved(void)
{
	hw_trap_quiet_child();
	hw_heap *h = fault_heap(prefixed_report);
	if (h == NULL)
		return;
	size_t ps = hw_heap_page_size(h);
	char *a = hw_heap_alloc(h, 1);
	void *arena;
	size_t size;
	hw_heap_arena_get(h, 0, &arena, &size);
	if (a == NULL || arena != a || hw_fault_reports_enable() != 0)
		return;
	uintptr_t addr = (uintptr_t)a + 10 * ps + 5, end = (uintptr_t)arena + size;
	want("own report: heapward: ACCESS_VIOLATION on address %p in heap %p: free run [%p, %p) "
	     "(%zu pages), 0x%zx bytes into it",
	     (void *)addr, (void *)h, (void *)(a + ps), (void *)end,
	     (size_t)(end - (uintptr_t)a) / ps - 1, 9 * ps + 5);
	want("own report: heapward: the address is in page 9 of the run, released; this heap "
	     "faults freed runs (fault_on_free is set)");
	touch(addr);
}

/* An address no heap holds: no report, and the same death. */
static void child_touch_outside(void)
{
	hw_trap_quiet_child();
	hw_heap *h = fault_heap(NULL);
	char *a = h ? hw_heap_alloc(h, 2) : NULL;
	if (a == NULL || hw_heap_free(h, a, 2) != 0 || hw_fault_reports_enable() != 0)
		return;
	volatile uintptr_t first_page = 16;
	touch(first_page);
}

/* Runs child, which must die of the access violation; returns its stderr
 * in err and what it said the report must be in expect (empty when it
 * said nothing). */
static bool run_child(const char *child, char *err, size_t len, char *expect, size_t elen)
{
	hw_child_status st;
	if (hw_trap_rerun(child, err, len, &st) != 0)
		return false;
	EXPECT(st.signo == SIGSEGV && (unsigned)st.exit_code == 0xC0000005u,
	       "%s: signal %d, exit code %#x: %s", child, st.signo, (unsigned)st.exit_code, err);
	size_t n = 0;
	expect[0] = '\0';
	for (const char *l = err; (l = strstr(l, "want ")) != NULL;) {
		l += 5;
		/* The C runtime's stderr is in text mode: "\r\n" ends these
		 * lines, "\n" the report's (WriteFile). */
		size_t k = strcspn(l, "\r\n");
		if (n + k + 3 > elen)
			break;
		if (n == 0)
			expect[n++] = '\n'; /* the report's first line starts a line */
		memcpy(expect + n, l, k);
		n += k;
		expect[n++] = '\n';
		expect[n] = '\0';
		l += k;
	}
	return true;
}

static void test_stale_touch_reported(void)
{
	char err[4096], expect[1024];
	REQUIRE(run_child("child_touch_freed", err, sizeof err, expect, sizeof expect));
	REQUIRE(expect[0] != '\0', "the child set nothing up: %s", err);
	EXPECT(strstr(err, expect) != NULL, "want:%sgot:\n%s", expect, err);

	REQUIRE(run_child("child_touch_reserved", err, sizeof err, expect, sizeof expect));
	REQUIRE(expect[0] != '\0', "the child set nothing up: %s", err);
	EXPECT(strstr(err, expect) != NULL, "want:%sgot:\n%s", expect, err);

	REQUIRE(run_child("child_touch_outside", err, sizeof err, expect, sizeof expect));
	EXPECT(strstr(err, "heapward:") == NULL, "a fault outside every heap says nothing: %s",
	       err);
}

HW_TEST_MAIN(T(test_new_memory_is_released_and_uncharged), T(test_injected_commit_failure),
	     T(test_refused_commit_through_heap), T(test_stale_touch_reported),
	     CHILD(child_touch_freed), CHILD(child_touch_reserved), CHILD(child_touch_outside))

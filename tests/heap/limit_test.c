/* limit_test.c: the heap's defaults under an address-space limit (platform.h
 * P12, RLIMIT_AS on Linux), on the real OS.
 *
 * A forked child lowers its soft RLIMIT_AS to what it maps already plus
 * 48 MiB, which the default 1 TiB window's metadata (about 102 MiB of
 * address space) cannot fit in, and checks: the platform reports the
 * limit; a heap with every default is created; its window and arena are
 * the sizes heapward.h documents for a limit; and 24 MiB of runs are
 * allocated, written and freed in it.
 *
 * Not built under a sanitizer (tests/heap/CMakeLists.txt): its shadow
 * reservations already pass any limit this test could set.
 */
#include "base.h"
#include "check.h"
#include "inspect.h"
#include "mappings.h"
#include "platform.h"
#include "trap.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define HEADROOM ((size_t)48 << 20)

static void limited_child(void *arg)
{
	(void)arg;
	size_t now = hw_test_mapped_bytes();
	if (now == 0)
		hw_fatal("limit_test: /proc/self/statm cannot be read");
	struct rlimit r;
	if (getrlimit(RLIMIT_AS, &r) != 0)
		hw_fatal("limit_test: getrlimit failed");
	size_t limit = now + HEADROOM;
	r.rlim_cur = limit;
	if (setrlimit(RLIMIT_AS, &r) != 0)
		hw_fatal("limit_test: setrlimit(RLIMIT_AS, %zu) failed", limit);
	size_t got = hw_sys_address_limit(hw_platform_os());
	if (got != limit)
		hw_fatal("limit_test: the platform's limit is %zu, not %zu", got, limit);
	hw_heap *h = hw_heap_create(NULL);
	if (!h)
		hw_fatal("limit_test: no heap with the defaults under a limit of %zu", limit);
	void *runs[6];
	for (size_t i = 0; i < 6; i++) {
		runs[i] = hw_heap_alloc(h, 512); /* 4 MiB of 8 KiB pages */
		if (!runs[i])
			hw_fatal("limit_test: run %zu of 4 MiB refused", i);
		memset(runs[i], (int)i + 1, (size_t)512 * 8192);
	}
	uintptr_t base;
	size_t window;
	hw_heap_window(h, &base, &window);
	if (window != 8 * hw_pow2_floor(limit))
		hw_fatal("limit_test: window %zu, not 8 x %zu", window, hw_pow2_floor(limit));
	hw_heap_stats st;
	hw_heap_stats_get(h, &st);
	size_t arena = hw_max(hw_pow2_floor(limit / 16), (size_t)4 << 20);
	if (st.mapped % arena != 0 || st.mapped > limit)
		hw_fatal("limit_test: %zu bytes mapped in arenas of %zu", st.mapped, arena);
	for (size_t i = 0; i < 6; i++)
		hw_heap_free(h, runs[i], 512);
	hw_heap_destroy(h);
}

static void test_defaults_fit_the_limit(void)
{
	char err[2048];
	hw_child_status cs;
	REQUIRE(hw_trap_child(limited_child, NULL, err, sizeof err, &cs) == 0);
	EXPECT(cs.signo == 0 && cs.exit_code == 0, "child: signal %d, status %d: %s", cs.signo,
	       cs.exit_code, err);
}

HW_TEST_MAIN(T(test_defaults_fit_the_limit))

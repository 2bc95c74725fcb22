/* guard_million_test.c: guard=all holds 1,000,000 live guarded objects
 * where the kernel has guard regions (MADV_GUARD_INSTALL), without a
 * mapping per guard page: the process's mappings stay few, far below the
 * kernel's limit (vm.max_map_count, 65530 by default), and every object
 * still traps one byte past its 16-byte-rounded end.
 *
 * Heavy (several seconds, about 4 GiB resident: one 4 KiB page per
 * object): built and run only without sanitizers or Valgrind annotations
 * (tests/debug/CMakeLists.txt), so only the gcc-release CI job runs it.
 * Where the kernel lacks guard regions it skips with a line saying so (the
 * PROT_NONE fallback's limit is guarded_test's test_protnone_limit).
 *
 * Invariants: none of its own (guarded_test.c's GT1 holds: the child
 * makes every guarded object itself).
 */
#include "check.h"
#include "child.h"
#include "guard.h"
#include "heapward.h"
#include "malloc_internal.h"
#include "platform.h"
#include "trap.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define OBJECTS 1000000

static char err[16384];
static hw_child_status st;

static size_t mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return SIZE_MAX;
	size_t n = 0;
	for (int c; (c = fgetc(f)) != EOF;)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Which calls refused, when some did: the guarded heap's failed platform
 * calls by kind and its refused guard installs, and the layer's heap's
 * (the records and page-map leaves come from its metadata). */
static void print_heap(const char *name, hw_heap *h)
{
	hw_heap_stats hs;
	hw_heap_stats_get(h, &hs);
	fprintf(stderr, "%s: mapped %zu, allocs %llu, guard failures %llu, invalid guards %llu",
		name, hs.mapped, (unsigned long long)hs.allocs,
		(unsigned long long)hs.guard_failures, (unsigned long long)hs.invalid_guards);
	for (int k = 0; k < HW_CALL_KINDS; k++)
		if (hs.platform_failures[k] != 0)
			fprintf(stderr, ", %s failed %llu of %llu",
				hw_sys_kind_name((hw_sys_kind)k),
				(unsigned long long)hs.platform_failures[k],
				(unsigned long long)hs.platform_calls[k]);
	fprintf(stderr, "\n");
}

static void print_refusals(void)
{
	print_heap("guarded heap", hw_mc_guard_heap());
	print_heap("layer heap", hw_mc_g.heap);
}

static void million_child(void *arg)
{
	(void)arg;
	/* Its own budgets: the defaults guard 32768 objects and 1 GiB. */
	CHILD_CHECK(hw_mc_start("guard=all:guard_budget_count=1048576:guard_budget_bytes=8g:"
				"stack_depth=4:scavenger=0"));
	static char *p[OBJECTS];
	for (size_t i = 0; i < OBJECTS; i++) {
		p[i] = hw_malloc(16);
		CHILD_CHECK(p[i]);
		p[i][15] = (char)i;
	}
	hw_malloc_stats m;
	hw_malloc_stats_get(&m);
	size_t maps = mappings();
	fprintf(stderr, "million: %zu guarded, %llu refused, %llu over budget, %zu mappings\n",
		m.guarded_objects, (unsigned long long)m.guard_refused,
		(unsigned long long)m.guard_over_budget, maps);
	if (m.guard_refused != 0)
		print_refusals();
	CHILD_CHECK(m.guarded_objects == OBJECTS && m.guard_refused == 0 &&
		    m.guard_over_budget == 0);
	CHILD_CHECK(maps < 1000);
	for (size_t i = 0; i < OBJECTS; i += 9973) {
		mc_span *s = hw_mc_guard_span((uintptr_t)p[i]);
		CHILD_CHECK(s && s->kind == MC_SPAN_GUARDED && p[i][15] == (char)i);
		CHILD_CHECK(hw_trap_probe(p[i] + 16, false) == HW_TRAP_MAPERR);
	}
	_exit(0); /* the million objects die with the process */
}

static void test_million(void)
{
	if (hw_platform_os()->caps.guard != HW_GUARD_MADVISE) {
		printf("(skipped: this kernel has no guard regions, MADV_GUARD_INSTALL; "
		       "guard pages are PROT_NONE mappings here)\n");
		EXPECT(true);
		return;
	}
	REQUIRE(hw_trap_child(million_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "signal %d, exit %d: %s", st.signo,
	       st.exit_code, err);
	const char *line = strstr(err, "million: ");
	if (line)
		printf("(%.*s)\n", (int)strcspn(line, "\n"), line);
}

int main(int argc, char **argv)
{
	static const hw_test tests[] = {
		T(test_million),
	};
	return hw_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
}

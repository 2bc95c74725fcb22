/* wire_test.c: HEAPWARD_OPTIONS wired into the malloc layer (malloc.c MA5,
 * MA6): each option the layer applies has a test that fails if the option
 * is ignored.
 *
 * Each test body runs in a child process (hw_trap_child) that starts the
 * layer itself, so every child starts from a fresh, uninitialised layer:
 * the parent never allocates through it. Most children start it with
 * hw_mc_start(options) (the string is the test's, not the environment's,
 * so the tests do not depend on what the environment holds and cannot leak
 * a setting into each other); one child sets HEAPWARD_OPTIONS with setenv
 * before its first allocation, to cover the environment read itself. A
 * child reports a failed check on stderr and exits 1.
 */
#include "check.h"
#include "child.h"
#include "heap_internal.h"
#include "heapward.h"
#include "malloc_internal.h"
#include "thread.h"
#include "trap.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[8192];
static hw_child_status st;

static void start(const char *options)
{
	CHILD_CHECK(hw_mc_start(options));
}

/* Runs fn(options) in a child; true when it exited 0 (or died of signo,
 * when signo != 0) and its stderr holds needle (when not NULL). */
static bool child(void (*fn)(void *), const char *options, int signo, const char *needle)
{
	err[0] = 0;
	if (hw_trap_child(fn, (void *)options, err, sizeof err, &st) != 0)
		return false;
	bool ok = (signo ? st.signo == signo : st.signo == 0 && st.exit_code == 0) &&
		  (!needle || strstr(err, needle));
	if (!ok)
		fprintf(stderr, "child (%s): signal %d exit %d stderr: %s\n", options, st.signo,
			st.exit_code, err);
	return ok;
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void double_free(void *arg)
{
	start(arg);
	void *p = hw_malloc(40);
	hw_free(p);
	hw_free(p);
	hw_malloc_stats s;
	hw_malloc_stats_get(&s);
	CHILD_CHECK(s.errors == 1);
}

static void test_abort_on_error(void)
{
	EXPECT(child(double_free, "abort_on_error=0", 0, "double free of"), "continues");
	EXPECT(child(double_free, "", SIGABRT, "double free of"), "aborts by default");
}

static void fill_alloc(void *arg)
{
	start(arg);
	unsigned char *p = hw_malloc(100);
	CHILD_CHECK(all_bytes(p, 100, 0xab));
	unsigned char *q = hw_malloc(100000);
	CHILD_CHECK(all_bytes(q, 100000, 0xab));
	unsigned char *z = hw_calloc(100, 1);
	CHILD_CHECK(all_bytes(z, 100, 0));
	unsigned char *r = hw_realloc(p, 3000);
	CHILD_CHECK(all_bytes(r, 3000, 0xab));
	hw_free(r);
	hw_free(q);
	hw_free(z);
}

static void test_fill_on_alloc(void)
{
	EXPECT(child(fill_alloc, "fill_on_alloc=0xab", 0, NULL), "fill_on_alloc");
}

static void fill_free(void *arg)
{
	start(arg);
	unsigned char *keep = hw_malloc(100); /* keeps p's span and page */
	unsigned char *p = hw_malloc(100);
	CHILD_CHECK(keep && p && (uintptr_t)keep >> MC_PAGE_SHIFT == (uintptr_t)p >> MC_PAGE_SHIFT);
	memset(p, 0, 100);
	size_t slot = hw_mc_classes[mc_class_of(100)].size;
	hw_free(p);
	/* In the thread cache now: nothing but the fill wrote it. */
	CHILD_CHECK(all_bytes(p, slot, 0xcd));
	/* The checks still run first: a double free is still reported. */
	hw_free(p);
	hw_malloc_stats s;
	hw_malloc_stats_get(&s);
	CHILD_CHECK(s.errors == 1);
	/* Back in its span: still nothing but the fill (MA6). */
	hw_malloc_trim(0);
	CHILD_CHECK(mc_span_of((uintptr_t)p)->live == 1);
	CHILD_CHECK(all_bytes(p, slot, 0xcd));
	hw_free(keep);
}

static void overflow_under_fill(void *arg)
{
	start(arg);
	unsigned char *p = hw_malloc(100);
	p[100] = 0;
	hw_free(p);
}

static void test_fill_on_free(void)
{
	EXPECT(child(fill_free, "fill_on_free=0xcd:abort_on_error=0", 0, "double free of"),
	       "fill_on_free");
	EXPECT(child(overflow_under_fill, "fill_on_free=0xcd", SIGABRT, "heap buffer overflow"),
	       "the canary is checked before the fill");
}

static void limits(void *arg)
{
	start(arg);
	hw_free(hw_malloc(1));
	hw_heap_stats hs;
	hw_heap_stats_get(hw_mc_g.heap, &hs);
	CHILD_CHECK(hs.memory_limit == 3u << 20);
	CHILD_CHECK(hw_mc_g.heap->retain_percent == 500);
	CHILD_CHECK(hw_mc_g.heap->cpu_percent == 7);
}

static void test_heap_options(void)
{
	EXPECT(child(limits, "memory_limit=3m:retain_percent=500:scavenger_cpu_percent=7", 0,
		     NULL),
	       "memory_limit, retain_percent, scavenger_cpu_percent");
}

/* Whether the heap's background scavenger runs (heap_internal.h, under
 * its scav_lock). */
static bool scavenger_running(void)
{
	hw_mutex_lock(&hw_mc_g.heap->scav_lock);
	bool on = hw_mc_g.heap->scav_running;
	hw_mutex_unlock(&hw_mc_g.heap->scav_lock);
	return on;
}

static void *touch_layer(void *arg)
{
	hw_free(hw_malloc(100));
	return arg;
}

/* MA7: a single-threaded process gets the thread with its second thread
 * (where the C library says so: thread.h T10; elsewhere at once). */
static void scav_on(void *arg)
{
	/* Asked before the start: a thread of the layer's would answer it. */
	bool single = hw_process_single_threaded();
	start(arg);
	hw_free(hw_malloc(100));
	CHILD_CHECK(scavenger_running() == !single);
	hw_thread t;
	CHILD_CHECK(hw_thread_start(&t, touch_layer, NULL) == 0);
	hw_thread_join(&t);
	CHILD_CHECK(scavenger_running());
}

/* MA7: ... or once enough free memory waits for it: a few MiB above the
 * target do not start it, 48 MiB do. */
static void scav_wake(void *arg)
{
	if (!hw_process_single_threaded())
		return; /* started at once: scav_on checks it */
	start(arg);
	void *p[48];
	for (int round = 0; round < 2; round++) {
		int n = round == 0 ? 4 : 48;
		for (int i = 0; i < n; i++) {
			p[i] = hw_malloc((size_t)1 << 20);
			CHILD_CHECK(p[i] != NULL);
			memset(p[i], 1, (size_t)1 << 20);
		}
		for (int i = 0; i < n; i++)
			hw_free(p[i]);
		CHILD_CHECK(scavenger_running() == (round == 1));
	}
}

static void scav_off(void *arg)
{
	start(arg);
	CHILD_CHECK(!scavenger_running());
}

static void test_scavenger(void)
{
	EXPECT(child(scav_on, "scavenger=1", 0, NULL), "scavenger=1 starts it");
	EXPECT(child(scav_wake, "scavenger=1", 0, NULL), "free memory wakes it");
	EXPECT(child(scav_off, "scavenger=0", 0, NULL), "scavenger=0 does not");
}

static void stats_exit(void *arg)
{
	start(arg);
	hw_free(hw_malloc(100));
	exit(0); /* runs the layer's destructor */
}

static void test_stats_at_exit(void)
{
	EXPECT(child(stats_exit, "stats_at_exit=1:scavenger=0", 0, "heapward: malloc stats: "),
	       "stats_at_exit");
	EXPECT(strstr(err, "heapward: heap stats: mapped "), "heap stats: %s", err);
	EXPECT(child(stats_exit, "scavenger=0", 0, NULL) && !strstr(err, "malloc stats"),
	       "off by default");
}

static void quiet(void *arg)
{
	start(arg);
	hw_free(hw_malloc(100));
	hw_free(hw_malloc(100000));
}

static void test_verbosity_and_help(void)
{
	EXPECT(child(quiet, "verbosity=1:retain_percent=42", 0,
		     "heapward: options in effect: "),
	       "verbosity=1");
	EXPECT(strstr(err, "retain_percent=42"), "the values in effect: %s", err);
	EXPECT(!strstr(err, "debug mode on"), "not in debug mode: %s", err);
	EXPECT(child(quiet, "verbosity=1:detect_leaks=1", 0, "debug=0:"), "verbosity=1, leaks");
	EXPECT(strstr(err, "(debug mode on: implied by guard or detect_leaks)"), "%s", err);
	EXPECT(child(quiet, "", 0, NULL) && err[0] == 0, "verbosity=0 is quiet: %s", err);
	EXPECT(child(quiet, "help=1", 0, "scavenger_cpu_percent=1"), "help=1");
	const char *first = strstr(err, "HEAPWARD_OPTIONS=");
	EXPECT(first && !strstr(first + 1, "HEAPWARD_OPTIONS="), "printed once: %s", err);
}

static void from_env(void *arg)
{
	setenv("HEAPWARD_OPTIONS", "fill_on_alloc=0x5a:bogus=1", 1);
	unsigned char *p = hw_malloc(64);
	CHILD_CHECK(all_bytes(p, 64, 0x5a));
	hw_free(p);
}

static void test_environment(void)
{
	EXPECT(child(from_env, "(environment)", 0, "unknown key 'bogus'"),
	       "HEAPWARD_OPTIONS is read at start-up");
}

int main(int argc, char **argv)
{
	static const hw_test tests[] = {
		T(test_abort_on_error), T(test_fill_on_alloc), T(test_fill_on_free),
		T(test_heap_options), T(test_scavenger), T(test_stats_at_exit),
		T(test_verbosity_and_help), T(test_environment)};
	return hw_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
}

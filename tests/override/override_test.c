/* override_test.c: the standard C allocation functions of
 * libheapward-malloc.so, linked (not preloaded): every edge case glibc
 * programs rely on, and proof that the calls reach heapward.
 *
 * Owns: the checks of override.c's OV1-OV3 from a C program, and of
 * override_new.cc's ON4: the library brings no C++ runtime into a C
 * program, and a C++ library dlopen'ed into it (plugin.cc, RTLD_LOCAL)
 * whose new cannot allocate gets the fixed report. And that the thread the
 * library starts (the scavenger) takes none of the program's signals, and
 * ends in a one-thread program that has gone idle.
 *
 * Invariants:
 *   OR1. Every pointer checked here comes from the library under test:
 *        malloc_usable_size reports the requested size exactly (glibc's
 *        would report its chunk size), which the first test checks.
 *
 * Locking: single-threaded, except the death tests' child processes.
 */
#include "check.h"
#include "child.h"
#include "death.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *__libc_malloc(size_t n);
void __libc_free(void *p);
void *__libc_memalign(size_t align, size_t n);
void cfree(void *p);
/* C23's, which glibc declares from 2.43 on. */
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t align, size_t size);

/* Keep the compiler from folding a call away or warning about a size it
 * can see is too large. */
static void *volatile sink;
static volatile size_t huge = SIZE_MAX;
static volatile size_t half = SIZE_MAX / 2;
/* Alignments that are not powers of two, out of the compiler's sight (clang
 * warns of a constant one). */
static volatile size_t align3 = 3, align48 = 48;
/* Called through a pointer so the compiler cannot assume a failed
 * realloc freed its argument. */
static void *(*volatile realloc_fn)(void *, size_t) = realloc;

static void test_reaches_heapward(void)
{
	char *p = malloc(13);
	REQUIRE(p);
	EXPECT(malloc_usable_size(p) == 13, "usable size %zu: not heapward's malloc",
	       malloc_usable_size(p));
	EXPECT(malloc_usable_size(NULL) == 0);
	free(p);
	p = __libc_malloc(29);
	REQUIRE(p);
	EXPECT(malloc_usable_size(p) == 29, "__libc_malloc is not heapward's");
	free(p);
	p = __libc_memalign(256, 10);
	EXPECT(p && (uintptr_t)p % 256 == 0);
	__libc_free(p);
	p = malloc(7);
	cfree(p);
}

static void test_malloc_edges(void)
{
	void *z = malloc(0);
	EXPECT(z != NULL);
	void *z2 = malloc(0);
	EXPECT(z2 != NULL && z2 != z, "malloc(0) must be unique");
	free(z);
	free(z2);
	free(NULL);
	errno = 0;
	sink = malloc(huge);
	EXPECT(sink == NULL && errno == ENOMEM);
	errno = 0;
	sink = malloc(half);
	EXPECT(sink == NULL && errno == ENOMEM);
	void *p = malloc(100);
	errno = 1234;
	free(p);
	EXPECT(errno == 1234, "free changed errno to %d", errno);
}

static void test_calloc(void)
{
	errno = 0;
	sink = calloc(half, 3);
	EXPECT(sink == NULL && errno == ENOMEM, "calloc overflow");
	errno = 0;
	sink = calloc(huge >> 31, huge >> 31);
	EXPECT(sink == NULL && errno == ENOMEM, "calloc overflow");
	/* Dirty a slot, free it, and get it back zeroed. */
	unsigned char *p = malloc(200);
	REQUIRE(p);
	memset(p, 0xab, 200);
	free(p);
	for (size_t n = 1; n <= (1u << 20); n *= 7) {
		unsigned char *q = calloc(n, 1);
		REQUIRE(q);
		size_t bad = 0;
		for (size_t i = 0; i < n; i++)
			bad += q[i] != 0;
		EXPECT(bad == 0, "calloc(%zu): %zu bytes not zero", n, bad);
		memset(q, 0xcd, n);
		free(q);
	}
}

static void test_realloc(void)
{
	char *p = realloc(NULL, 10);
	REQUIRE(p);
	EXPECT(malloc_usable_size(p) == 10);
	memcpy(p, "abcdefghi", 10);
	char *grown = realloc(p, 100000);
	REQUIRE(grown);
	p = grown;
	EXPECT(memcmp(p, "abcdefghi", 10) == 0);
	char *shrunk = realloc(p, 5);
	REQUIRE(shrunk);
	p = shrunk;
	EXPECT(memcmp(p, "abcde", 5) == 0 && malloc_usable_size(p) == 5);
	errno = 0;
	void *q = realloc_fn(p, huge);
	EXPECT(q == NULL && errno == ENOMEM, "realloc failure");
	EXPECT(memcmp(p, "abcde", 5) == 0, "p must survive a failed realloc");
	errno = 0;
	q = realloc_fn(p, 0);
	EXPECT(q == NULL, "realloc(p, 0) frees p and returns NULL (glibc)");
	errno = 0;
	q = reallocarray(NULL, huge / 4, 8);
	EXPECT(q == NULL && errno == ENOMEM, "reallocarray overflow");
	q = reallocarray(NULL, 10, 10);
	EXPECT(q && malloc_usable_size(q) == 100);
	free(q);
}

static void test_aligned(void)
{
	void *p = (void *)1;
	int saved = 4321;
	errno = saved;
	EXPECT(posix_memalign(&p, 3, 10) == EINVAL && p == (void *)1);
	EXPECT(posix_memalign(&p, 24, 10) == EINVAL);
	EXPECT(posix_memalign(&p, 2, 10) == EINVAL, "below sizeof(void *)");
	EXPECT(posix_memalign(&p, 64, huge) == ENOMEM);
	EXPECT(errno == saved, "posix_memalign changed errno");
	for (size_t a = sizeof(void *); a <= (1u << 16); a *= 2) {
		REQUIRE(posix_memalign(&p, a, 100) == 0);
		EXPECT((uintptr_t)p % a == 0, "posix_memalign %zu gave %p", a, p);
		free(p);
		p = aligned_alloc(a, 3 * a / 2);
		EXPECT(p && (uintptr_t)p % a == 0);
		free(p);
	}
	errno = 0;
	sink = aligned_alloc(align3, 10);
	EXPECT(sink == NULL && errno == EINVAL);
	p = memalign(align48, 10);
	EXPECT(p && (uintptr_t)p % 64 == 0, "memalign rounds 48 up to 64");
	free(p);
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	p = valloc(10);
	EXPECT(p && (uintptr_t)p % pg == 0);
	free(p);
	p = pvalloc(1);
	EXPECT(p && (uintptr_t)p % pg == 0 && malloc_usable_size(p) == pg);
	free(p);
	p = pvalloc(0);
	EXPECT(p && malloc_usable_size(p) == pg);
	free(p);
}

static void test_mallinfo2_moves(void)
{
	struct mallinfo2 a = mallinfo2();
	void *big = malloc(1 << 20);
	REQUIRE(big);
	memset(big, 1, 1 << 20);
	struct mallinfo2 b = mallinfo2();
	EXPECT(b.hblks == a.hblks + 1, "hblks %zu -> %zu", a.hblks, b.hblks);
	EXPECT(b.hblkhd >= a.hblkhd + (1 << 20));
	EXPECT(b.uordblks >= a.uordblks + (1 << 20), "uordblks %zu -> %zu", a.uordblks,
	       b.uordblks);
	EXPECT(b.arena >= b.uordblks);
	free(big);
	struct mallinfo2 c = mallinfo2();
	EXPECT(c.hblks == a.hblks && c.uordblks < b.uordblks);
	EXPECT(malloc_trim(0) == 1, "the freed megabyte is released");
	struct mallinfo2 d = mallinfo2();
	EXPECT(d.keepcost > c.keepcost || d.arena < c.arena, "trim released nothing");
}

/* Run by name under guard=all (override_mallinfo_guarded_test): a live
 * guarded object counts as a large one, and its pages as in use. */
static void test_mallinfo2_guarded(void)
{
	struct mallinfo2 a = mallinfo2();
	char *p = malloc(100);
	REQUIRE(p);
	p[0] = 1;
	struct mallinfo2 b = mallinfo2();
	EXPECT(b.hblks == a.hblks + 1, "hblks %zu -> %zu", a.hblks, b.hblks);
	EXPECT(b.hblkhd >= a.hblkhd + 100 && b.uordblks >= a.uordblks + 100,
	       "hblkhd %zu -> %zu, uordblks %zu -> %zu", a.hblkhd, b.hblkhd, a.uordblks,
	       b.uordblks);
	EXPECT(b.arena >= b.uordblks);
	free(p);
	struct mallinfo2 c = mallinfo2();
	EXPECT(c.hblks == a.hblks && c.uordblks == a.uordblks, "hblks %zu, uordblks %zu -> %zu",
	       c.hblks, a.uordblks, c.uordblks);
}

/* mallinfo: mallinfo2's figures in ints (the deprecated call programs
 * built before glibc 2.33 make). */
static void test_mallinfo_is_mallinfo2(void)
{
	void *big = malloc(3 << 20);
	REQUIRE(big);
	memset(big, 1, 3 << 20);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	struct mallinfo a = mallinfo();
#pragma GCC diagnostic pop
	struct mallinfo2 b = mallinfo2();
	EXPECT(a.hblks == (int)b.hblks && a.hblkhd == (int)b.hblkhd && a.arena == (int)b.arena &&
		       a.uordblks == (int)b.uordblks && a.keepcost == (int)b.keepcost,
	       "mallinfo %d %d %d %d, mallinfo2 %zu %zu %zu %zu", a.hblks, a.hblkhd, a.arena,
	       a.uordblks, b.hblks, b.hblkhd, b.arena, b.uordblks);
	EXPECT(a.hblkhd >= 3 << 20 && a.uordblks >= 3 << 20, "%d %d", a.hblkhd, a.uordblks);
	free(big);
}

static void stats_child(void)
{
	sink = malloc(100);
	malloc_stats();
}

static void test_malloc_stats(void)
{
	hw_death d;
	REQUIRE(hw_death_run(stats_child, &d) == 0);
	EXPECT(d.signal == 0 && d.status == 0);
	EXPECT(strstr(d.err, "heapward: stats: heap mapped ") != NULL, "got: %s", d.err);
}

static void double_free_child(void)
{
	void *p = malloc(32);
	free(p);
	sink = p;
	free(sink);
}

static void test_misuse_reported(void)
{
	hw_death d;
	REQUIRE(hw_death_run(double_free_child, &d) == 0);
	EXPECT(d.signal == SIGABRT, "signal %d", d.signal);
	EXPECT(strstr(d.err, "heapward: double free of ") != NULL, "got: %s", d.err);
}

static void free_sized_wrong_child(void)
{
	sink = malloc(24);
	free_sized(sink, 32);
}

static void free_aligned_sized_wrong_child(void)
{
	sink = aligned_alloc(64, 100);
	free_aligned_sized(sink, 64, 128);
}

/* C23's sized frees reach heapward: the right size frees (the slot comes
 * back), the wrong one is reported (kind.c KD5). */
static void test_sized_frees(void)
{
	void *p = malloc(40);
	REQUIRE(p);
	free_sized(p, 40);
	void *q = malloc(40);
	EXPECT(q == p, "free_sized(p, 40) did not free p (%p, then %p)", p, q);
	free_sized(q, 40);
	p = aligned_alloc(4096, 100000);
	REQUIRE(p && (uintptr_t)p % 4096 == 0);
	free_aligned_sized(p, 4096, 100000);
	free_sized(NULL, 1);
	free_aligned_sized(NULL, 16, 1);
	hw_death d;
	REQUIRE(hw_death_run(free_sized_wrong_child, &d) == 0);
	EXPECT(d.signal == SIGABRT &&
		       strstr(d.err, "heapward: free-size mismatch: free_sized of 0x") &&
		       strstr(d.err, "with size 32 (a 24-byte object allocated by malloc)"),
	       "signal %d: %s", d.signal, d.err);
	REQUIRE(hw_death_run(free_aligned_sized_wrong_child, &d) == 0);
	EXPECT(d.signal == SIGABRT &&
		       strstr(d.err, "heapward: free-size mismatch: free_aligned_sized of 0x") &&
		       strstr(d.err, "with size 128 (a 100-byte object allocated by malloc)"),
	       "signal %d: %s", d.signal, d.err);
}

/* ON4: nothing of the C++ runtime is mapped in this C program. */
static void test_no_cxx_runtime(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	REQUIRE(f != NULL);
	char line[512];
	size_t lines = 0, cxx = 0;
	while (fgets(line, sizeof line, f)) {
		lines++;
		if (strstr(line, "libstdc++") || strstr(line, "libgcc_s"))
			cxx++;
	}
	fclose(f);
	EXPECT(lines > 0 && cxx == 0, "%zu of %zu mappings are the C++ runtime's", cxx, lines);
}

static void *(*plugin_new)(size_t);

static void plugin_oom_child(void) { sink = plugin_new(half); }

/* ON4: a C++ library without the runtime in the global scope. */
static void test_plugin_without_runtime(void)
{
	void *h = dlopen(HW_PLUGIN_PATH, RTLD_LOCAL | RTLD_NOW);
	REQUIRE(h != NULL, "dlopen: %s", dlerror());
	*(void **)&plugin_new = dlsym(h, "plugin_new");
	REQUIRE(plugin_new != NULL);
	char *p = plugin_new(100);
	EXPECT(p != NULL && malloc_usable_size(p) == 100, "its new is the library's");
	hw_death d;
	REQUIRE(hw_death_run(plugin_oom_child, &d) == 0);
	EXPECT(d.signal == SIGABRT, "signal %d", d.signal);
	EXPECT(strstr(d.err, "heapward: operator new: out of memory, and no C++ runtime to "
			     "throw std::bad_alloc") != NULL,
	       "got: %s", d.err);
}

/* The threads of this process, from /proc/self/status (read without
 * malloc: a poll must leave the layer idle); 0 when unread. */
static int thread_count(void)
{
	char buf[4096];
	hw_test_slurp("/proc/self/status", buf, sizeof buf);
	const char *t = strstr(buf, "\nThreads:");
	return t ? atoi(t + strlen("\nThreads:")) : 0;
}

/* Polls every 10 ms, up to `seconds`, until the process has `want`
 * threads; whether it got there. */
static bool threads_become(int want, int seconds)
{
	for (int tries = 0; tries < seconds * 100; tries++) {
		if (thread_count() == want)
			return true;
		usleep(10000);
	}
	return false;
}

/* 256 MiB allocated, written and freed: in a one-thread program, enough
 * to start the scavenger (malloc.c MA7's wake). */
static void free_a_lot(void)
{
	enum { N = 4096,
	       SIZE = 65536 };
	static char *objs[N];
	for (int i = 0; i < N; i++) {
		objs[i] = malloc(SIZE);
		CHILD_CHECK(objs[i] != NULL);
		memset(objs[i], 1, SIZE);
	}
	for (int i = 0; i < N; i++)
		free(objs[i]);
}

/* In a child, single-threaded: the scavenger thread starts after a large
 * free, ends once the program has stayed idle (MA7), which leaves the
 * process single-threaded for the kernel (unshare(CLONE_NEWUSER) answers
 * EINVAL in a process with two threads; EPERM, where namespaces are not
 * allowed, says nothing), and starts again after the next. */
static void scavenger_comes_and_goes(void)
{
	free_a_lot();
	CHILD_CHECK(threads_become(2, 5));
	CHILD_CHECK(threads_become(1, 10));
	CHILD_CHECK(unshare(CLONE_NEWUSER) == 0 || errno == EPERM);
	free_a_lot();
	CHILD_CHECK(threads_become(2, 5));
}

static void test_scavenger_comes_and_goes(void)
{
	hw_death d;
	REQUIRE(hw_death_run(scavenger_comes_and_goes, &d) == 0);
	EXPECT(d.signal == 0 && d.status == 0, "signal %d, status %d: %s", d.signal, d.status,
	       d.err);
}

/* In a child, single-threaded: once a large free has started the
 * scavenger thread, signals sent to the process, which the program blocks
 * to take them with sigtimedwait, must all reach it: none may be delivered
 * to the scavenger, whose default action for SIGALRM or SIGTERM would end
 * the process (platform/thread.h T12). */
static void signals_stay_the_programs(void)
{
	free_a_lot();
	CHILD_CHECK(threads_become(2, 5));
	sigset_t set;
	sigemptyset(&set);
	const int sigs[] = {SIGALRM, SIGTERM, SIGUSR1, SIGINT};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&set, sigs[i]);
	CHILD_CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	/* Each signal is left pending a while before it is taken: a thread
	 * that does not block it would have it delivered then. */
	for (int i = 0; i < 40; i++) {
		int sig = sigs[i % 4];
		CHILD_CHECK(kill(getpid(), sig) == 0);
		usleep(5000);
		struct timespec two = {2, 0};
		CHILD_CHECK(sigtimedwait(&set, NULL, &two) == sig);
	}
}

static void test_signals_stay_the_programs(void)
{
	hw_death d;
	REQUIRE(hw_death_run(signals_stay_the_programs, &d) == 0);
	EXPECT(d.signal == 0 && d.status == 0, "the child taking its blocked signals: signal %d, "
					       "status %d: %s",
	       d.signal, d.status, d.err);
}

HW_TEST_MAIN(T(test_reaches_heapward), T(test_malloc_edges), T(test_calloc), T(test_realloc),
	     T(test_aligned), T(test_mallinfo2_moves), T(test_mallinfo_is_mallinfo2),
	     T(test_malloc_stats), T(test_misuse_reported), T(test_sized_frees),
	     T(test_no_cxx_runtime),
	     T(test_plugin_without_runtime), T(test_signals_stay_the_programs),
	     T(test_scavenger_comes_and_goes), CHILD(test_mallinfo2_guarded))

/* harden_test.c: the always-on checks (src/malloc/harden.c, MA3 of
 * malloc.c), as death tests.
 *
 * Each misuse runs in a child process (hw_trap_child) that must die of
 * SIGABRT with the report's fixed phrase, the address and, where there is
 * one, the object's bounds on stderr; the "continue" configuration must
 * instead report, count the error and go on. A write after free into a
 * slot back in its span must change nothing the layer reads.
 */
#include "check.h"
#include "child.h"
#include "heapward.h"
#include "layer_check.h"
#include "malloc_internal.h"
#include "trap.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int global_object;
static int data_object = 1; /* in .data, where global_object is in .bss */

static char err[4096];
static hw_child_status st;

/* Runs fn in a child; true when it died of SIGABRT with every needle in
 * its stderr. */
static bool dies_with(void (*fn)(void *), void *arg, const char *needle1, const char *needle2)
{
	err[0] = 0;
	if (hw_trap_child(fn, arg, err, sizeof err, &st) != 0)
		return false;
	bool ok = st.signo == SIGABRT && strstr(err, needle1) &&
		  (!needle2 || strstr(err, needle2));
	if (!ok)
		fprintf(stderr, "child: signal %d exit %d stderr: %s\n", st.signo, st.exit_code,
			err);
	return ok;
}

static char addr[64];
static const char *hex(const void *p)
{
	snprintf(addr, sizeof addr, "%p", p);
	return addr;
}

static void *victim;

static void double_free_small(void *arg)
{
	hw_free(victim);
	hw_free(victim);
}

static void double_free_large(void *arg)
{
	hw_free(victim);
	hw_free(victim);
}

static void test_double_free(void)
{
	victim = hw_malloc(24);
	char want[128];
	snprintf(want, sizeof want, "heapward: double free of %s", hex(victim));
	EXPECT(dies_with(double_free_small, NULL, want, "32-byte slot"), "small");
	hw_free(victim);
	victim = hw_malloc(100000);
	snprintf(want, sizeof want, "heapward: double free of %s", hex(victim));
	EXPECT(dies_with(double_free_large, NULL, want, NULL), "large");
	hw_free(victim);
}

static void free_arg(void *arg) { hw_free(arg); }

static void test_interior_and_misaligned(void)
{
	char *p = hw_malloc(64);
	char want[256];
	snprintf(want, sizeof want, "heapward: invalid free of %s: not the start of an object",
		 hex(p + 8));
	EXPECT(dies_with(free_arg, p + 8, want, "8 bytes into the live 64-byte object"), "+8");
	snprintf(want, sizeof want, "heapward: invalid free of %s: not the start of an object",
		 hex(p + 1));
	EXPECT(dies_with(free_arg, p + 1, want, NULL), "misaligned");
	char *l = hw_malloc(200000);
	EXPECT(dies_with(free_arg, l + 16384, "not the start of an object",
			 "16384 bytes into the live 200000-byte object"),
	       "interior of a large object");
	hw_free(p);
	hw_free(l);
}

static void test_foreign(void)
{
	hw_free(hw_malloc(1)); /* up and running: the page map decides */
	int local;
	char want[160];
	snprintf(want, sizeof want,
		 "heapward: invalid free of %s: not heap memory: on this thread's stack",
		 hex(&local));
	EXPECT(dies_with(free_arg, &local, want, NULL), "stack");
	EXPECT(dies_with(free_arg, &global_object,
			 "not heap memory: in a module's writable data, /", NULL),
	       "global (bss)");
	EXPECT(dies_with(free_arg, &data_object,
			 "not heap memory: in a module's writable data, /", NULL),
	       "global (data)");
	/* The C library's malloc is glibc's brk heap in a plain build, but a
	 * sanitizer's or Valgrind's own memory under them: any description. */
	void *libc = malloc(32);
	EXPECT(dies_with(free_arg, libc, "not heap memory: ", NULL), "the C library's malloc");
	free(libc);
	EXPECT(dies_with(free_arg, (void *)(uintptr_t)0x10000, "not heap memory: unmapped", NULL),
	       "unmapped");
	EXPECT(dies_with(free_arg, (void *)&test_foreign,
			 "not heap memory: in a module's code or constants, /", NULL),
	       "code");
}

static void overflow_free(void *arg)
{
	unsigned char *p = hw_malloc((size_t)(uintptr_t)arg);
	p[(size_t)(uintptr_t)arg] = 0;
	hw_free(p);
}

static void overflow_realloc(void *arg)
{
	unsigned char *p = hw_malloc(13);
	memset(p, 'x', 15);
	p = hw_realloc(p, 4000);
	hw_free(p);
}

/* HD3: no ASCII character leaves a canary byte intact. For each printable
 * character, and each of the 16 canary offsets, one byte written just past
 * an object's end must be found at free (counted: the layer continues). */
static void ascii_overflows(void *arg)
{
	(void)arg;
	hw_mc_cfg.abort_on_error = false;
	unsigned missed = 0;
	for (unsigned c = 0x01; c < 0x80; c++) {
		for (size_t n = 1; n <= 16; n++) {
			unsigned char *p = hw_malloc(n);
			if (!p)
				_exit(2);
			hw_malloc_stats before, after;
			hw_malloc_stats_get(&before);
			p[n] = (unsigned char)c;
			hw_free(p);
			hw_malloc_stats_get(&after);
			/* n = 16 has no slack: nothing to find (MC6). */
			if (n % 16 != 0 && after.errors != before.errors + 1)
				missed++;
		}
	}
	_exit(missed ? 1 : 0);
}

static void test_canary(void)
{
	err[0] = 0;
	EXPECT(hw_trap_child(ascii_overflows, NULL, err, sizeof err, &st) == 0 && st.signo == 0 &&
		       st.exit_code == 0,
	       "an ASCII byte past an object's end is always found (signal %d, exit %d)",
	       st.signo, st.exit_code);
	EXPECT(dies_with(overflow_free, (void *)13, "heapward: heap buffer overflow",
			 "13-byte object"),
	       "13 bytes");
	EXPECT(dies_with(overflow_free, (void *)0, "heap buffer overflow", "0-byte object"),
	       "malloc(0)");
	EXPECT(dies_with(overflow_free, (void *)100001, "heap buffer overflow",
			 "100001-byte object"),
	       "large");
	EXPECT(dies_with(overflow_realloc, NULL, "heap buffer overflow", "found by realloc"),
	       "realloc checks the canary");
}

static void interior_usable_size(void *arg) { (void)hw_malloc_usable_size(arg); }

static void test_usable_size_checks(void)
{
	char *p = hw_malloc(100);
	EXPECT(dies_with(interior_usable_size, p + 16,
			 "invalid malloc_usable_size of", "not the start of an object"),
	       "usable_size");
	hw_free(p);
}

/* A write after free into slots listed in their span (MC5: the layer keeps
 * nothing in a free slot) changes nothing the layer reads: the same slots
 * are handed out again, each once, and the span's record still counts
 * them (with a list through the slots, the first take of a damaged one
 * followed its overwritten link). */
static void test_write_after_free_harmless(void)
{
	enum { N = 400 };
	void *objs[N];
	/* One processor, so one arena (span.c SP8) serves every take. */
	cpu_set_t all, one;
	REQUIRE(sched_getaffinity(0, sizeof all, &all) == 0);
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all)) {
			CPU_SET(c, &one);
			break;
		}
	REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
	void *keep = hw_malloc(48); /* keeps the span alive */
	REQUIRE(keep != NULL);
	mc_span *home = mc_span_of((uintptr_t)keep);
	size_t in_home = 0;
	for (int i = 0; i < N; i++) {
		objs[i] = hw_malloc(48);
		REQUIRE(objs[i] != NULL);
	}
	for (int i = 0; i < N; i++)
		hw_free(objs[i]);
	hw_malloc_trim(0); /* the cache's slots go back to their spans */
	/* Only slots of keep's span: the other spans went back to the heap. */
	for (int i = 0; i < N; i++)
		if (mc_span_of((uintptr_t)objs[i]) == home) {
			memset(objs[i], 0x41, 48);
			in_home++;
		}
	EXPECT(in_home > 1, "only %zu of the objects in keep's span", in_home);
	EXPECT(home->listed + home->parked == home->nobjs - 1u && home->live == 1,
	       "listed %u parked %u live %u of %u", home->listed, home->parked, home->live,
	       home->nobjs);
	/* Every slot of the span comes back once, keep's never (other
	 * spans of the class may serve some takes too). */
	size_t got = 0, from_home = 0, dup = 0;
	static void *again[2048];
	while (from_home + 1 < home->nobjs && got < 2048) {
		void *p = hw_malloc(48);
		REQUIRE(p != NULL);
		again[got++] = p;
		if (mc_span_of((uintptr_t)p) != home)
			continue;
		from_home++;
		dup += p == keep;
		for (size_t j = 0; j + 1 < got; j++)
			dup += again[j] == p;
	}
	EXPECT(from_home + 1 == home->nobjs && dup == 0, "%zu of %u slots back, %zu twice",
	       from_home, home->nobjs - 1u, dup);
	EXPECT(home->listed == 0 && home->parked == 0,
	       "listed %u parked %u after every slot was taken", home->listed, home->parked);
	for (size_t i = 0; i < got; i++)
		hw_free(again[i]);
	hw_free(keep);
	layer_validate();
	REQUIRE(sched_setaffinity(0, sizeof all, &all) == 0);
}

static void continue_after_errors(void *arg)
{
	hw_mc_cfg.abort_on_error = false;
	void *p = hw_malloc(40);
	hw_free(p);
	hw_free(p);
	int local;
	hw_free(&local);
	errno = 0;
	void *r = hw_realloc(&local, 10);
	hw_malloc_stats s;
	hw_malloc_stats_get(&s);
	printf("continued: errors %llu realloc %s errno %d\n", (unsigned long long)s.errors,
	       r ? "non-NULL" : "NULL", errno);
	fflush(stdout);
	if (s.errors != 3 || r || errno != EINVAL)
		_exit(1);
	/* The bad frees changed nothing: the heap still works. */
	void *q = hw_malloc(40);
	hw_free(q);
}

/* The pattern (MC6) over windows of every alignment and length up to a
 * few blocks: a fill leaves each byte as MC6 says and writes nothing
 * outside; find names the first damaged byte wherever it lies (in the
 * unaligned head, a 64-byte block, a 16-byte step or the tail), and
 * NULL on an intact window. */
static void test_pattern(void)
{
	static unsigned char buf[512] __attribute__((aligned(64)));
	size_t bad_fill = 0, bad_find = 0;
	for (size_t lo = 0; lo < 48; lo++) {
		for (size_t len = 0; lo + len + 1 < sizeof buf && len < 300; len += 1 + len / 16) {
			unsigned char *a = buf + lo, *b = a + len;
			memset(buf, 0x5a, sizeof buf);
			hw_mc_pattern_fill(a, b);
			for (size_t i = 0; i < sizeof buf; i++) {
				bool inside = buf + i >= a && buf + i < b;
				unsigned char want =
					inside ? hw_mc_canary.b[(uintptr_t)(buf + i) & 15] : 0x5a;
				bad_fill += buf[i] != want;
			}
			bad_find += hw_mc_pattern_find(a, b) != NULL;
			for (size_t d = 0; d < len; d++) {
				a[d] ^= 0x40;
				if (d + 7 < len)
					a[d + 7] ^= 1; /* a later damage does not hide it */
				bad_find += hw_mc_pattern_find(a, b) != a + d;
				a[d] ^= 0x40;
				if (d + 7 < len)
					a[d + 7] ^= 1;
			}
		}
	}
	EXPECT(bad_fill == 0, "%zu bytes filled wrong", bad_fill);
	EXPECT(bad_find == 0, "%zu finds wrong", bad_find);
}

/* C23's sized frees (kind.c KD5). */
typedef struct sized_call {
	void *p;
	size_t align, size; /* align 0: hw_free_sized */
} sized_call;

static void sized_free(void *arg)
{
	const sized_call *c = arg;
	if (c->align)
		hw_free_aligned_sized(c->p, c->align, c->size);
	else
		hw_free_sized(c->p, c->size);
}

/* The mismatch line for c, whose object has n bytes. */
static const char *size_line(const sized_call *c, size_t n)
{
	static char line[256];
	if (c->align && ((c->align & (c->align - 1)) || ((uintptr_t)c->p & (c->align - 1))))
		snprintf(
			line, sizeof line,
			"heapward: free-size mismatch: free_aligned_sized of %p with alignment %zu "
			"(a %zu-byte object allocated by malloc, not aligned to it)\n",
			c->p, c->align, n);
	else
		snprintf(line, sizeof line,
			 "heapward: free-size mismatch: %s of %p with size %zu (a %zu-byte object "
			 "allocated by malloc)\n",
			 c->align ? "free_aligned_sized" : "free_sized", c->p, c->size, n);
	return line;
}

/* A sized free with the wrong size or alignment, in continue mode: one
 * report, the object still live (its usable size, its bytes), then freed
 * by the right call; with free_size_mismatch=0, freed without a report. */
static void sized_continue(void *arg)
{
	(void)arg;
	hw_mc_cfg.abort_on_error = false;
	hw_malloc_stats s0, s1;
	hw_malloc_stats_get(&s0);
	unsigned char *p = hw_malloc(100000);
	memset(p, 0x3c, 100000);
	hw_free_sized(p, 99999);
	hw_free_aligned_sized(p, 3, 100000);
	hw_malloc_stats_get(&s1);
	if (s1.errors != s0.errors + 2 || hw_malloc_usable_size(p) != 100000 || p[99999] != 0x3c)
		_exit(3);
	hw_free_sized(p, 100000);
	hw_malloc_stats_get(&s1);
	if (s1.large_objects != s0.large_objects || s1.errors != s0.errors + 2)
		_exit(4);
	hw_mc_cfg.free_size_mismatch = false;
	p = hw_malloc(100000);
	hw_free_aligned_sized(p, 3, 7);
	hw_malloc_stats_get(&s1);
	if (s1.large_objects != s0.large_objects || s1.errors != s0.errors + 2)
		_exit(5);
	_exit(0);
}

static void test_sized_free(void)
{
	hw_malloc_stats s0, s1;
	hw_malloc_stats_get(&s0);
	/* The right size (and any power of two dividing the address) frees:
	 * the objects go, with no report. */
	static const size_t sizes[] = {0, 1, 24, 100, 4096, 65536, 65537, 300000};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		hw_free_sized(hw_malloc(n), n);
		hw_free_sized(hw_calloc(n ? 3 : 0, n), 3 * n);
		void *r = hw_realloc(hw_malloc(n + 10), n);
		hw_free_sized(r, r ? n : 0); /* realloc(p, 0) freed p */
		for (size_t align = 16; align <= 8192; align *= 8) {
			void *a = hw_aligned_alloc(align, n);
			hw_free_aligned_sized(a, align, n);
		}
		void *m = hw_malloc(n);
		hw_free_aligned_sized(m, 16, n);
	}
	/* pvalloc's request is its whole pages (heapward.h). */
	void *pv = hw_pvalloc(1);
	size_t pv_size = hw_malloc_usable_size(pv);
	EXPECT(pv_size >= 4096 && pv_size % 4096 == 0, "pvalloc(1): %zu bytes", pv_size);
	hw_free_aligned_sized(pv, 4096, pv_size);
	hw_free_sized(NULL, 5);
	hw_free_aligned_sized(NULL, 3, 5);
	hw_malloc_stats_get(&s1);
	EXPECT(s1.errors == s0.errors, "%llu reports", (unsigned long long)(s1.errors - s0.errors));
	EXPECT(s1.large_objects == s0.large_objects, "large objects %zu, before %zu",
	       s1.large_objects, s0.large_objects);

	/* The wrong size or alignment: the report, then the abort. */
	unsigned char *small = hw_calloc(3, 8), *large = hw_malloc(100000);
	uintptr_t low = (uintptr_t)small & -(uintptr_t)small; /* p's largest power of two */
	const sized_call bad[] = {
		{small, 0, 25},
		{small, 0, 3},
		{small, 0, 0},
		{large, 0, 100001},
		{small, 16, 32},
		{small, low * 2, 24},
		{small, 3, 24},
		{large, 0, 99999},
		{large, (uintptr_t)large & -(uintptr_t)large, 1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t n = bad[i].p == small ? 24 : 100000;
		EXPECT(dies_with(sized_free, (void *)&bad[i], size_line(&bad[i], n), NULL),
		       "case %zu", i);
	}
	/* Not a live object's start: the free's own report. */
	const sized_call interior = {small + 8, 0, 16};
	EXPECT(dies_with(sized_free, (void *)&interior, "heapward: invalid free of",
			 "not the start of an object"),
	       "interior");
	hw_free_sized(small, 24);
	hw_free_aligned_sized(large, 16, 100000);

	err[0] = 0;
	REQUIRE(hw_trap_child(sized_continue, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "signal %d exit %d: %s", st.signo,
	       st.exit_code, err);
	EXPECT(hw_test_count(err, "heapward: free-size mismatch") == 2, "%s", err);
}

static void test_continue_mode(void)
{
	err[0] = 0;
	REQUIRE(hw_trap_child(continue_after_errors, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "signal %d exit %d: %s", st.signo,
	       st.exit_code, err);
	EXPECT(strstr(err, "double free of") && strstr(err, "invalid free of") &&
		       strstr(err, "invalid realloc of"),
	       "reports: %s", err);
}

int main(int argc, char **argv)
{
	/* No scavenger thread: each death test forks, and a child of a
	 * single-threaded process inherits no lock held by a thread it lacks
	 * (ThreadSanitizer's own included). */
	hw_mc_cfg.background_scavenger = false;
	static const hw_test tests[] = {T(test_double_free),
					T(test_interior_and_misaligned),
					T(test_foreign),
					T(test_canary),
					T(test_usable_size_checks),
					T(test_write_after_free_harmless),
					T(test_pattern),
					T(test_sized_free),
					T(test_continue_mode)};
	return hw_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
}

/* fault_report_test.c: hw_fault_reports_enable (src/fault_report.c,
 * platform/fault_posix.c) on the real OS.
 *
 * Each test builds a heap in this process, then forks a child that enables
 * the reports and touches one address (hw_trap_child captures the child's
 * stderr, where the default report function writes). The child must die as
 * it would have without the reports (killed by SIGSEGV, or by whatever
 * handler was installed before), and the captured text must hold exactly the
 * lines the heap's classification gives: which heap, the run's bounds, the
 * offset and page in it, the page's state and the heap's fault_on_free.
 *
 * Under ASan or TSan the sanitizer's SEGV handler is installed before main,
 * so it is the "previous handler" the reports chain to: the child then
 * prints the heapward lines and the sanitizer's own SEGV report, and exits
 * with its status instead of being killed (died_of_segv accepts that, and
 * only that).
 *
 * Under Valgrind the handler runs as on the bare machine (Memcheck delivers
 * the signal to it, on its alternate stack). A child killed by the signal
 * leaves Memcheck's "Process terminating" note in the log and, when a run
 * was still allocated, a leak record of it (the arena's pool block claims
 * the pointer); neither changes how the child ended, so the test runs there
 * too, and the one child that exits on its own keeps no run allocated.
 */
#include "check.h"
#include "heap_internal.h"
#include "inspect.h"
#include "sanitizers.h"
#include "track.h"
#include "trap.h"

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The sanitizer whose SEGV handler runs before main, if any: its report
 * names it ("AddressSanitizer: SEGV", "ThreadSanitizer: SEGV"). */
#if HW_TEST_ASAN
#define SANITIZER_SEGV "AddressSanitizer: SEGV"
#elif HW_TEST_TSAN
#define SANITIZER_SEGV "ThreadSanitizer: SEGV"
#endif

#define HANDLER_EXIT 42

/* A deliberate access to dead memory: unchecked by ASan (the freed run is
 * poisoned) and unreported by Memcheck, so the page fault is what happens. */
HW_TRACK_UNCHECKED static void touch(uintptr_t a)
{
	hw_track_quiet_begin();
	*(volatile char *)a = 1;
	hw_track_quiet_end();
}

/* The test's own SIGSEGV handler, installed before the reports to show
 * that they chain to it: says where it was called for, and exits. */
static void own_handler(int signo, siginfo_t *si, void *uctx)
{
	(void)uctx;
	/* The touch that brought us here began a quiet section (the exit
	 * below checks Memcheck's error count). */
	hw_track_quiet_end();
	hw_report_write("test handler: signal %d at %p\n", signo, si->si_addr);
	_exit(HANDLER_EXIT);
}

typedef struct job {
	uintptr_t addr;
	bool own_handler; /* install own_handler before enabling */
	bool raise;       /* raise(SIGSEGV) instead of touching addr */
	bool overflow;    /* overflow the stack instead of touching addr */
} job;

/* Recurses until the stack runs out; each frame keeps a page of it. */
HW_TRACK_UNCHECKED static unsigned deep(unsigned n)
{
	volatile char frame[4096];
	frame[n % sizeof frame] = (char)n;
	if (n == UINT_MAX) /* never: the stack ends long before */
		return 0;
	return deep(n + 1) + frame[(n + 1) % sizeof frame];
}

static void enable_and_touch(void *arg)
{
	const job *j = arg;
	if (j->own_handler) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = own_handler;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, NULL) != 0)
			_exit(10);
	}
	/* Idempotent: the second call changes nothing and succeeds. */
	if (hw_fault_reports_enable() != 0 || hw_fault_reports_enable() != 0)
		_exit(11);
	if (j->raise)
		raise(SIGSEGV);
	else if (j->overflow)
		(void)deep(0);
	else
		touch(j->addr);
	_exit(12); /* the touch must not return */
}

static bool run(const job *j, char *err, size_t len, hw_child_status *st)
{
	return hw_trap_child(enable_and_touch, (void *)j, err, len, st) == 0;
}

/* Killed by SIGSEGV, as without the reports; under ASan, reported by its
 * handler (the previous one) and exited non-zero instead. */
static bool died_of_segv(const hw_child_status *st, const char *err)
{
	if (st->signo == SIGSEGV)
		return true;
#ifdef SANITIZER_SEGV
	return st->signo == 0 && st->exit_code != 0 && strstr(err, SANITIZER_SEGV) != NULL;
#else
	(void)err;
	return false;
#endif
}

/* Runs j in a child, which must die of the fault with want in its
 * standard error. */
static void expect_report(const job *j, const char *want)
{
	char err[4096];
	hw_child_status st;
	REQUIRE(run(j, err, sizeof err, &st));
	EXPECT(died_of_segv(&st, err), "signal %d exit %d: %s", st.signo, st.exit_code, err);
	EXPECT(strstr(err, want) != NULL, "want:\n%sgot:\n%s", want, err);
}

static hw_heap *fault_heap(void)
{
	hw_heap_config c = {0};
	c.fault_on_free = true; /* on the OS platform, default geometry */
	return hw_heap_create(&c);
}

/* The case: a freed run is touched. Three pages are freed below an
 * allocated one, at the start of the arena, so the free run is exactly
 * those three pages. */
static void test_freed_run_reported(void)
{
	hw_heap *h = fault_heap();
	REQUIRE(h != NULL);
	size_t ps = hw_heap_page_size(h);
	char *a = hw_heap_alloc(h, 3), *b = hw_heap_alloc(h, 1);
	REQUIRE(a != NULL && b == a + 3 * ps, "a %p b %p", (void *)a, (void *)b);
	void *arena;
	size_t arena_size;
	hw_heap_arena_get(h, 0, &arena, &arena_size);
	REQUIRE(arena == a, "the first run starts the arena");
	REQUIRE(hw_heap_free(h, a, 3) == 0);

	job j = {.addr = (uintptr_t)a + ps + 16};
	char want[512];
	snprintf(want, sizeof want,
		 "heapward: SEGV on address %p in heap %p: free run [%p, %p) (3 pages), "
		 "0x%zx bytes into it\n"
		 "heapward: the address is in page 1 of the run, released; this heap faults "
		 "freed runs (fault_on_free is set)\n",
		 (void *)j.addr, (void *)h, (void *)a, (void *)(a + 3 * ps), ps + 16);
	expect_report(&j, want);

	/* A run of one page is "1 page". */
	REQUIRE(hw_heap_guard(h, b, 1) == 0);
	job g = {.addr = (uintptr_t)b + 8};
	snprintf(want, sizeof want,
		 "heapward: SEGV on address %p in heap %p: allocated run [%p, %p) (1 page), "
		 "0x8 bytes into it\n"
		 "heapward: the address is in page 0 of the run, a guard page: the run's owner "
		 "made it trap (hw_heap_guard)\n",
		 (void *)g.addr, (void *)h, (void *)b, (void *)(b + ps));
	expect_report(&g, want);

	EXPECT(hw_heap_free(h, b, 1) == 0);
	hw_heap_destroy(h);
}

/* A touch of a guard page of a live run (hw_heap_guard) is named as one:
 * a run of 4 pages, its last page guarded, touched 8 bytes past the third
 * page (an overflow off the end of what the run's owner uses). */
static void test_guard_page_reported(void)
{
	hw_heap *h = hw_heap_create(NULL);
	REQUIRE(h != NULL);
	size_t ps = hw_heap_page_size(h);
	char *a = hw_heap_alloc(h, 4);
	REQUIRE(a != NULL);
	REQUIRE(hw_heap_guard(h, a + 3 * ps, 1) == 0);

	job j = {.addr = (uintptr_t)a + 3 * ps + 8};
	char want[512];
	snprintf(want, sizeof want,
		 "heapward: SEGV on address %p in heap %p: allocated run [%p, %p) (4 pages), "
		 "0x%zx bytes into it\n"
		 "heapward: the address is in page 3 of the run, a guard page: the run's owner "
		 "made it trap (hw_heap_guard)\n",
		 (void *)j.addr, (void *)h, (void *)a, (void *)(a + 4 * ps), 3 * ps + 8);
	expect_report(&j, want);

	EXPECT(hw_heap_free(h, a, 4) == 0);
	hw_heap_destroy(h);
}

/* A touch of a page its run's owner released inside the run, in a heap
 * that faults freed runs (so the release is the fault, and the touch
 * traps), is named as one. */
static void test_inside_page_reported(void)
{
	hw_heap *h = fault_heap();
	REQUIRE(h != NULL);
	size_t ps = hw_heap_page_size(h);
	char *a = hw_heap_alloc(h, 4);
	REQUIRE(a != NULL);
	REQUIRE(hw_heap_release_inside(h, a + ps, 2) == 0);

	job j = {.addr = (uintptr_t)a + 2 * ps + 40};
	char want[512];
	snprintf(want, sizeof want,
		 "heapward: SEGV on address %p in heap %p: allocated run [%p, %p) (4 pages), "
		 "0x%zx bytes into it\n"
		 "heapward: the address is in page 2 of the run, released inside it: the "
		 "run's owner gave its memory back (hw_heap_release_inside) and has not "
		 "reused it\n",
		 (void *)j.addr, (void *)h, (void *)a, (void *)(a + 4 * ps), 2 * ps + 40);
	expect_report(&j, want);

	EXPECT(hw_heap_free(h, a, 4) == 0);
	hw_heap_destroy(h);
}

/* The test's report function: async-signal-safe, as heapward.h requires. */
static void prefixed_report(void *arg, const char *line)
{
	(void)arg;
	hw_report_write("own report: %s\n", line);
}

/* Arena memory never allocated is Reserved (grow counts it released): a
 * touch there is in the free run that runs to the end of the arena, and the
 * report goes through the heap's own report function. */
static void test_reserved_part_is_free(void)
{
	hw_heap_config c = {0};
	c.fault_on_free = true;
	c.report = prefixed_report;
	hw_heap *h = hw_heap_create(&c);
	REQUIRE(h != NULL);
	size_t ps = hw_heap_page_size(h);
	char *a = hw_heap_alloc(h, 1);
	REQUIRE(a != NULL);
	void *arena;
	size_t arena_size;
	hw_heap_arena_get(h, 0, &arena, &arena_size);
	REQUIRE(arena == a);
	EXPECT(hw_heap_page_kind(h, a + 10 * ps, NULL) == HW_PAGE_FREE_RELEASED);

	job j = {.addr = (uintptr_t)a + 10 * ps + 5};
	char want[512];
	uintptr_t end = (uintptr_t)arena + arena_size;
	snprintf(want, sizeof want,
		 "own report: heapward: SEGV on address %p in heap %p: free run [%p, %p) "
		 "(%zu pages), 0x%zx bytes into it\n"
		 "own report: heapward: the address is in page 9 of the run, released; this "
		 "heap faults freed runs (fault_on_free is set)\n",
		 (void *)j.addr, (void *)h, (void *)(a + ps), (void *)end,
		 (size_t)(end - (uintptr_t)a) / ps - 1, 9 * ps + 5);
	expect_report(&j, want);

	EXPECT(hw_heap_free(h, a, 1) == 0);
	hw_heap_destroy(h);
}

/* A fault on an address no heap holds says nothing and kills as before; so
 * does a SIGSEGV sent rather than raised by a fault (no address to
 * classify). A heap with a faulted freed run is listed meanwhile. */
static void test_outside_heaps_silent(void)
{
	hw_heap *h = fault_heap();
	REQUIRE(h != NULL);
	char *a = hw_heap_alloc(h, 2);
	REQUIRE(a != NULL);
	REQUIRE(hw_heap_free(h, a, 2) == 0);

	job nul = {.addr = 16}; /* the first page is never mapped */
	char err[4096];
	hw_child_status st;
	REQUIRE(run(&nul, err, sizeof err, &st));
	EXPECT(died_of_segv(&st, err), "signal %d exit %d: %s", st.signo, st.exit_code, err);
	EXPECT(strstr(err, "heapward:") == NULL, "got: %s", err);

	job sent = {.raise = true};
	REQUIRE(run(&sent, err, sizeof err, &st));
	EXPECT(died_of_segv(&st, err), "signal %d exit %d: %s", st.signo, st.exit_code, err);
	EXPECT(strstr(err, "heapward:") == NULL, "got: %s", err);
	hw_heap_destroy(h);
}

/* A handler installed before the reports still gets every fault: after the
 * report for a heap address, and alone for any other. The child exits from
 * that handler, so it keeps no run allocated: under Memcheck a live run
 * inside an arena reads as leaked at the child's exit (the arena's pool
 * block claims the pointer), and exit status 99 would hide the handler's. */
static void test_chains_to_previous_handler(void)
{
	hw_heap *h = fault_heap();
	REQUIRE(h != NULL);
	size_t ps = hw_heap_page_size(h);
	char *a = hw_heap_alloc(h, 2);
	REQUIRE(a != NULL);
	void *arena;
	size_t arena_size;
	hw_heap_arena_get(h, 0, &arena, &arena_size);
	REQUIRE(arena == a);
	REQUIRE(hw_heap_free(h, a, 2) == 0);

	char err[4096], want[512];
	hw_child_status st;
	job outside = {.addr = 16, .own_handler = true};
	REQUIRE(run(&outside, err, sizeof err, &st));
	EXPECT(st.signo == 0 && st.exit_code == HANDLER_EXIT, "signal %d exit %d: %s", st.signo,
	       st.exit_code, err);
	EXPECT(strcmp(err, "test handler: signal 11 at 0x10\n") == 0, "got: %s", err);

	job inside = {.addr = (uintptr_t)a + 2 * ps - 1, .own_handler = true};
	REQUIRE(run(&inside, err, sizeof err, &st));
	EXPECT(st.signo == 0 && st.exit_code == HANDLER_EXIT, "signal %d exit %d: %s", st.signo,
	       st.exit_code, err);
	snprintf(want, sizeof want,
		 "heapward: SEGV on address %p in heap %p: free run [%p, %p) (%zu pages), "
		 "0x%zx bytes into it\n"
		 "heapward: the address is in page 1 of the run, released; this heap faults "
		 "freed runs (fault_on_free is set)\n"
		 "test handler: signal 11 at %p\n",
		 (void *)inside.addr, (void *)h, arena, (void *)(a + arena_size), arena_size / ps,
		 2 * ps - 1, (void *)inside.addr);
	EXPECT(strcmp(err, want) == 0, "want:\n%sgot:\n%s", want, err);
	hw_heap_destroy(h);
}

/* A stack overflow still reaches the previous handler: the reports gave
 * the thread an alternate stack, without which the kernel could not run a
 * handler at all and would kill the process. */
static void test_stack_overflow_handled(void)
{
	job j = {.own_handler = true, .overflow = true};
	char err[4096];
	hw_child_status st;
	REQUIRE(run(&j, err, sizeof err, &st));
	EXPECT(st.signo == 0 && st.exit_code == HANDLER_EXIT, "signal %d exit %d: %s", st.signo,
	       st.exit_code, err);
	EXPECT(strncmp(err, "test handler: signal 11 at ", 27) == 0 && !strstr(err, "heapward:"),
	       "got: %s", err);
}

/* An address in a heap's window (which the heap does not reserve) but in
 * none of its arenas is named as such. The test picks one that traps. */
static void test_window_outside_arenas(void)
{
	hw_heap *h = fault_heap();
	REQUIRE(h != NULL);
	char *a = hw_heap_alloc(h, 1);
	REQUIRE(a != NULL);
	uintptr_t lo = h->base, hi = h->base + h->address_space;
	uintptr_t addr = 0;
	/* From the bottom of the window: far from the arena, and from the
	 * stack, which a probe just below it could make grow. */
	for (uintptr_t t = lo; t < hi && addr == 0; t += h->address_space / 64)
		if (hw_heap_page_kind(h, (void *)t, NULL) == HW_PAGE_UNMAPPED &&
		    hw_trap_probe((volatile void *)t, false) == HW_TRAP_MAPERR)
			addr = t;
	REQUIRE(addr != 0, "no unmapped address in the window");

	job j = {.addr = addr};
	char want[512];
	snprintf(want, sizeof want,
		 "heapward: SEGV on address %p inside heap %p's address window [%p, %p), in "
		 "none of its arenas: not heap memory\n",
		 (void *)addr, (void *)h, (void *)lo, (void *)hi);
	expect_report(&j, want);
	EXPECT(hw_heap_free(h, a, 1) == 0);
	hw_heap_destroy(h);
}

HW_TEST_MAIN(T(test_freed_run_reported), T(test_guard_page_reported),
	     T(test_inside_page_reported), T(test_reserved_part_is_free),
	     T(test_outside_heaps_silent), T(test_chains_to_previous_handler),
	     T(test_window_outside_arenas), T(test_stack_overflow_handled))

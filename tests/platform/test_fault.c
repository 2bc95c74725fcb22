/* test_fault.c: the fault handler's chain and what it reads from a fault
 * (platform/fault.h, fault_posix.c), on the real OS, in children.
 *
 * Each case forks a child (hw_trap_child, its stderr captured) that installs
 * test classifiers and makes one fault. A classifier writes one line per
 * call saying which rank it is and what it saw (access, si_code, whether the
 * registers match the faulting function's, whether a handler comes next),
 * so the parent checks the chain's order and the fault's fields from the
 * text, and how the child ended.
 *
 * Under AddressSanitizer or ThreadSanitizer the sanitizer's own SEGV
 * handler is installed before main and is the previous handler: the child
 * then exits with the sanitizer's status instead of being killed, and
 * hw_fault.chained is true (died_of_segv, chained_word accept that).
 * Under Valgrind the accesses are in quiet sections (track.h), ended by
 * the classifiers and the test's handler, so Memcheck's own reports stay
 * out of the captured text.
 */
#include "ptest.h"
#include "sanitizers.h"

#include "fault.h"
#include "thread.h"
#include "track.h"
#include "trap.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SANITIZED (HW_TEST_ASAN || HW_TEST_TSAN)

#define HANDLER_EXIT 42

/* What the faulting function recorded just before its access: its frame
 * pointer and where its code is (the pc must be in it). */
static volatile uintptr_t want_fp;
static bool answer_objects, answer_pages; /* what the classifiers return */

static const char *access_name(hw_fault_access a)
{
	return a == HW_FAULT_READ    ? "READ"
	       : a == HW_FAULT_WRITE ? "WRITE"
	       : a == HW_FAULT_EXEC  ? "EXEC"
				     : "UNKNOWN";
}

static void say(const char *rank, const hw_fault *f)
{
	hw_track_quiet_end();
	/* The registers: fp is the faulting function's own frame (recorded
	 * in want_fp), sp is at or below it, and pc is code (not on the
	 * stack, not in the first page). */
	bool regs = f->fp == want_fp && f->sp <= f->fp && f->sp + (1u << 20) > f->fp &&
		    f->pc > 4096 && (f->pc < f->sp - (1u << 20) || f->pc > f->fp + (1u << 20));
	hw_report_write("%s: %s %s at %p code %d regs %s %s\n", rank, f->signal,
			access_name(f->access), (void *)f->addr, f->code, regs ? "ok" : "wrong",
			f->chained ? "chained" : "last");
}

static bool objects(const hw_fault *f)
{
	say("objects", f);
	return answer_objects;
}

static bool pages(const hw_fault *f)
{
	say("pages", f);
	return answer_pages;
}

static bool any(const hw_fault *f)
{
	say("any", f);
	return true;
}

/* The accesses, each recording its frame first: noinline with a frame
 * pointer, built at -O0 (CMakeLists.txt: optimized, the compiler pops a
 * leaf's frame pointer before its last access), so fp at the fault is this
 * frame's. */
HW_TRACK_UNCHECKED __attribute__((noinline)) static void read_at(uintptr_t a)
{
	want_fp = (uintptr_t)__builtin_frame_address(0);
	hw_track_quiet_begin();
	(void)*(volatile char *)a;
}

HW_TRACK_UNCHECKED __attribute__((noinline)) static void write_at(uintptr_t a)
{
	want_fp = (uintptr_t)__builtin_frame_address(0);
	hw_track_quiet_begin();
	*(volatile char *)a = 1;
}

static void own_handler(int signo, siginfo_t *si, void *uctx)
{
	(void)uctx;
	hw_track_quiet_end();
	hw_report_write("test handler: signal %d at %p\n", signo, si->si_addr);
	_exit(HANDLER_EXIT);
}

typedef struct job {
	uintptr_t addr;
	bool write, own_handler, sent, overflow, thread, no_thread_stack;
	bool unmap;               /* unmap addr's page just before the access (SEGV_MAPERR) */
	bool objects, pages, any; /* which classifiers to install */
} job;

/* Recurses until the stack runs out; each frame keeps a page of it. */
__attribute__((noinline)) static unsigned deep(unsigned n)
{
	volatile char frame[4096];
	frame[n % sizeof frame] = (char)n;
	if (n == UINT_MAX) /* never: the stack ends long before */
		return 0;
	return deep(n + 1) + frame[(n + 1) % sizeof frame];
}

static void *overflow_thread(void *arg)
{
	const job *j = arg;
	if (!j->no_thread_stack && hw_fault_thread_start() != 0)
		_exit(13);
	(void)deep(0);
	return NULL;
}

static void fault_child(void *arg)
{
	const job *j = arg;
	answer_objects = false;
	answer_pages = true;
	if (j->own_handler) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = own_handler;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, NULL) != 0)
			_exit(10);
	}
	if ((j->objects && hw_fault_install(objects, HW_FAULT_RANK_OBJECTS) != 0) ||
	    (j->pages && hw_fault_install(pages, HW_FAULT_RANK_PAGES) != 0) ||
	    (j->any && hw_fault_install(any, HW_FAULT_RANK_ANY) != 0))
		_exit(11);
	/* Unmapped here, not by the parent: a runtime that maps memory of
	 * its own (ThreadSanitizer's) could take the hole meanwhile. */
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	if (j->unmap && munmap((void *)(j->addr & ~(ps - 1)), ps) != 0)
		_exit(15);
	if (j->sent) {
		kill(getpid(), SIGSEGV);
	} else if (j->overflow && j->thread) {
		pthread_t t;
		if (pthread_create(&t, NULL, overflow_thread, (void *)j) != 0)
			_exit(14);
		pthread_join(t, NULL);
	} else if (j->overflow) {
		(void)deep(0);
	} else if (j->write) {
		write_at(j->addr);
	} else {
		read_at(j->addr);
	}
	_exit(12); /* the fault must not return */
}

static bool died_of_segv(const hw_child_status *st)
{
	return st->signo == SIGSEGV || (SANITIZED && st->signo == 0 && st->exit_code != 0);
}

static const char *chained_word(bool own)
{
	return own || SANITIZED ? "chained" : "last";
}

/* An address in a PROT_NONE page (SEGV_ACCERR; the child unmaps it for
 * SEGV_MAPERR: job.unmap). */
static uintptr_t trap_page(void)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	// cppcheck-suppress memleak ; the page stays mapped, the children's trap
	return p == MAP_FAILED ? 0 : (uintptr_t)p + 24;
}

static void run(const job *j, char *err, size_t len, hw_child_status *st)
{
	REQUIRE(hw_trap_child(fault_child, (void *)j, err, len, st) == 0);
}

/* READ and WRITE are told apart, SEGV_ACCERR from SEGV_MAPERR, and the
 * registers are the faulting function's. */
static void test_access_and_registers(void)
{
	char err[4096], want[256];
	hw_child_status st;
	static const struct {
		bool write, mapped;
		const char *access;
		int code;
	} cases[] = {{false, true, "READ", SEGV_ACCERR},
		     {true, true, "WRITE", SEGV_ACCERR},
		     {false, false, "READ", SEGV_MAPERR},
		     {true, false, "WRITE", SEGV_MAPERR}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		job j = {.addr = trap_page(),
			 .write = cases[i].write,
			 .any = true,
			 .unmap = !cases[i].mapped};
		REQUIRE(j.addr != 0);
		run(&j, err, sizeof err, &st);
		EXPECT(died_of_segv(&st), "signal %d exit %d: %s", st.signo, st.exit_code, err);
		snprintf(want, sizeof want, "any: SEGV %s at %p code %d regs ok %s\n",
			 cases[i].access, (void *)j.addr, cases[i].code, chained_word(false));
		EXPECT(strncmp(err, want, strlen(want)) == 0, "want:\n%sgot:\n%s", want, err);
		EXPECT(count_of(err, "any: ") == 1, "once per fault: %s", err);
	}
}

/* The ranks are asked in order until one reports, whatever the order of
 * the installs. */
static void test_chain_order(void)
{
	char err[4096];
	hw_child_status st;
	job j = {.addr = trap_page(), .any = true, .pages = true, .objects = true};
	REQUIRE(j.addr != 0);
	run(&j, err, sizeof err, &st);
	EXPECT(died_of_segv(&st), "signal %d exit %d: %s", st.signo, st.exit_code, err);
	const char *o = strstr(err, "objects: "), *p = strstr(err, "pages: ");
	EXPECT(o && p && o < p && !strstr(err, "any: "), "objects, then pages, which reports: %s",
	       err);
}

static void install_twice(void *arg)
{
	(void)arg;
	int a = hw_fault_install(pages, HW_FAULT_RANK_PAGES);
	int b = hw_fault_install(pages, HW_FAULT_RANK_PAGES);
	int c = hw_fault_install(any, HW_FAULT_RANK_PAGES);
	int d = hw_fault_install(any, HW_FAULT_RANKS);
	hw_report_write("%d %d %d %d\n", a, b, c, d);
	_exit(0);
}

/* FH1: one classifier per rank; the same one again is no change. */
static void test_install_rules(void)
{
	char err[256], want[64];
	hw_child_status st;
	REQUIRE(hw_trap_child(install_twice, NULL, err, sizeof err, &st) == 0);
	snprintf(want, sizeof want, "0 0 %d %d\n", EBUSY, EINVAL);
	EXPECT(st.signo == 0 && strcmp(err, want) == 0, "want %sgot %s", want, err);
}

/* FH2: a SIGSEGV another process (here: kill) sends is not classified, and
 * still kills. */
static void test_sent_signal_not_classified(void)
{
	char err[4096];
	hw_child_status st;
	job j = {.sent = true, .any = true, .objects = true};
	run(&j, err, sizeof err, &st);
	EXPECT(died_of_segv(&st), "signal %d exit %d: %s", st.signo, st.exit_code, err);
	EXPECT(!strstr(err, "any: ") && !strstr(err, "objects: "), "got: %s", err);
}

/* FH3: a handler installed before gets the fault after the chain, and the
 * classifiers know it comes. */
static void test_previous_handler_runs(void)
{
	char err[4096], want[256];
	hw_child_status st;
	job j = {.addr = trap_page(),
		 .write = true,
		 .own_handler = true,
		 .any = true,
		 .unmap = true};
	REQUIRE(j.addr != 0);
	run(&j, err, sizeof err, &st);
	EXPECT(st.signo == 0 && st.exit_code == HANDLER_EXIT, "signal %d exit %d: %s", st.signo,
	       st.exit_code, err);
	snprintf(want, sizeof want,
		 "any: SEGV WRITE at %p code %d regs ok chained\ntest handler: signal 11 at %p\n",
		 (void *)j.addr, SEGV_MAPERR, (void *)j.addr);
	EXPECT(strcmp(err, want) == 0, "want:\n%sgot:\n%s", want, err);
}

/* A stack overflow reaches the chain: in the installing thread (its
 * alternate stack comes with the install), and in another thread that
 * asked for one (FH5). The fault is near the stack pointer. */
static void test_stack_overflow_reaches_chain(void)
{
	char err[4096];
	hw_child_status st;
	for (int thread = 0; thread < 2; thread++) {
		job j = {.overflow = true, .thread = thread, .any = true};
		run(&j, err, sizeof err, &st);
		EXPECT(died_of_segv(&st), "thread %d: signal %d exit %d: %s", thread, st.signo,
		       st.exit_code, err);
		EXPECT(strncmp(err, "any: SEGV WRITE at ", 19) == 0, "thread %d: %s", thread, err);
	}
}

/* Without an alternate stack a thread's overflow cannot run the handler:
 * the kernel kills the process at once (what FH5 is for). Under
 * AddressSanitizer, whose runtime gives every thread an alternate stack of
 * its own, the overflow reaches the chain on that stack; Valgrind reaches
 * it on a stack of its own choosing (only the death is checked there). */
static void test_thread_without_our_stack(void)
{
	char err[4096];
	hw_child_status st;
	job j = {.overflow = true, .thread = true, .no_thread_stack = true, .any = true};
	run(&j, err, sizeof err, &st);
	EXPECT(died_of_segv(&st), "signal %d exit %d: %s", st.signo, st.exit_code, err);
#if HW_TRACK_VALGRIND
	/* Valgrind delivers the signal whatever the thread's stacks. */
#else
	if (HW_TEST_ASAN)
		EXPECT(strncmp(err, "any: SEGV WRITE at ", 19) == 0, "got: %s", err);
	else
		EXPECT(!strstr(err, "any: "), "got: %s", err);
#endif
}

static void *stack_cycle(void *arg)
{
	(void)arg;
	/* Start from no alternate stack (a sanitizer's runtime gives each
	 * thread one): put back at the end. */
	stack_t was, cur, off = {.ss_flags = SS_DISABLE};
	if (sigaltstack(&off, &was) != 0)
		return (void *)1;
	bool ok = hw_fault_thread_start() == 0 && sigaltstack(NULL, &cur) == 0 &&
		  !(cur.ss_flags & SS_DISABLE);
	hw_fault_thread_end();
	ok = ok && sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE);
	/* A stack the thread had already is its own: kept, and kept at the
	 * end. */
	static char mine[1 << 16];
	stack_t ss = {.ss_sp = mine, .ss_size = sizeof mine};
	ok = ok && sigaltstack(&ss, NULL) == 0 && hw_fault_thread_start() == 0;
	hw_fault_thread_end();
	ok = ok && sigaltstack(NULL, &cur) == 0 && cur.ss_sp == mine;
	sigaltstack((was.ss_flags & SS_DISABLE) ? &off : &was, NULL);
	return ok ? NULL : (void *)1;
}

/* FH5: hw_fault_thread_end takes back only the stack it gave. */
static void test_thread_stack_start_end(void)
{
	pthread_t t;
	void *res = (void *)1;
	REQUIRE(pthread_create(&t, NULL, stack_cycle, NULL) == 0);
	pthread_join(t, &res);
	EXPECT(res == NULL);
}

HW_TEST_MAIN(T(test_access_and_registers), T(test_chain_order), T(test_install_rules),
	     T(test_sent_signal_not_classified), T(test_previous_handler_runs),
	     T(test_stack_overflow_reaches_chain), T(test_thread_without_our_stack),
	     T(test_thread_stack_start_end))

/* user_handler_test.c: a program's own SIGSEGV and SIGBUS handlers under
 * libheapward-malloc.so (src/override/signals.c, platform/fault.h FH6).
 *
 * Owns: the checks of signals.c's SN1-SN2 from a program linked with the
 * library. Run twice by ctest: with HEAPWARD_OPTIONS=guard=all (the debug
 * mode: heapward's fault handler is installed at the first allocation,
 * and stays the OS's whatever the program sets) and with no options (no
 * handler of heapward's: sigaction is the C library's). Every test first
 * makes an allocation, so the layer has started.
 *
 * In the guarded run, a guarded object of 13 bytes ends at byte 16 of its
 * page (guard_align=16), against its guard page: p[16] faults.
 *
 * Locking: single-threaded; the death tests' children.
 */
#include "check.h"
#include "child.h"
#include "death.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The kernel's view of a disposition (rt_sigaction's struct). */
typedef struct kernel_action {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
} kernel_action;

static void *kernel_handler(int signo)
{
	kernel_action k;
	memset(&k, 0, sizeof k);
	if (syscall(SYS_rt_sigaction, signo, NULL, &k, sizeof k.mask) != 0)
		return (void *)-2;
	return k.handler;
}

static int guarded; /* the run with the debug mode on (argv) */

/* Writes s to stderr with write(2) (a handler may not use stdio). */
static void say(const char *s) { (void)!write(2, s, strlen(s)); }

static void *volatile keep;

static void start_layer(void)
{
	keep = malloc(13);
	((volatile char *)keep)[0] = 1;
}

/* A fault from the kernel: guarded, a write one byte past a 13-byte
 * object's 16-byte-aligned end, on its guard page (heapward reports it);
 * plain, a write to a page of the program's own that it made
 * inaccessible (no report: heapward has no handler). */
static volatile size_t past_end = 16; /* unseen by the compiler's bounds checks */

static void fault(void)
{
	volatile char *p = malloc(13);
	if (!guarded) {
		p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHILD_CHECK(p != MAP_FAILED);
		p[0] = 1;
		return;
	}
	p[past_end] = 1;
}

/* Where a dead child's standard error reports fault()'s overflow, or NULL. */
static const char *overflow_report(const hw_death *d)
{
	return strstr(d->err, "ERROR: heapward: heap-buffer-overflow");
}

static void noop_handler(int signo) { (void)signo; }

/* sigaction of SIG_DFL for signo (async-signal-safe). */
static int set_default(int signo)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	return sigaction(signo, &dfl, NULL);
}

/* SN1: the program reads back what it set, never heapward's handler; the
 * OS keeps heapward's (guarded) or takes the program's (plain). */
static void test_reads_back(void)
{
	start_layer();
	void *before = kernel_handler(SIGSEGV);
	EXPECT(guarded ? before != (void *)SIG_DFL && before != (void *)-2
		       : before == (void *)SIG_DFL,
	       "kernel's SIGSEGV handler %p before the program sets one", before);
	struct sigaction mine, old, cur;
	memset(&mine, 0, sizeof mine);
	mine.sa_handler = noop_handler;
	mine.sa_flags = SA_RESTART;
	sigemptyset(&mine.sa_mask);
	sigaddset(&mine.sa_mask, SIGUSR1);
	REQUIRE(sigaction(SIGSEGV, &mine, &old) == 0);
	EXPECT(old.sa_handler == SIG_DFL, "the program's first disposition is SIG_DFL");
	REQUIRE(sigaction(SIGSEGV, NULL, &cur) == 0);
	EXPECT(cur.sa_handler == noop_handler && (cur.sa_flags & SA_RESTART) &&
	       sigismember(&cur.sa_mask, SIGUSR1) && !sigismember(&cur.sa_mask, SIGUSR2));
	void *now = kernel_handler(SIGSEGV);
	EXPECT(guarded ? now == before : now == (void *)noop_handler, "kernel's handler %p", now);
	REQUIRE(sigaction(SIGSEGV, &old, NULL) == 0);
	REQUIRE(sigaction(SIGSEGV, NULL, &cur) == 0);
	EXPECT(cur.sa_handler == SIG_DFL && kernel_handler(SIGSEGV) == before);
	/* SIGBUS likewise. */
	REQUIRE(sigaction(SIGBUS, &mine, &old) == 0 && old.sa_handler == SIG_DFL);
	EXPECT(kernel_handler(SIGBUS) ==
	       (guarded ? kernel_handler(SIGSEGV) : (void *)noop_handler));
	REQUIRE(sigaction(SIGBUS, &old, NULL) == 0);
}

static volatile sig_atomic_t ran;

static void count_handler(int signo)
{
	(void)signo;
	ran++;
}

/* SN1, SN2 for other signals: the C library's, at once. */
static void test_other_signals(void)
{
	start_layer();
	struct sigaction mine, old;
	memset(&mine, 0, sizeof mine);
	mine.sa_handler = count_handler;
	sigemptyset(&mine.sa_mask);
	ran = 0;
	REQUIRE(sigaction(SIGUSR1, &mine, &old) == 0);
	EXPECT(kernel_handler(SIGUSR1) == (void *)count_handler);
	raise(SIGUSR1);
	EXPECT(ran == 1);
	EXPECT(signal(SIGUSR2, count_handler) == SIG_DFL);
	EXPECT(kernel_handler(SIGUSR2) == (void *)count_handler);
	raise(SIGUSR2);
	EXPECT(ran == 2);
	EXPECT(signal(SIGUSR2, SIG_DFL) == count_handler);
	errno = 0;
	EXPECT(signal(SIGSEGV, SIG_ERR) == SIG_ERR && errno == EINVAL);
	errno = 0;
	EXPECT(sigaction(-1, &mine, NULL) == -1 && errno == EINVAL);
	REQUIRE(sigaction(SIGUSR1, &old, NULL) == 0);
}

/* The program's crash handler: says what it saw, and whether SIGUSR1 (its
 * sa_mask) and SIGSEGV are blocked while it runs, then exits 7. */
static void crash_handler(int signo, siginfo_t *si, void *uctx)
{
	(void)uctx;
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	say(signo == SIGSEGV ? "program handler: SEGV" : "program handler: other");
	say(si && si->si_code > 0 ? " from the kernel" : " sent");
	say(sigismember(&now, SIGUSR1) ? " mask kept" : " mask lost");
	say(sigismember(&now, SIGSEGV) ? " self blocked\n" : " self open\n");
	_exit(7);
}

/* In a child: fn becomes the program's SA_SIGINFO handler of SIGSEGV, with
 * flags, blocking block while it runs (0: nothing more). */
static void install_segv(void (*fn)(int, siginfo_t *, void *), int flags, int block)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	if (block)
		sigaddset(&sa.sa_mask, block);
	CHILD_CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);
}

static void install_crash_handler(int flags) { install_segv(crash_handler, flags, SIGUSR1); }

static void heap_fault_child(void)
{
	start_layer();
	install_crash_handler(0);
	fault();
	say("not reached\n");
}

/* FH6: heapward's report first, then the program's handler, called as the
 * kernel would have called it. */
static void test_heap_fault_then_program_handler(void)
{
	hw_death d;
	REQUIRE(hw_death_run(heap_fault_child, &d) == 0);
	EXPECT(d.signal == 0 && d.status == 7, "signal %d status %d: %s", d.signal, d.status,
	       d.err);
	const char *rep = overflow_report(&d);
	const char *prog = strstr(d.err, "program handler: SEGV from the kernel mask kept "
					 "self blocked");
	EXPECT(prog != NULL, "%s", d.err);
	EXPECT(guarded ? rep != NULL && rep < prog : rep == NULL, "%s", d.err);
}

static void nodefer_child(void)
{
	start_layer();
	install_crash_handler(SA_NODEFER);
	fault();
}

/* FH3: SA_NODEFER leaves the signal open while the program's handler
 * runs, as the kernel would have. */
static void test_nodefer(void)
{
	hw_death d;
	REQUIRE(hw_death_run(nodefer_child, &d) == 0);
	EXPECT(d.status == 7 && strstr(d.err, "mask kept self open"), "%s", d.err);
}

static void sent_child(void)
{
	start_layer();
	install_crash_handler(0);
	raise(SIGSEGV);
	say("not reached\n");
}

/* FH2: a sent SIGSEGV is no fault: no report, the program's handler. */
static void test_sent_signal(void)
{
	hw_death d;
	REQUIRE(hw_death_run(sent_child, &d) == 0);
	EXPECT(d.status == 7 && strstr(d.err, "program handler: SEGV sent") &&
		       !strstr(d.err, "ERROR: heapward"),
	       "%s", d.err);
}

/* A program's own faults, which its handler fixes: a page it protected. */
static char *volatile own_page;

static void unprotect_handler(int signo, siginfo_t *si, void *uctx)
{
	(void)signo, (void)uctx;
	if (((uintptr_t)si->si_addr & ~(uintptr_t)4095) != (uintptr_t)own_page)
		_exit(4);
	mprotect(own_page, 4096, PROT_READ | PROT_WRITE);
	ran++;
}

static void own_fault_child(void)
{
	start_layer();
	own_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(own_page != MAP_FAILED);
	install_segv(unprotect_handler, SA_RESETHAND, 0);
	struct sigaction cur;
	ran = 0;
	own_page[5] = 1; /* faults, fixed by the handler, written again */
	CHILD_CHECK(ran == 1 && own_page[5] == 1);
	/* SA_RESETHAND: the program's disposition is SIG_DFL now. */
	CHILD_CHECK(sigaction(SIGSEGV, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL);
	say("own fault handled\n");
	/* And the next fault kills: a heap one after its report. */
	fault();
}

/* FH3, FH6: a fault of the program's own goes to its handler without a
 * report, and the program carries on; SA_RESETHAND resets the program's
 * disposition, not heapward's, so a later heap fault is still reported. */
static void test_own_fault_and_resethand(void)
{
	hw_death d;
	REQUIRE(hw_death_run(own_fault_child, &d) == 0);
	const char *own = strstr(d.err, "own fault handled");
	const char *rep = overflow_report(&d);
	EXPECT(own != NULL, "%s", d.err);
	EXPECT(d.signal == SIGSEGV && (guarded ? rep != NULL && rep > own : rep == NULL),
	       "signal %d status %d: %s", d.signal, d.status, d.err);
	if (own)
		EXPECT(!strstr(d.err, "ERROR: heapward") || strstr(d.err, "ERROR: heapward") > own,
		       "a report of the program's own fault: %s", d.err);
}

/* Rust's runtime's idiom: a fault it does not handle resets the
 * disposition and returns, to die of it. */
static void reset_and_return(int signo)
{
	(void)set_default(signo);
	say("program handler: reset\n");
}

static void reset_child(void)
{
	start_layer();
	CHILD_CHECK(signal(SIGSEGV, reset_and_return) == SIG_DFL);
	fault();
}

/* FH7: the fault comes back once the handler returns; it kills, and is
 * reported once, before the program's handler ran. */
static void test_reported_once(void)
{
	hw_death d;
	REQUIRE(hw_death_run(reset_child, &d) == 0);
	const char *rep = overflow_report(&d);
	const char *prog = strstr(d.err, "program handler: reset");
	EXPECT(d.signal == SIGSEGV && prog != NULL, "signal %d status %d: %s", d.signal,
	       d.status, d.err);
	EXPECT(guarded ? rep != NULL && rep < prog && !strstr(rep + 1, "ERROR: heapward")
		       : rep == NULL,
	       "%s", d.err);
}

/* A crash reporter's idiom (the JVM's error log, through SafeFetch): its
 * handler, installed with SA_NODEFER, reads the memory at the fault twice,
 * recovers from the fault each read raises, then dies of the first. */
static sigjmp_buf probe_env;
static volatile sig_atomic_t probing;

static void reporter(int signo, siginfo_t *si, void *uc)
{
	(void)uc;
	if (probing) {
		probing = 0;
		siglongjmp(probe_env, 1);
	}
	say("reporter: fault\n");
	volatile char *at = si->si_addr;
	volatile int unreadable = 0;
	for (volatile int i = 0; i < 2; i++) {
		if (sigsetjmp(probe_env, 1) == 0) {
			probing = 1;
			(void)at[i];
			probing = 0;
		} else {
			unreadable++;
		}
	}
	say(unreadable == 2 ? "reporter: unreadable\n" : "reporter: readable\n");
	(void)set_default(signo);
}

static void reporter_child(void)
{
	start_layer();
	install_segv(reporter, SA_NODEFER, 0);
	fault();
}

/* FH8: the reporter's reads fault inside its handler, which heapward's
 * called: those faults go to it unreported (the second after the first
 * left by siglongjmp), and the process dies of the first with one report,
 * before the reporter ran. */
static void test_reporter_probe(void)
{
	hw_death d;
	REQUIRE(hw_death_run(reporter_child, &d) == 0);
	const char *rep = overflow_report(&d);
	const char *prog = strstr(d.err, "reporter: fault");
	EXPECT(d.signal == SIGSEGV && prog != NULL && strstr(d.err, "reporter: unreadable"),
	       "signal %d status %d: %s", d.signal, d.status, d.err);
	EXPECT(guarded ? rep != NULL && rep < prog && !strstr(rep + 1, "ERROR: heapward")
		       : rep == NULL,
	       "%s", d.err);
}

static void signal_child(void)
{
	start_layer();
	CHILD_CHECK(signal(SIGSEGV, count_handler) == SIG_DFL);
	CHILD_CHECK(signal(SIGSEGV, noop_handler) == count_handler);
	struct sigaction cur;
	CHILD_CHECK(sigaction(SIGSEGV, NULL, &cur) == 0 && cur.sa_handler == noop_handler &&
		    (cur.sa_flags & SA_RESTART) && sigismember(&cur.sa_mask, SIGSEGV));
	if (guarded)
		CHILD_CHECK(kernel_handler(SIGSEGV) != (void *)noop_handler);
	else
		CHILD_CHECK(kernel_handler(SIGSEGV) == (void *)noop_handler);
	CHILD_CHECK(signal(SIGSEGV, SIG_DFL) == noop_handler);
	fault();
}

/* SN2: signal(SIGSEGV) has glibc's semantics and goes behind heapward's
 * handler; restored to SIG_DFL, a heap fault is reported and kills. */
static void test_signal_function(void)
{
	hw_death d;
	REQUIRE(hw_death_run(signal_child, &d) == 0);
	const char *rep = overflow_report(&d);
	EXPECT(d.signal == SIGSEGV && (guarded ? rep != NULL : rep == NULL),
	       "signal %d status %d: %s", d.signal, d.status, d.err);
}

static volatile int changing;

static void *change_forever(void *arg)
{
	(void)arg;
	struct sigaction a;
	memset(&a, 0, sizeof a);
	a.sa_handler = noop_handler;
	sigemptyset(&a.sa_mask);
	while (__atomic_load_n(&changing, __ATOMIC_RELAXED))
		(void)sigaction(SIGSEGV, &a, NULL);
	return NULL;
}

/* Whether child pid ended by itself within two seconds with status 0;
 * one that did not is killed (a child spinning on a lock with every
 * signal blocked takes no alarm). */
static bool child_done(pid_t pid)
{
	int st = 0;
	for (int ms = 0; ms < 2000; ms++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 0;
		usleep(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return false;
}

/* FH6: a fork while another thread changes SIGSEGV's disposition leaves
 * the child able to read and change it too (a lock the other thread held
 * at the fork is not the child's to wait for). */
static void test_fork_while_changing(void)
{
	start_layer();
	pthread_t t;
	changing = 1;
	REQUIRE(pthread_create(&t, NULL, change_forever, NULL) == 0);
	struct sigaction seen;
	bool ok = true;
	do
		ok = sigaction(SIGSEGV, NULL, &seen) == 0;
	while (ok && seen.sa_handler != noop_handler);
	int forks = 0;
	bool done = ok;
	for (; done && forks < 300; forks++) {
		pid_t pid = fork();
		if (pid == 0) {
			struct sigaction cur;
			_exit(sigaction(SIGSEGV, NULL, &cur) == 0 && cur.sa_handler == noop_handler
				      ? 0
				      : 3);
		}
		done = pid > 0 && child_done(pid);
	}
	changing = 0;
	pthread_join(t, NULL);
	EXPECT(set_default(SIGSEGV) == 0);
	EXPECT(ok && done, "fork %d: the child was stuck or wrong", forks);
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "guarded") != 0 && strcmp(argv[1], "plain") != 0)) {
		fprintf(stderr, "usage: %s guarded|plain [test...]\n", argv[0]);
		return 2;
	}
	guarded = strcmp(argv[1], "guarded") == 0;
	static const hw_test tests[] = {
		T(test_reads_back),
		T(test_other_signals),
		T(test_heap_fault_then_program_handler),
		T(test_nodefer),
		T(test_sent_signal),
		T(test_own_fault_and_resethand),
		T(test_signal_function),
		T(test_reported_once),
		T(test_reporter_probe),
		T(test_fork_while_changing),
	};
	return hw_test_main(tests, sizeof tests / sizeof tests[0], argc - 1, argv + 1);
}

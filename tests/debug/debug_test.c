/* debug_test.c: the debug mode's parts, in this process: the unwinder, the
 * loaded modules, the symbolizer, stopping threads, the stack depot, and
 * the mode through the prefixed API of the static library (reports trimmed
 * by source file, hw_malloc_leak_check, the statistics).
 *
 * Each check that starts the malloc layer runs in a child (hw_trap_child),
 * which starts it with its own options (hw_mc_start), so the parent never
 * allocates through it.
 *
 * Invariants:
 *   DU1. Every expected line comes from __LINE__ at the call it names, and
 *        every expected return address from __builtin_return_address in
 *        the function it belongs to.
 */
#include "check.h"
#include "child.h"
#include "debug.h"
#include "fault.h"
#include "heapward.h"
#include "inspect.h"
#include "malloc_internal.h"
#include "module.h"
#include "stackwalk.h"
#include "stop.h"
#include "symbolize.h"
#include "trap.h"

#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static char err[65536];
static hw_child_status st;

/* ---- the unwinder ---- */

static uintptr_t ra[4];
static uintptr_t got[16], tables[16];
static size_t ngot, ntables;

NOINLINE static void level3(void)
{
	ra[3] = (uintptr_t)__builtin_return_address(0);
	ngot = hw_unwind_here(got, 16);
	ntables = hw_unwind_tables_here(tables, 16);
	__asm__ volatile("" ::
				 : "memory"); /* no tail call: this frame must stay */
}

NOINLINE static void level2(void)
{
	ra[2] = (uintptr_t)__builtin_return_address(0);
	level3();
	__asm__ volatile("" ::
				 : "memory");
}

NOINLINE static void level1(void)
{
	ra[1] = (uintptr_t)__builtin_return_address(0);
	level2();
	__asm__ volatile("" ::
				 : "memory");
}

static void test_unwind_frames(void)
{
	level1();
	REQUIRE(ngot >= 3, "%zu frames", ngot);
	/* out[0] is the return address of the function that called the
	 * unwinder, then each caller's. */
	EXPECT(got[0] == ra[3] && got[1] == ra[2] && got[2] == ra[1], "%lx %lx %lx vs %lx %lx %lx",
	       (unsigned long)got[0], (unsigned long)got[1], (unsigned long)got[2],
	       (unsigned long)ra[3], (unsigned long)ra[2], (unsigned long)ra[1]);
	uintptr_t two[2];
	EXPECT(hw_unwind_here(two, 2) == 2);
	EXPECT(hw_unwind_here(two, 0) == 0);
	/* The table walk (UW6): the same frames, from the same place, and
	 * beyond this test's own (main's caller and the C library's). */
	EXPECT(ntables >= ngot && ntables >= 4, "%zu frames by the tables, %zu by frame pointers",
	       ntables, ngot);
	EXPECT(tables[0] == ra[3] && tables[1] == ra[2] && tables[2] == ra[1],
	       "%lx %lx %lx vs %lx %lx %lx", (unsigned long)tables[0], (unsigned long)tables[1],
	       (unsigned long)tables[2], (unsigned long)ra[3], (unsigned long)ra[2],
	       (unsigned long)ra[1]);
	EXPECT(hw_unwind_tables_here(two, 2) == 2);
	EXPECT(hw_unwind_tables_here(two, 0) == 0);
	/* Outside a fault's handler no frame is a signal frame at pc. */
	EXPECT(hw_unwind_tables_context(ra[1], two, 2) == 0);
	EXPECT(hw_unwind_tables_context(0, two, 2) == 0);
}

/* UW7: this function's saved frame pointer overwritten with an unmapped
 * address, as an overflow of a buffer on the stack leaves it: the table
 * walk reads its caller's caller from there, faults, and ends. */
static uintptr_t smashed_ra;

NOINLINE static size_t walk_past_smashed_frame(uintptr_t *out, size_t max)
{
	uintptr_t *rec = __builtin_frame_address(0);
	uintptr_t saved = rec[0];
	smashed_ra = (uintptr_t)__builtin_return_address(0);
	rec[0] = 0x1000;
	size_t n = hw_unwind_tables_here(out, max);
	rec[0] = saved;
	__asm__ volatile("" ::
				 : "memory"); /* no tail call, and rec[0] really written */
	return n;
}

static bool classify_nothing(const hw_fault *f)
{
	(void)f;
	return false;
}

/* Exits 0 when two walks past the damaged frame each end after its
 * caller's frame: the second shows the fault signals are unblocked again
 * after the first's recovery. */
static void smashed_child(void *arg)
{
	(void)arg;
	if (hw_fault_install(classify_nothing, HW_FAULT_RANK_ANY) != 0)
		_exit(3);
	for (int i = 0; i < 2; i++) {
		uintptr_t out[16];
		size_t n = walk_past_smashed_frame(out, 16);
		if (n != 1 || out[0] != smashed_ra)
			_exit(4 + i);
	}
	_exit(0);
}

static void test_unwind_tables_damaged_stack(void)
{
	REQUIRE(hw_trap_child(smashed_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "signal %d, exit %d: %s", st.signo,
	       st.exit_code, err);
}

static void *unwind_thread(void *arg)
{
	(void)arg;
	level1();
	return NULL;
}

static void test_unwind_thread(void)
{
	pthread_t t;
	ngot = 0;
	REQUIRE(pthread_create(&t, NULL, unwind_thread, NULL) == 0);
	pthread_join(t, NULL);
	EXPECT(ngot >= 3 && got[0] == ra[3] && got[1] == ra[2] && got[2] == ra[1],
	       "another thread's stack: %zu frames", ngot);
}

static uintptr_t some_global[64];

/* UW1: whatever a frame pointer holds, the walk stays in the mapping. */
static void test_unwind_bad_chains(void)
{
	uintptr_t out[8];
	EXPECT(hw_unwind_from(0x1000, out, 8) == 0, "unmapped");
	EXPECT(hw_unwind_from(3, out, 8) == 0, "unaligned, unmapped");
	/* A record that points to itself: one frame, then the chain does not
	 * go up. */
	uintptr_t loop[2];
	loop[0] = (uintptr_t)loop;
	loop[1] = 0x1234;
	EXPECT(hw_unwind_from((uintptr_t)loop, out, 8) == 1 && out[0] == 0x1234);
	/* A chain running to the end of its mapping: stops inside it. */
	for (size_t i = 0; i + 2 < 64; i += 2) {
		some_global[i] = (uintptr_t)&some_global[i + 2];
		some_global[i + 1] = 0x5000 + i;
	}
	some_global[62] = UINTPTR_MAX - 15; /* beyond everything */
	some_global[63] = 0x6000;
	size_t n = hw_unwind_from((uintptr_t)some_global, out, 8);
	EXPECT(n == 8 && out[0] == 0x5000 && out[7] == 0x5000 + 14, "%zu", n);
	n = hw_unwind_from((uintptr_t)&some_global[50], out, 8);
	EXPECT(n == 7 && out[6] == 0x6000, "stops at the bad link: %zu", n);
	/* A return address that cannot be one ends the walk: zero, or an
	 * address in the stack being walked (here, the mapping). */
	some_global[1] = 0;
	EXPECT(hw_unwind_from((uintptr_t)some_global, out, 8) == 0);
	some_global[1] = (uintptr_t)&some_global[40];
	EXPECT(hw_unwind_from((uintptr_t)some_global, out, 8) == 0);
	some_global[1] = 0x5000;
	some_global[3] = (uintptr_t)&some_global[0];
	EXPECT(hw_unwind_from((uintptr_t)some_global, out, 8) == 1);
}

/* ---- modules and the symbolizer ---- */

static unsigned marked_line;
NOINLINE static uintptr_t marked_function(void)
{
	marked_line = __LINE__ + 1;
	uintptr_t pc = (uintptr_t)__builtin_return_address(0);
	return pc;
}

NOINLINE static uintptr_t call_marked(unsigned *line)
{
	*line = __LINE__ + 1;
	uintptr_t r = marked_function();
	__asm__ volatile("" ::
				 : "memory");
	return r;
}

static void test_modules(void)
{
	hw_module m;
	REQUIRE(hw_module_find((uintptr_t)&test_modules, &m));
	EXPECT(strstr(m.path, "debug_test") != NULL, "%s", m.path);
	/* A function of the C library that no sanitizer intercepts. */
	EXPECT(hw_module_find((uintptr_t)&gnu_get_libc_version, &m) && strstr(m.path, "libc"),
	       "%s", m.path);
	EXPECT(!hw_module_find(0x1000, &m));
	uintptr_t lo, hi;
	bool is_program;
	hw_module_self(&lo, &hi, &is_program);
	EXPECT(is_program, "the static library is in the program");
	EXPECT(lo <= (uintptr_t)&hw_module_self && (uintptr_t)&hw_module_self < hi);
	EXPECT(lo <= (uintptr_t)&test_modules && (uintptr_t)&test_modules < hi);
	EXPECT(!(lo <= (uintptr_t)&gnu_get_libc_version && (uintptr_t)&gnu_get_libc_version < hi));
	REQUIRE(hw_module_linker(&lo, &hi));
	EXPECT(hw_module_find(lo, &m) && strstr(m.path, "ld-linux"), "%s", m.path);
}

/* MO4: which modules define a symbol, from their dynamic symbol tables. */
typedef struct definers {
	int calls, in_libc, rc;
	uintptr_t libc_addr;
} definers;

static int count_definer(void *arg, const char *path, uintptr_t addr)
{
	definers *d = arg;
	d->calls++;
	if (strstr(path, "libc.so")) {
		d->in_libc++;
		d->libc_addr = addr;
	}
	return d->rc;
}

static void test_module_defining(void)
{
	definers d = {0, 0, 0, 0};
	EXPECT(hw_module_defining("gnu_get_libc_version", count_definer, &d) == 0);
	EXPECT(d.in_libc == 1 && d.libc_addr == (uintptr_t)&gnu_get_libc_version,
	       "%d definers, %d in libc", d.calls, d.in_libc);
	d = (definers){0, 0, 0, 0};
	EXPECT(hw_module_defining("hw_no_module_defines_this", count_definer, &d) == 0 &&
	       d.calls == 0);
	/* An undefined reference is not a definition: this program uses
	 * getpid but does not define it. */
	d = (definers){0, 0, 0, 0};
	EXPECT(hw_module_defining("getpid", count_definer, &d) == 0 && d.calls == d.in_libc &&
		       d.in_libc == 1,
	       "%d definers", d.calls);
	d = (definers){0, 0, 7, 0};
	EXPECT(hw_module_defining("gnu_get_libc_version", count_definer, &d) == 7 && d.calls == 1);
	/* The generation counts the loader's loads and unloads. */
	uint64_t g0 = hw_module_generation();
	EXPECT(g0 >= 3, "generation %llu", (unsigned long long)g0);
	void *h = dlopen("libutil.so.1", RTLD_NOW | RTLD_LOCAL);
	if (h) {
		uint64_t g1 = hw_module_generation();
		dlclose(h);
		EXPECT(g1 > g0 && hw_module_generation() >= g1, "%llu %llu",
		       (unsigned long long)g0, (unsigned long long)g1);
	} else {
		printf("(no libutil.so.1 to load: the generation's change not checked)\n");
	}
}

/* The call in call_marked, symbolized by the tool at path ("" to search). */
static void check_symbolizer(const char *path, bool with_column)
{
	unsigned line;
	uintptr_t pc = call_marked(&line);
	hw_module m;
	REQUIRE(hw_module_find(pc, &m));
	hw_symbolizer s;
	hw_symbolizer_open(&s, true, path);
	REQUIRE(s.tool != HW_SYM_NONE, "no tool at '%s'", path);
	hw_symbol sym[4];
	size_t n = hw_symbolize(&s, m.path, pc - m.bias - 1, sym, 4);
	REQUIRE(n >= 1, "nothing for %s", path);
	EXPECT(strcmp(sym[n - 1].function, "call_marked") == 0, "%s", sym[n - 1].function);
	EXPECT(strstr(sym[n - 1].file, "tests/debug/debug_test.c") != NULL, "%s",
	       sym[n - 1].file);
	EXPECT(sym[n - 1].line == line, "line %u, not %u", sym[n - 1].line, line);
	EXPECT(!with_column || sym[n - 1].column > 0);
	/* A second question to the same child. */
	n = hw_symbolize(&s, m.path, (uintptr_t)&marked_function - m.bias, sym, 4);
	EXPECT(n >= 1 && strcmp(sym[0].function, "marked_function") == 0);
	int pid = s.pid;
	/* A module that does not exist: no frame (addr2line's child then
	 * dies, and the session answers nothing from then on: SZ3). */
	EXPECT(hw_symbolize(&s, "/nonexistent/module.so", 0x1000, sym, 4) == 0);
	hw_symbolizer_close(&s);
	/* SZ4: the child is reaped. */
	EXPECT(pid > 0 && waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD);
}

static void test_symbolizer(void)
{
	hw_symbolizer s;
	hw_symbolizer_open(&s, true, "");
	if (s.tool == HW_SYM_LLVM)
		check_symbolizer("", true);
	else
		printf("(no llvm-symbolizer on PATH: its protocol is not checked)\n");
	if (access("/usr/bin/addr2line", X_OK) == 0)
		check_symbolizer("/usr/bin/addr2line", false);
	else
		printf("(no /usr/bin/addr2line: its protocol is not checked)\n");
	hw_symbolizer_open(&s, false, "");
	hw_symbol sym[1];
	EXPECT(s.tool == HW_SYM_NONE && hw_symbolize(&s, "/bin/sh", 0x1000, sym, 1) == 0);
	/* SZ3: a tool that is not there gives up once, answers nothing. */
	hw_symbolizer_open(&s, true, "/nonexistent/llvm-symbolizer");
	EXPECT(hw_symbolize(&s, "/bin/sh", 0x1000, sym, 1) == 0 && s.broken);
	hw_symbolizer_close(&s);
}

/* ---- stopping the world ---- */

enum { NTHREADS = 3 };
static volatile int spinning, go_on;
static uintptr_t thread_frame[NTHREADS];
static volatile uint64_t counter[NTHREADS];

static void *spinner(void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;
	/* The frame, not a local: under AddressSanitizer's use-after-return
	 * detection locals live on a fake stack elsewhere. */
	thread_frame[i] = (uintptr_t)__builtin_frame_address(0);
	__atomic_add_fetch(&spinning, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&go_on, __ATOMIC_ACQUIRE))
		counter[i]++;
	return NULL;
}

static void test_stop_world(void)
{
	pthread_t t[NTHREADS];
	for (size_t i = 0; i < NTHREADS; i++)
		REQUIRE(pthread_create(&t[i], NULL, spinner, (void *)(uintptr_t)i) == 0);
	while (__atomic_load_n(&spinning, __ATOMIC_ACQUIRE) < NTHREADS)
		sched_yield();
	static hw_world w;
	REQUIRE(hw_world_stop(&w, 5000) == 0);
	uint64_t before[NTHREADS];
	for (size_t i = 0; i < NTHREADS; i++)
		before[i] = counter[i];
	usleep(20000);
	size_t stopped = 0, near = 0;
	for (size_t i = 0; i < w.n; i++) {
		stopped += w.t[i].stopped;
		for (size_t j = 0; j < NTHREADS; j++)
			near += w.t[i].stopped && w.t[i].sp <= thread_frame[j] &&
				thread_frame[j] - w.t[i].sp < 65536;
	}
	bool still = true;
	for (size_t i = 0; i < NTHREADS; i++)
		still = still && counter[i] == before[i];
	hw_world_resume(&w);
	EXPECT(w.n >= NTHREADS && stopped == w.n, "%zu threads, %zu stopped", w.n, stopped);
	EXPECT(near == NTHREADS, "each spinner's stack pointer is just below its frame: %zu", near);

	EXPECT(still, "a stopped thread ran");
	EXPECT(w.self.stopped && w.self.tp == hw_thread_pointer() && w.self.nregs > 0);
	/* Resumed: they run again, and leave when told. */
	uint64_t c0 = counter[0];
	for (int k = 0; k < 1000 && counter[0] == c0; k++)
		usleep(1000);
	EXPECT(counter[0] != c0, "not resumed");
	__atomic_store_n(&go_on, 1, __ATOMIC_RELEASE);
	for (size_t i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
}

/* SW5, SW6: a thread that blocks the stop's signal while it waits in a
 * read, and one that waits for every signal with sigwait (as a program's
 * signal-handling thread does), are not sent it: the stop does not wait
 * for them, a tracer stops them instead, with their registers, and the
 * waiting thread's sigwait answers the signal the program sent, not ours. */
#define REG_MARK ((uintptr_t)0x5eed0000c0ffee11u)
static sem_t refuser_ready;
static int refuser_pipe[2];
static volatile int refuser_tid[2], waiter_got;

/* read(fd, buf, 1) with REG_MARK in a callee-saved register only (r12 on
 * x86-64, as a caller's local kept across the call would be). */
static long read_holding_mark(int fd, char *buf)
{
#if defined(__x86_64__)
	long rc;
	__asm__ volatile("mov %[mark], %%r12\n\tsyscall\n\txor %%r12, %%r12"
			 : "=a"(rc)
			 : "a"((long)SYS_read), "D"((long)fd), "S"(buf), "d"(1L),
			   [mark] "r"(REG_MARK)
			 : "rcx", "r11", "r12", "memory");
	return rc;
#else
	return read(fd, buf, 1);
#endif
}

static void *refuser(void *arg)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	refuser_tid[(uintptr_t)arg] = (int)syscall(SYS_gettid);
	sem_post(&refuser_ready);
	if ((uintptr_t)arg == 0) {
		char c;
		while (read_holding_mark(refuser_pipe[0], &c) < 0)
			;
	} else {
		int sig = 0;
		waiter_got = sigwait(&all, &sig) == 0 ? sig : -1;
	}
	return NULL;
}

/* Whether thread tid waits in system call nr now (its /proc syscall file). */
static bool waits_in(int tid, long nr)
{
	char path[64], buf[64] = {0}, want[16];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
	snprintf(want, sizeof want, "%ld ", nr);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool in = fgets(buf, sizeof buf, f) && strncmp(buf, want, strlen(want)) == 0;
	fclose(f);
	return in;
}

static void test_stop_blocked_threads(void)
{
	REQUIRE(sem_init(&refuser_ready, 0, 0) == 0 && pipe(refuser_pipe) == 0);
	pthread_t t[2];
	for (uintptr_t i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, refuser, (void *)i) == 0);
	sem_wait(&refuser_ready);
	sem_wait(&refuser_ready);
	bool waiting = false;
	for (int k = 0; k < 5000 && !waiting; k++) {
		waiting = waits_in(refuser_tid[0], SYS_read) &&
			  waits_in(refuser_tid[1], SYS_rt_sigtimedwait);
		if (!waiting)
			usleep(1000);
	}
	REQUIRE(waiting, "the threads never reached their waits");
	static hw_world w;
	uint64_t t0 = hw_now_ns();
	REQUIRE(hw_world_stop(&w, 3000) == 0);
	uint64_t took = hw_now_ns() - t0;
	int blocked = 0, traced = 0, marked = 0, others_stopped = 1;
	for (size_t i = 0; i < w.n; i++) {
		const hw_thread_state *s = &w.t[i];
		if (s->tid != refuser_tid[0] && s->tid != refuser_tid[1]) {
			others_stopped &= s->stopped || s->gone;
			continue;
		}
		blocked += s->blocked && !s->gone;
		traced += s->stopped && s->sp != 0;
		for (unsigned r = 0; s->tid == refuser_tid[0] && r < s->nregs; r++)
			marked += s->regs[r] == REG_MARK;
	}
	hw_world_resume(&w);
	EXPECT(blocked == 2, "%d of the 2 threads that refuse the signal marked blocked", blocked);
	EXPECT(others_stopped, "a thread that takes the signal was not stopped");
	if (hw_test_traceable()) {
		EXPECT(traced == 2, "%d of the 2 blocked threads stopped by the tracer", traced);
#if defined(__x86_64__)
		EXPECT(marked >= 1, "the register-only value not among the registers");
#endif
		EXPECT(took < 2000000000u, "the stop took %llu ns: it waited for a blocked thread",
		       (unsigned long long)took);
	} else {
		printf("(this process cannot be traced by its child: SW6 not checked)\n");
	}
	/* Let go: the program's own signal is the waiter's answer. */
	REQUIRE(pthread_kill(t[1], SIGUSR1) == 0);
	REQUIRE(write(refuser_pipe[1], "x", 1) == 1);
	for (size_t i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	EXPECT(waiter_got == SIGUSR1, "sigwait answered %d, not SIGUSR1 (%d)", waiter_got,
	       SIGUSR1);
	close(refuser_pipe[0]);
	close(refuser_pipe[1]);
}

/* ---- the depot and the mode, in children ---- */

static void depot_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("debug=1:scavenger=0"));
	uintptr_t a[3] = {0x1000, 0x2000, 0x3000}, b[3] = {0x1000, 0x2000, 0x3001};
	uint32_t ia = hw_mc_depot_put(a, 3), ib = hw_mc_depot_put(b, 3);
	CHILD_CHECK(ia != 0 && ib != 0 && ia != ib);
	CHILD_CHECK(hw_mc_depot_put(a, 3) == ia); /* SK2: stored once */
	CHILD_CHECK(hw_mc_depot_put(a, 2) != ia); /* a prefix is another stack */
	CHILD_CHECK(hw_mc_depot_put(a, 0) == 0);
	const uintptr_t *pc;
	CHILD_CHECK(hw_mc_depot_get(ia, &pc) == 3 && pc[0] == 0x1000 && pc[2] == 0x3000);
	CHILD_CHECK(hw_mc_depot_get(ib, &pc) == 3 && pc[2] == 0x3001);
	CHILD_CHECK(hw_mc_depot_get(0, &pc) == 0);
	/* Many distinct stacks: all kept, all found again. */
	uint32_t ids[2000];
	for (uintptr_t i = 0; i < 2000; i++) {
		uintptr_t s[2] = {i, i * 7};
		ids[i] = hw_mc_depot_put(s, 2);
	}
	for (uintptr_t i = 0; i < 2000; i++) {
		uintptr_t s[2] = {i, i * 7};
		CHILD_CHECK(ids[i] != 0 && hw_mc_depot_put(s, 2) == ids[i]);
	}
	hw_malloc_stats ms;
	hw_malloc_stats_get(&ms);
	CHILD_CHECK(ms.stacks >= 2003 && ms.stack_bytes > 0 && ms.stacks_dropped == 0);
}

static void test_depot(void)
{
	REQUIRE(hw_trap_child(depot_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "%d %d %s", st.signo, st.exit_code, err);
}

/* The helpers note the line of their call into the layer; called with 0
 * or NULL they only say it (the parent asks, the child calls). */
NOINLINE static void *make_obj(size_t n, unsigned *line)
{
	*line = __LINE__ + 3;
	if (n == 0)
		return NULL;
	void *p = hw_malloc(n);
	__asm__ volatile("" ::
				 : "memory");
	return p;
}

NOINLINE static void drop_obj(void *p, unsigned *line)
{
	*line = __LINE__ + 3;
	if (!p)
		return;
	hw_free(p);
	__asm__ volatile("" ::
				 : "memory");
}

/* Overwrites the stack below the caller's frame, so no stale copy of a
 * planted pointer is left there (uninstrumented: AddressSanitizer's
 * redzones around the array would keep some). */
__attribute__((no_sanitize("address"))) NOINLINE static void scrub(void)
{
	volatile char b[16384];
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = 0;
}

/* A report through the static library: the layer's frames are dropped by
 * source file (RP2), so frame #0 is this file's. */
static void double_free_child(void *arg)
{
	(void)arg;
	unsigned line;
	CHILD_CHECK(hw_mc_start("debug=1:scavenger=0:abort_on_error=0"));
	void *p = make_obj(40, &line);
	drop_obj(p, &line);
	drop_obj(p, &line);
}

/* The first " in fn" in s that names fn itself or one of the compiler's
 * clones of it ("make_obj.constprop.1": GCC at -O3 specialises a static
 * function for a constant argument, and the symbolizer names the clone). */
static const char *names(const char *s, const char *fn)
{
	char in[64];
	int n = snprintf(in, sizeof in, " in %s", fn);
	for (const char *f = strstr(s, in); f; f = strstr(f + 1, in))
		if (f[n] == ' ' || f[n] == '.')
			return f;
	return NULL;
}

/* Frame n after the first line starting with heading names fn at line (0:
 * any line of this file). */
static bool has_frame(const char *heading, unsigned n, const char *fn, unsigned line)
{
	const char *h = strstr(err, heading);
	char want[32];
	snprintf(want, sizeof want, "    #%u 0x", n);
	const char *f = h ? strstr(h, want) : NULL;
	if (!f)
		return false;
	size_t len = strcspn(f, "\n");
	char l[1024], at[64];
	snprintf(l, sizeof l, "%.*s", (int)len, f);
	snprintf(at, sizeof at, line ? "debug_test.c:%u" : "debug_test.c:", line);
	bool ok = names(l, fn) && strstr(l, at);
	if (!ok)
		fprintf(stderr, "not %s at %s: %s\n", fn, at, l);
	return ok;
}

static bool symbolizer_here(void)
{
	hw_symbolizer s;
	hw_symbolizer_open(&s, true, "");
	return s.tool != HW_SYM_NONE;
}

/* Whether the library itself was built with line information: without it
 * (a release build), the report cannot tell the layer's frames by source
 * file (RP2) and a static link shows them (docs/debug-mode.md). */
static bool library_has_lines(void)
{
	hw_symbolizer s;
	hw_module m;
	hw_symbol sym[4];
	hw_symbolizer_open(&s, true, "");
	size_t n = hw_module_find((uintptr_t)&hw_malloc, &m)
			   ? hw_symbolize(&s, m.path, (uintptr_t)&hw_malloc - m.bias, sym, 4)
			   : 0;
	hw_symbolizer_close(&s);
	return n > 0 && sym[n - 1].line > 0;
}

/* The first frame after heading that names fn. */
static unsigned frame_no(const char *heading, const char *fn)
{
	const char *h = strstr(err, heading);
	const char *f = h ? names(h, fn) : NULL;
	if (!f)
		return 99;
	while (f > h && strncmp(f, "    #", 5) != 0)
		f--;
	return (unsigned)strtoul(f + 5, NULL, 10);
}

static void test_static_report(void)
{
	unsigned make_line, drop_line;
	make_obj(0, &make_line);
	drop_obj(NULL, &drop_line);
	REQUIRE(hw_trap_child(double_free_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "%d %d %s", st.signo, st.exit_code, err);
	EXPECT(strstr(err, "heapward: double free of 0x"), "%s", err);
	EXPECT(strstr(err, "ERROR: heapward: double-free on address 0x"), "%s", err);
	if (!symbolizer_here()) {
		printf("(no symbolizer: frames not checked)\n");
		return;
	}
	/* The layer's frames come first unless it has line information. */
	bool trimmed = library_has_lines();
	unsigned e = trimmed ? 0 : frame_no("==", "drop_obj");
	unsigned f = trimmed ? 0 : frame_no("freed by thread T0 here:", "drop_obj");
	unsigned a = trimmed ? 0 : frame_no("previously allocated by thread T0 here:", "make_obj");
	EXPECT(has_frame("==", e, "drop_obj", drop_line));
	EXPECT(has_frame("==", e + 1, "double_free_child", 0));
	EXPECT(has_frame("freed by thread T0 here:", f, "drop_obj", drop_line));
	EXPECT(has_frame("previously allocated by thread T0 here:", a, "make_obj", make_line));
	if (trimmed)
		EXPECT(!strstr(err, " in hw_free ") && !strstr(err, " in free_slow ") &&
			       !strstr(err, " in hw_mc_"),
		       "the layer's frames are trimmed: %s", err);
	else
		printf("(the library has no line information: its frames are not trimmed)\n");
}

/* hw_malloc_leak_check: a direct and an indirect leak, then the same made
 * reachable. */
static void *volatile leak_root;

NOINLINE static void plant_leak(void)
{
	unsigned line;
	void **a = make_obj(64, &line);
	a[0] = make_obj(24, &line);
}

NOINLINE static void plant_reachable(void)
{
	unsigned line;
	void **a = make_obj(64, &line);
	a[0] = make_obj(24, &line);
	leak_root = a;
}

static void leak_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("detect_leaks=1:scavenger=0"));
	plant_leak();
	scrub();
	size_t n = hw_malloc_leak_check();
	printf("leaked %zu\n", n);
	fflush(stdout);
	CHILD_CHECK(n == 2);
	CHILD_CHECK(hw_malloc_leak_check() == 2); /* still leaked: reported again */
	plant_reachable();
	scrub();
	CHILD_CHECK(hw_malloc_leak_check() == 2); /* the new pair is reachable */
	hw_malloc_stats ms;
	hw_malloc_stats_get(&ms);
	CHILD_CHECK(ms.stacks > 0);
	fprintf(stderr, "child done\n");
	_exit(0); /* before the exit-time check */
}

/* Three pages of this module's bss, a root; the middle one becomes a guard
 * region (MADV_GUARD_INSTALL: the mapping still reads as writable, so the
 * scan covers it, and a direct read of it faults). */
#define GUARD_ROOT_PAGE 4096
static char guard_root[3 * GUARD_ROOT_PAGE] __attribute__((aligned(GUARD_ROOT_PAGE)));

NOINLINE static void plant_past_guard(void)
{
	unsigned line;
	void **a = make_obj(64, &line);
	a[0] = make_obj(24, &line);
	memcpy(guard_root + 2 * GUARD_ROOT_PAGE, &a, sizeof a);
}

static void guard_root_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("detect_leaks=1:scavenger=0:exitcode=0"));
	if (sysconf(_SC_PAGESIZE) != GUARD_ROOT_PAGE ||
	    madvise(guard_root + GUARD_ROOT_PAGE, GUARD_ROOT_PAGE, 102 /* MADV_GUARD_INSTALL */) !=
		    0) {
		fprintf(stderr, "no guard regions here\n");
		_exit(0);
	}
	plant_leak();
	plant_past_guard();
	scrub();
	size_t n = hw_malloc_leak_check();
	fprintf(stderr, "leaked %zu\n", n);
	_exit(0);
}

/* stop.h SW7, debug_leak.c LK2: a root holding a page that cannot be read
 * is scanned around it (it crashed the check when read directly), and the
 * scan goes on past it: the pair held from the page after the guard is
 * reachable, the planted pair is not. */
static void test_leak_check_guard_in_root(void)
{
	REQUIRE(hw_trap_child(guard_root_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "%d %d %s", st.signo, st.exit_code, err);
	if (strstr(err, "no guard regions here")) {
		printf("(no MADV_GUARD_INSTALL here: not checked)\n");
		return;
	}
	EXPECT(strstr(err, "leaked 2\n") != NULL, "%s", err);
	EXPECT(strstr(err, "Direct leak of 64 byte(s) in 1 object(s)") != NULL, "%s", err);
}

/* debug_leak.c LK6 (use_mappings=1, the default): memory the program's
 * own allocator took from the OS (CPython's object arenas) is a root like
 * its globals: the pair held only from an anonymous mapping is reachable,
 * the planted pair is not. The mapping is 8 GiB that nobody touched but
 * one page: the check reads only pages that hold memory, so the process's
 * page tables stay as they were (a read of every page maps each one, 16
 * MiB of page tables). With use_mappings=0, LeakSanitizer's roots, both
 * pairs are leaked, and so they are where the OS refuses to copy memory:
 * the mappings are not read directly. */
#define ANON_ROOT_BYTES ((size_t)8 << 30)
static char *anon_root;

NOINLINE static void plant_in_anon(void)
{
	unsigned line;
	void **a = make_obj(96, &line);
	a[0] = make_obj(40, &line);
	memcpy(anon_root + ANON_ROOT_BYTES / 2 + 8, &a, sizeof a);
}

/* VmPTE of /proc/self/status, in KiB, or -1. */
static long page_table_kib(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/status", "r");
	long kib = -1;
	if (!f)
		return -1;
	while (fgets(buf, sizeof buf, f))
		if (sscanf(buf, "VmPTE: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void anon_root_child(void *arg)
{
	if (arg == NULL) {
		/* LK6: the OS refuses the copy (a seccomp filter answers
		 * process_vm_readv with EPERM): the mappings are not read. */
		struct sock_filter code[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {sizeof code / sizeof code[0], code};
		CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
			    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0);
		arg = "detect_leaks=1:scavenger=0:exitcode=0";
	}
	CHILD_CHECK(hw_mc_start(arg));
	anon_root = mmap(NULL, ANON_ROOT_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHILD_CHECK(anon_root != MAP_FAILED);
	plant_leak();
	plant_in_anon();
	scrub();
	long before = page_table_kib();
	size_t n = hw_malloc_leak_check();
	long after = page_table_kib();
	fprintf(stderr, "leaked %zu, page tables %ld KiB -> %ld KiB\n", n, before, after);
	_exit(0);
}

static void test_leak_check_anon_root(void)
{
	REQUIRE(hw_trap_child(anon_root_child, "detect_leaks=1:scavenger=0:exitcode=0", err,
			      sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "%d %d %s", st.signo, st.exit_code, err);
	EXPECT(strstr(err, "Direct leak of 64 byte(s) in 1 object(s)") != NULL, "%s", err);
	if (HW_LEAK_SCANS_MAPPINGS) {
		EXPECT(strstr(err, "leaked 2,") != NULL, "%s", err);
		EXPECT(strstr(err, "of 96 byte(s)") == NULL && strstr(err, "of 40 byte(s)") == NULL,
		       "the pair held from the mapping is reachable: %s", err);
	} else {
		printf("(a build under a tool: the check reads no mapping of the program's)\n");
		EXPECT(strstr(err, "leaked 4,") != NULL, "%s", err);
	}
	long before = -1, after = -1;
	const char *pt = strstr(err, "page tables ");
	REQUIRE(pt && sscanf(pt, "page tables %ld KiB -> %ld KiB", &before, &after) == 2, "%s",
		err);
	EXPECT(before >= 0 && after - before < 4096, "the untouched pages were read: %s", err);
	/* Without the copy (process_vm_readv refused), the mappings are not
	 * read directly: neither pair is held. */
	REQUIRE(hw_trap_child(anon_root_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "%d %d %s", st.signo, st.exit_code, err);
	EXPECT(strstr(err, "leaked 4,") != NULL, "%s", err);
	/* use_mappings=0: LeakSanitizer's roots, which hold neither pair. */
	REQUIRE(hw_trap_child(anon_root_child,
			      "detect_leaks=1:scavenger=0:exitcode=0:use_mappings=0", err,
			      sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "%d %d %s", st.signo, st.exit_code, err);
	EXPECT(strstr(err, "leaked 4,") != NULL && strstr(err, "Direct leak of 96 byte(s)"), "%s",
	       err);
}

static void test_leak_check_api(void)
{
	unsigned make_line;
	make_obj(0, &make_line);
	REQUIRE(hw_trap_child(leak_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0 && strstr(err, "child done"), "%d %d %s",
	       st.signo, st.exit_code, err);
	const char *first = strstr(err, "ERROR: heapward: detected memory leaks");
	EXPECT(first && strstr(first + 1, "ERROR: heapward: detected memory leaks"),
	       "two reports: %s", err);
	EXPECT(strstr(err, "Direct leak of 64 byte(s) in 1 object(s) allocated from:") &&
		       strstr(err, "Indirect leak of 24 byte(s) in 1 object(s) allocated from:") &&
		       strstr(err, "SUMMARY: heapward: 88 byte(s) leaked in 2 allocation(s)."),
	       "%s", err);
	if (symbolizer_here()) {
		unsigned d = library_has_lines() ? 0 : frame_no("Direct leak of 64", "make_obj");
		EXPECT(has_frame("Direct leak of 64", d, "make_obj", make_line));
		EXPECT(has_frame("Direct leak of 64", d + 1, "plant_leak", 0), "%s", err);
	}
}

/* debug_leak.c LK5: a leaked object across two of the heap's arenas is
 * reported. The check held the second arena's base in a local of its own
 * frame, which its scan of this thread's stack read as a pointer into the
 * object. Arenas of 4 MiB; 3 MiB objects are allocated (the ones that do
 * not straddle two arenas kept reachable) until one straddles, which is
 * dropped. */
static void *kept_runs[8];

NOINLINE static bool lose_straddling_run(void)
{
	for (size_t i = 0; i < 8; i++) {
		uintptr_t p = (uintptr_t)hw_malloc((size_t)3 << 20);
		size_t na = hw_heap_arena_count(hw_mc_g.heap);
		for (size_t a = 0; a < na; a++) {
			void *b;
			size_t n;
			hw_heap_arena_get(hw_mc_g.heap, a, &b, &n);
			if ((uintptr_t)b > p && (uintptr_t)b < p + ((size_t)3 << 20))
				return true;
		}
		kept_runs[i] = (void *)p;
	}
	return false;
}

static void straddle_child(void *arg)
{
	(void)arg;
	static const mc_start_config cfg = {
		.address_space = (size_t)64 << 20,
		.arena_size = (size_t)4 << 20,
		.options = "detect_leaks=1:scavenger=0:exitcode=0",
	};
	hw_mc_reset(&cfg);
	CHILD_CHECK(lose_straddling_run());
	scrub();
	size_t n = hw_malloc_leak_check();
	fprintf(stderr, "leaked %zu\n", n);
	CHILD_CHECK(n == 1);
	_exit(0);
}

static void test_leak_check_across_arenas(void)
{
	REQUIRE(hw_trap_child(straddle_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0 && strstr(err, "leaked 1\n"), "%d %d %s",
	       st.signo, st.exit_code, err);
	EXPECT(strstr(err, "Direct leak of 3145728 byte(s) in 1 object(s)") != NULL, "%s", err);
}

/* A thread with a cancel pending allocates and frees in the debug mode: its
 * first stack capture reads the thread's mappings (platform/nocancel.h
 * NC1), and neither call may cancel it (POSIX allows no cancellation point
 * in malloc or free); pthread_testcancel then does. */
static void *cancel_pending_thread(void *arg)
{
	int *stage = arg;
	while (!__atomic_load_n(&stage[1], __ATOMIC_ACQUIRE))
		;
	for (int i = 0; i < 100; i++) {
		void *p = hw_malloc(48 + (size_t)i);
		stage[0] = 1;
		hw_free(p);
		stage[0] = 2;
	}
	stage[0] = 3;
	pthread_testcancel();
	stage[0] = 4;
	return NULL;
}

static void cancel_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("debug=1:scavenger=0:quarantine_bytes=0"));
	static int stage[2];
	pthread_t t;
	void *ret = NULL;
	CHILD_CHECK(pthread_create(&t, NULL, cancel_pending_thread, stage) == 0);
	CHILD_CHECK(pthread_cancel(t) == 0);
	__atomic_store_n(&stage[1], 1, __ATOMIC_RELEASE);
	CHILD_CHECK(pthread_join(t, &ret) == 0);
	CHILD_CHECK(ret == PTHREAD_CANCELED);
	fprintf(stderr, "cancelled at stage %d\n", stage[0]);
}

static void test_no_cancellation_point(void)
{
	REQUIRE(hw_trap_child(cancel_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "%d %d %s", st.signo, st.exit_code, err);
	EXPECT(strstr(err, "cancelled at stage 3\n") != NULL, "%s", err);
}

static void off_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("scavenger=0"));
	unsigned line;
	make_obj(100, &line);
	CHILD_CHECK(hw_malloc_leak_check() == 0);
	hw_malloc_stats ms;
	hw_malloc_stats_get(&ms);
	CHILD_CHECK(ms.stacks == 0);
}

static void test_mode_off(void)
{
	REQUIRE(hw_trap_child(off_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0 && !strstr(err, "leak"), "%d %d %s", st.signo,
	       st.exit_code, err);
}

/* ---- the quarantine (debug_quarantine.c) ---- */

/* A write after free: an object of size bytes freed, its byte off
 * flipped, then either 200 more objects of its size freed (the bound in
 * options makes it leave the quarantine) or exit (the exit-time check). */
typedef struct uaf_case {
	size_t size, off;
	bool at_exit;
	const char *options;
} uaf_case;

static void uaf_child(void *arg)
{
	const uaf_case *c = arg;
	unsigned line;
	CHILD_CHECK(hw_mc_start(c->options));
	unsigned char *p = make_obj(c->size, &line);
	drop_obj(p, &line);
	fprintf(stderr, "object %p\n", (void *)p);
	p[c->off] ^= 1;
	if (c->at_exit)
		exit(0);
	for (int i = 0; i < 200; i++)
		drop_obj(make_obj(c->size, &line), &line);
	hw_child_fail("no report");
}

/* The report of c: kind, the first damaged byte, its offset, the bounds,
 * where it was found, both stacks. */
static void check_uaf(const uaf_case *c)
{
	unsigned make_line, drop_line;
	make_obj(0, &make_line);
	drop_obj(NULL, &drop_line);
	REQUIRE(hw_trap_child(uaf_child, (void *)c, err, sizeof err, &st) == 0);
	EXPECT(st.signo == SIGABRT, "%d %d %s", st.signo, st.exit_code, err);
	const char *o = strstr(err, "object 0x");
	void *vp = NULL;
	REQUIRE(o && sscanf(o, "object %p", &vp) == 1, "%s", err);
	uintptr_t p = (uintptr_t)vp, at = p + c->off, end = p + c->size;
	bool inside = c->off < c->size;
	size_t off = inside ? c->off : c->off - c->size;
	const char *when = c->at_exit ? " at exit" : "";
	char want[512];
	snprintf(want, sizeof want,
		 "heapward: use after free: the freed %zu-byte object [%p, %p) was written at "
		 "%p (%zu bytes %s), found when it left the quarantine%s\n",
		 c->size, (void *)p, (void *)end, (void *)at, off,
		 inside ? "inside it" : "after its end", when);
	EXPECT(strstr(err, want), "want %s in %s", want, err);
	snprintf(want, sizeof want,
		 "ERROR: heapward: heap-use-after-free on address %p in thread T0:\n"
		 "WRITE of unknown size, found when the object left the quarantine%s, here:\n",
		 (void *)at, when);
	EXPECT(strstr(err, want), "want %s", want);
	snprintf(want, sizeof want,
		 "%p is located %zu bytes %s a freed %zu-byte region [%p,%p)\n"
		 "freed by thread T0 here:\n",
		 (void *)at, off, inside ? "inside of" : "after the end of", c->size, (void *)p,
		 (void *)end);
	EXPECT(strstr(err, want), "want %s", want);
	EXPECT(strstr(err, "previously allocated by thread T0 here:") &&
	       strstr(err, "SUMMARY: heapward: heap-use-after-free"));
	if (!symbolizer_here()) {
		printf("(no symbolizer: frames not checked)\n");
		return;
	}
	bool trimmed = library_has_lines();
	unsigned f = trimmed ? 0 : frame_no("freed by thread T0 here:", "drop_obj");
	unsigned a = trimmed ? 0 : frame_no("previously allocated by thread T0 here:", "make_obj");
	EXPECT(has_frame("freed by thread T0 here:", f, "drop_obj", drop_line));
	EXPECT(has_frame("freed by thread T0 here:", f + 1, "uaf_child", 0));
	EXPECT(has_frame("previously allocated by thread T0 here:", a, "make_obj", make_line));
	if (!c->at_exit) {
		/* Found by a later free: that free's stack. */
		unsigned e = trimmed ? 0 : frame_no("left the quarantine, here:", "drop_obj");
		EXPECT(has_frame("left the quarantine, here:", e, "drop_obj", drop_line));
	}
}

static void test_quarantine_uaf_small(void)
{
	static const uaf_case c = {64, 16, false, "debug=1:scavenger=0:quarantine_bytes=4096"};
	check_uaf(&c);
}

static void test_quarantine_uaf_small_slack(void)
{
	/* Past the requested 40 bytes, inside the 48-byte slot. */
	static const uaf_case c = {40, 44, false, "debug=1:scavenger=0:quarantine_bytes=4096"};
	check_uaf(&c);
}

static void test_quarantine_uaf_large(void)
{
	static const uaf_case c = {100000, 70000, false, "debug=1:scavenger=0:quarantine_bytes=1m"};
	check_uaf(&c);
}

static void test_quarantine_uaf_at_exit(void)
{
	static const uaf_case small = {24, 0, true, "debug=1:scavenger=0"};
	static const uaf_case large = {300000, 299999, true, "debug=1:scavenger=0"};
	check_uaf(&small);
	check_uaf(&large);
}

/* Many objects of every kind freed, none touched after: no report. */
static void clean_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("detect_leaks=1:scavenger=0:quarantine_bytes=256k"));
	static void *keep[64];
	for (size_t i = 0; i < 20000; i++) {
		size_t n = i % 7 == 0 ? 70000 + i : 1 + i % 3000;
		unsigned char *p = hw_malloc(n);
		CHILD_CHECK(p);
		memset(p, 0x5a, n);
		p = hw_realloc(p, n / 2 + 1);
		CHILD_CHECK(p);
		hw_free(keep[i % 64]);
		keep[i % 64] = p;
	}
	for (size_t i = 0; i < 64; i++)
		hw_free(keep[i]);
	exit(0);
}

static void test_quarantine_clean(void)
{
	REQUIRE(hw_trap_child(clean_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0 && !strstr(err, "heapward"), "%d %d %s",
	       st.signo, st.exit_code, err);
}

/* Threads that free each other's objects through one small quarantine
 * (each eviction reuses a slot in whichever thread freed last), and forks
 * meanwhile (the quarantine's lock in the fork hooks): no report, no
 * hang, and the children can allocate and free. */
#define Q_THREADS 4
#define Q_ROUNDS 20000
static void *q_slots[Q_THREADS][64];

static void *q_worker(void *arg)
{
	size_t t = (size_t)(uintptr_t)arg;
	for (size_t i = 0; i < Q_ROUNDS; i++) {
		/* Free a neighbour's object: a remote free into the quarantine. */
		void *fresh = hw_malloc(1 + (i * 7 + t) % 2000);
		void *old = __atomic_exchange_n(&q_slots[(t + 1) % Q_THREADS][i % 64], fresh,
						__ATOMIC_ACQ_REL);
		hw_free(old);
	}
	return NULL;
}

static void threads_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("debug=1:scavenger=0:quarantine_bytes=64k:stack_depth=4"));
	pthread_t t[Q_THREADS];
	for (size_t k = 0; k < Q_THREADS; k++)
		CHILD_CHECK(pthread_create(&t[k], NULL, q_worker, (void *)(uintptr_t)k) == 0);
	for (int f = 0; f < 5; f++) {
		pid_t pid = fork();
		CHILD_CHECK(pid >= 0);
		if (pid == 0) {
			void *p = hw_malloc(100);
			hw_free(p);
			hw_free(hw_malloc(200000));
			_exit(p ? 0 : 1);
		}
		int ws;
		CHILD_CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	}
	for (size_t k = 0; k < Q_THREADS; k++)
		pthread_join(t[k], NULL);
	for (size_t k = 0; k < Q_THREADS; k++)
		for (size_t i = 0; i < 64; i++)
			hw_free(q_slots[k][i]);
	hw_malloc_stats ms;
	hw_malloc_stats_get(&ms);
	CHILD_CHECK(ms.errors == 0 && ms.quarantine_bytes <= 65536 && ms.quarantine_objects > 0);
	exit(0);
}

static void test_quarantine_threads(void)
{
	REQUIRE(hw_trap_child(threads_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0 && !strstr(err, "heapward"), "%d %d %s",
	       st.signo, st.exit_code, err);
}

/* A double free of a quarantined object names both stacks. */
static void double_free_q_child(void *arg)
{
	unsigned line;
	CHILD_CHECK(hw_mc_start("debug=1:scavenger=0"));
	void *p = make_obj((size_t)(uintptr_t)arg, &line);
	fprintf(stderr, "object %p\n", p);
	drop_obj(p, &line);
	drop_obj(p, &line);
}

static void test_quarantine_double_free(void)
{
	static const size_t sizes[] = {48, 100000};
	unsigned make_line, drop_line;
	make_obj(0, &make_line);
	drop_obj(NULL, &drop_line);
	for (size_t k = 0; k < 2; k++) {
		REQUIRE(hw_trap_child(double_free_q_child, (void *)(uintptr_t)sizes[k], err,
				      sizeof err, &st) == 0);
		EXPECT(st.signo == SIGABRT, "%d %s", st.signo, err);
		void *p = NULL;
		const char *o = strstr(err, "object 0x");
		REQUIRE(o && sscanf(o, "object %p", &p) == 1, "%s", err);
		char want[256];
		snprintf(want, sizeof want, "ERROR: heapward: double-free on address %p", p);
		EXPECT(strstr(err, want), "%s", err);
		snprintf(want, sizeof want, "%p is located 0 bytes inside of a freed %zu-byte", p,
			 sizes[k]);
		EXPECT(strstr(err, want), "want %s in %s", want, err);
		EXPECT(strstr(err, "freed by thread T0 here:") &&
			       strstr(err, "previously allocated by thread T0 here:"),
		       "%s", err);
		if (symbolizer_here() && library_has_lines()) {
			EXPECT(has_frame("freed by thread T0 here:", 0, "drop_obj", drop_line));
			EXPECT(has_frame("previously allocated by thread T0 here:", 0, "make_obj",
					 make_line));
		}
	}
}

/* realloc, malloc_usable_size and an interior free of a quarantined large
 * object: each reported as freed memory, with its stacks. */
static void freed_large_child(void *arg)
{
	(void)arg;
	unsigned line;
	CHILD_CHECK(hw_mc_start("debug=1:scavenger=0:abort_on_error=0"));
	char *p = make_obj(100000, &line);
	drop_obj(p, &line);
	fprintf(stderr, "object %p\n", (void *)p);
	CHILD_CHECK(hw_malloc_usable_size(p) == 0);
	errno = 0;
	CHILD_CHECK(hw_realloc(p, 10) == NULL && errno == EINVAL);
	hw_free(p + 4096);
	hw_malloc_stats ms;
	hw_malloc_stats_get(&ms);
	CHILD_CHECK(ms.errors == 3);
	_exit(0);
}

static void test_quarantine_freed_large(void)
{
	REQUIRE(hw_trap_child(freed_large_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "%d %d %s", st.signo, st.exit_code, err);
	void *vp = NULL;
	const char *o = strstr(err, "object 0x");
	REQUIRE(o && sscanf(o, "object %p", &vp) == 1, "%s", err);
	char *p = vp;
	char want[256];
	snprintf(want, sizeof want,
		 "heapward: invalid malloc_usable_size of %p: in freed heap memory",
		 (void *)p);
	EXPECT(strstr(err, want), "%s", err);
	snprintf(want, sizeof want, "heapward: invalid realloc of %p: in freed heap memory",
		 (void *)p);
	EXPECT(strstr(err, want), "%s", err);
	snprintf(want, sizeof want,
		 "%p is located 4096 bytes inside of a freed 100000-byte region [%p,%p)\nfreed "
		 "by thread T0 here:",
		 (void *)(p + 4096), (void *)p, (void *)(p + 100000));
	EXPECT(strstr(err, want), "%s", err);
	size_t stacks = 0;
	for (const char *f = err; (f = strstr(f, "freed by thread T0 here:")); f++)
		stacks++;
	EXPECT(stacks == 3, "%zu freed-by stacks", stacks);
}

/* quarantine_bytes=0 turns it off: the slot just freed is the next one
 * handed out; with it on, the slot stays out, filled with the pattern. */
static void reuse_child(void *arg)
{
	bool on = arg != NULL;
	const char *opts = on ? "debug=1:scavenger=0" : "debug=1:scavenger=0:quarantine_bytes=0";
	CHILD_CHECK(hw_mc_start(opts));
	unsigned char *p = hw_malloc(64);
	CHILD_CHECK(p);
	memset(p, 0, 64);
	hw_free(p);
	void *q = hw_malloc(64);
	CHILD_CHECK(on ? q != p : q == p);
	if (on)
		for (size_t i = 0; i < 64; i++)
			CHILD_CHECK(p[i] == 0xdd);
	size_t n, b;
	hw_mc_quar_stats(&n, &b);
	CHILD_CHECK(on ? n == 1 && b == 64 : n == 0 && b == 0);
	CHILD_CHECK(hw_mc_quar_on() == on);
}

static void test_quarantine_off(void)
{
	REQUIRE(hw_trap_child(reuse_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "off: %d %d %s", st.signo, st.exit_code, err);
	REQUIRE(hw_trap_child(reuse_child, (void *)1, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "on: %d %d %s", st.signo, st.exit_code, err);
}

/* The layer's bound: quarantine_bytes of slots at most, the oldest leave
 * first; quarantined objects are neither leaks nor roots' targets. One
 * arena: with one per processor, a slot that leaves the quarantine returns
 * to its span's arena while the next take serves from the arena of the
 * processor the thread runs on then (span.c SP8), so a thread moved
 * between processors carves new slots instead of reusing those. */
static void bound_child(void *arg)
{
	(void)arg;
	CHILD_CHECK(hw_mc_start("detect_leaks=1:scavenger=0:quarantine_bytes=64k:arenas=1"));
	static void *p[3000];
	for (size_t i = 0; i < 3000; i++) {
		p[i] = hw_malloc(64);
		CHILD_CHECK(p[i]);
	}
	for (size_t i = 0; i < 3000; i++) {
		hw_free(p[i]);
		hw_malloc_stats ms;
		hw_malloc_stats_get(&ms);
		size_t n = ms.quarantine_objects, b = ms.quarantine_bytes;
		CHILD_CHECK(b == n * 64 && b <= 65536 && n == (i < 1024 ? i + 1 : 1024));
	}
	/* The 1024 newest are held, the older ones were given back. q is
	 * static: the leak check below must find it (debug_leak.c LK5: not on
	 * a sanitizer's fake stack). */
	static void *q[3000];
	size_t back = 0;
	for (size_t i = 0; i < 3000; i++) {
		q[i] = hw_malloc(64);
		for (size_t j = 3000 - 1024; j < 3000; j++)
			CHILD_CHECK(q[i] != p[j]);
		for (size_t j = 0; j < 3000 - 1024; j++)
			back += q[i] == p[j];
	}
	CHILD_CHECK(back == 3000 - 1024);
	/* Nothing points to the quarantined ones now: still no leak. */
	memset(p, 0, sizeof p);
	scrub();
	CHILD_CHECK(hw_malloc_leak_check() == 0);
	for (size_t i = 0; i < 3000; i++)
		hw_free(q[i]);
	/* Trim gives back what is free; quarantined slots keep their spans
	 * until they leave. */
	hw_malloc_stats ms;
	(void)hw_malloc_trim(0);
	hw_malloc_stats_get(&ms);
	CHILD_CHECK(ms.quarantine_objects == 1024 && ms.small_spans > 0);
	hw_mc_quar_drain();
	(void)hw_malloc_trim(0);
	hw_malloc_stats_get(&ms);
	CHILD_CHECK(ms.quarantine_objects == 0 && ms.small_spans == 0 && ms.heap_inuse == 0 &&
		    ms.heap_ready == 0);
	_exit(0);
}

/* MA9: a heap that is full while the quarantine holds most of it. The
 * private heap's window is 32 MiB; 24 MiB of 64 KiB objects are freed into
 * a quarantine that could hold 64 MiB; then 24 MiB more are asked for: the
 * quarantine must be emptied to serve them, with one warning, and its
 * objects are checked as they leave (one was written after its free). */
static void give_back_child(void *arg)
{
	(void)arg;
	static const mc_start_config cfg = {
		.address_space = (size_t)32 << 20,
		.arena_size = (size_t)4 << 20,
		.options = "debug=1:scavenger=0:quarantine_bytes=64m:stack_depth=0:"
			   "abort_on_error=0",
	};
	hw_mc_reset(&cfg);
	enum { N = 384,
	       SIZE = 65536 };
	static void *p[N], *q[N];
	for (size_t i = 0; i < N; i++)
		CHILD_CHECK((p[i] = hw_malloc(SIZE)) != NULL);
	for (size_t i = 0; i < N; i++)
		hw_free(p[i]);
	((volatile char *)p[7])[100] = 1; /* a write after free */
	hw_malloc_stats ms;
	hw_malloc_stats_get(&ms);
	CHILD_CHECK(ms.quarantine_objects == N && ms.errors == 0);
	/* Larger than the whole window: no give-back could serve it, so the
	 * quarantine keeps its objects. */
	errno = 0;
	CHILD_CHECK(hw_malloc((size_t)64 << 20) == NULL && errno == ENOMEM);
	hw_malloc_stats_get(&ms);
	CHILD_CHECK(ms.quarantine_objects == N && hw_mc_give_backs() == 0);
	/* So is a small object at an alignment the window cannot hold. */
	void *far = NULL;
	CHILD_CHECK(hw_posix_memalign(&far, (size_t)64 << 20, 16) == ENOMEM && far == NULL);
	errno = 0;
	CHILD_CHECK(hw_aligned_alloc((size_t)1 << 40, 1) == NULL && errno == ENOMEM);
	hw_malloc_stats_get(&ms);
	CHILD_CHECK(ms.quarantine_objects == N && hw_mc_give_backs() == 0);
	for (size_t i = 0; i < N; i++)
		CHILD_CHECK((q[i] = hw_malloc(SIZE)) != NULL);
	hw_malloc_stats_get(&ms);
	CHILD_CHECK(ms.quarantine_objects < N && ms.errors == 1);
	for (size_t i = 0; i < N; i++)
		hw_free(q[i]);
	_exit(0);
}

static void test_quarantine_given_back(void)
{
	REQUIRE(hw_trap_child(give_back_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "%d %d %s", st.signo, st.exit_code, err);
	EXPECT(strstr(err, "heapward: warning: out of memory: the quarantine's ") &&
		       strstr(err, "a use after free of them is no longer caught"),
	       "%s", err);
	const char *w = strstr(err, "out of memory");
	EXPECT(w && !strstr(w + 1, "out of memory"), "the warning twice: %s", err);
	EXPECT(strstr(err, "heap-use-after-free"), "%s", err);
}

static void test_quarantine_bound(void)
{
	REQUIRE(hw_trap_child(bound_child, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "%d %d %s", st.signo, st.exit_code, err);
}

int main(int argc, char **argv)
{
	static const hw_test tests[] = {
		T(test_unwind_frames),
		T(test_unwind_thread),
		T(test_unwind_tables_damaged_stack),
		T(test_unwind_bad_chains),
		T(test_modules),
		T(test_module_defining),
		T(test_symbolizer),
		T(test_stop_world),
		T(test_stop_blocked_threads),
		T(test_depot),
		T(test_static_report),
		T(test_leak_check_api),
		T(test_leak_check_across_arenas),
		T(test_leak_check_guard_in_root),
		T(test_leak_check_anon_root),
		T(test_mode_off),
		T(test_no_cancellation_point),
		T(test_quarantine_uaf_small),
		T(test_quarantine_uaf_small_slack),
		T(test_quarantine_uaf_large),
		T(test_quarantine_uaf_at_exit),
		T(test_quarantine_clean),
		T(test_quarantine_threads),
		T(test_quarantine_double_free),
		T(test_quarantine_freed_large),
		T(test_quarantine_off),
		T(test_quarantine_bound),
		T(test_quarantine_given_back),
	};
	return hw_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
}

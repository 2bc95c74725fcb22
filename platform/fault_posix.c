/* fault_posix.c: the memory-fault handler of fault.h on POSIX.
 *
 * Owns: the SIGSEGV and SIGBUS dispositions this file installs; the ones
 * the program sees instead (those replaced at the install, then each that
 * the program sets through the override library's sigaction and signal,
 * FH6), which faults are passed on to; what the handler reads from the
 * signal's context (access, pc, sp, frame pointer); and the alternate
 * signal stacks it gives threads (fault.c keeps the classifiers and the
 * install lock).
 *
 * Invariants (fault.h's, and how they hold here):
 *   FH1. hw_fault_os_install succeeds once both sigactions did; the
 *        dispositions it replaced become the program's (FH6) before ours
 *        is installed.
 *   FH2. The classifiers run only when si_code > 0 (SI_USER, SI_QUEUE,
 *        SI_TKILL and the other sent codes are <= 0 on Linux and in POSIX).
 *   FH3. pass_on: the program's handler function is called directly; SIG_DFL,
 *        or SIG_IGN for a kernel-raised fault (which Linux will not let a
 *        process ignore: it forces the default action), restores SIG_DFL and
 *        returns, so the access faults again and kills with the same signal
 *        and si_code. A sent signal under SIG_DFL is raised again (it stays
 *        pending until the handler returns); under SIG_IGN it is dropped.
 *        hw_fault.chained says which of the two comes. SA_RESETHAND makes
 *        the program's disposition SIG_DFL, not the installed one.
 *   FH4. The handler calls only async-signal-safe functions (sigaction,
 *        pthread_sigmask, getpid, raise; sigaltstack, a system call with
 *        no state in the C library), the table walks' recovery
 *        (stackwalk.h UW7, first: a fault inside a walk ends that walk) and the
 *        classifiers, and restores errno.
 *   FH5. A thread's stack is recorded in own_stack (initial-exec TLS) when
 *        this file maps it; hw_fault_thread_end unmaps it after disabling
 *        it when it is the thread's current alternate stack and the thread
 *        is not on it (SS_ONSTACK), or at once when the thread has switched
 *        to another; a stack in use is left mapped.
 *   FH6. seen_segv and seen_bus hold the program's dispositions: a ring of
 *        DISP_RING entries of which `cur` (atomic) is the one in force. A
 *        change writes the next entry and then publishes it, under
 *        disp_lock with every signal blocked (so no handler on the locking
 *        thread can wait for it); the handler reads the published entry
 *        without the lock. The install and every change of a fault
 *        signal's disposition hold disp_lock, so a program's sigaction
 *        racing the install lands either before it (and is what the
 *        install saves) or after it (and is recorded). The lock names
 *        its holder's process, so a fork's child takes over one held by
 *        a thread of its parent's (that thread had not published what it
 *        was writing; the forking thread held none: sigaction does not
 *        fork).
 *   FH7. passed_addr and passed_pc (initial-exec TLS) record the fault
 *        the thread last passed to a handler of the program's, and are
 *        cleared by any fault that goes to the default action instead.
 *   FH8. passing_at (initial-exec TLS) is pass_on's frame while the
 *        program's handler it called for a fault that was not nested
 *        runs, and 0 once it returned (a handler that left by longjmp
 *        leaves it set until the thread's next such fault). A fault is
 *        nested, inside that handler, when the thread is on its alternate
 *        stack (sigaltstack, asked only when passing_at is set) and the
 *        interrupted stack pointer lies in it, below passing_at; a nested
 *        fault's pass_on leaves passing_at alone (so a second nested fault,
 *        after a first whose handler left by longjmp, is nested too), and
 *        passed_addr and passed_pc as they were: the outer fault's, which
 *        FH7 may see again.
 *
 * The C library's own sigaction. With the override library loaded, the
 * name sigaction is its interposer, which calls back into this file; the
 * OS is reached through the C library's other name for the function
 * (HW_LIBC_SIGACTION: glibc's __sigaction). Without one, the override
 * library defines no interposer and sigaction is the C library's.
 *
 * The context. x86-64 Linux: the access comes from the page-fault error
 * code (REG_ERR: bit 1 write, bit 4 instruction fetch), read only when the
 * trap was a page fault (REG_TRAPNO 14: a general-protection fault, a
 * non-canonical address say, has none); pc, sp and frame pointer from RIP,
 * RSP and RBP. AArch64 Linux: pc, sp and x29; the access is unknown (the
 * fault's ESR record is not read). Elsewhere all are 0 (unknown).
 *
 * Alternate stacks are mapped with mmap, never malloc: one must exist
 * before a stack overflow, and a malloc layer built on the heap may be the
 * thing that faulted.
 *
 * Locking: fault.c's install lock is held by hw_fault_os_install, and
 * disp_lock (a spin lock, held for a copy or a sigaction call) inside it.
 * The handler takes disp_lock only to reset a disposition (SA_RESETHAND).
 */
#include "fault.h"
#include "owned.h"

#include "stackwalk.h"
#include "thread.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define ALT_STACK_BYTES ((size_t)64 << 10)
/* FH6: a reader that copies the entry in force while this many changes
 * are made at once could read a torn one; a disposition is read in a few
 * instructions, and changed by a system call. */
#define DISP_RING 4

/* FH6: what the program sees of one signal, and passes faults on to. */
typedef struct disp {
	struct sigaction ring[DISP_RING];
	unsigned cur; /* atomic */
} disp;

static disp seen_segv, seen_bus;
static int disp_lock;  /* FH6: a spin lock: 0, or its holder's process id */
static bool installed; /* atomic: our handler is the OS's (FH6) */
/* The mapping (guard page first) of the alternate stack this file gave the
 * calling thread; NULL when none (FH5). */
static HW_THREAD_LOCAL char *own_stack;
/* FH7: the thread's last fault passed to a handler of the program's (its
 * address and instruction), or zeros. */
static HW_THREAD_LOCAL uintptr_t passed_addr, passed_pc;
/* FH8: pass_on's frame while the program's handler it called runs, or 0. */
static HW_THREAD_LOCAL uintptr_t passing_at;

#if HW_LIBC_SIGACTION
int __sigaction(int signo, const struct sigaction *act, struct sigaction *old);
#endif

/* The C library's sigaction, never the override library's (see the top). */
static int os_sigaction(int signo, const struct sigaction *act, struct sigaction *old)
{
#if HW_LIBC_SIGACTION
	return __sigaction(signo, act, old);
#else
	return sigaction(signo, act, old);
#endif
}

static disp *seen_of(int signo) { return signo == SIGBUS ? &seen_bus : &seen_segv; }

/* FH6: the program's disposition of signo, as published. */
static struct sigaction seen_now(int signo)
{
	const disp *d = seen_of(signo);
	unsigned i = __atomic_load_n(&d->cur, __ATOMIC_ACQUIRE);
	return d->ring[i % DISP_RING];
}

/* FH6: takes disp_lock with every signal blocked (*was: the mask before).
 * The lock holds its holder's process id: one that is not this process's
 * was taken by a thread of the parent this process was forked from,
 * which does not exist here, and is taken over. */
static void disp_enter(sigset_t *was)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, was);
	int me = (int)getpid();
	for (;;) {
		/* Free (0), or held in the parent: take it. */
		int holder = __atomic_load_n(&disp_lock, __ATOMIC_RELAXED);
		if (holder != me && __atomic_compare_exchange_n(&disp_lock, &holder, me, false,
								__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
	}
}

static void disp_leave(const sigset_t *was)
{
	__atomic_store_n(&disp_lock, 0, __ATOMIC_RELEASE);
	pthread_sigmask(SIG_SETMASK, was, NULL);
}

/* FH6, under disp_lock: makes act the program's disposition of signo. */
static void disp_set(int signo, const struct sigaction *act)
{
	disp *d = seen_of(signo);
	unsigned next = __atomic_load_n(&d->cur, __ATOMIC_RELAXED) + 1;
	d->ring[next % DISP_RING] = *act;
	__atomic_store_n(&d->cur, next, __ATOMIC_RELEASE);
}

static void dfl_action(struct sigaction *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sa_handler = SIG_DFL;
	sigemptyset(&sa->sa_mask);
}

static void restore_default(int signo)
{
	struct sigaction dfl;
	dfl_action(&dfl);
	os_sigaction(signo, &dfl, NULL);
}

/* FH3; nested: the fault was raised inside the program's handler, called
 * for an earlier one (FH8). */
static void pass_on(int signo, siginfo_t *si, void *uctx, bool nested)
{
	struct sigaction old = seen_now(signo);
	bool sent = si == NULL || si->si_code <= 0;
	if (old.sa_handler == SIG_IGN && sent)
		return;
	if (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN) {
		restore_default(signo);
		if (sent)
			raise(signo);
		return;
	}
	if (old.sa_flags & SA_RESETHAND) {
		/* As the program's own sigaction would (FH6). */
		struct sigaction dfl;
		dfl_action(&dfl);
		(void)hw_fault_sigaction(signo, &dfl, NULL);
	}
	/* The kernel would have blocked the handler's sa_mask, and the signal
	 * itself unless it asked for SA_NODEFER (ours did not: it is blocked
	 * now). */
	sigset_t was, mask = old.sa_mask;
	pthread_sigmask(SIG_BLOCK, &mask, &was);
	if (old.sa_flags & SA_NODEFER) {
		sigset_t self;
		sigemptyset(&self);
		sigaddset(&self, signo);
		pthread_sigmask(SIG_UNBLOCK, &self, NULL);
	}
	if (!nested) /* FH8 */
		passing_at = (uintptr_t)__builtin_frame_address(0);
	if (old.sa_flags & SA_SIGINFO)
		old.sa_sigaction(signo, si, uctx);
	else
		old.sa_handler(signo);
	if (!nested)
		passing_at = 0;
	pthread_sigmask(SIG_SETMASK, &was, NULL);
}

/* FH8: whether the interrupted code, whose stack pointer was sp, ran
 * inside a handler of the program's that this thread's handler called and
 * that has not returned: below its call, on the alternate stack the thread
 * is on. */
static bool inside_program_handler(uintptr_t sp)
{
	uintptr_t at = passing_at;
	stack_t cur;
	if (at == 0 || sp == 0 || sp >= at || sigaltstack(NULL, &cur) != 0 ||
	    !(cur.ss_flags & SS_ONSTACK))
		return false;
	uintptr_t lo = (uintptr_t)cur.ss_sp;
	return sp >= lo && at <= lo + cur.ss_size;
}

/* Whether a fault on signo goes to a handler of the program's (FH3). */
static bool chained(int signo)
{
	struct sigaction old = seen_now(signo);
	return old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN;
}

/* The registers and the access of the interrupted context. */
static void read_context(const void *uctx, hw_fault *f)
{
#if defined(__linux__) && defined(__x86_64__)
	const mcontext_t *mc = &((const ucontext_t *)uctx)->uc_mcontext;
	f->pc = (uintptr_t)mc->gregs[REG_RIP];
	f->sp = (uintptr_t)mc->gregs[REG_RSP];
	f->fp = (uintptr_t)mc->gregs[REG_RBP];
	if (mc->gregs[REG_TRAPNO] == 14) {
		uint64_t err = (uint64_t)mc->gregs[REG_ERR];
		f->access = err & 0x10 ? HW_FAULT_EXEC : err & 0x2 ? HW_FAULT_WRITE
								   : HW_FAULT_READ;
	}
#elif defined(__linux__) && defined(__aarch64__)
	const mcontext_t *mc = &((const ucontext_t *)uctx)->uc_mcontext;
	f->pc = (uintptr_t)mc->pc;
	f->sp = (uintptr_t)mc->sp;
	f->fp = (uintptr_t)mc->regs[29];
#else
	(void)uctx, (void)f;
#endif
}

static void on_fault(int signo, siginfo_t *si, void *uctx)
{
	int saved = errno;
	bool nested = false;
	if (si && si->si_code > 0) {
		hw_unwind_tables_recover(); /* stackwalk.h UW7: first */
		hw_fault f = {(uintptr_t)si->si_addr,
			      signo == SIGBUS ? "BUS" : "SEGV",
			      si->si_code,
			      HW_FAULT_UNKNOWN,
			      0,
			      0,
			      0,
			      chained(signo)};
		if (uctx)
			read_context(uctx, &f);
		nested = inside_program_handler(f.sp); /* FH8 */
		if (!nested) {
			/* FH7: the fault the program's handler let come back
			 * to kill. */
			bool again = !f.chained && f.addr == passed_addr && f.pc == passed_pc;
			if (!again)
				(void)hw_fault_classify(&f);
			passed_addr = f.chained ? f.addr : 0;
			passed_pc = f.chained ? f.pc : 0;
		}
	}
	errno = saved;
	pass_on(signo, si, uctx, nested);
}

/* The alternate stack's size, without its guard page. */
static size_t alt_size(size_t page)
{
	size_t size = ALT_STACK_BYTES;
	/* SIGSTKSZ is a sysconf call on current glibc. */
	if ((size_t)SIGSTKSZ * 4 > size)
		size = ((size_t)SIGSTKSZ * 4 + page - 1) & ~(page - 1);
	return size;
}

/* FH5: gives the calling thread an alternate signal stack unless it has
 * one (a sanitizer's runtime, say, sets its own). 0 or an errno value. */
static int give_alt_stack(void)
{
	stack_t cur;
	if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
		return 0;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = alt_size(page);
	/* The stack grows down: the page below it traps an overflow. */
	char *m = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	if (m == MAP_FAILED)
		return ENOMEM;
	stack_t ss;
	memset(&ss, 0, sizeof ss);
	ss.ss_sp = m + page;
	ss.ss_size = size;
	if (mprotect(m, page, PROT_NONE) != 0 || sigaltstack(&ss, NULL) != 0) {
		int e = errno;
		munmap(m, size + page);
		return e;
	}
	own_stack = m;
	hw_platform_own((uintptr_t)m, size + page); /* OW1 */
	return 0;
}

int hw_fault_thread_start(void) { return give_alt_stack(); }

void hw_fault_thread_end(void)
{
	char *m = own_stack;
	if (!m)
		return;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	stack_t cur;
	if (sigaltstack(NULL, &cur) != 0)
		return;
	if (!(cur.ss_flags & SS_DISABLE) && cur.ss_sp == m + page) {
		if (cur.ss_flags & SS_ONSTACK)
			return;
		stack_t off;
		memset(&off, 0, sizeof off);
		off.ss_flags = SS_DISABLE;
		if (sigaltstack(&off, NULL) != 0)
			return;
	}
	own_stack = NULL;
	hw_platform_disown((uintptr_t)m, alt_size(page) + page);
	munmap(m, alt_size(page) + page);
}

int hw_fault_os_install(void)
{
	int err = 0;
	struct sigaction sa, old_segv, old_bus;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	err = give_alt_stack();
	if (err != 0)
		return err;
	sigset_t was;
	disp_enter(&was);
	/* The program's dispositions are complete before the handler can run. */
	if (os_sigaction(SIGSEGV, NULL, &old_segv) != 0 ||
	    os_sigaction(SIGBUS, NULL, &old_bus) != 0)
		err = errno;
	if (err == 0) {
		disp_set(SIGSEGV, &old_segv);
		disp_set(SIGBUS, &old_bus);
		if (os_sigaction(SIGSEGV, &sa, NULL) != 0) {
			err = errno;
		} else if (os_sigaction(SIGBUS, &sa, NULL) != 0) {
			err = errno;
			os_sigaction(SIGSEGV, &old_segv, NULL);
		}
	}
	__atomic_store_n(&installed, err == 0, __ATOMIC_RELEASE);
	disp_leave(&was);
	return err;
}

int hw_fault_sigaction(int signo, const struct sigaction *act, struct sigaction *old)
{
	if (signo != SIGSEGV && signo != SIGBUS)
		return os_sigaction(signo, act, old);
	sigset_t was;
	disp_enter(&was);
	int rc = 0;
	if (!__atomic_load_n(&installed, __ATOMIC_ACQUIRE)) {
		rc = os_sigaction(signo, act, old);
	} else {
		if (old)
			*old = seen_now(signo);
		if (act)
			disp_set(signo, act);
	}
	/* sigaction's errno is the caller's to read; disp_leave keeps it. */
	int e = errno;
	disp_leave(&was);
	errno = e;
	return rc;
}

#if HW_LIBC_SIGACTION
/* glibc's other name for signal (not declared under _GNU_SOURCE). */
__sighandler_t bsd_signal(int signo, __sighandler_t handler);
#endif

hw_signal_fn hw_fault_signal(int signo, hw_signal_fn handler)
{
#if HW_LIBC_SIGACTION
	if (signo != SIGSEGV && signo != SIGBUS)
		return bsd_signal(signo, handler);
#endif
	if (handler == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	/* glibc's (BSD's) semantics: the signal blocked while its handler
	 * runs, interrupted calls restarted. */
	struct sigaction act, old;
	memset(&act, 0, sizeof act);
	act.sa_handler = handler;
	sigemptyset(&act.sa_mask);
	sigaddset(&act.sa_mask, signo);
	act.sa_flags = SA_RESTART;
	if (hw_fault_sigaction(signo, &act, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

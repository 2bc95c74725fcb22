/* fault_posix.c: the memory-fault handler of fault.h on POSIX.
 *
 * Owns: the SIGSEGV and SIGBUS dispositions this file installs, the ones it
 * replaced (saved for chaining), what the handler reads from the signal's
 * context (access, pc, sp, frame pointer), and the alternate signal stacks
 * it gives threads (fault.c keeps the classifiers and the install lock).
 *
 * Invariants (fault.h's, and how they hold here):
 *   FH1. hw_fault_os_install succeeds once both sigactions did; the saved
 *        dispositions are read before ours is installed and never written
 *        again.
 *   FH2. The classifiers run only when si_code > 0 (SI_USER, SI_QUEUE,
 *        SI_TKILL and the other sent codes are <= 0 on Linux and in POSIX).
 *   FH3. pass_on: a previous handler function is called directly; SIG_DFL,
 *        or SIG_IGN for a kernel-raised fault (which Linux will not let a
 *        process ignore: it forces the default action), restores SIG_DFL and
 *        returns, so the access faults again and kills with the same signal
 *        and si_code. A sent signal under SIG_DFL is raised again (it stays
 *        pending until the handler returns); under SIG_IGN it is dropped.
 *        hw_fault.chained says which of the two comes.
 *   FH4. The handler calls only async-signal-safe functions (sigaction,
 *        pthread_sigmask, raise), the table walks' recovery (stackwalk.h
 *        UW7, first: a fault inside a walk ends that walk) and the
 *        classifiers, and restores errno.
 *   FH5. A thread's stack is recorded in own_stack (initial-exec TLS) when
 *        this file maps it; hw_fault_thread_end unmaps it after disabling
 *        it when it is the thread's current alternate stack and the thread
 *        is not on it (SS_ONSTACK), or at once when the thread has switched
 *        to another; a stack in use is left mapped.
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
 * Locking: fault.c's install lock is held by hw_fault_os_install. The
 * handler takes no lock (hw_fault_classify).
 */
#include "fault.h"

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

static struct sigaction old_segv, old_bus;
/* The mapping (guard page first) of the alternate stack this file gave the
 * calling thread; NULL when none (FH5). */
static HW_THREAD_LOCAL char *own_stack;

static void restore_default(int signo)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(signo, &dfl, NULL);
}

/* FH3. */
static void pass_on(int signo, siginfo_t *si, void *uctx)
{
	const struct sigaction *old = signo == SIGBUS ? &old_bus : &old_segv;
	bool sent = si == NULL || si->si_code <= 0;
	if (old->sa_handler == SIG_IGN && sent)
		return;
	if (old->sa_handler == SIG_DFL || old->sa_handler == SIG_IGN) {
		restore_default(signo);
		if (sent)
			raise(signo);
		return;
	}
	if (old->sa_flags & SA_RESETHAND)
		restore_default(signo);
	/* The kernel would have blocked the previous handler's sa_mask; the
	 * signal itself is already blocked unless it asked for SA_NODEFER. */
	sigset_t was;
	pthread_sigmask(SIG_BLOCK, &old->sa_mask, &was);
	if (old->sa_flags & SA_SIGINFO)
		old->sa_sigaction(signo, si, uctx);
	else
		old->sa_handler(signo);
	pthread_sigmask(SIG_SETMASK, &was, NULL);
}

/* Whether a fault on signo goes to a previous handler (FH3). */
static bool chained(int signo)
{
	const struct sigaction *old = signo == SIGBUS ? &old_bus : &old_segv;
	return old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN;
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
		(void)hw_fault_classify(&f);
	}
	errno = saved;
	pass_on(signo, si, uctx);
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
	munmap(m, alt_size(page) + page);
}

int hw_fault_os_install(void)
{
	int err = 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	/* The saved dispositions are complete before the handler can run. */
	if (sigaction(SIGSEGV, NULL, &old_segv) != 0 || sigaction(SIGBUS, NULL, &old_bus) != 0)
		err = errno;
	if (err == 0)
		err = give_alt_stack();
	if (err == 0) {
		if (sigaction(SIGSEGV, &sa, NULL) != 0) {
			err = errno;
		} else if (sigaction(SIGBUS, &sa, NULL) != 0) {
			err = errno;
			sigaction(SIGSEGV, &old_segv, NULL);
		}
	}
	return err;
}

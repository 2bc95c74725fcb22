/* fault_posix.c: the memory-fault handler of fault.h on POSIX.
 *
 * Owns: the SIGSEGV and SIGBUS dispositions this file installs, the ones it
 * replaced (saved for chaining), and the alternate signal stack of the
 * installing thread (fault.c keeps the classifier and the install lock).
 *
 * Invariants (fault.h's, and how they hold here):
 *   FH1. hw_fault_os_install succeeds once both sigactions did; the saved
 *        dispositions are read before ours is installed and never written
 *        again.
 *   FH2. The classifier runs only when si_code > 0 (SI_USER, SI_QUEUE,
 *        SI_TKILL and the other sent codes are <= 0 on Linux and in POSIX).
 *   FH3. pass_on: a previous handler function is called directly; SIG_DFL,
 *        or SIG_IGN for a kernel-raised fault (which Linux will not let a
 *        process ignore: it forces the default action), restores SIG_DFL and
 *        returns, so the access faults again and kills with the same signal
 *        and si_code. A sent signal under SIG_DFL is raised again (it stays
 *        pending until the handler returns); under SIG_IGN it is dropped.
 *   FH4. The handler calls only async-signal-safe functions (sigaction,
 *        pthread_sigmask, raise) and the classifier, and restores errno.
 *
 * The alternate stack is mapped with mmap, never malloc: it must exist
 * before a stack overflow, and a malloc layer built on the heap may be the
 * thing that faulted. It is never unmapped (it serves the thread for as
 * long as the process runs; one per process).
 *
 * Locking: fault.c's install lock is held by hw_fault_os_install. The
 * handler takes no lock (hw_fault_classifier).
 */
#include "fault.h"

#include "thread.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALT_STACK_BYTES ((size_t)64 << 10)

static struct sigaction old_segv, old_bus;

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

static void on_fault(int signo, siginfo_t *si, void *uctx)
{
	int saved = errno;
	hw_fault_fn fn = hw_fault_classifier();
	if (fn && si && si->si_code > 0) {
		hw_fault f = {(uintptr_t)si->si_addr, signo == SIGBUS ? "BUS" : "SEGV"};
		fn(&f);
	}
	errno = saved;
	pass_on(signo, si, uctx);
}

/* Gives the calling thread an alternate signal stack unless it has one
 * (a sanitizer's runtime, say, sets its own). 0 or an errno value. */
static int give_alt_stack(void)
{
	stack_t cur;
	if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
		return 0;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = ALT_STACK_BYTES;
	/* SIGSTKSZ is a sysconf call on current glibc. */
	if ((size_t)SIGSTKSZ * 4 > size)
		size = ((size_t)SIGSTKSZ * 4 + page - 1) & ~(page - 1);
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
	return 0;
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

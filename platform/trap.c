/* trap.c: probing whether a one-byte access traps, and running code that is
 * expected to die in a child process.
 *
 * Owns: the probe's signal handler, its per-thread jump buffer, and the saved
 * dispositions of SIGSEGV and SIGBUS while a probe runs.
 *
 * Invariants:
 *   TP1. The SIGSEGV and SIGBUS dispositions in force before hw_trap_probe are
 *        restored before it returns, whether or not the access trapped.
 *   TP2. A probe that does not trap performs one read (and, for a write probe,
 *        one write of the value read).
 *   TP3. hw_trap_child and hw_trap_rerun reap their child before
 *        returning.
 *   TP4. A fault the probe did not cause (another thread's, while a probe is
 *        armed in this one) is handed to the previous handler: the probe's
 *        handler reinstalls it and returns, so the access faults again there.
 *   TP5. The probe's own access is invisible to the memory tools (track.h):
 *        uninstrumented under ASan, not reported by Memcheck, so probing a
 *        page the heap has marked dead is not an error of the heap's user.
 *
 * Locking: the handler and the saved dispositions are process-wide; probes
 * from two threads at once are not supported (trap.h says so). The jump
 * buffer and the armed flag are thread-local.
 */
#include "trap.h"

#include "base.h"
#include "track.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static _Thread_local sigjmp_buf probe_jmp;
static _Thread_local volatile sig_atomic_t probe_armed;
static _Thread_local volatile int probe_signo, probe_code;
static struct sigaction old_segv, old_bus;

static void restore_handlers(void)
{
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
}

static void probe_handler(int signo, siginfo_t *si, void *uctx)
{
	(void)uctx;
	if (!probe_armed) {
		/* TP4: not ours; let the previous handler see the refault. */
		restore_handlers();
		return;
	}
	probe_armed = 0;
	probe_signo = signo;
	probe_code = si->si_code;
	siglongjmp(probe_jmp, 1);
}

/* The access is deliberate: ASan must not check it (the heap may have
 * poisoned the page) and Memcheck must not report it (TP5). */
HW_TRACK_UNCHECKED hw_trap_kind hw_trap_probe(volatile void *addr, bool write)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = probe_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv) != 0 || sigaction(SIGBUS, &sa, &old_bus) != 0)
		hw_fatal("heapward: trap: sigaction failed: errno %d", errno);

	volatile hw_trap_kind kind = HW_TRAP_NONE;
	probe_signo = 0;
	probe_code = 0;
	hw_track_quiet_begin();
	/* savesigs = 1: the jump back restores the mask, unblocking the signal. */
	if (sigsetjmp(probe_jmp, 1) == 0) {
		probe_armed = 1;
		volatile unsigned char *p = addr;
		unsigned char v = *p;
		if (write)
			*p = v;
		probe_armed = 0;
	} else if (probe_signo == SIGSEGV && probe_code == SEGV_MAPERR) {
		kind = HW_TRAP_MAPERR;
	} else if (probe_signo == SIGSEGV && probe_code == SEGV_ACCERR) {
		kind = HW_TRAP_ACCERR;
	} else {
		kind = HW_TRAP_OTHER;
	}
	hw_track_quiet_end();
	restore_handlers();
	return kind;
}

/* Forks a child that runs body(arg) with its stderr on a pipe, which the
 * parent reads into err; reaps it and fills *st (TP3). body must not
 * return. 0, or an errno value when the child could not be started. */
static int run_child(void (*body)(const void *arg), const void *arg, char *err, size_t errlen,
		     hw_child_status *st)
{
	int fds[2];
	if (pipe(fds) != 0)
		return errno;
	/* Whatever the parent buffered must not be written twice. */
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return e;
	}
	if (pid == 0) {
		struct rlimit nocore = {0, 0};
		setrlimit(RLIMIT_CORE, &nocore);
		close(fds[0]);
		if (dup2(fds[1], 2) < 0)
			_exit(127);
		close(fds[1]);
		body(arg);
		_exit(127);
	}
	close(fds[1]);
	size_t got = 0;
	for (;;) {
		char sink[256];
		char *dst = sink;
		size_t room = sizeof sink;
		if (errlen > 0 && got + 1 < errlen) {
			dst = err + got;
			room = errlen - 1 - got;
		}
		ssize_t r = read(fds[0], dst, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (dst != sink)
			got += (size_t)r;
	}
	close(fds[0]);
	if (errlen > 0)
		err[got] = '\0';
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return errno;
	}
	st->signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	st->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
	return 0;
}

typedef struct child_call {
	void (*fn)(void *arg);
	void *arg;
} child_call;

static void call_and_exit(const void *p)
{
	const child_call *c = p;
	c->fn(c->arg);
	fflush(NULL);
	_exit(0);
}

int hw_trap_child(void (*fn)(void *arg), void *arg, char *err, size_t errlen,
		  hw_child_status *st)
{
	child_call c = {fn, arg};
	return run_child(call_and_exit, &c, err, errlen, st);
}

/* Execs this program by its path (readlink, which Valgrind answers with
 * the program's own path; exec of /proc/self/exe under it would run the
 * tool). */
static void exec_self(const void *arg)
{
	char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
	if (n <= 0)
		return;
	path[n] = '\0';
	execl(path, path, (const char *)arg, (char *)NULL);
}

int hw_trap_rerun(const char *arg, char *err, size_t errlen, hw_child_status *st)
{
	return run_child(exec_self, arg, err, errlen, st);
}

void hw_trap_quiet_child(void)
{
	/* run_child set it before the exec already; a child started by other
	 * means gets it here. */
	struct rlimit nocore = {0, 0};
	setrlimit(RLIMIT_CORE, &nocore);
}

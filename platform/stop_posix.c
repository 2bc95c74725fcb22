/* stop_posix.c: stop.h on Linux: threads from /proc/self/task, stopped
 * with tgkill(HW_STOP_SIGNAL).
 *
 * Owns: hw_world_stop, hw_world_resume and the stop signal's handler.
 *
 * Invariants: SW1-SW4 of stop.h. How they hold here: the thread list is
 * read with open and getdents64 into a stack buffer (opendir allocates);
 * the handler finds its slot by its thread id, which the stopper wrote
 * before sending the signal; it copies the general registers of the
 * interrupted context (ucontext), marks its slot answered, and waits on
 * `release` with a futex (woken all at once by the resume; a bounded wait,
 * so a lost wake costs a tenth of a second, not the stop: thousands of
 * stopped threads polling would starve the thread that scans);
 * `inside` counts the handlers still running,
 * and resume waits for it to reach 0 (at most one second). SW5: before the
 * signal is sent, the thread's SigBlk line in /proc tells whether it blocks
 * it, and its syscall file whether it waits in rt_sigtimedwait (sigwait,
 * sigwaitinfo, sigtimedwait), whose set is then read from the waiting
 * thread's memory with process_vm_readv (a fault answers EFAULT there,
 * should the wait have ended and its stack gone). A thread that changes its
 * mask between that look and the signal is the timeout's case. SW6: the
 * tracer is a raw clone without CLONE_VM (so no fork handlers run, and its
 * writes stay its own) that makes only system calls and writes only the
 * shared page; it blocks every signal, is named the process's tracer for
 * Yama (PR_SET_PTRACER), and ends when it is told or when its parent is
 * gone (a tracer's end detaches its tracees).
 *
 * SW7: hw_world_copy is process_vm_readv on this very thread, which
 * answers EFAULT for a page it cannot read instead of faulting (a short
 * copy counts as EFAULT: the kernel need not copy part of one iovec).
 *
 * Locking: none (stop.h SW4: one stop at a time).
 */
#include "stop.h"

#include "base.h"
#include "file.h"
#include "nocancel.h"
#include "thread.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static hw_world *current; /* atomic: the stop in progress, or NULL */
static struct sigaction previous;
static int installed; /* SW3: under the caller's serialisation */

static void nap_us(long us)
{
	struct timespec ts = {0, us * 1000};
	hw_nc_nanosleep(&ts, NULL);
}

/* The handler's wait until the resume sets w->release (a futex word). */
static void wait_release(hw_world *w)
{
	while (!__atomic_load_n(&w->release, __ATOMIC_ACQUIRE)) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		(void)syscall(SYS_futex, &w->release, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
	}
}

uintptr_t hw_thread_pointer(void)
{
	uintptr_t tp = 0;
#if defined(__x86_64__)
	__asm__ volatile("mov %%fs:0, %0"
			 : "=r"(tp));
#elif defined(__aarch64__)
	__asm__ volatile("mrs %0, tpidr_el0"
			 : "=r"(tp));
#endif
	return tp;
}

/* The registers of a context, and its stack pointer. */
static void read_context(hw_thread_state *t, const ucontext_t *uc)
{
#if defined(__x86_64__)
	_Static_assert(NGREG <= HW_STOP_NREGS, "registers");
	for (unsigned i = 0; i < NGREG; i++)
		t->regs[i] = (uintptr_t)uc->uc_mcontext.gregs[i];
	t->nregs = NGREG;
	t->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	for (unsigned i = 0; i < 31 && i < HW_STOP_NREGS; i++)
		t->regs[i] = (uintptr_t)uc->uc_mcontext.regs[i];
	t->nregs = 31;
	t->sp = (uintptr_t)uc->uc_mcontext.sp;
#else
	t->nregs = 0;
	t->sp = (uintptr_t)&t; /* unknown: the caller scans from here */
#endif
}

/* SW3: a signal that is not ours goes where it went before. */
static void pass_on(int sig, siginfo_t *si, void *ctx)
{
	if (previous.sa_flags & SA_SIGINFO) {
		if (previous.sa_sigaction)
			previous.sa_sigaction(sig, si, ctx);
	} else if (previous.sa_handler == SIG_DFL) {
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, NULL);
		raise(sig);
	} else if (previous.sa_handler != SIG_IGN) {
		previous.sa_handler(sig);
	}
}

static void on_stop(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;
	hw_world *w = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
	bool ours = si->si_code == SI_TKILL && si->si_pid == getpid();
	if (!ours) {
		pass_on(sig, si, ctx);
		errno = saved;
		return;
	}
	if (!w) {
		errno = saved; /* a late one (SW3) */
		return;
	}
	int tid = (int)syscall(SYS_gettid);
	hw_thread_state *t = NULL;
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].tid == tid)
			t = &w->t[i];
	if (t) {
		__atomic_add_fetch(&w->inside, 1, __ATOMIC_ACQ_REL);
		read_context(t, ctx);
		t->tp = hw_thread_pointer();
		__atomic_store_n(&t->answered, 1, __ATOMIC_RELEASE);
		wait_release(w);
		__atomic_sub_fetch(&w->inside, 1, __ATOMIC_ACQ_REL);
	}
	errno = saved;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* The other threads' ids into w->t (w->missed counts those that did not
 * fit); -1 when /proc/self/task cannot be read. */
static int list_threads(hw_world *w, int self)
{
	int fd = hw_nc_open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	char buf[4096] __attribute__((aligned(8)));
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			hw_nc_close(fd);
			return n < 0 ? -1 : 0;
		}
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			off += d->d_reclen;
			uint64_t tid;
			if (!hw_file_number(d->d_name, 10, &tid) || tid > INT_MAX ||
			    (int)tid == self)
				continue; /* ".", "..", or the calling thread */
			if (w->n == HW_STOP_MAX_THREADS) {
				w->missed++;
				continue;
			}
			hw_thread_state *t = &w->t[w->n++];
			memset(t, 0, sizeof *t);
			t->tid = (int)tid;
		}
	}
}

/* The number after key in text (file.h FI4), and where it ends. */
static const char *number_after(const char *text, const char *key, unsigned base, uint64_t *out)
{
	const char *p = strstr(text, key);
	return p ? hw_file_number(p + strlen(key), base, out) : NULL;
}

static bool in_set(uint64_t set) { return (set >> (HW_STOP_SIGNAL - 1)) & 1; }

/* SW5: whether thread tid blocks the stop's signal or waits for it. */
static bool refuses_signal(pid_t pid, int tid)
{
	char path[64], buf[2048];
	size_t len;
	uint64_t v;
	hw_report_format(path, sizeof path, "/proc/self/task/%d/status", tid);
	int rc = hw_file_read(path, buf, sizeof buf - 1, &len);
	buf[len] = 0;
	if ((rc == 0 || rc == EFBIG) && number_after(buf, "\nSigBlk:\t", 16, &v) && in_set(v))
		return true;
	/* "nr arg1 ..." while in a system call: rt_sigtimedwait's first
	 * argument is the set it waits for. */
	hw_report_format(path, sizeof path, "/proc/self/task/%d/syscall", tid);
	if (hw_file_read(path, buf, sizeof buf - 1, &len) != 0 || buf[0] < '0' || buf[0] > '9')
		return false; /* "running", or "-1 sp pc": in no system call */
	buf[len] = 0;
	const char *p = number_after(buf, "", 10, &v);
	if (!p || v != SYS_rt_sigtimedwait || !number_after(p, " 0x", 16, &v))
		return false;
	uint64_t set = 0;
	struct iovec local = {&set, sizeof set}, remote = {(void *)(uintptr_t)v, sizeof set};
	return process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof set ||
	       in_set(set);
}

/* ---- SW6: the tracer ---- */

typedef struct trace_slot {
	int tid;
	int held; /* atomic: registers read, thread held */
	struct user_regs_struct regs;
} trace_slot;

typedef struct trace_page {
	int go, done, release; /* atomic */
	size_t n;
	trace_slot t[];
} trace_page;

/* In the tracer: attach to s->tid, stop it, read its registers. */
static bool trace_one(trace_slot *s)
{
	if (ptrace(PTRACE_SEIZE, s->tid, NULL, NULL) != 0)
		return false;
	if (ptrace(PTRACE_INTERRUPT, s->tid, NULL, NULL) == 0) {
		for (int k = 0; k < 16; k++) {
			int st;
			if (hw_nc_waitpid(s->tid, &st, __WALL) != s->tid || !WIFSTOPPED(st))
				return false; /* gone: nothing to detach */
			if ((st >> 16) == PTRACE_EVENT_STOP) {
				struct iovec io = {&s->regs, sizeof s->regs};
				if (ptrace(PTRACE_GETREGSET, s->tid, (void *)NT_PRSTATUS, &io) == 0)
					return true;
				break;
			}
			/* A signal on its way to the thread: it has it, and the
			 * interrupt's stop follows. */
			ptrace(PTRACE_CONT, s->tid, NULL, (void *)(uintptr_t)WSTOPSIG(st));
		}
	}
	ptrace(PTRACE_DETACH, s->tid, NULL, NULL);
	return false;
}

static _Noreturn void tracer_main(trace_page *p, pid_t parent)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (unsigned i = 0; !__atomic_load_n(&p->go, __ATOMIC_ACQUIRE); i++) {
		if (i > 100000 || getppid() != parent)
			_exit(1);
		nap_us(50);
	}
	for (size_t i = 0; i < p->n; i++)
		if (trace_one(&p->t[i]))
			__atomic_store_n(&p->t[i].held, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&p->release, __ATOMIC_ACQUIRE) && getppid() == parent)
		nap_us(50);
	for (size_t i = 0; i < p->n; i++)
		if (p->t[i].held)
			ptrace(PTRACE_DETACH, p->t[i].tid, NULL, NULL);
	_exit(0);
}

/* A traced thread's registers, as read_context records a signalled one's. */
static void read_traced(hw_thread_state *t, const struct user_regs_struct *r)
{
#if defined(__x86_64__)
	_Static_assert(sizeof *r / sizeof(uintptr_t) <= HW_STOP_NREGS, "registers");
	memcpy(t->regs, r, sizeof *r);
	t->nregs = sizeof *r / sizeof(uintptr_t);
	t->sp = (uintptr_t)r->rsp;
	t->tp = (uintptr_t)r->fs_base;
#elif defined(__aarch64__)
	for (unsigned i = 0; i < 31 && i < HW_STOP_NREGS; i++)
		t->regs[i] = (uintptr_t)r->regs[i];
	t->nregs = 31;
	t->sp = (uintptr_t)r->sp;
	t->tp = 0; /* TPIDR_EL0 is another register set: the caller scans up from sp */
#else
	(void)r;
	t->nregs = 0;
	t->sp = 0;
#endif
	t->stopped = true;
}

static void reap(int child)
{
	while (hw_nc_waitpid(child, NULL, __WALL) < 0 && errno == EINTR)
		;
}

/* SW6: stops w's blocked threads through a tracer, waiting at most
 * timeout_ms; those it holds are stopped when it returns. */
static void trace_blocked(hw_world *w, pid_t pid, unsigned timeout_ms)
{
	size_t n = 0;
	for (size_t i = 0; i < w->n; i++)
		n += w->t[i].blocked;
	if (n == 0)
		return;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t bytes = hw_align_up(sizeof(trace_page) + n * sizeof(trace_slot), page);
	trace_page *p =
		mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].blocked)
			p->t[p->n++].tid = w->t[i].tid;
	/* A fork without fork handlers or an exit signal (so no SIGCHLD, and
	 * no wait(-1) of the program's reaps it). */
	long child = syscall(SYS_clone, 0UL, NULL, NULL, NULL, 0UL);
	if (child == 0)
		tracer_main(p, pid);
	if (child < 0) {
		munmap(p, bytes);
		return;
	}
	(void)prctl(PR_SET_PTRACER, (unsigned long)child, 0UL, 0UL, 0UL); /* EINVAL without Yama */
	__atomic_store_n(&p->go, 1, __ATOMIC_RELEASE);
	for (unsigned waited = 0; !__atomic_load_n(&p->done, __ATOMIC_ACQUIRE); waited++) {
		if (waited >= timeout_ms * 10) {
			kill((pid_t)child, SIGKILL); /* its tracees are let go */
			reap((int)child);
			munmap(p, bytes);
			return;
		}
		nap_us(100);
	}
	for (size_t i = 0, j = 0; i < w->n; i++)
		if (w->t[i].blocked) {
			const trace_slot *s = &p->t[j++];
			if (__atomic_load_n(&s->held, __ATOMIC_ACQUIRE))
				read_traced(&w->t[i], &s->regs);
		}
	w->tracer = (int)child;
	w->trace = p;
	w->trace_bytes = bytes;
}

static void untrace(hw_world *w)
{
	if (!w->tracer)
		return;
	trace_page *p = w->trace;
	__atomic_store_n(&p->release, 1, __ATOMIC_RELEASE);
	reap(w->tracer);
	(void)prctl(PR_SET_PTRACER, 0UL, 0UL, 0UL, 0UL);
	munmap(p, w->trace_bytes);
	w->tracer = 0;
	w->trace = NULL;
}

static bool install(void)
{
	if (installed)
		return true;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_stop;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(HW_STOP_SIGNAL, &sa, &previous) != 0)
		return false;
	installed = 1;
	return true;
}

int hw_world_stop(hw_world *w, unsigned timeout_ms)
{
	ucontext_t uc;
	w->n = w->missed = 0;
	w->release = w->inside = 0;
	w->tracer = 0;
	w->trace = NULL;
	memset(&w->self, 0, sizeof w->self);
	int self = (int)syscall(SYS_gettid);
	w->self.tid = self;
	w->self.stopped = true;
	/* getcontext, not a thread API: the registers of this very thread
	 * are wanted, in the same form the stopped threads' come in. */
	// cppcheck-suppress getcontextCalled
	if (getcontext(&uc) == 0)
		read_context(&w->self, &uc);
	w->self.sp = (uintptr_t)__builtin_frame_address(0);
	w->self.tp = hw_thread_pointer();
	if (list_threads(w, self) != 0 || !install()) {
		w->n = 0;
		return -1;
	}
	__atomic_store_n(&current, w, __ATOMIC_RELEASE);
	pid_t pid = getpid();
	/* A main thread that ended with pthread_exit stays listed (thread.h
	 * T11) and takes a signal it will never handle: it is gone. */
	bool main_ended = self != pid && hw_process_main_ended();
	for (size_t i = 0; i < w->n; i++) {
		hw_thread_state *t = &w->t[i];
		if (t->tid == pid && main_ended)
			t->gone = true;
		else if (refuses_signal(pid, t->tid))
			t->blocked = true;
		else if (syscall(SYS_tgkill, pid, t->tid, HW_STOP_SIGNAL) != 0)
			t->gone = true;
	}
	trace_blocked(w, pid, timeout_ms);
	for (unsigned waited = 0;; waited++) {
		size_t left = 0;
		for (size_t i = 0; i < w->n; i++)
			if (!w->t[i].gone && !w->t[i].blocked &&
			    !__atomic_load_n(&w->t[i].answered, __ATOMIC_ACQUIRE))
				left++;
		if (left == 0 || waited >= timeout_ms * 10)
			break;
		nap_us(100);
	}
	for (size_t i = 0; i < w->n; i++)
		if (!w->t[i].blocked)
			w->t[i].stopped = __atomic_load_n(&w->t[i].answered, __ATOMIC_ACQUIRE) != 0;
	return 0;
}

int hw_world_copy(void *dst, uintptr_t src, size_t n)
{
	/* This thread's id, not the process's: a main thread that ended with
	 * pthread_exit has no memory to read through (thread.h T11). */
	pid_t tid = (pid_t)syscall(SYS_gettid);
	struct iovec local = {dst, n}, remote = {(void *)src, n};
	ssize_t r = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	if (r == (ssize_t)n)
		return 0;
	return r < 0 ? errno : EFAULT;
}

void hw_world_resume(hw_world *w)
{
	__atomic_store_n(&w->release, 1, __ATOMIC_RELEASE);
	(void)syscall(SYS_futex, &w->release, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	for (unsigned i = 0; i < 20000 && __atomic_load_n(&w->inside, __ATOMIC_ACQUIRE); i++)
		nap_us(50);
	/* Handlers that answer from now on see no stop and return (SW3). */
	__atomic_store_n(&current, NULL, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < 20000 && __atomic_load_n(&w->inside, __ATOMIC_ACQUIRE); i++)
		nap_us(50);
	untrace(w);
}

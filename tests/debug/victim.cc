/* victim.cc: a program with one heap bug per scenario, for the debug
 * mode's report tests (report_test.c). Built with -O0 -g
 * -fno-omit-frame-pointer and linked against libheapward-malloc.so.
 *
 * Owns: the scenarios, named by argv[1], and the markers the test reads:
 * a comment "@name" at the end of a line names that line, so the test
 * knows which file:line each frame of a report must show without a line
 * number written twice.
 *
 * Invariants:
 *   VI1. Each scenario prints "addr 0x..." (the address the report must
 *        name) on stdout, flushed, before the bug; then the bug; then
 *        returns, so main returns 0 unless the library ends the process.
 *   VI2. Calls go through the noinline helpers make, drop, make_array,
 *        drop_sized and friends, so every stack has the same two frames at
 *        its top: the helper, then the scenario at its marked line.
 *   VI3. The leak scenarios scrub the stack below their frame before they
 *        return (as LeakSanitizer's own tests do), so no stale copy of a
 *        leaked pointer is left where the scan would find it.
 *
 * Locking: the thread scenario's worker waits on a mutex main holds.
 */
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <new>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

/* C23's, which glibc declares from 2.43 on. */
extern "C" void free_sized(void *p, size_t size) noexcept;
extern "C" void free_aligned_sized(void *p, size_t align, size_t size) noexcept;

static void say(const void *p)
{
	std::printf("addr %p\n", p);
	std::fflush(stdout);
}

extern "C" {
NOINLINE void *make(size_t n) { return std::malloc(n); /* @make */ }
NOINLINE void drop(void *p) { std::free(p); /* @drop */ }
NOINLINE int *make_array(size_t n) { return new int[n]; /* @make_array */ }
NOINLINE long *make_one() { return new long; /* @make_one */ }
NOINLINE void drop_object(long *p) { delete p; /* @drop_object */ }
NOINLINE void drop_sized(long *p, size_t n) { ::operator delete(p, n); /* @drop_sized */ }
NOINLINE void drop_c23(void *p, size_t n) { free_sized(p, n); /* @drop_c23 */ }
NOINLINE void drop_c23_aligned(void *p, size_t a, size_t n)
{
	free_aligned_sized(p, a, n); /* @drop_c23_aligned */
}

int global_int;
void *global_root;

struct node {
	node *next;
	char pad[40];
};

NOINLINE void scrub()
{
	volatile char b[16384];
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = 0;
}

NOINLINE void double_free()
{
	void *p = make(24); /* @df_alloc */
	say(p);
	drop(p); /* @df_free1 */
	drop(p); /* @df_free2 */
}

NOINLINE void double_free_large()
{
	void *p = make(200000); /* @dfl_alloc */
	say(p);
	drop(p); /* @dfl_free1 */
	drop(p); /* @dfl_free2 */
}

NOINLINE void interior()
{
	char *p = static_cast<char *>(make(64)); /* @int_alloc */
	say(p + 16);
	drop(p + 16); /* @int_free */
}

NOINLINE void misaligned()
{
	char *p = static_cast<char *>(make(64)); /* @mis_alloc */
	say(p + 1);
	drop(p + 1); /* @mis_free */
}

/* A free of a slot the program was never handed: the slot after a fresh
 * object of a class nothing else uses (3072 bytes, a class size). */
NOINLINE void never_handed_out()
{
	char *p = static_cast<char *>(make(3072)); /* @nh_alloc */
	say(p + 3072);
	drop(p + 3072); /* @nh_free */
}

NOINLINE void stack_free()
{
	int local = 0;
	say(&local);
	drop(&local); /* @stack_free */
}

NOINLINE void global_free()
{
	say(&global_int);
	drop(&global_int); /* @global_free */
}

NOINLINE void overflow()
{
	char *p = static_cast<char *>(make(13)); /* @ovf_alloc */
	say(p + 13);
	p[13] = 0; /* the canary has no zero byte */
	drop(p);   /* @ovf_free */
}

NOINLINE void mismatch()
{
	int *p = make_array(4); /* @mm_alloc */
	say(p);
	drop(p); /* @mm_free */
}

NOINLINE void mismatch_delete()
{
	long *p = static_cast<long *>(make(sizeof(long))); /* @md_alloc */
	say(p);
	drop_object(p); /* @md_free */
}

NOINLINE void sized()
{
	long *p = make_one(); /* @sz_alloc */
	say(p);
	drop_sized(p, 16); /* @sz_free */
}

NOINLINE void free_sized_wrong()
{
	void *p = make(40); /* @fs_alloc */
	say(p);
	drop_c23(p, 48); /* @fs_free */
}

NOINLINE void free_aligned_sized_wrong()
{
	void *p = make(40); /* @fa_alloc */
	say(p);
	/* Twice the largest power of two dividing p: never divides it. */
	drop_c23_aligned(p, ((uintptr_t)p & -(uintptr_t)p) * 2, 40); /* @fa_free */
}

NOINLINE void build_leak()
{
	node *a = static_cast<node *>(make(sizeof(node))); /* @leak_direct */
	a->next = static_cast<node *>(make(sizeof(node))); /* @leak_indirect */
	a->next->next = nullptr;
	say(a);
}

NOINLINE void leak()
{
	build_leak();
	scrub();
}

NOINLINE void build_other_leak()
{
	void *p = make(24); /* @leak_other */
	say(p);
}

/* build_leak's two objects and another leak, from another function: what
 * a suppression of one of them leaves. */
NOINLINE void two_leaks()
{
	build_leak();
	build_other_leak();
	scrub();
}

/* leak's objects, with standard error closed in an exit handler before
 * the leak check runs, as GNU coreutils close it (console.h CN4): by
 * close(2), or by fclose(stderr) as their close_stdout does. */
static void close_stderr() { close(2); }

static void fclose_stderr() { std::fclose(stderr); }

NOINLINE void leak_stderr_closed()
{
	leak();
	std::atexit(close_stderr);
}

NOINLINE void leak_stderr_fclosed()
{
	leak();
	std::atexit(fclose_stderr);
}

NOINLINE void build_reachable()
{
	node *a = static_cast<node *>(make(sizeof(node)));
	a->next = static_cast<node *>(make(sizeof(node)));
	a->next->next = nullptr;
	global_root = a;
	say(a);
}

NOINLINE void reachable()
{
	build_reachable();
	scrub();
}

static pthread_mutex_t hold = PTHREAD_MUTEX_INITIALIZER;
static volatile int worker_ready;

static void *worker(void *)
{
	/* Only this thread's stack points to it: the thread is alive (blocked)
	 * at exit, so it is not a leak. */
	void *volatile mine = make(777);
	worker_ready = 1;
	pthread_mutex_lock(&hold);
	drop(mine);
	return nullptr;
}

NOINLINE void leak_with_thread()
{
	pthread_t t;
	pthread_mutex_lock(&hold);
	pthread_create(&t, nullptr, worker, nullptr);
	while (!worker_ready)
		usleep(1000);
	build_leak();
	scrub();
}

static void *leak_and_keep(void *)
{
	build_reachable();
	leak();
	return nullptr;
}

/* The main thread ends with pthread_exit and a worker, the last thread,
 * leaks: the process must end when the worker does (the scavenger is not
 * the last thread, scavenger.c SG4), with the whole report (the stop does
 * not wait for the ended main thread, and the maps are the thread's own:
 * platform/file.h FI3). The alarm turns a hang into a failure. */
NOINLINE void leak_main_left()
{
	alarm(60);
	pthread_t t;
	pthread_create(&t, nullptr, leak_and_keep, nullptr);
	pthread_exit(nullptr);
}

/* A thread that blocks every signal (the stop's too) and waits in read,
 * its object held in no memory: only in a callee-saved register (r12 on
 * x86-64; in memory the address is kept scrambled). The leak check must
 * stop it through its tracer (platform/stop.h SW6) and read that register:
 * the object is not a leak, and build_leak's are. */
static int quiet_pipe[2];
static volatile int quiet_ready;
static const uintptr_t scramble = 0x5a5a5a5a5a5a5a5au;

static void *quiet_holder(void *)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, nullptr);
	volatile uintptr_t hidden = reinterpret_cast<uintptr_t>(make(555)) ^ scramble;
	quiet_ready = 1;
	char c;
#if defined(__x86_64__)
	long rc;
	__asm__ volatile("mov %[h], %%r12\n\txor %[k], %%r12\n\tsyscall\n\txor %%r12, %%r12"
			 : "=a"(rc)
			 : "a"(static_cast<long>(SYS_read)), "D"(static_cast<long>(quiet_pipe[0])),
			   "S"(&c), "d"(1L), [h] "r"(hidden), [k] "r"(scramble)
			 : "rcx", "r11", "r12", "memory");
	(void)rc;
#else
	void *volatile mine = reinterpret_cast<void *>(hidden ^ scramble);
	(void)!read(quiet_pipe[0], &c, 1);
	say(mine);
#endif
	return nullptr;
}

NOINLINE void leak_with_quiet_thread()
{
	if (pipe(quiet_pipe) != 0)
		return;
	pthread_t t;
	pthread_create(&t, nullptr, quiet_holder, nullptr);
	while (!quiet_ready)
		usleep(1000);
	usleep(20000); /* into its read */
	build_leak();
	scrub();
}

/* The same where the tracer cannot work: a seccomp filter that the
 * process (and so its tracer) inherits answers ptrace with EPERM, as in a
 * container that forbids it. The check falls back to scanning every
 * mapping and must say that it did, report or not. */
NOINLINE void leak_quiet_untraceable()
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
		std::abort();
	leak_with_quiet_thread();
}

/* How many of this process's descriptors from 100 up lead to the file
 * descriptor ref does (where the debug mode keeps its copy of standard
 * error, console.h CN4; the test's own environment may pass other
 * descriptors down). */
static int count_high(int ref)
{
	struct stat err;
	DIR *d = opendir("/proc/self/fd");
	int high = 0;
	// cppcheck-suppress readdirCalled
	for (struct dirent *e; d && fstat(ref, &err) == 0 && (e = readdir(d)) != nullptr;) {
		struct stat st;
		int fd = std::atoi(e->d_name);
		high += fd >= 100 && fstat(fd, &st) == 0 && st.st_dev == err.st_dev &&
			st.st_ino == err.st_ino;
	}
	if (d)
		closedir(d);
	return high;
}

NOINLINE void high_fds() { std::printf("high %d\n", count_high(2)); }

/* The same just after the program closed standard error by close(2) or
 * by fclose(stderr), as GNU coreutils do (the copy is taken then: CN4),
 * then again after it was put back. */
static void high_fds_after(bool by_fclose)
{
	int ref = dup(2);
	if (by_fclose)
		std::fclose(stderr);
	else
		close(2);
	int high = count_high(ref);
	dup2(ref, 2);
	close(ref);
	std::printf("high %d\n", high);
}

NOINLINE void high_fds_closed() { high_fds_after(false); }

NOINLINE void high_fds_fclosed() { high_fds_after(true); }

/* A vfork child that closes standard error before it would exec (a
 * redirection) shares this process's memory: the copy must still be
 * taken when this process closes its own (platform/console_posix.c N6). */
NOINLINE void high_fds_after_vfork()
{
	pid_t c = vfork();
	if (c == 0) {
		close(2);
		_exit(0);
	}
	int status;
	if (c < 0 || waitpid(c, &status, 0) != c)
		std::abort();
	high_fds_after(false);
}

/* A fork child, whose memory is its own, takes its own copy when it
 * closes standard error (N6's fork hook). */
NOINLINE void high_fds_fork_child()
{
	std::fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		high_fds_after(false);
		std::fflush(stdout);
		_exit(0);
	}
	int status;
	if (c < 0 || waitpid(c, &status, 0) != c)
		std::abort();
}

static thread_local void *tls_root;
static pthread_key_t key;

NOINLINE void build_tls_roots()
{
	tls_root = make(32);
	pthread_key_create(&key, nullptr);
	pthread_setspecific(key, make(64));
	say(tls_root);
}

/* Objects only thread-local storage points to (static TLS, a key's value
 * in the thread's control block): reachable. */
NOINLINE void tls_roots()
{
	build_tls_roots();
	scrub();
}

NOINLINE void continue_past()
{
	void *p = make(40);
	say(p);
	drop(p);
	drop(p); /* @cont_free2 */
	drop(p);
}

/* After a report (run with abort_on_error=0 and a log_path): how many of
 * this process's descriptors lead to a file whose name holds "report."
 * (console.h CN1: the log file is closed after each line). */
NOINLINE void fds_after_report()
{
	continue_past();
	DIR *d = opendir("/proc/self/fd");
	int logs = 0;
	// cppcheck-suppress readdirCalled
	for (struct dirent *e; d && (e = readdir(d)) != nullptr;) {
		char path[64], target[512];
		std::snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, target, sizeof target - 1);
		target[n > 0 ? n : 0] = '\0';
		logs += std::strstr(target, "report.") != nullptr;
	}
	if (d)
		closedir(d);
	std::printf("log fds %d\n", logs);
}

NOINLINE void clean()
{
	void *p = make(100);
	say(p);
	drop(p);
}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)();
	} scenarios[] = {
		{"double_free", double_free},
		{"double_free_large", double_free_large},
		{"interior", interior},
		{"misaligned", misaligned},
		{"never_handed_out", never_handed_out},
		{"stack_free", stack_free},
		{"global_free", global_free},
		{"overflow", overflow},
		{"mismatch", mismatch},
		{"mismatch_delete", mismatch_delete},
		{"sized", sized},
		{"free_sized_wrong", free_sized_wrong},
		{"free_aligned_sized_wrong", free_aligned_sized_wrong},
		{"leak", leak},
		{"two_leaks", two_leaks},
		{"leak_stderr_closed", leak_stderr_closed},
		{"leak_stderr_fclosed", leak_stderr_fclosed},
		{"reachable", reachable},
		{"leak_with_thread", leak_with_thread},
		{"leak_main_left", leak_main_left},
		{"leak_with_quiet_thread", leak_with_quiet_thread},
		{"leak_quiet_untraceable", leak_quiet_untraceable},
		{"high_fds", high_fds},
		{"high_fds_closed", high_fds_closed},
		{"high_fds_fclosed", high_fds_fclosed},
		{"high_fds_after_vfork", high_fds_after_vfork},
		{"high_fds_fork_child", high_fds_fork_child},
		{"fds_after_report", fds_after_report},
		{"tls_roots", tls_roots},
		{"continue_past", continue_past},
		{"clean", clean},
	};
	for (const auto &s : scenarios) {
		if (argc > 1 && std::strcmp(argv[1], s.name) == 0) {
			s.fn();
			return 0;
		}
	}
	std::fprintf(stderr, "victim: unknown scenario\n");
	return 2;
}

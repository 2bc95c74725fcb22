/* console_posix.c: the process's error output, its log file and abort, on
 * POSIX.
 *
 * Owns: hw_console_write and hw_process_abort, the two OS services the base
 * floor declares (src/base/base.h) for report lines and fatal errors, and
 * the log file and exit of console.h.
 *
 * Invariants:
 *   N1. hw_console_write makes only write(2) calls (on fd 2, on the log
 *       file, console.h CN1, which it may open: open and getpid, or on the
 *       kept copy of fd 2, CN4, after an fstat): no allocation and no
 *       stdio, so it is async-signal-safe; partial writes and EINTR are
 *       retried, any other error drops the rest; errno is as the caller had
 *       it.
 *   N2. hw_process_abort raises SIGABRT as abort(3) does, so the process
 *       dies of the signal whatever handler a program installed before.
 *   N3. The log file is opened for each line and closed after it (lines
 *       are few: reports and warnings), so the process holds no descriptor
 *       of ours between them: a program that lists its descriptors (a test
 *       that a child got exactly the ones it was given: CPython's
 *       test_subprocess) sees only its own, and a fork child opens its own
 *       file by its own pid. A process whose file would not open is
 *       remembered by pid (one atomic word, so a fork child tries again)
 *       and writes to standard error, after one line saying so.
 *   N4. The kept copy (CN4) is used only when a write to fd 2 fails with
 *       EBADF, and only while fstat finds on it the device and inode fd 2
 *       had when the copy was taken. It sits at descriptor 100 or above,
 *       away from the numbers programs pick for their own redirections,
 *       and is closed on exec: a program run from this one never sees it.
 *       Armed (hw_console_keep_at_close), the first close of fd 2 through
 *       hw_console_close or hw_console_fclose takes it, just before the
 *       descriptor goes; a close the C library makes by itself, or a raw
 *       system call, is not seen.
 *   N6. Only the armed process takes it: the child of a vfork shares the
 *       parent's memory until it execs, and a close(2) it makes before
 *       the exec (a redirection) must neither disarm the parent nor leave
 *       it a descriptor number that only the child had. A fork child,
 *       whose memory is its own, is made the armed process by a fork
 *       hook.
 *   N5. hw_process_on_exit_last (CN5) registers with __cxa_atexit and no
 *       module handle: a module's own handlers run when the loader calls
 *       its destructors, this one only when exit() reaches it. Called from
 *       the constructor of a library loaded at start-up, it comes before
 *       the C library registers the loader's finalizer (which calls every
 *       module's destructors), and handlers run in the reverse order of
 *       registration, so it runs after that finalizer.
 *
 * Locking: none; concurrent lines may interleave only at write(2) bounds.
 * The kept copy's descriptor and keep_armed are atomic (N4).
 */
#include "console.h"

#include "base.h"
#include "nocancel.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char log_prefix[HW_LOG_PREFIX_MAX];
static uint64_t log_failed; /* atomic: pid + 1 of a process whose file would not open (N3) */

/* The kept copy of fd 2 (N4): its descriptor (-1: none; atomic, published
 * after the other two) and the file fd 2 was when it was taken. */
static int kept_fd = -1;
static dev_t kept_dev;
static ino_t kept_ino;
/* Atomic: the copy is to be taken when standard error closes (N4), by
 * the process armed_pid names (N6). */
static int keep_armed;
static int armed_pid;
static bool fork_hook_set;

#define KEPT_FD_MIN 100

/* Writes the n bytes to fd: 0, or the errno that stopped it. */
static int write_fd(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = hw_nc_write(fd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The kept copy while it refers to the file it was taken from (N4), or -1. */
static int kept_intact(void)
{
	int fd = __atomic_load_n(&kept_fd, __ATOMIC_ACQUIRE);
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == kept_dev && st.st_ino == kept_ino
		       ? fd
		       : -1;
}

/* The descriptor a line goes to (CN1): standard error, or this process's
 * log file opened for that line (the caller closes it), or standard error
 * again when the file cannot be opened (said once per process, N3). */
static int console_fd(void)
{
	if (!log_prefix[0])
		return 2;
	uint64_t pid = (uint64_t)getpid();
	if (__atomic_load_n(&log_failed, __ATOMIC_ACQUIRE) == pid + 1)
		return 2;
	char path[HW_LOG_PREFIX_MAX + 24];
	hw_report_format(path, sizeof path, "%s.%llu", log_prefix, (unsigned long long)pid);
	int fd = hw_nc_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	if (fd >= 0)
		return fd;
	if (__atomic_exchange_n(&log_failed, pid + 1, __ATOMIC_ACQ_REL) != pid + 1) {
		char line[HW_LOG_PREFIX_MAX + 96];
		size_t n = hw_report_format(line, sizeof line,
					    "heapward: cannot open log_path file %s (errno %d): "
					    "reports go to standard error\n",
					    path, errno);
		(void)write_fd(2, line, n);
	}
	return 2;
}

void hw_console_write(const char *buf, size_t n)
{
	int saved = errno;
	int fd = console_fd();
	int kept;
	if (write_fd(fd, buf, n) == EBADF && fd == 2 && (kept = kept_intact()) >= 0)
		(void)write_fd(kept, buf, n);
	if (fd != 2)
		hw_nc_close(fd);
	errno = saved;
}

void hw_console_keep(void)
{
	__atomic_store_n(&keep_armed, 0, __ATOMIC_RELAXED);
	struct stat st;
	if (fstat(2, &st) != 0)
		return;
	int fd = fcntl(2, F_DUPFD_CLOEXEC, KEPT_FD_MIN);
	if (fd < 0)
		return;
	int old = __atomic_exchange_n(&kept_fd, -1, __ATOMIC_ACQ_REL);
	kept_dev = st.st_dev;
	kept_ino = st.st_ino;
	__atomic_store_n(&kept_fd, fd, __ATOMIC_RELEASE);
	if (old >= 0)
		hw_nc_close(old);
}

/* N6: a fork child is the process that closes its standard error. */
static void fork_child(void) { __atomic_store_n(&armed_pid, (int)getpid(), __ATOMIC_RELAXED); }

void hw_console_keep_at_close(void)
{
	int old = __atomic_exchange_n(&kept_fd, -1, __ATOMIC_ACQ_REL);
	if (old >= 0)
		hw_nc_close(old);
	/* Called at start-up (debug.c DM7), before any thread. */
	if (!fork_hook_set)
		fork_hook_set = hw_fork_hooks(NULL, NULL, fork_child) == 0;
	__atomic_store_n(&armed_pid, (int)getpid(), __ATOMIC_RELAXED);
	__atomic_store_n(&keep_armed, 1, __ATOMIC_RELEASE);
}

/* CN4: standard error is about to close. */
static void closing(int fd)
{
	if (fd == 2 && __atomic_load_n(&keep_armed, __ATOMIC_ACQUIRE) &&
	    (int)getpid() == __atomic_load_n(&armed_pid, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&keep_armed, 0, __ATOMIC_ACQ_REL))
		hw_console_keep();
}

#if HW_LIBC_CLOSE
/* glibc's names for its own close and fclose, which the override
 * library's cannot shadow. */
int __close(int fd);
int _IO_fclose(FILE *f);

int hw_console_close(int fd)
{
	closing(fd);
	return __close(fd);
}

int hw_console_fclose(FILE *f)
{
	if (f)
		closing(fileno(f));
	return _IO_fclose(f);
}
#endif

bool hw_console_log_path(const char *prefix)
{
	size_t n = strlen(prefix);
	if (n >= sizeof log_prefix)
		return false;
	memcpy(log_prefix, prefix, n + 1);
	__atomic_store_n(&log_failed, 0, __ATOMIC_RELEASE);
	return true;
}

void hw_process_abort(void)
{
	abort();
}

int hw_process_id(void) { return (int)getpid(); }

void hw_process_exit(int status)
{
	fflush(NULL);
	_exit(status);
}

/* Not declared by glibc's headers; the C++ ABI's, which every ELF C
 * library provides. */
int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);

/* Set at start-up, in a constructor, before any other thread exists. */
static void (*exit_last)(void);
static bool exit_last_registered;

static void run_exit_last(void *arg)
{
	(void)arg;
	if (exit_last)
		exit_last();
}

bool hw_process_on_exit_last(void (*fn)(void))
{
	if (!exit_last_registered)
		exit_last_registered = __cxa_atexit(run_exit_last, NULL, NULL) == 0;
	if (exit_last_registered)
		exit_last = fn;
	return exit_last_registered;
}

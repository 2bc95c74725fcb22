/* nocancel.h: the system calls the POSIX platform makes that POSIX lists as
 * thread cancellation points, made so that they are not.
 *
 * Owns: hw_nc_open, hw_nc_read, hw_nc_write, hw_nc_close, hw_nc_nanosleep,
 * hw_nc_poll, hw_nc_waitpid, hw_nc_recv and hw_nc_send: each is the call of
 * the same name made as a raw system call (syscall(2)), which glibc does not
 * make a cancellation point: same arguments, same result, errno set on
 * failure.
 *
 * Why: malloc, free and the rest of the allocation API must not be
 * cancellation points (POSIX allows none in them; glibc's have none). The
 * platform's calls are reached from inside them: the debug mode reads the
 * thread's mappings on its first stack capture, a cache waits with a sleep,
 * a report writes to the console, the stop signal's handler sleeps in
 * whatever thread it interrupts. Through the C library's wrappers, a
 * thread with a cancel pending would be cancelled there: unwound from
 * inside the allocator with the object half made, a lock held or a stop
 * handler's count never given back.
 *
 * Invariants:
 *   NC1. No platform file calls open, read, write, close, nanosleep, poll,
 *        waitpid, recv or send of the C library (ci/job-lint.sh's platform
 *        boundary check greps for them); they call these.
 *
 * Locking: none.
 */
#ifndef HW_PLATFORM_NOCANCEL_H
#define HW_PLATFORM_NOCANCEL_H

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static inline int hw_nc_open(const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static inline ssize_t hw_nc_read(int fd, void *buf, size_t n)
{
	return (ssize_t)syscall(SYS_read, fd, buf, n);
}

static inline ssize_t hw_nc_write(int fd, const void *buf, size_t n)
{
	return (ssize_t)syscall(SYS_write, fd, buf, n);
}

static inline int hw_nc_close(int fd) { return (int)syscall(SYS_close, fd); }

static inline int hw_nc_nanosleep(const struct timespec *req, struct timespec *rem)
{
	return (int)syscall(SYS_nanosleep, req, rem);
}

/* ppoll: the call every Linux architecture has (aarch64 has no poll). */
static inline int hw_nc_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
	return (int)syscall(SYS_ppoll, fds, n, timeout_ms < 0 ? NULL : &ts, NULL, (size_t)8);
}

static inline pid_t hw_nc_waitpid(pid_t pid, int *status, int options)
{
	return (pid_t)syscall(SYS_wait4, pid, status, options, NULL);
}

static inline ssize_t hw_nc_recv(int fd, void *buf, size_t n, int flags)
{
	return (ssize_t)syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
}

static inline ssize_t hw_nc_send(int fd, const void *buf, size_t n, int flags)
{
	return (ssize_t)syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
}

#endif

/* console_posix.c: the process's error output and abort, on POSIX.
 *
 * Owns: hw_console_write and hw_process_abort, the two OS services the base
 * floor declares (src/base/base.h) for report lines and fatal errors.
 *
 * Invariants:
 *   N1. hw_console_write makes only write(2) calls on fd 2: no allocation and
 *       no stdio, so it is async-signal-safe; partial writes and EINTR are
 *       retried, any other error drops the rest; errno is as the caller had
 *       it.
 *   N2. hw_process_abort raises SIGABRT as abort(3) does, so the process
 *       dies of the signal whatever handler a program installed before.
 *
 * Locking: none; concurrent lines may interleave only at write(2) bounds.
 */
#include "base.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

void hw_console_write(const char *buf, size_t n)
{
	int saved = errno;
	while (n > 0) {
		ssize_t w = write(2, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		buf += w;
		n -= (size_t)w;
	}
	errno = saved;
}

void hw_process_abort(void)
{
	abort();
}

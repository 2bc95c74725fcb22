/* file_posix.c: file.h on POSIX: open, read and close.
 *
 * Owns: hw_file_read (FI1, FI2 of file.h). A read interrupted by a signal
 * is retried; the descriptor is opened close-on-exec, so a concurrent fork
 * and exec in another thread does not inherit it.
 *
 * Locking: none.
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

int hw_file_read(const char *path, char *buf, size_t cap, size_t *len)
{
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = 0;
	for (;;) {
		char probe;
		/* Once buf is full, one more byte tells a file of exactly cap
		 * bytes from a longer one. */
		bool full = *len == cap;
		ssize_t r = full ? read(fd, &probe, 1) : read(fd, buf + *len, cap - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = errno;
		else if (r > 0 && full)
			rc = EFBIG;
		if (r <= 0 || full)
			break;
		*len += (size_t)r;
	}
	close(fd);
	return rc;
}

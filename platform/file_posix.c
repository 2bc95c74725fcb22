/* file_posix.c: file.h on POSIX: open, read and close.
 *
 * Owns: hw_file_read (FI1, FI2 of file.h), hw_file_proc_path (FI3) and
 * hw_file_number (FI4). A
 * read interrupted by a signal is retried; the descriptor is opened
 * close-on-exec, so a concurrent fork and exec in another thread does not
 * inherit it. The /proc directory is chosen once: the kernel does not
 * change.
 *
 * Locking: none.
 */
#include "file.h"

#include "nocancel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

int hw_file_read(const char *path, char *buf, size_t cap, size_t *len)
{
	*len = 0;
	int fd = hw_nc_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int rc = 0;
	for (;;) {
		char probe;
		/* Once buf is full, one more byte tells a file of exactly cap
		 * bytes from a longer one. */
		bool full = *len == cap;
		ssize_t r =
			full ? hw_nc_read(fd, &probe, 1) : hw_nc_read(fd, buf + *len, cap - *len);
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
	hw_nc_close(fd);
	return rc;
}

bool hw_file_proc_path(const char *name, char *out, size_t cap)
{
	/* 0 not looked yet, 1 thread-self, 2 self (racing first calls give the
	 * same answer). */
	static int which;
	int w = __atomic_load_n(&which, __ATOMIC_RELAXED);
	if (w == 0) {
		int saved = errno;
		w = access("/proc/thread-self/maps", R_OK) == 0 ? 1 : 2;
		errno = saved;
		__atomic_store_n(&which, w, __ATOMIC_RELAXED);
	}
	const char *dir = w == 1 ? "/proc/thread-self/" : "/proc/self/";
	size_t d = strlen(dir), n = strlen(name);
	if (d + n >= cap)
		return false;
	memcpy(out, dir, d);
	memcpy(out + d, name, n + 1);
	return true;
}

const char *hw_file_number(const char *s, unsigned base, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = s;
	for (;; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return NULL;
		v = v * base + d;
	}
	if (s == start)
		return NULL;
	*out = v;
	return s;
}

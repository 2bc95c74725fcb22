/* child.h: checks inside a test's child process, and reading what a child
 * left in a file (POSIX tests only).
 *
 * Owns: CHILD_CHECK, which ends a child with status 1 and the failed
 * condition on standard error (the parent reads both), and
 * hw_test_slurp, which reads a whole (small) file into a buffer.
 *
 * Locking: none; a child's checks run in the thread that failed.
 */
#ifndef HW_TESTS_CHILD_H
#define HW_TESTS_CHILD_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static inline void hw_child_fail(const char *what)
{
	fprintf(stderr, "child check failed: %s\n", what);
	_exit(1);
}

#define CHILD_CHECK(c)                     \
	do {                               \
		if (!(c))                  \
			hw_child_fail(#c); \
	} while (0)

/* path's contents into buf, NUL-terminated and cut to len - 1 bytes; empty
 * when the file cannot be opened. */
static inline void hw_test_slurp(const char *path, char *buf, size_t len)
{
	buf[0] = '\0';
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	size_t got = 0;
	ssize_t n;
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
}

#endif

/* test_console.c: the copy of standard error kept for when a program closes
 * its own (platform/console.h CN4, console_posix.c N4), on POSIX.
 *
 * Owns: children (hw_trap_child, whose fd 2 is a pipe to the parent) that
 * keep a copy, then close fd 2 or leave it open, or also put a file of
 * their own under every number the copy could have, and write a line: the
 * line must reach the parent exactly once, or, in the last case, nowhere.
 *
 * Locking: single-threaded.
 */
#include "base.h"
#include "check.h"
#include "console.h"
#include "ptest.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define STRAY "hw_console_test.tmp"

/* The kept copy's number: the one descriptor from 100 up that is open. */
static int kept_number(void)
{
	for (int fd = 100; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			return fd;
	return -1;
}

static void write_open(void *arg)
{
	(void)arg;
	hw_console_keep();
	hw_report_write("to stderr\n");
}

static void write_closed(void *arg)
{
	(void)arg;
	hw_console_keep();
	int kept = kept_number();
	/* Closed on exec (N4): a program run from this one never sees it. */
	if (kept < 0 || !(fcntl(kept, F_GETFD) & FD_CLOEXEC))
		_exit(3);
	close(2);
	hw_report_write("after close %d\n", 2);
}

/* fd 2 closed and every number from 100 to 199 (the copy's among them) a
 * file of the child's: the line must not go into it. */
static void write_reused(void *arg)
{
	(void)arg;
	hw_console_keep();
	int kept = kept_number();
	if (kept < 100 || kept >= 200)
		_exit(3);
	close(2);
	int f = open(STRAY, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (f < 0)
		_exit(4);
	for (int fd = 100; fd < 200; fd++)
		if (dup2(f, fd) != fd)
			_exit(4);
	close(f);
	hw_report_write("stray line\n");
	struct stat st;
	_exit(fstat(100, &st) == 0 && st.st_size == 0 ? 0 : 5);
}

/* fn, in a child, exits 0, and its fd 2 (a pipe) received exactly want. */
static void child_wrote(void (*fn)(void *), const char *want)
{
	char err[256];
	hw_child_status st;
	REQUIRE(hw_trap_child(fn, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "%d %d: \"%s\"", st.signo, st.exit_code, err);
	EXPECT(strcmp(err, want) == 0, "\"%s\"", err);
}

static void test_open_stderr_takes_the_line(void) { child_wrote(write_open, "to stderr\n"); }

static void test_closed_stderr_uses_the_copy(void)
{
	child_wrote(write_closed, "after close 2\n");
}

static void test_reused_number_gets_nothing(void)
{
	child_wrote(write_reused, "");
	remove(STRAY);
}

HW_TEST_MAIN(T(test_open_stderr_takes_the_line), T(test_closed_stderr_uses_the_copy),
	     T(test_reused_number_gets_nothing))

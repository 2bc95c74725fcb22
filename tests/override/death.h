/* death.h: death tests for the override's tests: run a function in a child
 * process and check how it died and what it wrote to stderr.
 *
 * Owns: hw_death (fork, capture, wait) and its result.
 *
 * Invariants:
 *   DT1. The parent allocates nothing between fork and wait, and the child
 *        ends with _exit(0) when fn returns, so "returned" and "died" are
 *        told apart exactly.
 *
 * Locking: single-threaded use only.
 */
#ifndef HW_TESTS_DEATH_H
#define HW_TESTS_DEATH_H

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct hw_death {
	int signal;     /* the signal that ended the child, 0 if it exited */
	int status;     /* its exit status when it exited */
	char err[4096]; /* what it wrote to stderr (truncated, NUL-ended) */
} hw_death;

/* Runs fn in a child with stderr on a pipe; fills *d. Returns 0, or -1 when
 * the child could not be started. */
static inline int hw_death_run(void (*fn)(void), hw_death *d)
{
	int fds[2];
	memset(d, 0, sizeof *d);
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		fn();
		_exit(0);
	}
	close(fds[1]);
	size_t got = 0;
	ssize_t n;
	while ((n = read(fds[0], d->err + got, sizeof d->err - 1 - got)) > 0)
		got += (size_t)n;
	close(fds[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	d->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	d->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return 0;
}

#endif

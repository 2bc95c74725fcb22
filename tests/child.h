/* child.h: checks inside a test's child process, and reading what a child
 * left in a file (POSIX tests only).
 *
 * Owns: CHILD_CHECK, which ends a child with status 1 and the failed
 * condition on standard error (the parent reads both), hw_test_slurp,
 * which reads a whole (small) file into a buffer, hw_test_count, a
 * string's occurrences in one such text, hw_test_spawn and
 * hw_test_wait, a child started with its output on given descriptors and
 * how it ended, hw_test_exec, which runs a program in a child with its
 * output in two files and reads them back, and hw_test_traceable, whether
 * a child may trace this process.
 *
 * Locking: none; a child's checks run in the thread that failed.
 */
#ifndef HW_TESTS_CHILD_H
#define HW_TESTS_CHILD_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

/* Whether a child of this process may trace it (the leak check's tracer,
 * platform/stop.h SW6): not traced already (a debugger, strace), and Yama,
 * where present, at 1 or below (the tracer is named with PR_SET_PTRACER). */
static inline bool hw_test_traceable(void)
{
	char line[256];
	bool traced = true;
	FILE *f = fopen("/proc/self/status", "r");
	if (f) {
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "TracerPid:", 10) == 0)
				traced = atoi(line + 10) != 0;
		fclose(f);
	}
	int scope = 0;
	f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = 3;
		fclose(f);
	}
	return !traced && scope <= 1;
}

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

/* How many times needle occurs in hay (a child's output), overlaps
 * included. */
static inline size_t hw_test_count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* How a child ended, and what it wrote. */
typedef struct hw_test_ended {
	int pid;
	int signal; /* the signal that killed it, 0 when it exited */
	int status; /* its exit status, -1 when a signal killed it */
} hw_test_ended;

/* Waits for child pid and says how it ended in *end; false when the wait
 * failed. */
static inline bool hw_test_wait(pid_t pid, hw_test_ended *end)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return false;
	end->pid = pid;
	end->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	end->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return true;
}

/* Forks a child whose standard output and error are the descriptors out
 * and err and runs exec(arg) in it (returning only on failure: the child
 * then exits 127; 126 when the descriptors cannot be set). Returns its
 * pid, or -1 when the fork failed. */
static inline pid_t hw_test_spawn(void (*exec)(void *), void *arg, int out, int err)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		exec(arg);
		_exit(127);
	}
	return pid;
}

/* Forks a child whose standard output and error go to the files dir/out
 * and dir/err (truncated), and runs exec(arg) in it: exec sets the child's
 * environment and execs (returning only on failure: the child then exits
 * 127). Waits for it; fills *end and reads the two files into obuf and
 * ebuf (hw_test_slurp). false when the files cannot be opened, the fork or
 * the wait failed, or dir is too long. */
static inline bool hw_test_exec(void (*exec)(void *), void *arg, const char *dir,
				hw_test_ended *end, char *obuf, size_t olen, char *ebuf,
				size_t elen)
{
	char out[256], err[256];
	if (snprintf(out, sizeof out, "%s/out", dir) >= (int)sizeof out ||
	    snprintf(err, sizeof err, "%s/err", dir) >= (int)sizeof err)
		return false;
	int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	pid_t pid = o >= 0 && e >= 0 ? hw_test_spawn(exec, arg, o, e) : -1;
	if (o >= 0)
		close(o);
	if (e >= 0)
		close(e);
	if (pid < 0 || !hw_test_wait(pid, end))
		return false;
	hw_test_slurp(out, obuf, olen);
	hw_test_slurp(err, ebuf, elen);
	return true;
}

#endif

/* proc_measure.c: runs one command and prints what it cost: wall time, CPU
 * time and peak resident set, for bench/realprog.sh.
 *
 * Owns: one measurement of a process tree. Like /usr/bin/time, but with
 * microsecond wall time (GNU time prints hundredths, too coarse for a
 * 0.3 s workload compared at 1.0x).
 *
 * Invariants:
 *   PM1. Wall time runs from just before fork to the return of wait4 for the
 *        child (CLOCK_MONOTONIC); the CPU time (user + system) and the peak
 *        RSS are the child's rusage from wait4, which covers the child and
 *        every descendant it waited for. ru_maxrss is the largest resident
 *        set of any one of those processes (for gcc: of cc1, the largest),
 *        not their sum.
 *   PM2. The command's standard streams are this program's: the caller
 *        redirects them. The measurement goes to the file named by -o, one
 *        line "wall_s cpu_s maxrss_kib status" (status is the exit code, or
 *        128 + the signal number), so the command's output is never mixed
 *        with it.
 *
 * Usage: proc_measure -o FILE -- COMMAND [ARG ...]
 * Exit status: the command's (as in PM2); 125 when it could not be run.
 *
 * Locking: none; single-threaded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int main(int argc, char **argv)
{
	if (argc < 5 || strcmp(argv[1], "-o") != 0 || strcmp(argv[3], "--") != 0) {
		fprintf(stderr, "usage: proc_measure -o FILE -- COMMAND [ARG ...]\n");
		return 125;
	}
	const char *out = argv[2];
	char **cmd = argv + 4;
	double t0 = now_s();
	pid_t pid = fork();
	if (pid < 0) {
		perror("proc_measure: fork");
		return 125;
	}
	if (pid == 0) {
		execvp(cmd[0], cmd);
		fprintf(stderr, "proc_measure: %s: %s\n", cmd[0], strerror(errno));
		_exit(125);
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("proc_measure: wait4");
			return 125;
		}
	double wall = now_s() - t0;
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	FILE *f = fopen(out, "w");
	if (!f) {
		fprintf(stderr, "proc_measure: %s: %s\n", out, strerror(errno));
		return 125;
	}
	fprintf(f, "%.6f %.6f %ld %d\n", wall, tv_s(ru.ru_utime) + tv_s(ru.ru_stime),
		ru.ru_maxrss, code);
	if (fclose(f) != 0) {
		fprintf(stderr, "proc_measure: %s: %s\n", out, strerror(errno));
		return 125;
	}
	return code;
}

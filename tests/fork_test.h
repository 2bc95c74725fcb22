/* fork_test.h: running a test body in a forked child (POSIX tests only).
 *
 * Owns: hw_test_in_child, and the note on HW_TEST_ASAN (sanitizers.h),
 * which the fork tests read to stay clear of AddressSanitizer's fork
 * hazard. Kept out of check.h so that every other test builds where there
 * is no fork (Windows).
 *
 * Locking: single-threaded use only (the child may start threads).
 */
#ifndef HW_TESTS_FORK_TEST_H
#define HW_TESTS_FORK_TEST_H

#include "check.h"

#include <sys/wait.h>
#include <unistd.h>

/* Runs fn in a forked child under an alarm of `seconds`, so a hang fails in
 * seconds instead of stalling ctest; the child exits 1 when one of its
 * checks failed, else 0. Returns the child's wait status, or -1 when it
 * could not be forked or waited for. */
static inline int hw_test_in_child(void (*fn)(void), unsigned seconds)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(seconds);
		fn();
		fflush(NULL);
		_exit(hw_t_fails != 0 ? 1 : 0);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* HW_TEST_ASAN: built with AddressSanitizer. Its allocator is not fork-safe
 * for a thread started in the child of a multi-threaded parent (seen here,
 * clang 14: the child's new thread hangs in ASan's allocator, reached from
 * pthread_getattr_np in ASan's own thread start-up, about once in a hundred
 * forks). Fork tests skip starting threads in such children under ASan; the
 * other jobs (gcc, TSan) keep them. */
#include "sanitizers.h"

#endif

/* check.h: the test harness every unit test uses.
 *
 * Owns: EXPECT (records a failure and continues), REQUIRE (records and stops
 * the current test), TEST registration by a main that runs each test once, and
 * the closing line "N passed, N failed" that CI reads.
 *
 * Invariants:
 *   C1. A test passes only if it ran at least one EXPECT/REQUIRE and none
 *       failed; a test that checks nothing counts as failed.
 *   C2. The process exits 0 exactly when no test failed.
 *
 * Locking: single-threaded use only.
 */
#ifndef HW_TESTS_CHECK_H
#define HW_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct hw_test {
	const char *name;
	void (*fn)(void);
} hw_test;

static unsigned hw_t_checks, hw_t_fails;

#define EXPECT(cond, ...)                                                       \
	do {                                                                    \
		hw_t_checks++;                                                  \
		if (!(cond)) {                                                  \
			hw_t_fails++;                                           \
			fprintf(stderr, "%s:%d: EXPECT(%s) failed: ", __FILE__, \
				__LINE__, #cond);                               \
			fprintf(stderr, " " __VA_ARGS__);                       \
			fputc('\n', stderr);                                    \
		}                                                               \
	} while (0)

#define REQUIRE(cond, ...)                          \
	do {                                        \
		unsigned hw_t_before_ = hw_t_fails; \
		EXPECT(cond, __VA_ARGS__);          \
		if (hw_t_fails != hw_t_before_)     \
			return;                     \
	} while (0)

/* Runs the tests named on the command line (all when none) and prints the
 * closing line. */
static inline int hw_test_main(const hw_test *tests, size_t n, int argc, char **argv)
{
	unsigned passed = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		int wanted = argc < 2;
		for (int a = 1; a < argc; a++)
			wanted |= strcmp(argv[a], tests[i].name) == 0;
		if (!wanted)
			continue;
		hw_t_checks = 0;
		hw_t_fails = 0;
		tests[i].fn();
		int ok = hw_t_fails == 0 && hw_t_checks > 0;
		if (hw_t_checks == 0)
			fprintf(stderr, "%s: checked nothing\n", tests[i].name);
		printf("%s %s (%u checks)\n", ok ? "PASS" : "FAIL", tests[i].name, hw_t_checks);
		ok ? passed++ : failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define HW_TEST_MAIN(...)                                                                  \
	int main(int argc, char **argv)                                                    \
	{                                                                                  \
		static const hw_test tests_[] = {__VA_ARGS__};                             \
		return hw_test_main(tests_, sizeof tests_ / sizeof tests_[0], argc, argv); \
	}
#define T(fn)           \
	{               \
#fn, fn \
	}

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
#if defined(__SANITIZE_ADDRESS__)
#define HW_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HW_TEST_ASAN 1
#endif
#endif
#ifndef HW_TEST_ASAN
#define HW_TEST_ASAN 0
#endif

#endif

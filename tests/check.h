/* check.h: the test harness every unit test uses.
 *
 * Owns: EXPECT (records a failure and continues), REQUIRE (records and stops
 * the current test), TEST registration by a main that runs each test once, and
 * the closing line "N passed, N failed" that CI reads.
 *
 * Command line: the names of the tests to run (all when none), and
 * `--skip NAME` for each test not to run (the build skips the tests that
 * need what an OS lacks this way: fork, /proc, guard regions on Windows).
 * A test registered with CHILD instead of T runs only when named: it is the
 * body of a child process (hw_trap_rerun runs the program again with its
 * name), typically one that must die. A child prints no result line (its
 * parent judges how it ended) and fails only when one of its checks does.
 *
 * Invariants:
 *   C1. A test passes only if it ran at least one EXPECT/REQUIRE and none
 *       failed; a test that checks nothing counts as failed (a child's
 *       checks are optional).
 *   C2. The process exits 0 exactly when no test failed, and every name on
 *       the command line names a test (a misspelt skip fails the run).
 *
 * Locking: single-threaded use only.
 */
#ifndef HW_TESTS_CHECK_H
#define HW_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hw_test {
	const char *name;
	void (*fn)(void);
	int child; /* run only when named (CHILD) */
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

/* Whether name is one of the tests (C2). */
static inline int hw_test_known(const hw_test *tests, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tests[i].name, name) == 0)
			return 1;
	fprintf(stderr, "no test named %s\n", name);
	return 0;
}

/* Runs the tests the command line asks for (see above) and prints the
 * closing line. */
static inline int hw_test_main(const hw_test *tests, size_t n, int argc, char **argv)
{
	unsigned passed = 0, failed = 0;
	int named = 0;
	for (int a = 1; a < argc; a++) {
		int skip = strcmp(argv[a], "--skip") == 0 && a + 1 < argc;
		if (!hw_test_known(tests, n, argv[a + skip]))
			return 1;
		named += !skip;
		a += skip;
	}
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		int wanted = !named && !tests[i].child, skipped = 0;
		for (int a = 1; a < argc; a++) {
			if (strcmp(argv[a], "--skip") == 0 && a + 1 < argc)
				skipped |= strcmp(argv[++a], tests[i].name) == 0;
			else
				wanted |= strcmp(argv[a], tests[i].name) == 0;
		}
		if (!tests[i].child && (wanted || skipped))
			any = 1; /* a run of children only prints nothing */
		if (skipped && !tests[i].child)
			printf("SKIP %s\n", tests[i].name);
		if (!wanted || skipped)
			continue;
		hw_t_checks = 0;
		hw_t_fails = 0;
		tests[i].fn();
		if (tests[i].child) {
			failed += hw_t_fails != 0;
			continue;
		}
		int ok = hw_t_fails == 0 && hw_t_checks > 0;
		if (hw_t_checks == 0)
			fprintf(stderr, "%s: checked nothing\n", tests[i].name);
		printf("%s %s (%u checks)\n", ok ? "PASS" : "FAIL", tests[i].name, hw_t_checks);
		ok ? passed++ : failed++;
	}
	if (any)
		printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define HW_TEST_MAIN(...)                                                                  \
	int main(int argc, char **argv)                                                    \
	{                                                                                  \
		static const hw_test tests_[] = {__VA_ARGS__};                             \
		return hw_test_main(tests_, sizeof tests_ / sizeof tests_[0], argc, argv); \
	}
#define T(fn)              \
	{                  \
#fn, fn, 0 \
	}
#define CHILD(fn)          \
	{                  \
#fn, fn, 1 \
	}

#endif

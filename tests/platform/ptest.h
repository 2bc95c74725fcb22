/* ptest.h: small helpers shared by the platform tests.
 *
 * Owns: substring counting for matching captured stderr, a zero check for
 * pages, and die_with (run a function that must abort in a child and check
 * its fixed message).
 *
 * Locking: single-threaded tests only.
 */
#ifndef HW_TESTS_PTEST_H
#define HW_TESTS_PTEST_H

#include "check.h"
#include "trap.h"

#include <signal.h>
#include <string.h>

/* Whether the n bytes at p are all zero. */
static inline bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static inline unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;
	size_t len = strlen(needle);
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += len)
		n++;
	return n;
}

/* Runs fn(arg) in a child; true when it died of SIGABRT and its stderr
 * starts with `prefix`. The captured stderr is left in err. */
static inline bool dies_with(void (*fn)(void *), void *arg, const char *prefix, char *err,
			     size_t errlen)
{
	hw_child_status st;
	if (hw_trap_child(fn, arg, err, errlen, &st) != 0)
		return false;
	return st.signo == SIGABRT && strncmp(err, prefix, strlen(prefix)) == 0;
}

#endif

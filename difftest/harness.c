/* harness.c: the failure banner and the fail hook (harness.h HN1, HN3).
 *
 * Invariants: HN1-HN3 of harness.h.
 * Locking: none.
 */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void hw_harness_banner(const char *target, const char *what, const char *fmt, ...)
{
	const char *sep = target ? ": " : "";
	target = target ? target : "";
	fflush(stdout);
	fprintf(stderr, "==%d==ERROR: heapward-difftest: %s%s%s\n", (int)getpid(), target, sep,
		what);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "SUMMARY: heapward-difftest: %s%s%s\n", target, sep, what);
	fflush(stderr);
}

void hw_harness_failf(const char *target, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	hw_harness_banner(target, what, "%s", "");
	abort();
}

static void default_fail(const char *what)
{
	(void)what;
	abort();
}

static hw_harness_fail_fn fail_hook = default_fail;

void hw_harness_set_fail_hook(hw_harness_fail_fn fn) { fail_hook = fn ? fn : default_fail; }

void hw_harness_fail(const char *what) { fail_hook(what); }

bool hw_harness_trace_on(int opt)
{
	static int env = -1;
	if (opt >= 0)
		return opt != 0;
	if (env < 0) {
		const char *e = getenv("HW_FUZZ_TRACE");
		env = e != NULL && e[0] != '\0' && e[0] != '0';
	}
	return env != 0;
}

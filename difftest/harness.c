/* harness.c: the failure banner (harness.h HN1).
 *
 * Invariants: HN1-HN2 of harness.h.
 * Locking: none.
 */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
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

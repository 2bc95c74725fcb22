/* harness.h: what every checker of the harness shares, whatever it checks:
 * the differential driver (driver.h) and the fuzz targets that bring their
 * own model (fuzz/platform_fuzzer.c, fuzz/pagebits_fuzzer.c), and the next
 * model's driver too.
 *
 * Owns: the failure banner, in the layout sanitizers print so that
 * libFuzzer, ClusterFuzz and people read a failed check like any other
 * crash; and the one 64-bit mixing function (splitmix64's finalizer) behind
 * the harness's contents stamps, random fills and fixed-seed generators.
 *
 * Invariants:
 *   HN1. A banner is "==PID==ERROR: heapward-difftest: [TARGET: ]WHAT", the
 *        detail lines, then "SUMMARY: heapward-difftest: [TARGET: ]WHAT",
 *        written to stderr after stdout is flushed, and stderr flushed: the
 *        first and last lines are what tools match on.
 *   HN2. hw_harness_mix64 and hw_harness_rand are pure functions of their
 *        input (and *state), the same on every machine: stored inputs mean
 *        the same thing forever, and the committed generator outputs
 *        (make_seeds --random) stay byte-identical.
 *
 * Locking: none; the banner writes with stdio, one failure at a time.
 */
#ifndef HW_DIFFTEST_HARNESS_H
#define HW_DIFFTEST_HARNESS_H

#include "base.h"

#include <stdint.h>

/* Prints the banner (HN1). target may be NULL (the heap driver's own); the
 * detail lines come from fmt, each starting with four spaces and ending
 * with a newline. Does not abort: the caller decides. */
void hw_harness_banner(const char *target, const char *what, const char *fmt, ...)
	HW_PRINTF(3, 4);

/* splitmix64's finalizer: a bijection of 64-bit words that spreads every
 * input bit over the output. */
static inline uint64_t hw_harness_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The next number of the generator whose state is *state. */
static inline uint64_t hw_harness_rand(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ull;
	return hw_harness_mix64(*state);
}

#endif

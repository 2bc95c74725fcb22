/* harness.h: what every checker of the harness shares, whatever it checks:
 * the differential drivers (driver.h for the heap, malloc_driver.h for the
 * malloc layer) and the fuzz targets that bring their own model
 * (fuzz/platform_fuzzer.c, fuzz/pagebits_fuzzer.c).
 *
 * Owns: the failure banner, in the layout sanitizers print so that
 * libFuzzer, ClusterFuzz and people read a failed check like any other
 * crash; the fail hook the drivers call after it; whether to trace; and the one 64-bit mixing
 * function (splitmix64's finalizer) behind the harness's contents stamps,
 * random fills and fixed-seed generators.
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
 *   HN3. After its banner a driver calls hw_harness_fail, which aborts
 *        unless a test set a hook that returns (then the driver stops its
 *        run and cleans up). One hook serves every driver of the process.
 *
 * Locking: none; the banner writes with stdio, one failure at a time; the
 * hook is set while no run is going.
 */
#ifndef HW_DIFFTEST_HARNESS_H
#define HW_DIFFTEST_HARNESS_H

#include "base.h"

#include <stdbool.h>
#include <stdint.h>

/* Prints the banner (HN1). target may be NULL (the heap driver's own); the
 * detail lines come from fmt, each starting with four spaces and ending
 * with a newline. Does not abort: the caller decides. */
void hw_harness_banner(const char *target, const char *what, const char *fmt, ...)
	HW_PRINTF(3, 4);

/* A fuzz target's failed check (fuzz.h FZ2): the banner for target with the
 * formatted line as its WHAT and no detail line, then abort(). */
HW_NORETURN void hw_harness_failf(const char *target, const char *fmt, ...) HW_PRINTF(2, 3);

/* Called with the first line of a failed run (HN3); NULL restores the
 * default, abort(). */
typedef void (*hw_harness_fail_fn)(const char *what);
void hw_harness_set_fail_hook(hw_harness_fail_fn fn);
void hw_harness_fail(const char *what);

/* Whether a run traces its ops as C: opt 1 yes, 0 no, -1 as the
 * environment's HW_FUZZ_TRACE says (set, not empty, not "0"; read once:
 * it does not change between inputs). */
bool hw_harness_trace_on(int opt);

/* splitmix64's step (base.h's hw_mix64). */
static inline uint64_t hw_harness_mix64(uint64_t x) { return hw_mix64(x); }

/* The next number of the generator whose state is *state. */
static inline uint64_t hw_harness_rand(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ull;
	return hw_harness_mix64(*state);
}

#endif

/* driver.h: the differential driver shared by the heap fuzz targets and the
 * difftest.
 *
 * Owns: running one decoded op stream (ops.h) against a fresh heap on a
 * fresh platform (the checked simulator or a private Linux instance) and the
 * reference model (model.h), checking after every op: results and errno,
 * alignment, contents, the per-page state of the pages the op changed, stats
 * against the model, the simulator's Ready bytes and platform call counts;
 * and in deep checks (after every op that calls into the heap with
 * deep_every = 1, else on a budget, see compare.c) every mapped page and
 * hw_heap_validate, which also runs at the end of every input. Also the
 * fixed-seed op generator the difftest runs.
 *
 * The implementation is split by concern (driver.c the run loop, compare.c
 * the comparisons, stamps.c the contents stamps, heap_ops.c the op
 * handlers); docs/difftest.md says which parts a second model (the malloc
 * layer's) reuses and which files it adds.
 *
 * Invariants:
 *   D1. A run owns everything it creates and releases all of it before it
 *       returns, whether or not a check failed; nothing survives between
 *       inputs, so an input's outcome depends on its bytes alone. The one
 *       exception is the simulator instance, kept for the next run: each run
 *       resets it (hw_sim_reset, S6 of sim.h) to exactly the state a new
 *       instance of its configuration has, so an input behaves the same
 *       first or after a thousand others (difftest_reuse checks it).
 *   D2. A failed check prints "==PID==ERROR: heapward-difftest: <what>"
 *       with the op index and details, then calls the fail hook (abort by
 *       default, so libFuzzer and ClusterFuzz see a crash).
 *   D3. Inputs are bounded: at most HW_OPS_MAX_RECORDS ops, one allocation
 *       or grow of at most 4 MiB, a heap of at most 256 MiB (15 arenas).
 *
 * Locking: one run at a time per process (the trap probe and the fail hook
 * are process-wide).
 */
#ifndef HW_DIFFTEST_DRIVER_H
#define HW_DIFFTEST_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "heapward.h"

typedef enum hw_driver_backend {
	HW_DRIVER_SIM = 0, /* the checked simulator (platform/sim.h) */
	HW_DRIVER_OS = 1,  /* a private Linux platform instance */
} hw_driver_backend;

typedef struct hw_driver_options {
	hw_driver_backend backend;
	int trace;      /* print ops as C: 1 on, 0 off, -1 from HW_FUZZ_TRACE */
	FILE *trace_to; /* where the trace goes; NULL = stderr */
	/* Deep checks (every page against the model, the platform's view,
	 * hw_heap_validate): 0 = on a budget (see compare.c), N = after every
	 * Nth op that calls into the heap as well (after any other op the
	 * heap is as the last check saw it). The header can ask for every op
	 * (fuzz/FORMAT.md). */
	unsigned deep_every;
	/* Test seam: runs after each op's own calls and before its checks, so
	 * a test can change the heap behind the model's back and watch the
	 * driver notice. NULL in the fuzz targets. */
	void (*after_op)(void *ctx, hw_heap *h, size_t op_index);
	void *ctx;
} hw_driver_options;

/* Called with the first error line of a failed run. The default prints
 * nothing more and aborts; a hook that returns makes hw_driver_run stop,
 * clean up (D1) and return -1. */
typedef void (*hw_driver_fail_fn)(const char *what);
void hw_driver_set_fail_hook(hw_driver_fail_fn fn);

/* Runs one input. 0 when every check held, -1 after a failure (only seen
 * when the fail hook returns). */
int hw_driver_run(const uint8_t *data, size_t size, const hw_driver_options *opt);

/* Destroys the simulator instance the runs share (D1), so the next run
 * creates a new one; for tests, and for tidy exits. */
void hw_driver_drop_platform(void);

/* Fills out[0 .. 8 * nops) with nops pseudo-random op records (no header),
 * weighted toward allocation and free, from the 64-bit state *seed. */
void hw_driver_generate(uint64_t *seed, size_t nops, uint8_t *out);

#endif

/* malloc_driver.h: the differential driver of the malloc layer (src/malloc),
 * for the malloc_fuzzer target and the malloc difftests.
 *
 * Owns: running one decoded op stream (ops.h HW_MALLOC_OPS) through the
 * prefixed API (hw_malloc and the rest) of a fresh malloc layer on the
 * shared checked simulator, against the object model (malloc_model.h),
 * checking after every op what heapward.h promises: results and errno (NULL
 * only where the model allows it), alignment, no overlap, the exact usable
 * size, contents (stamped bytes survive, realloc keeps its prefix, calloc
 * reads zero, fill_on_alloc fills), each object's place in the heap (its
 * span's run and slot, its large run's pages, through src/inspect.h), the
 * layer's stats where they are exact, and hw_heap_validate on the layer's
 * heap; and at the end, that ending the layer gives the platform back every
 * byte. Also the fixed-seed op generator.
 *
 * The files: malloc_driver.c (run loop, setup, teardown, failure and
 * trace), malloc_compare.c (contents, placement, stats, validation),
 * malloc_ops.c (one handler per op, the generator), malloc_model.c (the
 * model); docs/difftest.md says how they sit beside the heap's driver.
 *
 * Invariants:
 *   ML1. A run starts the layer afresh on the shared simulator, reset to a
 *        new instance's state (sim.h S6; hw_mc_reset, malloc.c MA8), and
 *        ends it before returning, failed or not: an input's outcome
 *        depends on its bytes alone.
 *   ML2. A failed check prints the harness's banner (harness.h HN1) with
 *        the op index and calls the fail hook (abort by default).
 *   ML3. Inputs are bounded: at most HW_OPS_MAX_RECORDS ops, 4096 live
 *        objects, requests and alignments of at most 4 MiB (larger ones up
 *        to the heap's window are skipped; beyond it they must fail).
 *
 * Locking: one run at a time per process; the run's REMOTE threads are
 * joined before their op ends.
 */
#ifndef HW_DIFFTEST_MALLOC_DRIVER_H
#define HW_DIFFTEST_MALLOC_DRIVER_H

#include "malloc_model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What a run did with the platform (for the injection sweep). */
typedef struct hw_malloc_driver_result {
	uint64_t calls;    /* platform calls, every kind */
	uint64_t can_fail; /* of them, of the kinds injection can fail (P7) */
	uint64_t failures; /* refused with ENOMEM */
} hw_malloc_driver_result;

typedef struct hw_malloc_driver_options {
	int trace;      /* print ops as C: 1 on, 0 off, -1 from HW_FUZZ_TRACE */
	FILE *trace_to; /* NULL = stderr */
	/* hw_heap_validate after every op (else on a budget; the header can
	 * ask for it too). */
	bool validate_every;
	/* > 0: the inject_at-th platform call of the run, the layer's lazy
	 * start included, fails with ENOMEM (the injection sweep). */
	uint64_t inject_at;
	/* Test seam: after each op's calls, before its checks, so a test can
	 * change the layer behind the model's back and see the run fail. */
	void (*after_op)(void *ctx, const hw_mm *m, size_t op_index);
	void *ctx;
	hw_malloc_driver_result *result; /* filled when not NULL */
} hw_malloc_driver_options;

/* Runs one input; 0 when every check held, -1 after a failure (seen only
 * when the fail hook, hw_harness_set_fail_hook, returns). */
int hw_malloc_driver_run(const uint8_t *data, size_t size, const hw_malloc_driver_options *opt);

/* Destroys the simulator the runs share, so the next run makes a new one. */
void hw_malloc_driver_drop_platform(void);

/* Fills out[0 .. 8 * nops) with nops pseudo-random op records (no header),
 * weighted by HW_MALLOC_OPS, from the 64-bit state *seed. */
void hw_malloc_driver_generate(uint64_t *seed, size_t nops, uint8_t *out);

#endif

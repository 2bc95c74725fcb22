/* driver_internal.h: what the differential driver's files share (driver.h
 * is the public interface).
 *
 * Owns: the driver struct (one run's heap, platform, model, expected
 * counters and ring of freed runs), the driver's bounds and budgets, and the
 * prototypes of the functions one file of the driver calls in another:
 *   driver.c    the run loop, setup and teardown, failure reporting and
 *               tracing, the public hw_driver_* calls
 *   compare.c   the heap against the model: pages, platform, stats, deep
 *               checks, the validator
 *   stamps.c    the contents stamps of live objects
 *   heap_ops.c  the op handlers of HW_HEAP_OPS and the op generator
 *
 * Invariants: none of its own; each file states the ones it keeps (D1-D4
 * of driver.h and driver.c, CM of compare.c, ST of stamps.c, HO of
 * heap_ops.c).
 *
 * Locking: none; one run at a time (driver.h).
 */
#ifndef HW_DIFFTEST_DRIVER_INTERNAL_H
#define HW_DIFFTEST_DRIVER_INTERNAL_H

#include "driver.h"

#include "base.h"
#include "harness.h"
#include "inspect.h"
#include "model.h"
#include "ops.h"
#include "platform.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RING 16
/* A deep check has two parts of very different cost: comparing every page
 * with the model (the heap's bitmaps a word at a time, the simulator's
 * states a run at a time: a few ns per page) and hw_heap_validate (the
 * heap's own walk, page by page: tens of ns per page in a fuzzing build).
 * Both run at VALIDATE ops and at the end of every input. With the header's
 * deep-check bit the comparison runs after every op that calls into the
 * heap, and the validator after every HEADER_VALIDATE_EVERY-th (the
 * difftest's deep_every runs both after every op). After an op in which the
 * platform refused a call the comparison runs, and the validator too after
 * the first such op of the input; otherwise (an input that keeps failing to
 * grow a full heap would walk it after every op) it waits to be paid for.
 * Each op earns DEEP_CREDIT pages of deep checking, and a whole deep check
 * runs when the credit covers the heap's pages, so their cost stays a fixed
 * share of the run. */
#define DEEP_CREDIT 16
#define HEADER_VALIDATE_EVERY 8
/* Page comparisons one fuzz input may spend on deep checks (D3: well under
 * a second even with sanitizers); forced deep checks beyond it are skipped.
 * The difftest (hw_driver_options.deep_every) has no such cap. */
#define DEEP_BUDGET ((size_t)1 << 19)
/* Pages stamped per run at most (ST1). */
#define STAMPS 16
/* Bounds (D3): one allocation or grow at most 4 MiB, the heap at most
 * 256 MiB (the simulator's placement scans its backing page by page). */
#define MAX_ALLOC_BYTES ((size_t)4 << 20)
#define MAX_HEAP_BYTES ((size_t)256 << 20)
#define META_SLACK ((size_t)4 << 20)
/* The largest arena a header can ask for: 2048 pages of 64 KiB. */
#define MAX_ARENA_BYTES ((size_t)2048 << 16)
/* The shared simulator's capacity: room for the largest backing setup()
 * can ask for, so every run resets the same instance (D1). */
#define SIM_CAPACITY (MAX_HEAP_BYTES + MAX_ARENA_BYTES + META_SLACK)

typedef struct expect {
	uint64_t allocs, frees, invalid_frees, scavenge_calls, scavenged;
	uint64_t bg, limit, grow, limit_exceeded, fault_failures, grows;
	uint64_t invalid_guards, guard_failures, resizes;
	uint64_t invalid_insides, inside_failures;
} expect;

typedef struct freed_run {
	uintptr_t addr;
	size_t npages;
} freed_run;

typedef struct driver {
	const hw_driver_options *opt;
	hw_ops_config cfg;
	bool sim, trace, failed;
	hw_platform *pf;
	hw_heap *h;
	hw_model m;
	size_t P, address_space, max_alloc_pages;
	size_t cap; /* bytes of arenas the run may reach (D3) */
	size_t limit;
	unsigned retain;
	expect want;
	hw_heap_stats st; /* as of the last check */
	uint64_t reports;
	freed_run ring[RING];
	unsigned ring_next;
	uint64_t salt;
	size_t op_index;
	const char *op_name;
	uint64_t failures_before;
	unsigned deep_every, since_deep;
	unsigned validate_every, since_validate;
	size_t credit, deep_left;
	bool refusal_validated; /* the first refused op's deep check ran */
	bool deep_now, sim_checked;
	bool called_heap; /* the current op may have changed the heap */
} driver;

/* ---- driver.c ---- */
void hw_drv_fail(driver *d, const char *fmt, ...) HW_PRINTF(2, 3);
void hw_drv_trace(driver *d, const char *fmt, ...) HW_PRINTF(2, 3);
uint64_t hw_drv_platform_failures(const driver *d);
bool hw_drv_refused(const driver *d);
void hw_drv_stats(driver *d, hw_heap_stats *st);

/* ---- compare.c ---- */
size_t hw_drv_sync_arenas(driver *d, bool may);
void hw_drv_compare_page(driver *d, size_t i, bool platform);
void hw_drv_compare_all(driver *d);
void hw_drv_compare_stats(driver *d, const hw_heap_stats *st);
void hw_drv_validate(driver *d);
void hw_drv_check_after_op(driver *d);

/* ---- stamps.c ---- */
bool hw_drv_stamped(size_t j, size_t n);
bool hw_drv_stamp(driver *d, const hw_model_obj *o);
bool hw_drv_check_stamps(driver *d, const hw_model_obj *o, const char *when);
/* The stamps o (as it was: its npages decides where they are) put on its
 * first upto pages, the tail word only when upto covers every page. */
bool hw_drv_check_stamps_upto(driver *d, const hw_model_obj *o, size_t upto, const char *when);
bool hw_drv_check_zero(driver *d, const hw_model_obj *o);
void hw_drv_restamp(driver *d, const hw_model_obj *o, size_t first, size_t n);

/* ---- heap_ops.c ---- */
void hw_drv_free_obj(driver *d, size_t k);
void hw_drv_verify(driver *d);
void hw_drv_run_op(driver *d, const hw_op *op);

#endif

/* malloc_driver_internal.h: what the malloc driver's files share
 * (malloc_driver.h is the public interface).
 *
 * Owns: the run's struct (its configuration, the simulator, the model, the
 * counters of the last check), the driver's bounds, and the prototypes one
 * file of the driver calls in another:
 *   malloc_driver.c   run loop, setup and teardown, failure and trace
 *   malloc_compare.c  contents, placement, stats, validation
 *   malloc_ops.c      the op handlers and the generator
 *
 * Invariants: none of its own; each file states the ones it keeps (ML of
 * malloc_driver.h, MK of malloc_compare.c, MO of malloc_ops.c).
 *
 * Locking: none; one run at a time.
 */
#ifndef HW_DIFFTEST_MALLOC_DRIVER_INTERNAL_H
#define HW_DIFFTEST_MALLOC_DRIVER_INTERNAL_H

#include "malloc_driver.h"

#include "base.h"
#include "harness.h"
#include "heapward.h"
#include "malloc_model.h"
#include "ops.h"
#include "platform.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ML3. */
#define MR_MAX_LIVE 4096
#define MR_MAX_REQUEST ((size_t)4 << 20)
/* The simulated backing: the layer's heap grows into it by arenas of the
 * smallest size (512 heap pages), beside its metadata: small arenas make a
 * run grow often (more platform calls to refuse) and keep the heap's walk
 * (hw_heap_validate) short. The heap's window is more than twice the
 * backing, so every reservation the simulator makes lies inside it and a
 * grow fails only when the simulator is full or refuses (MQ1). */
#define MR_BACKING ((size_t)256 << 20)
#define MR_ARENA ((size_t)4 << 20)
#define MR_WINDOW (2 * MR_BACKING + 2 * MR_ARENA)
/* guard_budget_count with the header's guard bit (malloc_driver.c). */
#define MR_GUARD_BUDGET_COUNT 48u
/* hw_heap_validate runs at least every this many ops (MK3). */
#define MR_VALIDATE_EVERY 32

typedef struct mdrv {
	const hw_malloc_driver_options *opt;
	hw_ops_malloc_config cfg;
	bool trace, failed;
	hw_platform *pf;
	hw_mm m;
	char options[256]; /* the layer's options string (hw_mc_reset): every header option fits */
	size_t os_page;    /* hw_platform_os()'s page: valloc's alignment */
	uint64_t salt;
	size_t op_index;
	const char *op_name;
	uint64_t failures_before; /* platform failures before this op */
	uint64_t give_backs;      /* hw_mc_give_backs() the model has followed */
	bool refusal_validated;   /* the first refused op's validation ran */
	unsigned since_validate;
	bool validate_now;      /* this op asks for hw_heap_validate */
	bool census_now;        /* this op emptied the thread cache: spans exact */
	uint64_t thread_caches; /* hw_malloc_stats.thread_caches at the last check */
} mdrv;

/* ---- malloc_driver.c ---- */
void hw_mdrv_fail(mdrv *d, const char *fmt, ...) HW_PRINTF(2, 3);
void hw_mdrv_trace(mdrv *d, const char *fmt, ...) HW_PRINTF(2, 3);
/* Whether the platform refused a call during this op so far (MQ1). */
bool hw_mdrv_refused(const mdrv *d);

/* ---- malloc_compare.c ---- */
void hw_mdrv_stamp(mdrv *d, hw_mm_obj *o);
bool hw_mdrv_check_stamps(mdrv *d, const hw_mm_obj *o, size_t limit, const char *when);
/* Stamps (and checks) the 128 bytes of o below end as well: a realloc's
 * copy must reach exactly its smaller size (MK1). */
void hw_mdrv_stamp_edge(const hw_mm_obj *o, size_t end);
bool hw_mdrv_check_edge(mdrv *d, const hw_mm_obj *o, size_t end, const char *when);
bool hw_mdrv_check_zero(mdrv *d, const hw_mm_obj *o);
bool hw_mdrv_check_fill(mdrv *d, const hw_mm_obj *o, int byte);
/* The heap run holding a new object: the span's start for a small one (in
 * o->span), the run's exact pages for a large one (MK2). */
bool hw_mdrv_check_place(mdrv *d, hw_mm_obj *o);
void hw_mdrv_check_after_op(mdrv *d);
void hw_mdrv_validate(mdrv *d);
void hw_mdrv_check_all(mdrv *d);

/* ---- malloc_ops.c ---- */
void hw_mdrv_run_op(mdrv *d, const hw_op *op);
/* Frees live[i] through hw_free after checking its contents. */
void hw_mdrv_free_obj(mdrv *d, size_t i);

#endif

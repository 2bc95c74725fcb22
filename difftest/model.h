/* model.h: the reference model of the heap, deliberately simple.
 *
 * Owns: one state per heap page over the arenas the heap has reported (free
 * and Ready, free and released, free and Reserved because it was a guard
 * page, or in use by live object k, maybe as one of its guard pages or
 * released inside it), the live
 * objects, and the heap's documented policies written as plain linear scans:
 * lowest-address first fit (aligned fits take the lowest run of
 * n + align_pages - 1 pages), making released units Ready, and the two-pass
 * scavenge order. Speed comes second to being obviously right.
 *
 * Invariants:
 *   M1. page[] lists every mapped page in address order; arena[] lists the
 *       arenas in address order and arena[k].first is the index of its first
 *       page. Runs cross arena boundaries only where the arenas touch.
 *   M2. page[i] is HW_MP_READY, HW_MP_RELEASED, HW_MP_RESERVED, or
 *       HW_MP_USED + id of the live object covering it, with HW_MP_GUARD
 *       set on its guard pages or HW_MP_INSIDE on its pages released inside
 *       it (never both); inuse_pages counts in-use pages (guard and inside
 *       pages too), released_pages the RELEASED and RESERVED ones,
 *       guarded_pages the guard pages, inside_pages the inside ones.
 *   M3. live[] is ordered by allocation (oldest first); ids are unique.
 *   M4. Released pages, guard pages and inside pages come in whole aligned
 *       units of u pages.
 *   M5. [dirty_lo, dirty_hi) covers every page whose state changed since
 *       the last hw_model_dirty_reset (empty when dirty_lo >= dirty_hi);
 *       pages of arenas added since then are not in it.
 *
 * Locking: none; one model per heap, used by one thread.
 */
#ifndef HW_DIFFTEST_MODEL_H
#define HW_DIFFTEST_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HW_MP_READY 0u
#define HW_MP_RELEASED 1u        /* Prepared (Reserved when the heap faults freed runs) */
#define HW_MP_RESERVED 2u        /* released and Reserved: a freed object's guard page */
#define HW_MP_USED 3u            /* + the live object's id */
#define HW_MP_GUARD 0x80000000u  /* on an in-use page: one of its object's guard pages */
#define HW_MP_INSIDE 0x40000000u /* on an in-use page: released inside its object */

static inline bool hw_mp_released(uint32_t s) { return s == HW_MP_RELEASED || s == HW_MP_RESERVED; }
/* The object state of an in-use page without its guard or inside flag. */
static inline uint32_t hw_mp_owner(uint32_t s) { return s & ~(HW_MP_GUARD | HW_MP_INSIDE); }
/* Whether an in-use page holds no usable memory: a guard or inside page. */
static inline bool hw_mp_hole(uint32_t s)
{
	return s >= HW_MP_USED && (s & (HW_MP_GUARD | HW_MP_INSIDE));
}

typedef struct hw_model_obj {
	uintptr_t addr;
	size_t npages;
	uint32_t id;
	bool zeroed;   /* the model says the run was handed out zero */
	uint64_t salt; /* seeds the contents stamp (driver) */
} hw_model_obj;

typedef struct hw_model_arena {
	uintptr_t base;
	size_t npages;
	size_t first; /* index of its first page in page[] (M1) */
} hw_model_arena;

/* One contiguous set of pages a scavenge released, and the plan item (a
 * huge block of pass 1 or a unit of pass 2) it belongs to. */
typedef struct hw_model_span {
	size_t first, npages;
	size_t item;
} hw_model_span;

typedef struct hw_model {
	size_t P;  /* heap page size */
	size_t u;  /* scavenging unit in pages */
	size_t hp; /* huge page in pages, 0 = none */
	bool zero_released;

	hw_model_arena *arena;
	size_t narenas, arena_cap;
	uint32_t *page;
	size_t npages, page_cap;
	hw_model_obj *live;
	size_t nlive, live_cap;
	uint32_t next_id;
	size_t inuse_pages, released_pages, guarded_pages, inside_pages;
	size_t dirty_lo, dirty_hi;

	/* What the last hw_model_scavenge released, in release order. */
	hw_model_span *journal;
	size_t njournal, journal_cap, nitems;
} hw_model;

/* 0, or -1 when out of memory (callers treat it as a harness failure). */
int hw_model_init(hw_model *m, size_t P, size_t u, size_t hp, bool zero_released);
void hw_model_fini(hw_model *m);

/* Adds an arena of `bytes` at base, all pages released. -1 when it overlaps
 * a known arena, is not page aligned, or memory runs out. */
int hw_model_add_arena(hw_model *m, uintptr_t base, size_t bytes);

/* Page index holding addr, or SIZE_MAX when no arena holds it. */
size_t hw_model_index(const hw_model *m, uintptr_t addr);
uintptr_t hw_model_addr(const hw_model *m, size_t idx);

/* Start index of the lowest fit for n pages at `align` bytes (see the file
 * comment), or SIZE_MAX when nothing fits. */
size_t hw_model_fit(const hw_model *m, size_t n, size_t align);

/* Allocates [start, start + n) (which must be free), making the released
 * units it touches Ready; returns the new object (valid until the next
 * change to live[]). */
hw_model_obj *hw_model_alloc(hw_model *m, size_t start, size_t n);

/* Index in live[] of the object at addr of exactly npages pages, or -1. */
long hw_model_find_live(const hw_model *m, uintptr_t addr, size_t npages);

/* Frees live[k]: its pages become free, released when `released` (the
 * fault_on_free path; needs u == 1), Ready otherwise; its guard pages
 * become RELEASED when `released`, RESERVED otherwise; its inside pages
 * RELEASED. */
void hw_model_free(hw_model *m, size_t k, bool released);

/* Resizing live[k] in place (hw_heap_resize). A shrink to n (< npages)
 * frees its tail as hw_model_free frees; a growth to n (> npages) is
 * possible when the pages after it are free and address-contiguous, and
 * takes them (making released units Ready). */
void hw_model_shrink(hw_model *m, size_t k, size_t n, bool released);
bool hw_model_can_grow(const hw_model *m, size_t k, size_t n);
void hw_model_grow(hw_model *m, size_t k, size_t n);

/* After a free with released == true that may have had fault calls
 * refused: is_released(ctx, addr) reports the heap's view of each of the n
 * pages from addr (the freed run); pages the heap left Ready revert to
 * Ready. Returns the number of maximal stretches reverted (one per refused
 * call). */
size_t hw_model_free_settle(hw_model *m, uintptr_t addr, size_t n,
			    bool (*is_released)(void *ctx, uintptr_t addr), void *ctx);

/* The calls that change pages of a live object in place: hw_heap_guard,
 * hw_heap_unguard, hw_heap_release_inside, hw_heap_reuse_inside. */
typedef enum hw_model_hole_op {
	HW_MODEL_GUARD,
	HW_MODEL_UNGUARD,
	HW_MODEL_RELEASE_INSIDE,
	HW_MODEL_REUSE_INSIDE,
} hw_model_hole_op;

/* Why op cannot apply to the n pages from addr, or NULL with *k the live
 * object holding them and *first their first page's offset in it: the
 * heapward.h rules (whole aligned units inside one live object; for
 * GUARD and RELEASE_INSIDE no guard or inside page yet, for UNGUARD all
 * guard pages, for REUSE_INSIDE all inside pages). */
const char *hw_model_hole_problem(const hw_model *m, uintptr_t addr, size_t n,
				  hw_model_hole_op op, size_t *k, size_t *first);
/* Applies op to pages [first, first + n) of live[k]; the range passed
 * hw_model_hole_problem. */
void hw_model_hole(hw_model *m, size_t k, size_t first, size_t n, hw_model_hole_op op);

/* The documented scavenge of nbytes, applied; returns the bytes released
 * and leaves the journal describing it. */
size_t hw_model_scavenge(hw_model *m, size_t nbytes);

/* After a scavenge that may have stopped early (an injected fault failure):
 * is_released(ctx, addr) reports the heap's view of each journal page. The
 * heap's released set must be a prefix of the plan: whole items, then part
 * of at most one item, then nothing. Pages the heap did not release revert
 * to Ready. Returns the bytes really released, or SIZE_MAX when the shape
 * is not a prefix (the model is then left unchanged). */
size_t hw_model_scavenge_settle(hw_model *m, bool (*is_released)(void *ctx, uintptr_t addr),
				void *ctx);

static inline size_t hw_model_mapped_bytes(const hw_model *m) { return m->npages * m->P; }
static inline size_t hw_model_inuse_bytes(const hw_model *m) { return m->inuse_pages * m->P; }
static inline size_t hw_model_released_bytes(const hw_model *m) { return m->released_pages * m->P; }
static inline size_t hw_model_guarded_bytes(const hw_model *m) { return m->guarded_pages * m->P; }
static inline size_t hw_model_inside_bytes(const hw_model *m) { return m->inside_pages * m->P; }
static inline size_t hw_model_ready_bytes(const hw_model *m)
{
	return (m->npages - m->released_pages - m->guarded_pages - m->inside_pages) * m->P;
}

void hw_model_dirty_reset(hw_model *m);

/* Checks M2 and M4 by a full walk; 0 or -1 with a message. */
int hw_model_check(const hw_model *m, char *msg, size_t len);

#endif

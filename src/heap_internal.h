/* heap_internal.h: the heap's shared state and the cross-file entry points.
 *
 * Owns: struct hw_heap, the per-chunk bitmaps, and the prototypes that
 * grow.c, scavenge.c, scavenger.c, summary.c, meta.c and validate.c offer
 * heap.c and each other.
 *
 * Geometry. The heap owns a window of address space, [base, base +
 * address_space), fixed at its first grow. Heap page i of the window is at
 * base + i * page_size. Chunk c holds pages [c * 512, c * 512 + 512). A chunk
 * is present when an arena covers it; arenas are arena_size-aligned, so they
 * cover whole chunks.
 *
 * Page states, from the bitmaps of a present chunk:
 *   alloc=1 released=0 guard=0 in use (part of an allocated run), Ready
 *   alloc=1 released=0 guard=1 a guard page of an allocated run: part of the
 *                      run, but faulted (Reserved: any access traps) and
 *                      holding no memory (hw_heap_guard)
 *   alloc=1 released=0 inside=1 a page released inside an allocated run:
 *                      part of the run, its memory given back (Prepared, or
 *                      Reserved under fault_on_free), its contents lost
 *                      (hw_heap_release_inside); never also a guard page
 *   alloc=1 released=1 busy: in a platform call that runs with the lock
 *                      dropped: being released (scavenge.c, heap.c), or
 *                      claimed by an allocation whose calls make it Ready
 *                      (scavenge.c, claim_busy); no run owns it yet, nothing
 *                      else may allocate or free it, and it settles (in use,
 *                      released, or free and Ready) before the calls'
 *                      thread lets go of the lock again
 *   alloc=0 released=0 free and Ready ("dirty")
 *   alloc=0 released=1 free and released: Prepared, or Reserved when the heap
 *                      faults freed runs (fault_on_free) or when guard=1 (a
 *                      guard page whose run was freed: still Reserved, so its
 *                      reuse maps it before use)
 *   head=1             first page of an allocated run (alloc=1)
 *
 * Invariants kept by every entry point (numbers are cited by validate.c and
 * docs/invariants.md):
 *   I1.  mapped == sum of arena sizes == present chunks * chunk_bytes.
 *   I2.  inuse == allocated pages * page_size; idle == mapped - inuse.
 *   I3.  released <= idle.
 *   I4.  released == released pages * page_size;
 *        ready == mapped - released - guarded - released_inside.
 *   I5.  A page both released and allocated is busy: in no run (never a
 *        head, never a guard page, never released inside a run), and only
 *        while a platform call is in flight (inflight > 0).
 *   I6.  Released pages come in whole aligned units of unit_pages.
 *   I7.  Every head page is allocated; every allocated page that follows a
 *        free or absent page is a head.
 *   I8.  Each present chunk's leaf summary equals the summary of its alloc
 *        bitmap; absent chunks summarize as full (0, 0, 0).
 *   I9.  Each inner summary equals the merge of its eight children.
 *   I10. chunk.free_ready == count of free, unreleased pages of the chunk.
 *   I11. Arenas are sorted, disjoint, arena-aligned, inside the window, and
 *        exactly the present chunks.
 *   I12. On a platform that answers state queries (the simulator), each
 *        page's platform state agrees with its heap state (in use or
 *        free-ready: Ready; a guard page: Reserved; released, or released
 *        inside a run: Prepared, or Reserved under fault_on_free or (free
 *        released pages) with the guard bit).
 *   I13. meta_ready == committed metadata pages * OS page size.
 *   I14. Every page of the window below low_free is allocated or absent
 *        (the search hint: first fit starts there).
 *   I15. guarded == guard pages of allocated runs * page_size. The guard
 *        bit is set only on pages of allocated runs and on free released
 *        pages of a heap without fault_on_free (never on free Ready or busy
 *        pages), and covers whole aligned units.
 *   I16. released_inside == pages released inside allocated runs *
 *        page_size. The inside bit is set only on allocated pages that are
 *        neither busy nor guard pages, covers whole aligned units, and a
 *        chunk's insides counts its inside bits. A freed run's inside pages
 *        become free released pages (their bit cleared) with no platform
 *        call: they are in the state free released pages are in already.
 *
 * Platform calls are made under the lock, except on a platform whose calls
 * may run concurrently (caps.concurrent_calls), where hw_call_outside_lock
 * (calls.c, SY3) drops it around: a scavenge's releases and a freed run's
 * faults (busy pages, scavenge.c release_pages and heap.c), an allocation's
 * calls making released pages Ready (busy pages, scavenge.c claim_busy),
 * and hw_heap_guard/unguard and hw_heap_release_inside/reuse_inside (pages
 * of a run the caller owns).
 *
 * Locking: h->lock guards everything below it in struct hw_heap but the
 * scavenger's handle and the registry links (see their comments); every
 * function named *_locked requires it held. Lock order (registry.c, R2):
 * the registry lock, then h->scav_lock, then h->lock. A function that may
 * drop the lock for a platform call (hw_scavenge_locked and its callers)
 * says so; its caller re-reads anything it cached from the heap.
 */
#ifndef HW_HEAP_INTERNAL_H
#define HW_HEAP_INTERNAL_H

#include "base.h"
#include "heapward.h"
#include "pagebits.h"
#include "platform.h"
#include "thread.h"

#define HW_MAX_LEVELS 12
#define HW_FANOUT 8

/* Laid out for the free path of a large heap, where the chunk is a cache
 * miss: the counters, alloc and head (what a free reads and writes) come
 * first; released (touched only when pages change release state), guard
 * (read only when guards is non-zero) and inside (only when insides is)
 * come last. Inside pages have a bitmap of their own rather than a shared
 * per-page state with guard pages: the guard bit outlives its run (it marks
 * free released pages that are Reserved, I15), the inside bit does not (a
 * freed inside page is an ordinary free released page, I16), and a free
 * reads neither map unless its count says the chunk has such pages. */
typedef struct hw_chunk {
	uint32_t present;
	uint32_t free_ready; /* I10 */
	uint64_t alloc[HW_BITS_WORDS];
	uint64_t head[HW_BITS_WORDS];
	uint64_t released[HW_BITS_WORDS];
	uint64_t guard[HW_BITS_WORDS];  /* I15 */
	uint32_t guards;                /* set bits of guard[] */
	uint32_t insides;               /* set bits of inside[] */
	uint64_t inside[HW_BITS_WORDS]; /* I16 */
} __attribute__((aligned(64))) hw_chunk;

typedef struct hw_arena {
	uintptr_t base;
	size_t size;
} hw_arena;

/* The summary tree: level 0 has one entry per chunk; each entry of level
 * k+1 merges HW_FANOUT entries of level k; the top level has at most
 * HW_FANOUT entries. */
typedef struct hw_tree {
	hw_sum *level[HW_MAX_LEVELS];
	size_t count[HW_MAX_LEVELS];
	unsigned top;
} hw_tree;

/* The metadata region: one reservation, carved into fixed arrays at create,
 * committed page by page as the heap grows (never from heap pages). */
/* Platform calls made on a heap's behalf, by kind (hw_heap_stats). */
typedef struct hw_sys_counts {
	uint64_t calls[HW_SYS_NKINDS];
	uint64_t failures[HW_SYS_NKINDS];
} hw_sys_counts;

/* calls.c: the platform calls, counted in the heap's hw_sys_counts (SY1). */
int hw_call_count(hw_sys_counts *c, hw_sys_kind k, int rc);
int hw_call_reserve(hw_platform *pf, hw_sys_counts *c, void *hint, size_t n, void **out);
int hw_call_map(hw_platform *pf, hw_sys_counts *c, void *p, size_t n);
int hw_call_use(hw_platform *pf, hw_sys_counts *c, void *p, size_t n);
void hw_call_unuse(hw_platform *pf, hw_sys_counts *c, void *p, size_t n);
int hw_call_fault(hw_platform *pf, hw_sys_counts *c, void *p, size_t n);
void hw_call_release(hw_platform *pf, hw_sys_counts *c, void *p, size_t n);
int hw_call_unfault(hw_platform *pf, hw_sys_counts *c, void *p, size_t n);
/* Reserved (from_reserved) or Prepared -> Ready: 0, or ENOMEM with the range
 * as it was (SY2; a failed roll-back aborts with rollback_failed). */
int hw_call_make_ready(hw_platform *pf, hw_sys_counts *c, void *p, size_t n, bool from_reserved,
		       const char *rollback_failed);

/* The platform calls a heap makes with its lock dropped (SY3). */
typedef enum hw_call_op {
	HW_CALLOP_UNUSE,               /* Ready -> Prepared */
	HW_CALLOP_FAULT,               /* Ready|Prepared -> Reserved; may fail */
	HW_CALLOP_READY,               /* Prepared -> Ready; may fail (SY2) */
	HW_CALLOP_READY_FROM_RESERVED, /* Reserved -> Ready; may fail (SY2) */
	HW_CALLOP_UNFAULT,             /* Reserved by fault -> Ready (P9); may fail */
} hw_call_op;

/* Makes call op on [p, p + n), counted, with h->lock dropped around it when
 * the platform allows concurrent calls and no fork is waiting (SY3). The
 * caller holds the lock on entry and again on return, and has put the pages
 * where no other thread touches them (busy, I5; or a run the caller owns),
 * then re-reads anything it cached from the heap. 0 or ENOMEM. */
int hw_call_outside_lock(hw_heap *h, hw_call_op op, void *p, size_t n);
/* The same call with the lock held throughout (pages another thread could
 * take while it was dropped: free ones not yet marked). */
int hw_call_op_locked(hw_heap *h, hw_call_op op, void *p, size_t n);
/* The unfault (fault) of r[0..k) (P10) as hw_call_outside_lock makes one
 * call: each range counted as one call; *done ranges made Ready
 * (Reserved). 0 or ENOMEM. */
int hw_call_unfault_many(hw_heap *h, const hw_range *r, size_t k, size_t *done);
int hw_call_fault_many(hw_heap *h, const hw_range *r, size_t k, size_t *done);

typedef struct hw_meta {
	uintptr_t base;
	size_t size;
	uintptr_t res_base; /* the reservation: [base, base + size) and slack */
	size_t res_size;
	size_t page;         /* OS page: the commit unit */
	uint64_t *committed; /* one bit per metadata page */
	size_t ready_pages;  /* I13 */
} hw_meta;

typedef enum hw_scav_reason {
	HW_SCAV_EXPLICIT = 0,
	HW_SCAV_BACKGROUND,
	HW_SCAV_LIMIT,
	HW_SCAV_GROW,
} hw_scav_reason;

struct hw_heap {
	hw_mutex lock;
	hw_platform *pf;
	hw_report_fn report;
	void *report_arg;

	/* Geometry, fixed at create. */
	size_t page_size;
	unsigned page_shift;
	size_t unit_pages;  /* max(1, OS page / heap page) */
	size_t huge_pages;  /* huge page in heap pages, 0 when none usable */
	size_t chunk_bytes; /* 512 pages */
	size_t arena_size;
	size_t address_space;
	size_t nchunks; /* chunks in the window */
	size_t max_arenas;
	bool fault_on_free;
	bool zero_released; /* platform's released pages read as zero (P4) */
	unsigned retain_percent;
	unsigned cpu_percent;

	/* Window and arenas (0 base until the first grow). */
	uintptr_t base;
	hw_arena *arenas; /* sorted by address; I11 */
	size_t narenas;
	hw_chunk *chunks; /* [nchunks] */
	hw_tree tree;
	size_t low_free; /* I14; page index, meaningful once base != 0 */
	hw_meta meta;

	/* Accounting (bytes). */
	size_t mapped, inuse, released, guarded, memory_limit;
	size_t released_inside; /* I16 */
	hw_heap_stats counters; /* the monotone counters; sizes filled on read */
	hw_sys_counts sys;

	/* Platform calls in flight with the lock dropped (busy pages exist only
	 * while this is non-zero), and the fork hooks' request that no new one
	 * drop the lock (registry.c). */
	size_t inflight;
	bool no_unlock;

	/* Background scavenger: scav_lock guards scav_thread and scav_running
	 * (start and stop hold it throughout); scav_stop is atomic. */
	hw_mutex scav_lock;
	hw_thread scav_thread;
	bool scav_running;
	volatile int scav_stop;
	/* hw_heap_set_idle_hook's function and argument: written under
	 * scav_lock, read by the thread; both atomic (the function last, with
	 * release, so a thread that sees it sees its argument). */
	bool (*idle_hook)(void *);
	void *idle_arg;
	/* hw_heap_set_wake_bytes's threshold (0: off), under the lock, and
	 * whether a free has passed it since it was set (atomic: read by
	 * hw_heap_wake_due without the lock). */
	size_t wake_bytes;
	int wake_due;

	/* The process's list of heaps (registry.c), under its lock; also read
	 * without it by the fault handler (R4). */
	hw_heap *reg_next, *reg_prev;
};

/* Every *_locked function starts with this: under HW_DEBUG, the calling
 * thread must hold h->lock (T5 of thread.h). */
#define HW_ASSERT_LOCKED(h) HW_ASSERT(hw_mutex_held(&(h)->lock))

/* The always-on check of a public function's heap argument (heapward.h: a
 * NULL heap is refused with a report and an abort; fn names the function). */
#define HW_HEAP_ARG(h, fn) HW_CHECK((h) != NULL, fn ": the heap is NULL")

/* heap.c */
void hw_heap_report(hw_heap *h, const char *fmt, ...) HW_PRINTF(2, 3);
static inline uintptr_t hw_heap_addr(const hw_heap *h, size_t page)
{
	return h->base + (page << h->page_shift);
}
static inline hw_chunk *hw_heap_chunk(hw_heap *h, size_t page)
{
	return &h->chunks[page / HW_BITS_PAGES];
}

/* The present chunk holding address a, or NULL (outside the window, not
 * grown, or metadata not committed). */
hw_chunk *hw_heap_present_chunk(hw_heap *h, uintptr_t a);

/* Calls fn(h, chunk, first bit, bit count, arg) for each chunk piece of the
 * page range [page, page + n), in address order; stops early and returns
 * fn's value when it is non-zero. */
typedef size_t (*hw_span_fn)(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg);
size_t hw_heap_for_spans(hw_heap *h, size_t page, size_t n, hw_span_fn fn, void *arg);

/* summary.c */
size_t hw_tree_bytes(size_t nchunks, size_t *counts, unsigned *top);
void hw_tree_init(hw_tree *t, hw_sum *mem, const size_t *counts, unsigned top);
/* Lowest page index starting a free run of npages, or SIZE_MAX. */
size_t hw_tree_find(hw_heap *h, size_t npages);
/* What changed in the alloc bitmaps of a page range since the tree last
 * summarized it: bits cleared (a free), bits set that were all clear (an
 * allocation; both update leaves from their old value, B3), or anything
 * (present chunks added or removed: the leaves are recomputed). */
typedef enum hw_tree_change {
	HW_TREE_CLEARED,
	HW_TREE_SET,
	HW_TREE_RESCAN,
} hw_tree_change;
/* Brings the leaves of the chunks of pages [page, page + n) and their
 * ancestors up to date with the bitmaps (I8, I9). */
void hw_tree_update(hw_heap *h, size_t page, size_t n, hw_tree_change how);
uint32_t hw_tree_entry_pages(unsigned level);
/* Merge of level-l entry i's children (I9); absent children are full. */
hw_sum hw_tree_merged(const hw_tree *t, unsigned l, size_t i);

/* meta.c */
/* Reserves the metadata region, aligned to `align` (0: the platform's
 * granularity), and commits its first `prefix` bytes, which must hold the
 * commit bitmap at `bits_offset`. 0 or ENOMEM. */
int hw_meta_create(hw_platform *pf, hw_sys_counts *sys, size_t size, size_t align,
		   size_t prefix, size_t bits_offset, hw_meta *out);
/* Commits (Reserved -> Prepared -> Ready) every metadata page overlapping
 * [p, p + n). 0 or ENOMEM (pages committed before the failure stay so). */
int hw_meta_ensure(hw_platform *pf, hw_sys_counts *sys, hw_meta *m, const void *p, size_t n);
bool hw_meta_is_committed(const hw_meta *m, const void *p, size_t n);
/* Returns the whole region to the platform (it holds the heap itself). */
void hw_meta_destroy(hw_platform *pf, hw_meta m);

/* grow.c */
/* Adds arena(s) covering npages; *arena (may be NULL) receives the base. */
int hw_grow_locked(hw_heap *h, size_t npages, uintptr_t *arena);
/* Takes back an arena grow just added, so a failed allocation leaves the
 * heap as it found it; an arena another thread allocated in meanwhile (the
 * failed claim dropped the lock) stays. */
void hw_grow_undo_locked(hw_heap *h, uintptr_t arena);
void hw_grow_release_all(hw_heap *h);

/* scavenge.c */
/* The release call of freed pages: fault under fault_on_free, else unuse. */
static inline hw_call_op hw_scavenge_release_op(const hw_heap *h)
{
	return h->fault_on_free ? HW_CALLOP_FAULT : HW_CALLOP_UNUSE;
}
/* Lets platform calls in flight (inflight > 0) make progress: drops the
 * heap lock for a moment and takes it back. Callers loop on their own
 * condition and re-read the heap afterwards. */
void hw_scavenge_await_calls(hw_heap *h);
size_t hw_scavenge_locked(hw_heap *h, size_t nbytes, hw_scav_reason why);
/* Claims the free pages [page, page + n) for an allocation: they become
 * allocated (no head yet), the released units overlapping them Ready, and
 * the summaries say so. Returns 0 and sets *zeroed (every page of the range
 * was released and reads zero), or ENOMEM with every page as it was. The
 * calls that make pages Ready run with the lock dropped (SY3) while the
 * pages are busy (I5), unless the range holds more released stretches than
 * the claim can remember: the caller re-reads what it cached. */
int hw_scavenge_claim_locked(hw_heap *h, size_t page, size_t n, bool *zeroed);
/* After an allocation that grew the heap by `grown` bytes (0: it did not
 * grow): scavenges toward the retained goal (at most `grown` bytes) and down
 * to the memory limit, in one scavenge of the larger amount. */
void hw_scavenge_after_alloc_locked(hw_heap *h, size_t grown);
size_t hw_scavenge_ready(const hw_heap *h);

/* scavenger.c */
/* The retained goal: inuse * (100 + retain_percent) / 100 bytes. */
size_t hw_scavenger_goal(const hw_heap *h);
size_t hw_scavenger_step_locked(hw_heap *h);
/* After a free: sets wake_due when ready bytes exceed the scavenger's
 * target by wake_bytes or more (hw_heap_set_wake_bytes, inspect.h). */
void hw_scavenger_note_free_locked(hw_heap *h);

/* registry.c */
/* Lists a heap (registering the fork hooks first); 0 or an errno value. */
int hw_registry_add(hw_heap *h);
void hw_registry_remove(hw_heap *h);
/* The listed heaps, walked without the lock (registry.c, R4): for the fault
 * handler only, which must not block. NULL ends the list. */
hw_heap *hw_registry_first(void);
hw_heap *hw_registry_next(const hw_heap *h);

/* validate.c */
int hw_validate_locked(hw_heap *h, char *msg, size_t len);

#endif

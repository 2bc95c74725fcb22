/* inspect.h: read-only views of a heap's internals, for tests, the
 * differential harness and benchmarks. Not public API: these names are
 * hidden in the shared library and linked from the static one.
 *
 * Locking: each call takes the heap lock; results are a snapshot.
 */
#ifndef HW_INSPECT_H
#define HW_INSPECT_H

#include "heapward.h"
#include "platform.h"

typedef enum hw_page_kind {
	HW_PAGE_UNMAPPED = 0,  /* not in any arena of this heap */
	HW_PAGE_FREE_READY,    /* free, backed (dirty) */
	HW_PAGE_FREE_RELEASED, /* free, not backed (Prepared, or Reserved when faulted),
				  or busy: being released (I5) */
	HW_PAGE_INUSE,         /* part of an allocated run */
	HW_PAGE_GUARD,         /* a guard page of an allocated run (hw_heap_guard) */
	HW_PAGE_INSIDE,        /* a page of an allocated run released inside it
				  (hw_heap_release_inside) */
} hw_page_kind;

/* Kind of the heap page containing p; *run_head (may be NULL) says whether
 * p's page is the first page of an allocated run (which may be a guard
 * page or released inside the run). */
hw_page_kind hw_heap_page_kind(hw_heap *h, const void *p, bool *run_head);

/* The page states of npages (1 to HW_CHUNK_PAGES) consecutive heap pages
 * from the page holding p, as bit vectors of (npages + 63) / 64 words each:
 * bit j (word j / 64, bit j % 64) is page j of the range. alloc: part of an
 * allocated run; head: the first page of one; released: free and not
 * backed; guard: a guard page of an allocated run, or a free released page
 * that is Reserved because it was one (heap_internal.h, I15); inside: a page
 * of an allocated run released inside it (I16). The same
 * states as hw_heap_page_kind, a chunk's worth in one call. Returns 0, or -1
 * (the vectors undefined) when npages is out of range or a page of the range
 * is in no arena of this heap. */
typedef struct hw_page_bits {
	uint64_t *alloc, *head, *released, *guard, *inside;
} hw_page_bits;
int hw_heap_page_bits(hw_heap *h, const void *p, size_t npages, const hw_page_bits *out);

/* Arenas in address order. */
size_t hw_heap_arena_count(hw_heap *h);
void hw_heap_arena_get(hw_heap *h, size_t i, void **base, size_t *size);

/* The arena_size hw_heap_create picks when its config leaves it 0, for a
 * heap of page_size pages on pf (heapward.h: 64 MiB, or less under an
 * address-space limit): for a user that sizes its window in arenas. */
size_t hw_heap_default_arena(hw_platform *pf, size_t page_size);

/* Reserves arena(s) covering at least npages pages without allocating them
 * (the grow path on its own): 0, or ENOMEM with the heap unchanged. */
int hw_heap_grow(hw_heap *h, size_t npages);

/* The window of address space the heap grows over, [*base, *base + *size):
 * fixed at the first grow, so a caller that has grown the heap once may
 * cache it (the malloc layer's page map covers it). *base is 0 before the
 * first grow. */
void hw_heap_window(hw_heap *h, uintptr_t *base, size_t *size);

/* Whether the window could ever hold a run of npages at align (a power of
 * two, or 0): false when the run and its alignment's slack are more pages
 * than the whole window, which hw_heap_alloc_aligned refuses (ENOMEM) at
 * once, however much of the heap is free. No lock: the window is fixed. */
bool hw_heap_fits(hw_heap *h, size_t npages, size_t align);

/* Not a view: work for the heap's user to do while the program is idle.
 * The background scavenger thread calls fn(arg) after each of its steps
 * that found the heap idle (no allocation or free for QUIET_NS,
 * scavenger.c PC2), without the heap's lock, so fn may take locks that
 * come before it and call the heap. When fn returns true the thread
 * retires (scavenger.c SG4): it ends as if stopped, and the next
 * hw_heap_scavenger_start makes a new one; a start or stop running at that
 * moment wins, and the thread goes on. Set it before the scavenger starts;
 * NULL removes it. The malloc layer uses it to release free pages inside
 * partly used spans (src/malloc/span.c SP4), and to end the thread in a
 * program with one thread (malloc.c MA7). */
void hw_heap_set_idle_hook(hw_heap *h, bool (*fn)(void *arg), void *arg);

/* Not a view: whether there is work for a background scavenger that is not
 * running. After hw_heap_set_wake_bytes(h, bytes) (0 turns it off), the
 * first hw_heap_free that leaves the ready bytes above the background
 * scavenger's target (scavenger.c) by bytes or more, or the call itself if
 * they already are, makes hw_heap_wake_due(h) true until the next
 * hw_heap_set_wake_bytes. hw_heap_wake_due takes no lock (one atomic
 * load), so it can be polled on fast-ish paths. The malloc layer uses it
 * to start the thread late in a single-threaded process (malloc.c MA7). */
void hw_heap_set_wake_bytes(hw_heap *h, size_t bytes);
bool hw_heap_wake_due(hw_heap *h);

/* Not a view either: hw_heap_unguard (heapward.h) of k disjoint ranges,
 * each as hw_heap_unguard takes it (r[i].n bytes: whole guard units of one
 * run), in one platform call where the OS allows (P10: one process_madvise
 * on Linux), for the malloc layer's guarded heap, which makes runs usable
 * again in batches. Every range is checked first: EINVAL for the first
 * that breaks hw_heap_unguard's rules (reported as "heapward: invalid
 * unguard of 0x... (N pages): <why>", counted in invalid_guards), nothing
 * done. Otherwise 0 with *done == k, or ENOMEM (counted in guard_failures)
 * with ranges [0, *done) unguarded and the rest as they were. Each range
 * counts as one unfault call in the heap's platform_calls. */
int hw_heap_unguard_many(hw_heap *h, const hw_range *r, size_t k, size_t *done);
/* hw_heap_guard of k disjoint ranges r[0..k) (each a byte range inside an
 * allocated run), in one platform call where the OS allows (P10), for the
 * guarded heap's new runs. A range that breaks hw_heap_guard's rules
 * (reported as "heapward: invalid guard of 0x... (N pages): <why>",
 * counted in invalid_guards; a range overlapping an earlier one has
 * "guard pages already") gives EINVAL with nothing done. Otherwise 0 with
 * *done == k, or ENOMEM (counted in guard_failures) with ranges [0, *done)
 * guard pages and the rest as they were. Each range counts as one fault
 * call in the heap's platform_calls. */
int hw_heap_guard_many(hw_heap *h, const hw_range *r, size_t k, size_t *done);

/* The platform the heap runs on. */
hw_platform *hw_heap_platform(hw_heap *h);

/* Where the chunk records live (metadata, fixed at create). */
void hw_heap_chunk_array(const hw_heap *h, void **p, size_t *bytes);

/* Policy constants the harness's model mirrors. */
#define HW_CHUNK_PAGES 512              /* pages per bitmap chunk */
#define HW_SCAVENGE_QUANTUM (64u << 10) /* bytes per public or busy background step */

/* Scavenging unit in heap pages: max(1, OS page / heap page). Released state
 * always covers whole aligned units. */
size_t hw_heap_unit_pages(const hw_heap *h);
/* Huge page in heap pages, or 0 when the platform has none larger than a unit. */
size_t hw_heap_huge_pages(const hw_heap *h);

#endif

/* heapward.h: the public API of heapward, a page heap with exact accounting.
 *
 * A heap hands out runs of pages from arenas it reserves from a platform
 * (the real OS, or the checked simulator used by tests and fuzz targets). It
 * keeps the Go runtime's page-heap model: new memory counts as released until
 * an allocation makes it Ready; free runs coalesce whatever their released
 * state; scavenging returns free Ready pages to the OS on demand, from a paced
 * background thread, and on the allocation path under a memory limit.
 *
 * Every symbol is hw_*; the library never defines malloc or any libc name.
 * All functions are thread-safe: each heap has its own lock.
 *
 * fork(): every heap stays usable in the child, whatever the parent's other
 * threads were doing (the library locks every heap around fork). Threads do
 * not survive fork, so in the child no heap has a background scavenger:
 * hw_heap_scavenger_start there starts a new one.
 *
 * Stats identities (exact; hw_heap_validate checks them and more):
 *   mapped == inuse + idle,   released <= idle,   ready == mapped - released.
 */
#ifndef HEAPWARD_H
#define HEAPWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HW_API __attribute__((visibility("default")))
#else
#define HW_API
#endif

#define HEAPWARD_VERSION_MAJOR 0
#define HEAPWARD_VERSION_MINOR 1

typedef struct hw_heap hw_heap;
typedef struct hw_platform hw_platform;

/* The process's real OS platform (shared, never destroyed). */
HW_API hw_platform *hw_platform_os(void);

/* Called with a NUL-terminated report line when a caller error is detected
 * (an invalid free). The default writes it to stderr. */
typedef void (*hw_report_fn)(void *arg, const char *line);

typedef struct hw_heap_config {
	hw_platform *platform;          /* NULL = hw_platform_os() */
	size_t page_size;               /* heap page: power of two >= 4096; 0 = 8 KiB */
	size_t arena_size;              /* grow unit: multiple of 512 pages; 0 = 64 MiB */
	size_t address_space;           /* span the heap may grow over; 0 = 1 TiB */
	size_t memory_limit;            /* soft cap on Ready bytes; 0 = none */
	unsigned retain_percent;        /* bg scavenger goal: inuse * (100 + p) / 100; 0 = 10 */
	unsigned scavenger_cpu_percent; /* bg scavenger CPU budget; 0 = 1 */
	bool fault_on_free;             /* freed runs trap on access until reused */
	hw_report_fn report;            /* NULL = stderr */
	void *report_arg;
} hw_heap_config;

/* Creates a heap; NULL cfg means every default. Returns NULL with errno
 * ENOMEM (no memory for metadata) or EINVAL (a bad config value; the reason
 * is reported). Reserves no arena until the first allocation. */
HW_API hw_heap *hw_heap_create(const hw_heap_config *cfg);

/* Returns every byte (arenas and metadata) to the platform. Live allocations
 * die with the heap. Stops the background scavenger first. */
HW_API void hw_heap_destroy(hw_heap *h);

HW_API size_t hw_heap_page_size(const hw_heap *h);

/* Allocates npages contiguous pages at the lowest address that fits, growing
 * the heap when nothing fits. Returns NULL with errno ENOMEM when the platform
 * or the address space is exhausted (the heap is unchanged), or EINVAL for
 * npages == 0. Contents are undefined. */
HW_API void *hw_heap_alloc(hw_heap *h, size_t npages);

/* As hw_heap_alloc, aligned to `align` bytes (a power of two; values below the
 * page size mean the page size). When zeroed is non-NULL it receives whether
 * every byte of the run is known to be zero (released pages on a platform
 * whose released pages read as zero), so calloc-like callers can skip memset. */
HW_API void *hw_heap_alloc_aligned(hw_heap *h, size_t npages, size_t align, bool *zeroed);

/* Frees a run returned by an allocation, with the same npages. An invalid
 * free (not a run start, wrong length, already free, outside the heap) is
 * reported and returns EINVAL, leaving the heap unchanged; 0 on success. */
HW_API int hw_heap_free(hw_heap *h, void *p, size_t npages);

/* Returns up to about nbytes of free Ready memory to the OS; returns the bytes
 * released. SIZE_MAX releases everything. Highest addresses go first, whole
 * free huge pages before the rest (docs/scavenging.md). */
HW_API size_t hw_heap_scavenge(hw_heap *h, size_t nbytes);

/* Sets the soft memory limit on Ready bytes (0 = none) and scavenges down to
 * it at once; returns the bytes released. */
HW_API size_t hw_heap_set_memory_limit(hw_heap *h, size_t limit);

/* One step of the background scavenger's work: if Ready bytes exceed its
 * target (the retained goal, or the memory limit when set and lower), release
 * up to one quantum (64 KiB) toward it. Returns bytes released. Deterministic;
 * used by tests. The thread's own steps may release more (docs/scavenging.md). */
HW_API size_t hw_heap_scavenger_step(hw_heap *h);

/* Starts or stops the background scavenger thread. Start returns 0, EALREADY
 * (already running), or an errno from thread creation. Stop waits for the
 * thread to exit; stopping a stopped scavenger does nothing. Any threads may
 * call both at once. */
HW_API int hw_heap_scavenger_start(hw_heap *h);
HW_API void hw_heap_scavenger_stop(hw_heap *h);

enum {
	HW_CALL_RESERVE = 0,
	HW_CALL_MAP,
	HW_CALL_USE,
	HW_CALL_UNUSE,
	HW_CALL_FAULT,
	HW_CALL_RELEASE,
	HW_CALL_ALLOC,
	HW_CALL_KINDS
};

typedef struct hw_heap_stats {
	size_t mapped;       /* bytes of arena address space owned by the heap */
	size_t inuse;        /* bytes in allocated runs */
	size_t idle;         /* free bytes: mapped - inuse */
	size_t released;     /* free bytes not backed by memory (Prepared/Reserved) */
	size_t ready;        /* bytes backed: mapped - released */
	size_t meta_ready;   /* Ready bytes of heap metadata (not in mapped) */
	size_t memory_limit; /* current soft limit, 0 = none */
	uint64_t arenas;     /* arenas reserved (== grows that succeeded) */
	uint64_t grows;
	uint64_t allocs, frees, invalid_frees;
	uint64_t scavenge_calls;        /* explicit hw_heap_scavenge calls */
	uint64_t scavenged_bytes;       /* all bytes released, every path */
	uint64_t bg_scavenged_bytes;    /* by the background scavenger / steps */
	uint64_t limit_scavenged_bytes; /* on the allocation path, for the limit */
	uint64_t limit_exceeded;        /* allocations left Ready > limit anyway */
	uint64_t fault_failures;        /* frees that could not fault (ENOMEM) */
	uint64_t platform_calls[HW_CALL_KINDS];
	uint64_t platform_failures[HW_CALL_KINDS];
	uint64_t bg_scavenger_cpu_ns; /* CPU time of the background scavenger thread */
} hw_heap_stats;

HW_API void hw_heap_stats_get(hw_heap *h, hw_heap_stats *out);

/* Walks the whole heap (O(heap)) and checks every numbered invariant
 * (docs/invariants.md). Returns 0 when all hold; otherwise the number of the
 * first broken invariant, with a message naming it written to msg. */
HW_API int hw_heap_validate(hw_heap *h, char *msg, size_t len);

#ifdef __cplusplus
}
#endif

#endif

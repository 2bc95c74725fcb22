/* heapward.h: the public API of heapward, a page heap with exact accounting.
 *
 * A heap hands out runs of pages from arenas it reserves from a platform
 * (the real OS, or the checked simulator used by tests and fuzz targets). It
 * keeps the Go runtime's page-heap model: new memory counts as released until
 * an allocation makes it Ready; free runs coalesce whatever their released
 * state; scavenging returns free Ready pages to the OS on demand, from a paced
 * background thread, and on the allocation path under a memory limit and
 * after an allocation that grew the heap past the retained goal.
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
 * (an invalid free). The default writes it to stderr with write(2).
 * With hw_fault_reports_enable it is also called from the SIGSEGV/SIGBUS
 * handler, in the faulting thread, so it must then be async-signal-safe:
 * no malloc, no stdio, no lock the faulting code may hold. */
typedef void (*hw_report_fn)(void *arg, const char *line);

/* Every field's 0 means its default. The limits below are checked by
 * hw_heap_create, which refuses a value outside them (EINVAL) with one report
 * line naming the field, the value given and the range allowed:
 *   "heapward: hw_heap_create: arena_size 3145728 is out of range: ..." */
typedef struct hw_heap_config {
	/* NULL = hw_platform_os(). */
	hw_platform *platform;
	/* The heap page: a power of two from 4096 to 1 MiB (default 8 KiB), at
	 * least the platform's page / 64, and at least the platform's page
	 * with fault_on_free. */
	size_t page_size;
	/* The grow unit: a power of two, at least 512 pages (and the
	 * platform's reservation granularity), at most address_space
	 * (default the larger of 64 MiB and 512 pages). A grow for a larger
	 * run reserves one region of the next multiple of arena_size. */
	size_t arena_size;
	/* The window of address space the heap may grow over, fixed at the
	 * first grow: a multiple of arena_size, at most 2^31 pages (16 TiB
	 * with 8 KiB pages) (default 1 TiB). Allocations that do not fit fail
	 * with ENOMEM. */
	size_t address_space;
	/* Soft cap on Ready bytes (0 = none; any value): see
	 * hw_heap_set_memory_limit. */
	size_t memory_limit;
	/* The retained goal, Ready <= inuse * (100 + p) / 100, which the
	 * background scavenger and growing allocations scavenge toward:
	 * 0 to 10000 (0 = default 10; there is no way to ask for 0%). */
	unsigned retain_percent;
	/* The background scavenger's CPU budget, in percent of one core:
	 * 0 to 100 (0 = default 1). */
	unsigned scavenger_cpu_percent;
	/* Freed runs trap on access until reused. */
	bool fault_on_free;
	/* Receives report lines (invalid frees, config errors); NULL = write
	 * them to stderr. */
	hw_report_fn report;
	void *report_arg;
} hw_heap_config;

/* Creates a heap; NULL cfg means every default. Returns NULL with errno
 * ENOMEM (no memory for metadata) or EINVAL (a config value outside its
 * limits above; the report names it). Reserves no arena until the first
 * allocation. */
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

/* Frees a run returned by an allocation, with the same npages; 0 on success.
 * p == NULL frees nothing and returns 0, whatever npages is (as free(3)).
 * An invalid free (not a run start, wrong length, already free, outside the
 * heap) is reported and returns EINVAL, leaving the heap unchanged. */
HW_API int hw_heap_free(hw_heap *h, void *p, size_t npages);

/* Returns at least nbytes of free Ready memory to the OS when that much is
 * releasable (in whole free units), and never more than nbytes rounded up to
 * one unit (max(OS page, heap page)); returns the bytes released. SIZE_MAX
 * releases everything. Highest addresses go first; while at least one huge
 * page is still to release, whole free huge pages go before the rest
 * (docs/scavenging.md). */
HW_API size_t hw_heap_scavenge(hw_heap *h, size_t nbytes);

/* Sets the soft memory limit on Ready bytes (0 = none) and scavenges down to
 * it at once; returns the bytes released. */
HW_API size_t hw_heap_set_memory_limit(hw_heap *h, size_t limit);

/* One step of the background scavenger's work: if Ready bytes exceed its
 * target (the retained goal, or the memory limit when set and lower),
 * release up to one quantum (64 KiB, rounded up to a unit; never a whole
 * huge page at once) toward it, from the top. Returns bytes released.
 * Deterministic; used by tests. The thread's own steps may release more
 * when the program is idle or over its limit (docs/scavenging.md). */
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
	uint64_t arenas;     /* reservations held: one per grow, each a multiple of
				arena_size (one grow for a large run reserves one
				region bigger than arena_size); mapped is their sum */
	uint64_t grows;      /* grows that succeeded (== arenas: none is given
				back before hw_heap_destroy) */
	uint64_t allocs, frees, invalid_frees;
	uint64_t scavenge_calls;        /* explicit hw_heap_scavenge calls */
	uint64_t scavenged_bytes;       /* all bytes released, every path */
	uint64_t bg_scavenged_bytes;    /* by the background scavenger / steps */
	uint64_t limit_scavenged_bytes; /* on the allocation path, for the limit */
	uint64_t grow_scavenged_bytes;  /* after an allocation that grew the heap,
					 * toward the retained goal */
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

/* Opt-in fault reports, for heaps with fault_on_free: a touch of a freed
 * run then names the heap, the free run and where in it the address fell,
 * instead of a bare "Segmentation fault". Installs, once per process, a
 * SIGSEGV and SIGBUS handler (SA_SIGINFO | SA_ONSTACK), and gives the
 * calling thread an alternate signal stack (mmap'd) unless it has one. For
 * a fault on an address in a live heap's arenas, the handler writes two
 * lines through that heap's report function, e.g.
 *   heapward: SEGV on address 0x7f3a00002010 in heap 0x7f3a40000000: free
 *     run [0x7f3a00000000, 0x7f3a00006000) (3 pages), 0x2010 bytes into it
 *   heapward: the address is in page 1 of the run, released; this heap
 *     faults freed runs (fault_on_free is set)
 * (each one line); faults elsewhere print nothing. Then it hands every fault
 * on: to the handler installed before it, if any, else to the default
 * action, so the process still dies of the signal (same exit status).
 * Returns 0 (also when already enabled) or an errno value (ENOMEM: no
 * memory for the alternate stack), with nothing installed. Thread-safe.
 * Limits: a handler installed later replaces this one unless it chains;
 * threads other than the caller have no alternate stack, so their stack
 * overflows are not reported; the heap is read without its lock, so a
 * fault while another thread changes that heap may report a mix of the
 * states before and after the change; a report about a heap being
 * destroyed at that very instant may itself fault, which kills the process
 * without the report. */
HW_API int hw_fault_reports_enable(void);

#ifdef __cplusplus
}
#endif

#endif

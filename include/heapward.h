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
 * All functions are thread-safe: each heap has its own lock. A heap handle
 * must be one hw_heap_create returned and hw_heap_destroy has not yet
 * destroyed (NULL is refused with a report and an abort; a destroyed heap is
 * undefined behaviour), and destroying a heap while another thread still
 * uses it is a caller bug, as is working on one run from two threads at
 * once (hw_heap_guard). errno is meaningful only after a call that failed:
 * a successful call may change it.
 *
 * fork(): every heap stays usable in the child, whatever the parent's other
 * threads were doing (the library locks every heap around fork). Threads do
 * not survive fork, so in the child no heap has a background scavenger:
 * hw_heap_scavenger_start there starts a new one.
 *
 * Stats identities (exact; hw_heap_validate checks them and more):
 *   mapped == inuse + idle,   released <= idle,
 *   ready == mapped - released - guarded - released_inside.
 */
#ifndef HEAPWARD_H
#define HEAPWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What marks the library's exports. A build may define it first: the
 * Windows DLL's objects are compiled with HW_API=__declspec(dllexport), the
 * DLL's equivalent of default visibility (users of the DLL need nothing:
 * its import library resolves the functions). */
#ifndef HW_API
#if defined(__GNUC__)
#define HW_API __attribute__((visibility("default")))
#else
#define HW_API
#endif
#endif

#define HEAPWARD_VERSION_MAJOR 0
#define HEAPWARD_VERSION_MINOR 1

typedef struct hw_heap hw_heap;
typedef struct hw_platform hw_platform;

/* The process's real OS platform (shared, never destroyed). */
HW_API hw_platform *hw_platform_os(void);

/* Called with a NUL-terminated report line when a caller error is detected
 * (an invalid free). The default writes it to stderr with write(2).
 * It is called with the heap's lock held, so it must not call any hw_heap_*
 * function on the same heap (that deadlocks).
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
	 * (default the larger of 64 MiB and 512 pages; under an address-space
	 * limit L, such as `ulimit -v` (RLIMIT_AS) on Linux, at most L / 16
	 * rounded down to a power of two, but never below the least). A grow
	 * for a larger run reserves one region of the next multiple of
	 * arena_size. */
	size_t arena_size;
	/* The window of address space the heap may grow over, fixed at the
	 * first grow: a multiple of arena_size, at most 2^31 pages (16 TiB
	 * with 8 KiB pages) (default 1 TiB; under an address-space limit L
	 * below 128 GiB, 8 times L rounded down to a power of two; arena_size
	 * when that is larger). On Linux the window goes at random low in
	 * the address space, far below where the kernel places the
	 * process's other mappings, so they do not take its room. Its
	 * metadata, reserved at creation, takes about address_space / 10240
	 * bytes of address space. Allocations that do not fit fail with
	 * ENOMEM. */
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
 * die with the heap. Stops the background scavenger first. NULL does
 * nothing. */
HW_API void hw_heap_destroy(hw_heap *h);

HW_API size_t hw_heap_page_size(const hw_heap *h);

/* Allocates npages contiguous pages at the lowest address that fits, growing
 * the heap when nothing fits. Returns NULL with errno ENOMEM when the platform
 * or the address space is exhausted (the heap is unchanged, but for the
 * failed call's count in platform_calls and platform_failures), or EINVAL
 * for npages == 0. Contents are undefined. Counted in allocs. */
HW_API void *hw_heap_alloc(hw_heap *h, size_t npages);

/* As hw_heap_alloc, aligned to `align` bytes (0 or a power of two; values
 * below the page size mean the page size). Returns NULL with errno EINVAL,
 * and no report, when align is neither (as for npages == 0), and ENOMEM
 * as hw_heap_alloc does, an alignment the window cannot hold included.
 * When zeroed is non-NULL it receives whether every byte of the run is
 * known to be zero (released pages on a platform whose released pages read
 * as zero), so calloc-like callers can skip memset. */
HW_API void *hw_heap_alloc_aligned(hw_heap *h, size_t npages, size_t align, bool *zeroed);

/* Frees a run returned by an allocation, with the same npages; 0 on success.
 * p == NULL frees nothing and returns 0, whatever npages is (as free(3)).
 * An invalid free (not a run start, wrong length, already free, outside the
 * heap) is reported and returns EINVAL, leaving the heap unchanged. */
HW_API int hw_heap_free(hw_heap *h, void *p, size_t npages);

/* Resizes an allocated run in place, keeping its start and the contents of
 * its first min(npages, new_npages) pages: a shrink frees the tail (as
 * hw_heap_free would, guard pages included); a growth takes the pages right
 * after the run when they are free, making them Ready (their contents are
 * undefined). Returns 0; ENOMEM when the pages after the run are not all
 * free, or past the heap's arenas, or the platform refused (the run is then
 * unchanged: the caller allocates elsewhere and copies); EINVAL, reported as
 *   "heapward: invalid resize of 0x... (N pages to M): <why>"
 * and counted in invalid_frees, for p NULL, new_npages 0, (p, npages) not
 * exactly one allocated run (the reasons hw_heap_free gives), or a shrink
 * whose new end falls inside a guard unit or a unit released inside the run
 * (such pages stay whole units). Counted in resizes when it changed the
 * run (never in allocs or frees); a growth scavenges for the memory limit
 * as an allocation does. */
HW_API int hw_heap_resize(hw_heap *h, void *p, size_t npages, size_t new_npages);

/* Guard pages: pages of a live run that trap on any access (read, write or
 * execute: SIGSEGV on Linux), hold no memory and stay part of the run, for
 * a debug allocator's guarded objects and quarantine (an object's end
 * against a guard page; a freed object kept faulted until it is reused).
 *
 * hw_heap_guard makes [p, p + npages pages) of one allocated run guard
 * pages: the platform's fault (MADV_GUARD_INSTALL where the kernel has it,
 * costing no mapping, else mprotect(PROT_NONE), which splits mappings: the
 * kernel's limit on mappings, vm.max_map_count, then bounds how many guarded
 * stretches can exist). Their contents are lost. hw_heap_unguard makes guard
 * pages usable again; their contents are undefined (zero on Linux).
 * The range must be whole guard units (max(OS page, heap page)) at a
 * unit-aligned address, inside one allocated run (its first page may be the
 * run's first), and for hw_heap_guard hold no guard page yet, for
 * hw_heap_unguard only guard pages. hw_heap_free frees a run whatever its
 * guard pages: they become free released pages with no platform call.
 * Returns 0; EINVAL for a range that breaks these rules (reported as
 *   "heapward: invalid guard of 0x... (N pages): <why>",
 * or "invalid unguard of" for hw_heap_unguard,
 * counted in invalid_guards, heap unchanged); or ENOMEM when the platform
 * refused (the kernel's mapping limit under mprotect; a failed commit), with
 * the pages as they were, counted in guard_failures. The caller owns the
 * run: guarding, unguarding or freeing one run from two threads at once is
 * a caller bug, as for any use of the run's memory. */
HW_API int hw_heap_guard(hw_heap *h, void *p, size_t npages);
HW_API int hw_heap_unguard(hw_heap *h, void *p, size_t npages);

/* Memory given back from inside a live run: for an allocator whose run
 * (a span of small objects) still holds live objects but has whole pages
 * holding none.
 *
 * hw_heap_release_inside gives the memory of [p, p + npages pages) of one
 * allocated run back to the OS (the same call a scavenge makes for free
 * pages: MADV_DONTNEED on Linux, a decommit on Windows; under fault_on_free
 * the fault, so a touch traps): their contents are lost, the pages stay
 * part of the run, and the caller must not touch them until
 * hw_heap_reuse_inside has made them usable again (contents undefined:
 * zero on Linux). The range must be whole units (max(OS page, heap page))
 * at a unit-aligned address inside one allocated run, and for
 * hw_heap_release_inside hold no guard page and no page released inside
 * the run yet, for hw_heap_reuse_inside only such pages (hw_heap_guard
 * refuses them too). hw_heap_free and the shrink of hw_heap_resize free a
 * run whatever such pages it has: they become free released pages with no
 * platform call. They count in inuse and released_inside, not in ready.
 * Returns 0; EINVAL for a range that breaks these rules (reported as
 *   "heapward: invalid release inside 0x... (N pages): <why>",
 * or "invalid reuse inside", counted in invalid_insides, heap unchanged);
 * or ENOMEM when the platform refused (release: the fault's mapping limit
 * under fault_on_free; reuse: a failed commit on Windows, a failed map
 * under fault_on_free), with the pages as they were, counted in
 * inside_failures. The caller owns the run, as for hw_heap_guard. */
HW_API int hw_heap_release_inside(hw_heap *h, void *p, size_t npages);
HW_API int hw_heap_reuse_inside(hw_heap *h, void *p, size_t npages);

/* Returns at least nbytes of free Ready memory to the OS when that much is
 * releasable (in whole free units), and never more than nbytes rounded up to
 * one unit (max(OS page, heap page)); returns the bytes released. SIZE_MAX
 * releases everything: when the call returns short of nbytes, no free page
 * is left Ready (it waits for releases other threads have in flight).
 * Highest addresses go first; while at least one huge
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
	HW_CALL_UNFAULT, /* a faulted range made usable again in one call */
	HW_CALL_KINDS
};

typedef struct hw_heap_stats {
	size_t mapped;          /* bytes of arena address space owned by the heap */
	size_t inuse;           /* bytes in allocated runs (their guard and inside pages too) */
	size_t idle;            /* free bytes: mapped - inuse */
	size_t released;        /* free bytes not backed by memory (Prepared/Reserved) */
	size_t guarded;         /* bytes of guard pages in allocated runs (not backed) */
	size_t released_inside; /* bytes of allocated runs released inside them
				   (hw_heap_release_inside; not backed) */
	size_t ready;           /* bytes backed: mapped - released - guarded - released_inside */
	size_t meta_ready;      /* Ready bytes of heap metadata (not in mapped) */
	size_t memory_limit;    /* current soft limit, 0 = none */
	uint64_t arenas;        /* reservations held: one per grow, each a multiple of
				arena_size (one grow for a large run reserves one
				region bigger than arena_size); mapped is their sum */
	uint64_t grows;         /* grows that succeeded (== arenas: none is given
				back before hw_heap_destroy) */
	uint64_t allocs, frees, invalid_frees;
	uint64_t resizes;        /* hw_heap_resize calls that changed a run */
	uint64_t scavenge_calls; /* explicit hw_heap_scavenge calls */
	/* Free Ready bytes scavenged (given back to the OS), by every
	 * scavenging path: the three below and hw_heap_scavenge. Frees under
	 * fault_on_free and hw_heap_release_inside give memory back too, but
	 * are not scavenging: they are not counted here. */
	uint64_t scavenged_bytes;
	uint64_t bg_scavenged_bytes;    /* by the background scavenger / steps */
	uint64_t limit_scavenged_bytes; /* for the memory limit: by allocations
					 * and growing resizes over it, and by
					 * hw_heap_set_memory_limit */
	uint64_t grow_scavenged_bytes;  /* after an allocation that grew the heap,
					 * toward the retained goal */
	uint64_t limit_exceeded;        /* allocations and growing resizes that
					 * left Ready > limit anyway */
	uint64_t fault_failures;        /* frees that could not fault (ENOMEM) */
	uint64_t invalid_guards;        /* hw_heap_guard/unguard calls refused (EINVAL) */
	uint64_t guard_failures;        /* ... that the platform refused (ENOMEM) */
	uint64_t invalid_insides;       /* hw_heap_release_inside/reuse_inside refused (EINVAL) */
	uint64_t inside_failures;       /* ... that the platform refused (ENOMEM) */
	uint64_t platform_calls[HW_CALL_KINDS];
	uint64_t platform_failures[HW_CALL_KINDS];
	uint64_t bg_scavenger_cpu_ns; /* CPU time of the background scavenger thread */
} hw_heap_stats;

HW_API void hw_heap_stats_get(hw_heap *h, hw_heap_stats *out);

/* Walks the whole heap (O(heap)) and checks every numbered invariant
 * (docs/invariants.md). Returns 0 when all hold; otherwise the number of the
 * first broken invariant, with a message naming it written to msg (cut to
 * len bytes, NUL included; msg may be NULL). */
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
 * (each one line); faults elsewhere print nothing. An address in the
 * malloc layer's own heap is reported by the layer instead, in the
 * sanitizers' layout, when its debug mode is on (docs/debug-mode.md). Then
 * it hands every fault
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

/* The malloc layer: the C allocation API, prefixed.
 *
 * These behave as the C library's functions of the same name without the
 * prefix (and never define those names). They allocate from one private
 * heap, created on the first call on hw_platform_os() (8 KiB pages, the
 * heap's default arena and window: 64 MiB and 1 TiB, smaller under an
 * address-space limit, see hw_heap_config; its background scavenger
 * running), with a cache per thread. HEAPWARD_OPTIONS, read once at that
 * first call, configures it (docs/options.md: abort_on_error, fills,
 * memory_limit, the scavenger, the debug mode below). Any thread may free
 * what any other allocated. Before and after fork() the layer stays usable
 * in both processes (objects in the caches of the parent's other threads
 * are lost to the child).
 *
 * Sizes and alignment: every object is 16-byte aligned. Requests up to
 * 64 KiB are rounded up to one of 80 size classes (16-byte steps to 256 B,
 * then 8 classes per doubling: less than 12.5% rounding waste from 128 B
 * up); larger ones to whole 8 KiB pages. Requests above SIZE_MAX / 4
 * bytes fail with ENOMEM.
 *
 * Errors: every failure returns NULL (or, for hw_posix_memalign, the error
 * number) with errno ENOMEM (EINVAL where said below), changing nothing.
 * hw_free and the sized frees never change errno.
 *
 * Always-on checks: a free or realloc of a pointer that is not heap memory,
 * that points into an object or into freed heap memory, or that was freed
 * already, and an overwrite of the canary written after every object whose
 * slot (or page run) is larger than the request (the bytes from the end up
 * to the next multiple of 16 bytes, 16 bytes when the end is one: 1 to 16
 * bytes, checked at free and realloc; a write further out is not seen), are
 * reported on stderr in one line,
 * e.g.
 *   heapward: double free of 0x7f3a00002010 (a free 48-byte slot [...))
 *   heapward: invalid free of 0x7f3a00002018: not the start of an object; ...
 *   heapward: invalid free of 0x7ffc1234: not heap memory: on this thread's stack
 * (a foreign address is described from the OS's mappings: this thread's
 * stack, the main thread's, the brk heap, a module's code or data with its
 * path, another mapping, or unmapped),
 *   heapward: heap buffer overflow: the tail canary of the 13-byte object
 *     [0x..., 0x...) is overwritten at 0x... (0 bytes past its end), found by free
 * and the process then aborts (SIGABRT). With HEAPWARD_OPTIONS
 * abort_on_error=0 it continues after the report instead: the bad free is
 * then ignored, a bad realloc returns NULL with errno EINVAL, and the
 * process's exit status becomes `exitcode` (default 23) when it exits.
 *
 * None of these functions is async-signal-safe. A signal handler that
 * calls one while its thread was inside one holding a lock is stopped with
 *   heapward: a lock of the allocator is taken again by the thread that
 *     holds it: a signal handler that interrupted the allocator called it ...
 * and an abort, rather than waiting for ever; elsewhere in the allocator
 * such a call is undefined, as with any malloc. */

/* n bytes (n == 0: a unique minimal object that must be freed). */
HW_API void *hw_malloc(size_t n);
/* Frees p (NULL: nothing). */
HW_API void hw_free(void *p);
/* C23's sized frees: hw_free(p) when p is NULL, or when size is exactly the
 * request p was made with, which hw_malloc_usable_size(p) returns
 * (hw_malloc's n, hw_calloc's nmemb * size, hw_realloc's n,
 * hw_aligned_alloc's n; hw_pvalloc's n rounded up to whole pages) and, for
 * hw_free_aligned_sized, align is a power of two dividing p (as the
 * alignment p was made with does; a larger one that happens to divide p
 * passes too). Otherwise, for a live object's start, the always-on check
 * reports one line,
 *   heapward: free-size mismatch: free_sized of 0x... with size 32 (a
 *     24-byte object allocated by malloc)
 *   heapward: free-size mismatch: free_aligned_sized of 0x... with
 *     alignment 64 (a 24-byte object allocated by malloc, not aligned to it)
 * and aborts, or (abort_on_error=0) leaves the object live and continues;
 * free_size_mismatch=0 turns this check off. Any other pointer is reported
 * as hw_free reports it (below). */
HW_API void hw_free_sized(void *p, size_t size);
HW_API void hw_free_aligned_sized(void *p, size_t align, size_t size);
/* nmemb * size zeroed bytes; ENOMEM when the product overflows. Memory the
 * heap knows is zero (released pages) is not cleared again. */
HW_API void *hw_calloc(size_t nmemb, size_t size);
/* NULL p: hw_malloc(n). n == 0 and p non-NULL: frees p and returns NULL
 * (as glibc). Otherwise the object keeps its place while n stays in its size
 * class (small), or, for a large object that stays large, when it shrinks
 * (the pages it no longer needs go back to the heap) or when the heap pages
 * right after it are free to grow into (hw_heap_resize); else it moves, its
 * first min(old, n) bytes copied. On failure p is unchanged and still owned
 * by the caller. */
HW_API void *hw_realloc(void *p, size_t n);
/* hw_realloc(p, nmemb * size); ENOMEM when the product overflows. */
HW_API void *hw_reallocarray(void *p, size_t nmemb, size_t size);
/* *out = n bytes aligned to align; returns 0, EINVAL (align not a power of
 * two multiple of sizeof(void *)) or ENOMEM, and leaves errno unchanged. */
HW_API int hw_posix_memalign(void **out, size_t align, size_t n);
/* n bytes aligned to align (any power of two; NULL with EINVAL otherwise);
 * n need not be a multiple of align. */
HW_API void *hw_aligned_alloc(size_t align, size_t n);
/* As hw_aligned_alloc, but an alignment that is not a power of two is
 * rounded up to one (as glibc); EINVAL only above 2^63. */
HW_API void *hw_memalign(size_t align, size_t n);
/* n bytes aligned to the OS page. */
HW_API void *hw_valloc(size_t n);
/* n rounded up to whole OS pages (one page for 0), aligned to the page. */
HW_API void *hw_pvalloc(size_t n);
/* The size requested for p (0 for NULL): exactly the bytes the caller may
 * use, since the slack beyond them holds the canary. p must be a live
 * object's start (else reported, as a free would be; 0 when continuing). */
HW_API size_t hw_malloc_usable_size(void *p);
/* Returns the calling thread's cached free objects to their spans, the
 * layer's free metadata pages to the OS, the pages of spans that hold
 * only free objects (in spans that still hold live ones too) to the OS,
 * then every free page of the heap to the OS; pad is ignored. Objects in
 * the debug mode's quarantine are not free yet: their memory stays.
 * Returns 1 when memory was released, else 0. */
HW_API int hw_malloc_trim(size_t pad);

typedef struct hw_malloc_stats {
	/* Spans of small objects, and the heap bytes they hold. */
	size_t small_spans, small_span_bytes;
	/* Live large objects (and those in the debug mode's quarantine), and
	 * the heap bytes they hold (whole pages). */
	size_t large_objects, large_bytes;
	/* Out-of-line metadata (span records, page map, thread caches' records
	 * are not counted), outside the heap. */
	size_t meta_bytes;
	/* The private heap's hw_heap_stats fields of the same names
	 * (heap_released_inside: the free pages of spans that still hold live
	 * objects, given back at the idle trim or hw_malloc_trim). */
	size_t heap_mapped, heap_inuse, heap_released, heap_ready, heap_released_inside;
	/* Threads with a live cache. */
	uint64_t thread_caches;
	/* Misuse reports (more than one only under abort_on_error=0: the
	 * first report aborts otherwise). */
	uint64_t errors;
	/* Debug mode (0 when it is off): distinct stacks in the stack depot,
	 * the bytes they take (at most 256 MiB), and stacks not recorded
	 * because the depot was full. */
	uint64_t stacks, stack_bytes, stacks_dropped;
	/* Debug mode: freed objects held in its quarantine, and the bytes of
	 * their slots and pages (at most the quarantine_bytes option). */
	size_t quarantine_objects, quarantine_bytes;
	/* Guarded objects (guard=, docs/debug-mode.md): the live ones and the
	 * bytes of their pages (guard pages not counted; freed ones are in the
	 * quarantine's counts above); allocations the policy picked that were
	 * not guarded because a budget (guard_budget_count,
	 * guard_budget_bytes) was spent, and because the guarded heap was
	 * full, the OS refused a guard page (the kernel's mapping limit
	 * under PROT_NONE) or the alignment asked for was past the guarded
	 * heap's window (this last one without a warning). */
	size_t guarded_objects, guarded_bytes;
	uint64_t guard_over_budget, guard_refused;
} hw_malloc_stats;

/* A snapshot of the malloc layer (all zero before its first use). */
HW_API void hw_malloc_stats_get(hw_malloc_stats *out);

/* Debug mode (HEAPWARD_OPTIONS debug=1, or detect_leaks=1; see
 * docs/debug-mode.md). Every allocation and free records its stack (the
 * calls then take the slow paths: several times slower, still lock-free),
 * and each misuse report above is followed by a report in the
 * sanitizers' layout, with the stacks of the call, of the object's
 * allocation and of its free, symbolized by llvm-symbolizer or addr2line
 * (module+offset without them):
 *   =================================================================
 *   ==PID==ERROR: heapward: double-free on address 0x... in thread T0:
 *       #0 0x... in function file:line:column
 *   ...
 *   SUMMARY: heapward: double-free file:line:column in function
 * With detect_leaks=1 (leaks=1), the process's live objects that no root
 * (module data and bss, thread stacks, registers and TLS, and with
 * use_mappings=1, the default, every other writable mapping of the
 * program's own: not heapward's) reaches, directly or through other
 * objects, are reported at exit in
 * LeakSanitizer's layout ("Direct leak of N byte(s) in M object(s)
 * allocated from:", "SUMMARY: heapward: N byte(s) leaked in M
 * allocation(s)."), and the process exits with `exitcode` (default 23)
 * when it leaked or continued past an error (abort_on_error=0). Leaks
 * whose allocation stack a rule of the `suppressions` file matches
 * (LeakSanitizer's "leak:<template>" lines) are not reported and do not
 * count; the rules that matched are listed ("Suppressions used:").
 * With guard=all (or guard=sample:N, which turn the mode on), objects are
 * guarded: each on pages of its own against a guard page that traps any
 * access, its slack holding a pattern checked at free (a damaged one is a
 * "heap buffer overflow" or "underflow" report), and faulted in a bounded
 * quarantine once freed; past the budgets, or when the OS refuses a guard
 * page, allocations are not guarded (one warning; the counters above).
 *
 * Runs the leak check now (stopping the other threads while it scans),
 * prints the report if anything leaked, and returns the number of leaked
 * objects it reported (suppressed ones not counted); 0 when the debug mode
 * is off. Objects it reports stay live: a
 * later check reports them again unless they were freed. */
HW_API size_t hw_malloc_leak_check(void);

#ifdef __cplusplus
}
#endif

#endif

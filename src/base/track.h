/* track.h: telling AddressSanitizer or Valgrind Memcheck what the heap does.
 *
 * Owns: the annotation hooks, each compiled to the build's tracking mode
 * (HW_TRACK_ASAN, HW_TRACK_VALGRIND, or nothing). The heap calls:
 *   hw_track_noaccess  a new arena: nothing in it may be touched
 *   hw_track_alloc     a run handed out (defined when known zero)
 *   hw_track_zeroed    part of a new run that is known to read as zero
 *   hw_track_free      a run given back: stale accesses are errors
 *   hw_track_forget    a run still live when its heap is destroyed
 *   hw_track_guard     pages of a live run made guard pages: no access
 *   hw_track_unguard   guard pages of a live run made usable again
 *   hw_track_resize    a live run grown or shrunk in place: its new tail
 *                      undefined, its old tail no-access
 *   hw_track_unroot / hw_track_root
 *                      a live run stops (starts again) being a root region
 *                      of the leak scan: while it has guard pages (K2)
 *   hw_track_unmap     before an arena is released: ASan keeps poison across
 *                      munmap/mmap, so clear it or a later mapping at the same
 *                      address reports false errors
 * Deliberate accesses to memory the tools consider dead use:
 *   HW_TRACK_UNCHECKED   function attribute: ASan does not check its accesses
 *   hw_track_quiet_begin/end  Memcheck reports nothing in between (per thread)
 *   hw_track_os_fill     bytes written by the (simulated) OS into pages the
 *                        heap does not own at that moment: a kernel's writes
 *                        are invisible to the tools, so these must be too
 * (platform/trap.c's probe reads traps on purpose; platform/sim.c fills
 * reused released pages with junk.)
 *
 * Invariants:
 *   K1. Under ASan, every byte of an arena not inside a live run is poisoned,
 *       and no byte outside a live arena is poisoned by the heap.
 *   K2. Under ASan, each live run without guard pages is one LeakSanitizer
 *       root region, so a pointer stored in heap memory keeps a malloc'd
 *       object alive while free pages are never scanned; the region is
 *       unregistered when the run is freed or its heap destroyed (matched
 *       exactly, (base, size) both times). A run with guard pages is no
 *       root region: the leak scan would read its guard pages (a kernel
 *       guard region looks readable in the process's maps) and fault.
 *   K3. Under Valgrind, each live arena is the one superblock of its own
 *       auto-free metapool (anchored at the arena base) and each live run is
 *       one MALLOCLIKE block inside it; free pages are no-access. Releasing
 *       the arena frees the blocks still live in it, so a destroyed heap
 *       leaves no stale block for the leak check or for a later mapping at
 *       the same address.
 *   K4. Under Valgrind, the pages of a new run that were released on a
 *       platform whose released pages read as zero (MADV_DONTNEED, whose
 *       zero-fill Memcheck cannot see) are defined; its dirty pages are
 *       undefined.
 *   K5. hw_track_os_fill leaves every byte's tracking state as it was.
 *
 * Locking: the heap hooks run under the heap lock; hw_track_os_fill under
 * whatever serializes the platform instance. The tools lock internally.
 */
#ifndef HW_TRACK_H
#define HW_TRACK_H

#include "base.h"

#include <string.h>

#if HW_TRACK_ASAN && HW_TRACK_VALGRIND
#error "choose one tracking mode"
#endif

#if HW_TRACK_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>

static inline void hw_track_noaccess(void *p, size_t n) { __asan_poison_memory_region(p, n); }
/* Each live run is a LeakSanitizer root region (K2): pointers stored in it
 * keep their objects alive, and free pages are never scanned (scanning whole
 * arenas read every untouched page and tripped on guard pages). */
static inline void hw_track_alloc(void *p, size_t n, bool zeroed)
{
	(void)zeroed;
	__asan_unpoison_memory_region(p, n);
	__lsan_register_root_region(p, n);
}
static inline void hw_track_free(void *p, size_t n)
{
	__lsan_unregister_root_region(p, n);
	__asan_poison_memory_region(p, n);
}
static inline void hw_track_zeroed(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_forget(void *p, size_t n) { __lsan_unregister_root_region(p, n); }
static inline void hw_track_guard(void *p, size_t n) { __asan_poison_memory_region(p, n); }
static inline void hw_track_unguard(void *p, size_t n, bool zeroed)
{
	(void)zeroed;
	__asan_unpoison_memory_region(p, n);
}
static inline void hw_track_resize(void *p, size_t was, size_t now)
{
	if (now > was)
		__asan_unpoison_memory_region((char *)p + was, now - was);
	else
		__asan_poison_memory_region((char *)p + now, was - now);
}
static inline void hw_track_unroot(void *p, size_t n) { __lsan_unregister_root_region(p, n); }
static inline void hw_track_root(void *p, size_t n) { __lsan_register_root_region(p, n); }
static inline void hw_track_unmap(void *p, size_t n) { __asan_unpoison_memory_region(p, n); }
static inline void hw_track_quiet_begin(void) {}
static inline void hw_track_quiet_end(void) {}
#define HW_TRACK_UNCHECKED __attribute__((no_sanitize("address")))

#elif HW_TRACK_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

static inline void hw_track_noaccess(void *p, size_t n)
{
	VALGRIND_CREATE_MEMPOOL_EXT(p, 0, 0,
				    VALGRIND_MEMPOOL_METAPOOL | VALGRIND_MEMPOOL_AUTO_FREE);
	VALGRIND_MEMPOOL_ALLOC(p, p, n);
	VALGRIND_MAKE_MEM_NOACCESS(p, n);
}
static inline void hw_track_alloc(void *p, size_t n, bool zeroed)
{
	VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
}
/* FREELIKE makes the block no-access. */
static inline void hw_track_free(void *p, size_t n)
{
	(void)n;
	VALGRIND_FREELIKE_BLOCK(p, 0);
}
/* Released pages reused inside a run read as zero: MADV_DONTNEED's
 * zero-fill is invisible to Memcheck, so say it (K4). */
static inline void hw_track_zeroed(void *p, size_t n) { VALGRIND_MAKE_MEM_DEFINED(p, n); }
/* Live runs die with their arena's pool (K3). */
static inline void hw_track_forget(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_guard(void *p, size_t n) { VALGRIND_MAKE_MEM_NOACCESS(p, n); }
static inline void hw_track_unguard(void *p, size_t n, bool zeroed)
{
	if (zeroed)
		VALGRIND_MAKE_MEM_DEFINED(p, n);
	else
		VALGRIND_MAKE_MEM_UNDEFINED(p, n);
}
/* The block keeps its start and changes size (K3). */
static inline void hw_track_resize(void *p, size_t was, size_t now)
{
	VALGRIND_RESIZEINPLACE_BLOCK(p, was, now, 0);
}
static inline void hw_track_unroot(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_root(void *p, size_t n) { (void)p, (void)n; }
/* Freeing the superblock of an auto-free pool frees the runs in it (K3). */
static inline void hw_track_unmap(void *p, size_t n)
{
	(void)n;
	VALGRIND_MEMPOOL_FREE(p, p);
	VALGRIND_DESTROY_MEMPOOL(p);
}
static inline void hw_track_quiet_begin(void) { VALGRIND_DISABLE_ERROR_REPORTING; }
static inline void hw_track_quiet_end(void) { VALGRIND_ENABLE_ERROR_REPORTING; }
#define HW_TRACK_UNCHECKED

#else
static inline void hw_track_noaccess(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_alloc(void *p, size_t n, bool zeroed)
{
	(void)p, (void)n, (void)zeroed;
}
static inline void hw_track_free(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_zeroed(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_forget(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_guard(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_unguard(void *p, size_t n, bool zeroed)
{
	(void)p, (void)n, (void)zeroed;
}
static inline void hw_track_resize(void *p, size_t was, size_t now)
{
	(void)p, (void)was, (void)now;
}
static inline void hw_track_unroot(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_root(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_unmap(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_quiet_begin(void) {}
static inline void hw_track_quiet_end(void) {}
#define HW_TRACK_UNCHECKED
#endif

/* K5. Under ASan the stores are uninstrumented (a memset call would go
 * through ASan's checking interceptor, hence the volatile word loop; P1 makes
 * p and n page multiples, the byte loop is for anything else). Under
 * Memcheck, a store while reporting is off leaves a no-access byte
 * no-access. */
HW_TRACK_UNCHECKED static inline void hw_track_os_fill(void *p, size_t n, unsigned char byte)
{
	hw_track_quiet_begin();
	if (HW_TRACK_ASAN) {
		size_t i = 0;
		if ((((uintptr_t)p | n) & (sizeof(uint64_t) - 1)) == 0) {
			volatile uint64_t *w = p;
			uint64_t v = byte * (UINT64_MAX / 0xff);
			for (; i < n / sizeof *w; i++)
				w[i] = v;
			i *= sizeof *w;
		}
		volatile unsigned char *b = p;
		for (; i < n; i++)
			b[i] = byte;
	} else {
		memset(p, byte, n);
	}
	hw_track_quiet_end();
}

#endif

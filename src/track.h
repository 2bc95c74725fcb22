/* track.h: telling AddressSanitizer or Valgrind Memcheck what the heap does.
 *
 * Owns: the four annotation hooks the heap calls, each compiled to the
 * build's tracking mode (HW_TRACK_ASAN, HW_TRACK_VALGRIND, or nothing):
 *   hw_track_noaccess  new arena: nothing in it may be touched
 *   hw_track_alloc     a run handed out (defined when known zero)
 *   hw_track_free      a run given back: stale accesses are errors
 *   hw_track_unmap     before an arena is released: ASan keeps poison across
 *                      munmap/mmap, so clear it or a later mapping at the same
 *                      address reports false errors
 *
 * Invariants:
 *   K1. Under ASan, every byte of an arena not inside a live run is poisoned.
 *   K2. Under Valgrind, each live run is one MALLOCLIKE block; free and
 *       unallocated pages are no-access. Runs built from released pages are
 *       marked defined when zeroed (Memcheck cannot know MADV_DONTNEED zeroes).
 *
 * Locking: the hooks are called under the heap lock.
 */
#ifndef HW_TRACK_H
#define HW_TRACK_H

#include "base.h"

#if HW_TRACK_ASAN && HW_TRACK_VALGRIND
#error "choose one tracking mode"
#endif

#if HW_TRACK_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>

static inline void hw_track_noaccess(void *p, size_t n)
{
	__asan_poison_memory_region(p, n);
	/* Pointers stored in heap memory keep other objects alive. */
	__lsan_register_root_region(p, n);
}
static inline void hw_track_alloc(void *p, size_t n, bool zeroed)
{
	(void)zeroed;
	__asan_unpoison_memory_region(p, n);
}
static inline void hw_track_free(void *p, size_t n) { __asan_poison_memory_region(p, n); }
static inline void hw_track_unmap(void *p, size_t n)
{
	__lsan_unregister_root_region(p, n);
	__asan_unpoison_memory_region(p, n);
}

#elif HW_TRACK_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

static inline void hw_track_noaccess(void *p, size_t n) { VALGRIND_MAKE_MEM_NOACCESS(p, n); }
static inline void hw_track_alloc(void *p, size_t n, bool zeroed)
{
	VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
}
static inline void hw_track_free(void *p, size_t n)
{
	VALGRIND_FREELIKE_BLOCK(p, 0);
	VALGRIND_MAKE_MEM_NOACCESS(p, n);
}
static inline void hw_track_unmap(void *p, size_t n) { VALGRIND_MAKE_MEM_UNDEFINED(p, n); }

#else
static inline void hw_track_noaccess(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_alloc(void *p, size_t n, bool zeroed) { (void)p, (void)n, (void)zeroed; }
static inline void hw_track_free(void *p, size_t n) { (void)p, (void)n; }
static inline void hw_track_unmap(void *p, size_t n) { (void)p, (void)n; }
#endif

#endif

/* override.h: what override_new.cc (C++) needs from override.c (C).
 *
 * Owns: the two entry points of the C++ operators, the allocation kinds as
 * they name them, and the statistics line shared by override.c and
 * stats.c. Kept to plain C types so the one C++ file
 * includes no header of the layers below (which are C only).
 *
 * Invariants:
 *   OH1. OH_KIND_* equal the malloc layer's MC_KIND_* (override.c checks
 *        each at compile time).
 *
 * Locking: none.
 */
#ifndef HW_OVERRIDE_H
#define HW_OVERRIDE_H

#include <stdbool.h>
#include <stddef.h>

#define HW_OV_NORETURN __attribute__((noreturn))

#ifdef __cplusplus
extern "C" {
#endif

enum {
	OH_KIND_NEW = 1,
	OH_KIND_NEW_ARRAY = 2,
	OH_KIND_NEW_ALIGNED = 3,
	OH_KIND_NEW_ARRAY_ALIGNED = 4
};

/* n bytes (aligned to align when it is not 0) recorded as made by kind;
 * NULL with errno ENOMEM (EINVAL for an alignment that is not a power of
 * two) on failure. Throws nothing: the caller runs the new-handler loop. */
void *hw_ov_new(size_t n, size_t align, unsigned kind);
/* Frees p (NULL: nothing) after checking it was made by kind and, when
 * sized, with size bytes; op names the caller in a mismatch report. */
void hw_ov_delete(void *p, unsigned kind, bool sized, size_t size, const char *op);
/* override_new.cc ON4: a throwing operator new that cannot allocate, in a
 * process without the C++ runtime: reports "heapward: operator new: out of
 * memory, and no C++ runtime to throw std::bad_alloc" and aborts. */
HW_OV_NORETURN void hw_ov_no_cxx_runtime(void);
/* stats.c: writes one line of the layer's statistics to the error output,
 * "heapward: stats<when>: ..." (malloc_stats: when is ""). */
void hw_ov_stats_print(const char *when);

#ifdef __cplusplus
}
#endif

#endif

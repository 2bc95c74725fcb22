/* layer_check.h: what the malloc layer's tests ask of the layer between
 * steps: its statistics now, and its private heap validated.
 *
 * Owns: layer_stats and layer_validate (an EXPECT that names the broken
 * invariant).
 *
 * Invariants: none of its own (the heap's validator checks I1-I16).
 *
 * Locking: none; call it where the test could call hw_malloc_stats_get.
 */
#ifndef HW_TESTS_LAYER_CHECK_H
#define HW_TESTS_LAYER_CHECK_H

#include "check.h"
#include "heapward.h"
#include "malloc_internal.h"

static inline hw_malloc_stats layer_stats(void)
{
	hw_malloc_stats s;
	hw_malloc_stats_get(&s);
	return s;
}

static inline void layer_validate(void)
{
	char msg[512];
	EXPECT(hw_heap_validate(hw_mc_heap(), msg, sizeof msg) == 0, "heap invalid: %s", msg);
}

#endif

/* mappings.h: counting the mappings of a range, for the tests of what
 * guard pages and seals do to the process's mappings.
 *
 * Owns: hw_test_count_mappings, an hw_platform_mappings callback.
 * Locking: none.
 */
#ifndef HW_TESTS_MAPPINGS_H
#define HW_TESTS_MAPPINGS_H

#include <stdbool.h>
#include <stdint.h>

/* arg is int[2]: [0] counts the mappings, [1] the readable and writable
 * ones. */
static inline int hw_test_count_mappings(void *arg, uintptr_t lo, uintptr_t hi, bool rw)
{
	(void)lo, (void)hi;
	int *c = arg;
	c[0]++;
	c[1] += rw;
	return 0;
}

#endif

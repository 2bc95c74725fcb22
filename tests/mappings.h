/* mappings.h: counting the mappings of a range, for the tests of what
 * guard pages and seals do to the process's mappings, and the bytes the
 * process maps, for the tests that set an address-space limit.
 *
 * Owns: hw_test_count_mappings, an hw_platform_mappings callback;
 * hw_test_mapped_bytes.
 * Locking: none.
 */
#ifndef HW_TESTS_MAPPINGS_H
#define HW_TESTS_MAPPINGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

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

/* The bytes this process maps now (Linux: /proc/self/statm's first
 * field), or 0 when they cannot be read. */
static inline size_t hw_test_mapped_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%lu", &pages) != 1)
		pages = 0;
	fclose(f);
	return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

#endif

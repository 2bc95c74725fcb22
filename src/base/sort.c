/* sort.c: hw_heapsort, a sort that needs no memory and no recursion.
 *
 * Owns: hw_heapsort (base.h). For the callers that may not allocate (the
 * malloc layer sorts under its own locks, where the C library's qsort could
 * call malloc) or recurse deeply: O(n log n) compares, in place, not stable.
 *
 * Invariants:
 *   SO1. On return, for every i < j, less(element j, element i) is false.
 *   SO2. Elements are moved only by swapping whole elements: the array holds
 *        the same elements throughout, in some order.
 *
 * Locking: none; the caller owns the array.
 */
#include "base.h"

static void swap(unsigned char *a, unsigned char *b, size_t size)
{
	for (size_t k = 0; k < size; k++) {
		unsigned char t = a[k];
		a[k] = b[k];
		b[k] = t;
	}
}

/* Restores the max-heap (by less) below element i of the first n. */
static void sift(unsigned char *v, size_t i, size_t n, size_t size,
		 bool (*less)(const void *, const void *))
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && less(v + c * size, v + (c + 1) * size))
			c++;
		if (!less(v + i * size, v + c * size))
			return;
		swap(v + i * size, v + c * size, size);
		i = c;
	}
}

void hw_heapsort(void *base, size_t n, size_t size, bool (*less)(const void *, const void *))
{
	unsigned char *v = base;
	for (size_t i = n / 2; i-- > 0;)
		sift(v, i, n, size, less);
	for (size_t end = n; end-- > 1;) {
		swap(v, v + end * size, size);
		sift(v, 0, end, size, less);
	}
}

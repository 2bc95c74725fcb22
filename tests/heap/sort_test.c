/* sort_test.c: hw_heapsort (src/base/sort.c): SO1's order and SO2's
 * permutation, for element sizes of 1, 16 and 24 bytes, with duplicates,
 * already sorted and reversed input, and n of 0 to 300.
 */
#include "base.h"
#include "check.h"

#include <string.h>

typedef struct wide {
	uint64_t key;
	uint64_t tag; /* the element's original position: SO2 */
	uint64_t pad;
} wide;

static bool wide_less(const void *a, const void *b)
{
	return ((const wide *)a)->key < ((const wide *)b)->key;
}

static bool byte_less(const void *a, const void *b)
{
	return *(const unsigned char *)a < *(const unsigned char *)b;
}

static uint64_t next(uint64_t *s)
{
	*s = *s * 6364136223846793005u + 1442695040888963407u;
	return *s >> 33;
}

static void test_wide(void)
{
	static wide v[300];
	static bool seen[300];
	uint64_t seed = 7;
	for (size_t n = 0; n <= 300; n += 13) {
		for (int shape = 0; shape < 3; shape++) {
			for (size_t i = 0; i < n; i++) {
				uint64_t k = shape == 0 ? next(&seed) % 50 : shape == 1 ? i
											: n - i;
				v[i] = (wide){k, i, k ^ 0x5a};
			}
			hw_heapsort(v, n, sizeof v[0], wide_less);
			memset(seen, 0, sizeof seen);
			bool ok = true;
			for (size_t i = 0; i < n; i++) {
				ok &= i == 0 || v[i - 1].key <= v[i].key;
				ok &= v[i].tag < n && !seen[v[i].tag] &&
				      v[i].pad == (v[i].key ^ 0x5a);
				if (v[i].tag < n)
					seen[v[i].tag] = true;
			}
			EXPECT(ok, "n %zu shape %d", n, shape);
		}
	}
}

static void test_bytes(void)
{
	unsigned char b[256];
	unsigned count[256] = {0};
	uint64_t seed = 3;
	for (size_t i = 0; i < sizeof b; i++) {
		b[i] = (unsigned char)next(&seed);
		count[b[i]]++;
	}
	hw_heapsort(b, sizeof b, 1, byte_less);
	bool ok = true;
	for (size_t i = 0; i < sizeof b; i++) {
		ok &= i == 0 || b[i - 1] <= b[i];
		count[b[i]]--;
	}
	for (size_t i = 0; i < 256; i++)
		ok &= count[i] == 0;
	EXPECT(ok, "bytes sorted, same multiset");
}

HW_TEST_MAIN(T(test_wide), T(test_bytes))

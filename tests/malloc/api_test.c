/* api_test.c: every edge of the prefixed C API (src/malloc/malloc.c), with
 * errno, and the memory return (free everything, trim, pages go back).
 *
 * One process, one thread: each test frees what it allocates, so the last
 * test can check that the heap is empty and its pages released.
 */
#include "check.h"
#include "heapward.h"
#include "inspect.h"
#include "malloc_internal.h"
#include "platform.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static bool aligned_to(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static void test_malloc_sizes(void)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 127, 128,
				       129, 1000, 4096, 8192, 32768, 65535, 65536,
				       65537, 70000, 131072, 500000, 1 << 22};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		unsigned char *p = hw_malloc(n);
		REQUIRE(p, "malloc(%zu)", n);
		EXPECT(aligned_to(p, 16), "malloc(%zu) = %p", n, (void *)p);
		EXPECT(hw_malloc_usable_size(p) == n, "usable(%zu) = %zu", n,
		       hw_malloc_usable_size(p));
		memset(p, 0x5c, n);
		hw_free(p);
	}
	void *a = hw_malloc(0), *b = hw_malloc(0);
	EXPECT(a && b && a != b, "malloc(0) gives unique objects");
	hw_free(a);
	hw_free(b);
	hw_free(NULL);
}

static void test_malloc_enomem(void)
{
	static const size_t sizes[] = {SIZE_MAX, SIZE_MAX / 2, MC_MAX_REQUEST + 1,
				       (size_t)1 << 46 /* beyond the 1 TiB window */};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		errno = 0;
		EXPECT(hw_malloc(sizes[i]) == NULL && errno == ENOMEM, "malloc(%zu): errno %d",
		       sizes[i], errno);
	}
	errno = 0;
	EXPECT(hw_calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM, "calloc overflow");
	errno = 0;
	EXPECT(hw_calloc((size_t)1 << 33, (size_t)1 << 33) == NULL && errno == ENOMEM,
	       "calloc 2^66");
}

static void test_calloc_zeroes(void)
{
	/* Dirty slots first, so the cache hands calloc used memory. */
	for (size_t n = 1; n <= 70000; n = n * 3 + 1) {
		unsigned char *d = hw_malloc(n);
		REQUIRE(d);
		memset(d, 0xee, n);
		hw_free(d);
		unsigned char *p = hw_calloc(1, n);
		REQUIRE(p, "calloc(%zu)", n);
		size_t nz = 0;
		for (size_t i = 0; i < n; i++)
			nz += p[i] != 0;
		EXPECT(nz == 0, "calloc(%zu): %zu non-zero bytes", n, nz);
		EXPECT(hw_malloc_usable_size(p) == n, "calloc usable");
		hw_free(p);
	}
	unsigned char *big = hw_calloc(1000, 1000);
	REQUIRE(big);
	EXPECT(big[0] == 0 && big[999999] == 0, "large calloc");
	hw_free(big);
	void *z = hw_calloc(0, 5);
	EXPECT(z != NULL, "calloc(0, 5)");
	hw_free(z);
}

static void test_realloc(void)
{
	errno = 0;
	unsigned char *p = hw_realloc(NULL, 40);
	REQUIRE(p, "realloc(NULL, 40)");
	for (int i = 0; i < 40; i++)
		p[i] = (unsigned char)i;
	/* 40 and 48 share the 48-byte class: in place. */
	EXPECT(hw_realloc(p, 48) == p, "grow within the class moves");
	EXPECT(hw_malloc_usable_size(p) == 48, "usable after in-place grow");
	EXPECT(hw_realloc(p, 33) == p, "shrink within the class moves");
	EXPECT(hw_malloc_usable_size(p) == 33, "usable after in-place shrink");
	unsigned char *q = hw_realloc(p, 5000);
	REQUIRE(q, "realloc grow");
	bool same = true;
	for (int i = 0; i < 33; i++)
		same &= q[i] == (unsigned char)i;
	EXPECT(same, "contents kept across a move");
	EXPECT(hw_malloc_usable_size(q) == 5000, "usable after move");
	/* Large: in place when it shrinks or its pages suffice. */
	unsigned char *l = hw_realloc(q, 200000);
	REQUIRE(l);
	EXPECT(l[32] == 32, "small to large keeps contents");
	EXPECT(hw_realloc(l, 150000) == l, "large shrink in place");
	EXPECT(hw_realloc(l, 200700) == l, "large grow within its pages in place");
	EXPECT(hw_malloc_usable_size(l) == 200700, "usable 200700");
	hw_malloc_stats st0, st1;
	hw_malloc_stats_get(&st0);
	unsigned char *m = hw_realloc(l, 70000);
	REQUIRE(m);
	hw_malloc_stats_get(&st1);
	EXPECT(m == l && m[32] == 32, "a large shrink stays in place");
	EXPECT(st1.large_bytes == st0.large_bytes - (25 - 9) * 8192, "its tail pages went back");
	/* Growth into the free pages right after a large object stays in
	 * place; with a live object there, it moves. */
	unsigned char *x = hw_malloc(100000), *y = hw_malloc(100000);
	REQUIRE(x && y && y == x + 13 * 8192, "x %p y %p: first fit puts y after x",
		(void *)x, (void *)y);
	x[99999] = 7;
	unsigned char *x2 = hw_realloc(x, 120000);
	EXPECT(x2 && x2 != x && x2[99999] == 7, "y is in the way: it moves");
	hw_free(x2);
	unsigned char *w = hw_malloc(100000);
	REQUIRE(w == x, "w %p takes x's place %p", (void *)w, (void *)x);
	hw_free(y);
	w[99999] = 9;
	EXPECT(hw_realloc(w, 200000) == w && w[99999] == 9, "grows into y's pages in place");
	EXPECT(hw_malloc_usable_size(w) == 200000);
	hw_free(w);
	/* Failure leaves the object alone. */
	errno = 0;
	EXPECT(hw_realloc(m, SIZE_MAX) == NULL && errno == ENOMEM, "realloc(SIZE_MAX)");
	errno = 0;
	EXPECT(hw_realloc(m, (size_t)1 << 46) == NULL && errno == ENOMEM, "realloc 2^46");
	EXPECT(hw_malloc_usable_size(m) == 70000 && m[32] == 32, "kept after failure");
	errno = 0;
	EXPECT(hw_reallocarray(m, SIZE_MAX / 2, 3) == NULL && errno == ENOMEM,
	       "reallocarray overflow");
	EXPECT(hw_malloc_usable_size(m) == 70000, "kept after reallocarray failure");
	unsigned char *r = hw_reallocarray(m, 10, 10);
	REQUIRE(r);
	EXPECT(hw_malloc_usable_size(r) == 100 && r[32] == 32, "reallocarray 100");
	/* realloc(p, 0) frees p and returns NULL (glibc's behaviour). */
	hw_malloc_stats before, after;
	unsigned char *big = hw_malloc(300000);
	hw_malloc_stats_get(&before);
	EXPECT(hw_realloc(big, 0) == NULL, "realloc(p, 0)");
	hw_malloc_stats_get(&after);
	EXPECT(after.large_objects + 1 == before.large_objects, "realloc(p, 0) frees p");
	hw_free(r);
}

static void test_alignment_calls(void)
{
	void *p = (void *)1;
	int saved = errno = 12345;
	EXPECT(hw_posix_memalign(&p, 0, 8) == EINVAL, "align 0");
	EXPECT(hw_posix_memalign(&p, 3, 8) == EINVAL, "align 3");
	EXPECT(hw_posix_memalign(&p, 4, 8) == EINVAL, "align 4 < sizeof(void *)");
	EXPECT(hw_posix_memalign(&p, 24, 8) == EINVAL, "align 24");
	EXPECT(p == (void *)1, "out untouched on error");
	EXPECT(hw_posix_memalign(&p, 64, SIZE_MAX) == ENOMEM, "ENOMEM");
	EXPECT(errno == saved, "posix_memalign leaves errno: %d", errno);
	for (size_t a = 8; a <= ((size_t)1 << 22); a <<= 1) {
		static const size_t ns[] = {0, 1, 100, 4096, 70000};
		for (size_t i = 0; i < 5; i++) {
			void *q = NULL;
			REQUIRE(hw_posix_memalign(&q, a, ns[i]) == 0, "align %zu n %zu", a, ns[i]);
			EXPECT(aligned_to(q, a), "posix_memalign(%zu, %zu) = %p", a, ns[i], q);
			EXPECT(hw_malloc_usable_size(q) == ns[i], "usable");
			memset(q, 1, ns[i]);
			hw_free(q);
		}
	}
	EXPECT(errno == saved, "errno after successes: %d", errno);
	errno = 0;
	EXPECT(hw_aligned_alloc(3, 10) == NULL && errno == EINVAL, "aligned_alloc(3)");
	void *q = hw_aligned_alloc(256, 10);
	EXPECT(q && aligned_to(q, 256), "aligned_alloc(256, 10)");
	hw_free(q);
	q = hw_aligned_alloc(1, 10);
	EXPECT(q && aligned_to(q, 16), "aligned_alloc(1, 10)");
	hw_free(q);
	q = hw_memalign(48, 10);
	EXPECT(q && aligned_to(q, 64), "memalign(48) rounds to 64");
	hw_free(q);
	errno = 0;
	EXPECT(hw_memalign(SIZE_MAX, 10) == NULL && errno == EINVAL, "memalign(SIZE_MAX)");
	errno = 0;
	EXPECT(hw_memalign((size_t)1 << 45, 10) == NULL && errno == ENOMEM, "memalign 2^45");
	size_t pg = hw_platform_os()->caps.page_size;
	q = hw_valloc(10);
	EXPECT(q && aligned_to(q, pg) && hw_malloc_usable_size(q) == 10, "valloc");
	hw_free(q);
	q = hw_pvalloc(10);
	EXPECT(q && aligned_to(q, pg) && hw_malloc_usable_size(q) == pg, "pvalloc(10)");
	hw_free(q);
	q = hw_pvalloc(0);
	EXPECT(q && hw_malloc_usable_size(q) == pg, "pvalloc(0)");
	hw_free(q);
	errno = 0;
	EXPECT(hw_pvalloc(SIZE_MAX) == NULL && errno == ENOMEM, "pvalloc(SIZE_MAX)");
}

static void test_free_keeps_errno(void)
{
	void *objs[600];
	/* Enough frees of one class to flush the cache, and a large one. */
	for (int i = 0; i < 600; i++)
		objs[i] = hw_malloc(24);
	void *big = hw_malloc(1 << 20);
	errno = 4321;
	for (int i = 0; i < 600; i++)
		hw_free(objs[i]);
	hw_free(big);
	hw_free(NULL);
	EXPECT(errno == 4321, "errno %d", errno);
	EXPECT(hw_malloc_usable_size(NULL) == 0, "usable(NULL)");
}

/* Blocks of the bootstrap arena (boot.c), which calls from inside the
 * layer's own start get (early_start_test makes one for real): aligned,
 * zero, sized by malloc_usable_size, moved out by realloc, and freed by
 * free or delete without a report (the layer aborts on one by default). */
static void test_boot_blocks(void)
{
	unsigned char *a = hw_mc_boot_alloc(40, 0);
	unsigned char *b = hw_mc_boot_alloc(100, 256);
	REQUIRE(a && b);
	EXPECT(aligned_to(a, 16) && aligned_to(b, 256), "alignment %p %p", (void *)a, (void *)b);
	EXPECT(hw_mc_boot_owns(a) && hw_mc_boot_owns(b + 99) && !hw_mc_boot_owns(&a),
	       "arena bounds");
	EXPECT(a[0] == 0 && a[39] == 0 && b[99] == 0, "fresh blocks are zero");
	EXPECT(hw_malloc_usable_size(a) == 40 && hw_malloc_usable_size(b) == 100, "sizes");
	memset(a, 7, 40);
	unsigned char *m = hw_realloc(a, 1000);
	REQUIRE(m);
	EXPECT(!hw_mc_boot_owns(m) && m[0] == 7 && m[39] == 7, "realloc moved out with contents");
	hw_free(m);
	hw_free(a);
	hw_mc_free_kind(b, MC_KIND_NEW, false, 0, "operator delete");
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	EXPECT(st.errors == 0, "%llu reports", (unsigned long long)st.errors);
	EXPECT(hw_mc_boot_alloc((size_t)1 << 20, 0) == NULL, "a request the arena cannot hold");
}

/* Run last: everything the tests allocated is free, so a trim must leave
 * no span, no large object and no resident heap page. */
static void test_memory_returns(void)
{
	enum { N = 20000 };
	static void *objs[N];
	size_t total = 0;
	for (int i = 0; i < N; i++) {
		size_t n = (size_t)(i % 7 == 0 ? 100000 : 16 + (i * 131) % 4000);
		objs[i] = hw_malloc(n);
		REQUIRE(objs[i]);
		memset(objs[i], 0xab, n);
		total += n;
	}
	hw_malloc_stats s;
	hw_malloc_stats_get(&s);
	EXPECT(s.heap_inuse >= total, "inuse %zu for %zu live bytes", s.heap_inuse, total);
	for (int i = 0; i < N; i++)
		hw_free(objs[i]);
	EXPECT(hw_malloc_trim(0) == 1, "trim released something");
	hw_malloc_stats_get(&s);
	EXPECT(s.small_spans == 0 && s.large_objects == 0, "spans %zu large %zu", s.small_spans,
	       s.large_objects);
	EXPECT(s.heap_inuse == 0 && s.heap_ready == 0, "inuse %zu ready %zu", s.heap_inuse,
	       s.heap_ready);
	size_t resident = 0;
	for (size_t i = 0; i < hw_heap_arena_count(hw_mc_g.heap); i++) {
		void *base;
		size_t size;
		hw_heap_arena_get(hw_mc_g.heap, i, &base, &size);
		resident += hw_platform_resident_bytes(base, size);
	}
	EXPECT(resident == 0, "%zu bytes of the heap still resident", resident);
}

HW_TEST_MAIN(T(test_malloc_sizes), T(test_malloc_enomem), T(test_calloc_zeroes), T(test_realloc),
	     T(test_alignment_calls), T(test_free_keeps_errno), T(test_boot_blocks),
	     T(test_memory_returns))

/* window_test.c: the heap's window on the real OS is left to the heap by
 * the process's later mappings (platform/linux.c L6).
 *
 * The kernel places a mapping made without a hint just below the ones
 * made before it. A window found there had every later mapping of the
 * process growing into it from the top: a JavaScript engine's WebAssembly
 * memories (10 GiB of address space each) filled the malloc layer's 1 TiB
 * window after about 100 of them, and malloc failed with most of the
 * address space free. Here a heap with a 64 GiB window fixes it with one
 * allocation, the test reserves 80 GiB in 1 GiB mappings made without a
 * hint, and the heap must still grow to 60 GiB of runs (made Ready, never
 * touched: no memory is used).
 *
 * Not built under a sanitizer (tests/heap/CMakeLists.txt): a sanitizer's
 * shadow and protected ranges take the low address space the window is
 * placed in, and the platform falls back to the kernel's placement. Nor
 * for Valgrind, whose own placement is not the kernel's.
 */
#include "check.h"
#include "inspect.h"

#include <stdint.h>
#include <sys/mman.h>

#define GIB ((size_t)1 << 30)
#define RESERVATIONS 80
#define RUNS 60

static void test_later_mappings_leave_the_window(void)
{
	hw_heap_config cfg = {.address_space = 64 * GIB};
	hw_heap *h = hw_heap_create(&cfg);
	REQUIRE(h != NULL);
	size_t page = hw_heap_page_size(h);
	void *first = hw_heap_alloc(h, 1);
	REQUIRE(first != NULL);
	uintptr_t base;
	size_t window;
	hw_heap_window(h, &base, &window);
	EXPECT(window == 64 * GIB, "window %zu", window);

	void *res[RESERVATIONS];
	size_t inside = 0;
	for (int i = 0; i < RESERVATIONS; i++) {
		res[i] = mmap(NULL, GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			      0);
		REQUIRE(res[i] != MAP_FAILED);
		uintptr_t r = (uintptr_t)res[i];
		inside += r + GIB > base && r < base + window;
	}
	EXPECT(inside == 0, "%zu of %d reservations landed in the window [%#lx, %#lx)", inside,
	       RESERVATIONS, (unsigned long)base, (unsigned long)(base + window));

	void *runs[RUNS];
	int got = 0;
	for (int i = 0; i < RUNS; i++) {
		runs[i] = hw_heap_alloc(h, GIB / page);
		if (!runs[i])
			break;
		got++;
	}
	EXPECT(got == RUNS, "only %d runs of 1 GiB of %d fit in the window", got, RUNS);
	for (int i = 0; i < got; i++)
		EXPECT(hw_heap_free(h, runs[i], GIB / page) == 0);
	EXPECT(hw_heap_free(h, first, 1) == 0);
	hw_heap_destroy(h);
	for (int i = 0; i < RESERVATIONS; i++)
		munmap(res[i], GIB);
}

HW_TEST_MAIN(T(test_later_mappings_leave_the_window))

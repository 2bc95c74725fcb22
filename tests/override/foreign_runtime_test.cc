/* foreign_runtime_test.cc: objects handed between heapward's C++ operators
 * and a library's own (foreign_runtime.cc) pass the kind check (kind.c
 * KD3), while a mismatch among the C++ forms is still reported; without
 * such a library, override_new_test.cc's death tests show the same mixes
 * reported.
 *
 * Locking: single-threaded.
 */
#include "check.h"
#include "death.h"

#include <csignal>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <new>

extern "C" void *foreign_new(std::size_t n);
extern "C" void foreign_delete(void *p);

namespace
{

void *volatile sink;

/* Each crosses the boundary one way, several sizes (small and large);
 * returning (no report, no abort) is the pass. */
void library_new_our_delete()
{
	for (std::size_t n : {8, 24, 200, 5000, 300000}) {
		sink = foreign_new(n);
		std::memset(sink, 1, n);
		::operator delete(sink);
	}
}

void our_new_library_delete()
{
	for (std::size_t n : {8, 24, 200, 5000, 300000}) {
		sink = ::operator new(n);
		std::memset(sink, 2, n);
		foreign_delete(sink);
	}
}

void array_delete_of_new()
{
	sink = ::operator new(24);
	::operator delete[](sink);
}

void test_mixes_pass()
{
	for (void (*fn)() : {library_new_our_delete, our_new_library_delete}) {
		hw_death d;
		REQUIRE(hw_death_run(fn, &d) == 0);
		EXPECT(d.signal == 0 && d.status == 0 && !std::strstr(d.err, "mismatch"),
		       "signal %d, status %d: %s", d.signal, d.status, d.err);
	}
}

void test_cxx_forms_still_checked()
{
	hw_death d;
	REQUIRE(hw_death_run(array_delete_of_new, &d) == 0);
	EXPECT(d.signal == SIGABRT &&
		       std::strstr(d.err,
				   "heapward: alloc-dealloc mismatch: operator delete[] of 0x"),
	       "signal %d: %s", d.signal, d.err);
}

} // namespace

HW_TEST_MAIN(T(test_mixes_pass), T(test_cxx_forms_still_checked))

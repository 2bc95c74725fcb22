/* override_new_test.cc: the C++ operators of libheapward-malloc.so,
 * linked (not preloaded): bad_alloc and the new-handler loop, nothrow
 * forms, aligned forms, sized delete, and the allocation/deallocation
 * mismatch reports as death tests in child processes.
 *
 * Owns: the checks of override_new.cc's ON1-ON3 and kind.c's KD1-KD2.
 *
 * Invariants:
 *   NT1. Every allocation function is called by name (::operator new,
 *        ::operator delete), never through a new-expression the compiler
 *        may elide or pair differently; results go through a volatile
 *        sink.
 *
 * Locking: single-threaded, except the death tests' child processes.
 */
#include "check.h"
#include "death.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <malloc.h>
#include <new>

/* C23's, which glibc declares from 2.43 on (then with noexcept in C++). */
extern "C" void free_sized(void *p, std::size_t size) noexcept;

namespace
{

void *volatile sink;
volatile std::size_t huge = SIZE_MAX / 2;

void test_bad_alloc()
{
	bool threw = false;
	try {
		sink = ::operator new(huge);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	EXPECT(threw, "new of SIZE_MAX / 2 bytes must throw std::bad_alloc");
	threw = false;
	try {
		sink = ::operator new[](huge, std::align_val_t(64));
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	EXPECT(threw, "aligned new[] must throw too");
	EXPECT(::operator new(huge, std::nothrow) == nullptr);
	EXPECT(::operator new[](huge, std::nothrow) == nullptr);
	EXPECT(::operator new(huge, std::align_val_t(128), std::nothrow) == nullptr);
	EXPECT(::operator new[](huge, std::align_val_t(128), std::nothrow) == nullptr);
}

int handler_calls;
void handler()
{
	if (++handler_calls == 3)
		std::set_new_handler(nullptr);
}

void test_new_handler_loop()
{
	handler_calls = 0;
	std::set_new_handler(handler);
	bool threw = false;
	try {
		sink = ::operator new(huge);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	EXPECT(threw && handler_calls == 3, "threw %d after %d handler calls", threw,
	       handler_calls);
	handler_calls = 0;
	std::set_new_handler(handler);
	EXPECT(::operator new(huge, std::nothrow) == nullptr &&handler_calls == 3,
	       "nothrow new also runs the handler (%d calls)", handler_calls);
}

void test_forms_round_trip()
{
	for (std::size_t n : {0ul, 1ul, 24ul, 1000ul, 70000ul, 1ul << 20}) {
		void *p = ::operator new(n);
		EXPECT(p && malloc_usable_size(p) == n, "new(%zu) is heapward's", n);
		::operator delete(p, n);
		p = ::operator new[](n);
		::operator delete[](p, n);
		p = ::operator new(n, std::nothrow);
		::operator delete(p, std::nothrow);
		p = ::operator new[](n, std::nothrow);
		::operator delete[](p);
		for (std::size_t a : {16ul, 64ul, 4096ul, 1ul << 16}) {
			p = ::operator new(n, std::align_val_t(a));
			EXPECT(reinterpret_cast<std::uintptr_t>(p) % a == 0, "align %zu", a);
			::operator delete(p, n, std::align_val_t(a));
			p = ::operator new[](n, std::align_val_t(a));
			EXPECT(reinterpret_cast<std::uintptr_t>(p) % a == 0, "align %zu", a);
			::operator delete[](p, std::align_val_t(a));
			p = ::operator new(n, std::align_val_t(a), std::nothrow);
			EXPECT(p && reinterpret_cast<std::uintptr_t>(p) % a == 0);
			::operator delete(p, std::align_val_t(a), std::nothrow);
			p = ::operator new[](n, std::align_val_t(a), std::nothrow);
			::operator delete[](p, n, std::align_val_t(a));
		}
	}
	::operator delete(nullptr);
	::operator delete[](nullptr, 8);
}

/* MC8: a slot new'd and deleted, then reused by malloc, frees cleanly. */
void test_kind_reset_on_reuse()
{
	void *p = ::operator new(40);
	::operator delete(p);
	void *q = std::malloc(40);
	EXPECT(q == p, "expected the slot back from the thread cache");
	std::free(q);
	void *r = ::operator new[](40);
	EXPECT(r == p);
	::operator delete[](r, 40);
}

struct alignas(256) Over {
	char c[300];
};

void test_over_aligned_type()
{
	Over *o = new Over[3]();
	/* Only the address is read. */
	// cppcheck-suppress uninitdata
	EXPECT(reinterpret_cast<std::uintptr_t>(o) % 256 == 0);
	delete[] o;
	Over *one = new Over();
	// cppcheck-suppress uninitdata
	EXPECT(reinterpret_cast<std::uintptr_t>(one) % 256 == 0);
	delete one;
}

/* Each child performs one mismatch; the report must name it and abort.
 * The pointer goes through the volatile sink so the compiler does not
 * reject the mismatch it can see (-Wmismatched-new-delete). */
void free_of_new()
{
	sink = ::operator new(24);
	std::free(sink);
}
void free_sized_of_new()
{
	sink = ::operator new(24);
	free_sized(sink, 24);
}
void free_of_large_new()
{
	sink = ::operator new(200000);
	std::free(sink);
}
void delete_of_malloc()
{
	sink = std::malloc(24);
	::operator delete(sink);
}
void delete_of_new_array()
{
	sink = ::operator new[](24);
	::operator delete(sink);
}
void array_delete_of_new()
{
	sink = ::operator new(24);
	::operator delete[](sink);
}
void unaligned_delete_of_aligned()
{
	sink = ::operator new(64, std::align_val_t(64));
	::operator delete(sink);
}
void aligned_delete_of_new()
{
	sink = ::operator new(64);
	::operator delete(sink, std::align_val_t(64));
}
void sized_delete_wrong_size()
{
	sink = ::operator new(24);
	::operator delete(sink, 32);
}
void sized_array_delete_wrong_size()
{
	sink = ::operator new[](100000);
	::operator delete[](sink, 99999);
}
void realloc_of_new()
{
	sink = ::operator new(24);
	sink = std::realloc(sink, 48);
}

struct death_case {
	const char *name;
	void (*fn)();
	const char *message;
};

const death_case cases[] = {
	{"free of new", free_of_new,
	 "heapward: alloc-dealloc mismatch: free of 0x"},
	{"free_sized of new", free_sized_of_new,
	 "heapward: alloc-dealloc mismatch: free_sized of 0x"},
	{"free of a large new", free_of_large_new,
	 "heapward: alloc-dealloc mismatch: free of 0x"},
	{"delete of malloc", delete_of_malloc,
	 "heapward: alloc-dealloc mismatch: operator delete of 0x"},
	{"delete of new[]", delete_of_new_array, "allocated by operator new[])"},
	{"delete[] of new", array_delete_of_new,
	 "heapward: alloc-dealloc mismatch: operator delete[] of 0x"},
	{"delete of aligned new", unaligned_delete_of_aligned,
	 "allocated by operator new(std::align_val_t))"},
	{"aligned delete of new", aligned_delete_of_new,
	 "heapward: alloc-dealloc mismatch: operator delete(std::align_val_t) of 0x"},
	{"sized delete, wrong size", sized_delete_wrong_size,
	 "heapward: new-delete size mismatch: operator delete of 0x"},
	{"sized delete[], wrong size", sized_array_delete_wrong_size,
	 "with size 99999 (a 100000-byte object allocated by operator new[])"},
	{"realloc of new", realloc_of_new,
	 "heapward: alloc-dealloc mismatch: realloc of 0x"},
};

/* guard.c GD8, kind.c KD4: operator delete[] of a guarded object of
 * operator new whose type has a destructor reads the element count from
 * the 8 bytes before the object. The count must be zero (no destructor
 * runs) and the delete[] reported as the mismatch, naming the object.
 * With the guard pattern there, this destructor ran about 2^63 times: the
 * alarm turns such a hang into a failure. */
struct Counted {
	int x[5];
	~Counted() { destroyed = destroyed + 1; }
	static volatile long destroyed;
};
volatile long Counted::destroyed;

void array_delete_of_guarded_new()
{
	alarm(10);
	sink = new Counted();
	delete[] static_cast<Counted *>(sink);
}

/* Run by name, with guard=all (tests/override/CMakeLists.txt). */
void test_guarded_array_delete()
{
	hw_death d;
	REQUIRE(hw_death_run(array_delete_of_guarded_new, &d) == 0);
	EXPECT(d.signal == SIGABRT, "signal %d, status %d: %s", d.signal, d.status, d.err);
	EXPECT(std::strstr(d.err, "heapward: alloc-dealloc mismatch: operator delete[] of 0x") &&
		       std::strstr(d.err, "(a 20-byte object allocated by operator new)"),
	       "%s", d.err);
}

void test_mismatch_deaths()
{
	for (const death_case &c : cases) {
		hw_death d;
		REQUIRE(hw_death_run(c.fn, &d) == 0);
		EXPECT(d.signal == SIGABRT, "%s: signal %d, status %d", c.name, d.signal, d.status);
		EXPECT(std::strstr(d.err, c.message) != nullptr, "%s: expected '%s', got '%s'",
		       c.name, c.message, d.err);
	}
}

} // namespace

HW_TEST_MAIN(T(test_bad_alloc), T(test_new_handler_loop), T(test_forms_round_trip),
	     T(test_kind_reset_on_reuse), T(test_over_aligned_type), T(test_mismatch_deaths),
	     CHILD(test_guarded_array_delete))

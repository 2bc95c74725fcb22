/* foreign_runtime.cc: a library with a C++ runtime of its own, as a library
 * linked with a static copy of libstdc++ has (rust-lld's libLLVM): it
 * exports a global operator new and delete that call malloc and free, and
 * its own calls bind to them (-Bsymbolic-functions), not to heapward's.
 * foreign_runtime_test.cc hands objects across (kind.c KD3).
 *
 * Owns: foreign_new and foreign_delete (the library's own new and delete,
 * called from inside it).
 * Locking: none.
 */
#include <cstddef>
#include <cstdlib>
#include <new>

#define EXPORT __attribute__((visibility("default")))

EXPORT void *operator new(std::size_t n)
{
	void *p = std::malloc(n ? n : 1);
	if (!p)
		throw std::bad_alloc();
	return p;
}

EXPORT void operator delete(void *p) noexcept { std::free(p); }

EXPORT void operator delete(void *p, std::size_t) noexcept { std::free(p); }

extern "C" EXPORT void *foreign_new(std::size_t n) { return ::operator new(n); }

extern "C" EXPORT void foreign_delete(void *p) { ::operator delete(p); }

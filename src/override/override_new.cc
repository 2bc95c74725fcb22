/* override_new.cc: the C++ replaceable allocation functions on the malloc
 * layer (libheapward-malloc.so). The only C++ file of heapward.
 *
 * Owns: the 20 replaceable operator new and operator delete functions
 * libstdc++ exports: new and new[], each plain, nothrow, aligned and
 * aligned nothrow (8); delete and delete[], each plain, sized, nothrow,
 * aligned, aligned nothrow and sized aligned (12).
 *
 * Invariants:
 *   ON1. A throwing new that cannot allocate calls the installed
 *        new-handler (std::get_new_handler) and tries again while there is
 *        one, then throws std::bad_alloc through the C++ runtime; a nothrow
 *        new does the same and returns nullptr instead of throwing.
 *   ON2. Each new records its kind (new, new[], aligned new, aligned
 *        new[]); each delete checks the object has the kind its form
 *        expects (and, when sized, the size it was allocated with) before
 *        freeing it, so delete of malloc'd memory, delete[] of new'd,
 *        unaligned delete of aligned new, free() of new'd memory
 *        (override.c OV2) and a sized delete with the wrong size are
 *        reported in a fixed form and abort (src/malloc/kind.c).
 *   ON3. A nothrow delete is the same check as its plain form (the
 *        language calls it when a constructor after a nothrow new throws).
 *   ON4. The library does not depend on the C++ runtime: every name this
 *        file takes from it (std::get_new_handler, the exception
 *        machinery, std::bad_alloc's type) is a weak reference, bound at
 *        load time to the process's libstdc++ when the program or a
 *        library it was started with uses C++, and null otherwise. So a C
 *        program under the preload library does not load libstdc++, libm
 *        and libgcc_s (about 1.2 MiB of its resident set), and a C++ one
 *        gets the behaviour of ON1. Without a runtime nothing has set a
 *        new-handler (that would take one), and a throwing new that cannot
 *        allocate reports and aborts (hw_ov_no_cxx_runtime): the one case
 *        is a C++ library loaded by dlopen without RTLD_GLOBAL into a C
 *        program, whose operator new is this one.
 *
 * Locking: none here (the malloc layer's).
 */
#include "override.h"

#include <cstddef>
#include <new>

#define ON_EXPORT __attribute__((visibility("default")))

/* ON4: the runtime's names as weak references. std::get_new_handler is
 * declared weak here so that its address may be tested; the rest are the
 * names `throw`, `catch` and the unwind tables refer to (and, from clang,
 * std::terminate, which a noexcept function's handler calls, and
 * std::exception's vtable, which std::bad_alloc's constructor stores when
 * it is not inlined away: clang at -O0). */
namespace std
{
__attribute__((weak)) new_handler get_new_handler() noexcept;
}
__asm__(".weak __cxa_allocate_exception\n"
	".weak __cxa_throw\n"
	".weak __cxa_begin_catch\n"
	".weak __cxa_end_catch\n"
	".weak __gxx_personality_v0\n"
	".weak _ZTISt9bad_alloc\n"
	".weak _ZTVSt9bad_alloc\n"
	".weak _ZNSt9bad_allocD1Ev\n"
	".weak _ZSt9terminatev\n"
	".weak _ZTVSt9exception\n");

namespace
{

const char *const del_name[] = {
	"",
	"operator delete",
	"operator delete[]",
	"operator delete(std::align_val_t)",
	"operator delete[](std::align_val_t)",
};

/* ON1, ON4. */
void *alloc(std::size_t n, std::size_t align, unsigned kind)
{
	for (;;) {
		void *p = hw_ov_new(n, align, kind);
		if (p)
			return p;
		if (!&std::get_new_handler)
			hw_ov_no_cxx_runtime();
		std::new_handler h = std::get_new_handler();
		if (!h)
			throw std::bad_alloc();
		h();
	}
}

void *alloc_nothrow(std::size_t n, std::size_t align, unsigned kind) noexcept
{
	try {
		return alloc(n, align, kind);
	} catch (...) {
		return nullptr;
	}
}

/* ON2, ON3. */
void release(void *p, unsigned kind) noexcept
{
	hw_ov_delete(p, kind, false, 0, del_name[kind]);
}

void release_sized(void *p, unsigned kind, std::size_t n) noexcept
{
	hw_ov_delete(p, kind, true, n, del_name[kind]);
}

std::size_t al(std::align_val_t a) { return static_cast<std::size_t>(a); }

} // namespace

ON_EXPORT void *operator new(std::size_t n) { return alloc(n, 0, OH_KIND_NEW); }
ON_EXPORT void *operator new[](std::size_t n) { return alloc(n, 0, OH_KIND_NEW_ARRAY); }
ON_EXPORT void *operator new(std::size_t n, const std::nothrow_t &) noexcept
{
	return alloc_nothrow(n, 0, OH_KIND_NEW);
}
ON_EXPORT void *operator new[](std::size_t n, const std::nothrow_t &) noexcept
{
	return alloc_nothrow(n, 0, OH_KIND_NEW_ARRAY);
}
ON_EXPORT void *operator new(std::size_t n, std::align_val_t a)
{
	return alloc(n, al(a), OH_KIND_NEW_ALIGNED);
}
ON_EXPORT void *operator new[](std::size_t n, std::align_val_t a)
{
	return alloc(n, al(a), OH_KIND_NEW_ARRAY_ALIGNED);
}
ON_EXPORT void *operator new(std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept
{
	return alloc_nothrow(n, al(a), OH_KIND_NEW_ALIGNED);
}
ON_EXPORT void *operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept
{
	return alloc_nothrow(n, al(a), OH_KIND_NEW_ARRAY_ALIGNED);
}

ON_EXPORT void operator delete(void *p) noexcept { release(p, OH_KIND_NEW); }
ON_EXPORT void operator delete[](void *p) noexcept { release(p, OH_KIND_NEW_ARRAY); }
ON_EXPORT void operator delete(void *p, std::size_t n) noexcept
{
	release_sized(p, OH_KIND_NEW, n);
}
ON_EXPORT void operator delete[](void *p, std::size_t n) noexcept
{
	release_sized(p, OH_KIND_NEW_ARRAY, n);
}
ON_EXPORT void operator delete(void *p, const std::nothrow_t &) noexcept
{
	release(p, OH_KIND_NEW);
}
ON_EXPORT void operator delete[](void *p, const std::nothrow_t &) noexcept
{
	release(p, OH_KIND_NEW_ARRAY);
}
ON_EXPORT void operator delete(void *p, std::align_val_t) noexcept
{
	release(p, OH_KIND_NEW_ALIGNED);
}
ON_EXPORT void operator delete[](void *p, std::align_val_t) noexcept
{
	release(p, OH_KIND_NEW_ARRAY_ALIGNED);
}
ON_EXPORT void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept
{
	release(p, OH_KIND_NEW_ALIGNED);
}
ON_EXPORT void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept
{
	release(p, OH_KIND_NEW_ARRAY_ALIGNED);
}
ON_EXPORT void operator delete(void *p, std::size_t n, std::align_val_t) noexcept
{
	release_sized(p, OH_KIND_NEW_ALIGNED, n);
}
ON_EXPORT void operator delete[](void *p, std::size_t n, std::align_val_t) noexcept
{
	release_sized(p, OH_KIND_NEW_ARRAY_ALIGNED, n);
}

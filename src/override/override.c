/* override.c: the C library's allocation functions, by their standard
 * names, on the malloc layer (libheapward-malloc.so; src/override/ is the
 * only code that defines these names).
 *
 * Owns: malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size,
 * malloc_trim, mallinfo2, mallinfo, malloc_stats and cfree; C23's
 * free_sized and free_aligned_sized (glibc has them from 2.43: a program
 * built against it calls them, and glibc's own would take this heap's
 * objects for its own); the aliases
 * __libc_malloc, __libc_free, __libc_calloc, __libc_realloc,
 * __libc_memalign, __libc_valloc and __libc_pvalloc (every __libc_*
 * allocation function glibc 2.36 exports: a program or library that calls
 * them to reach "the real malloc" gets this heap, so no pointer crosses
 * from one heap to the other, and a static link against libc.a finds them
 * here instead of pulling glibc's malloc in beside this one). stats.c
 * formats malloc_stats' line and prints it at exit when asked.
 * exports.map lists exactly these names and the C++ operators
 * (override_new.cc); ci/job-install.sh checks the library exports them and
 * nothing else.
 *
 * Invariants:
 *   OV1. Each function forwards to its hw_* twin (heapward.h), so the
 *        errors are the layer's: NULL with errno ENOMEM on every failure
 *        (EINVAL where heapward.h says so), posix_memalign returns its
 *        error, free and cfree never change errno.
 *   OV2. Every deallocation (free, cfree, free_sized, free_aligned_sized,
 *        realloc, reallocarray and the __libc_* aliases) first checks
 *        that the object was made by the malloc family (kind.c, MC8):
 *        free() of an object from operator new is reported and aborts; it
 *        is never freed.
 *   OV3. The layer initialises itself lazily, at the first allocation
 *        (malloc.c MA1), so calls made by other libraries' constructors
 *        before this library's own work. This library's constructor then
 *        starts it if nothing has yet (and reads HEAPWARD_OPTIONS if the
 *        first call came before the environment was set: MA5), so that
 *        help=1, an option's warning and stats_at_exit reach a program
 *        that never allocates, such as true(1). It also moves the
 *        exit-time leak check and exit status after every module's
 *        destructors (debug.c DM5): this library is loaded at start-up
 *        and never unloaded.
 *   OV5. When a module ahead of this library in the loader's order
 *        defines malloc (the program, or a library it links, carrying an
 *        allocator of its own: rustc links jemalloc), the constructor
 *        says so in one warning: that module's malloc gets the calls, and
 *        heapward sees only those it passes on, so a clean run would
 *        otherwise look like a checked one.
 *   OV6. No exported function calls another by its exported name (the
 *        loader binds such a call to the first module defining it): cfree
 *        and the __libc_* names call the layer as the names they stand
 *        for do. A program whose own malloc forwards to __libc_malloc (a
 *        tracer, a wrapper) had that call bound back to its own malloc,
 *        and looped for ever.
 *
 * Also owns hw_ov_new and hw_ov_delete, the C side of the C++ operators
 * (override.h).
 *
 * Locking: none here (the layer's, malloc_internal.h).
 */
#include "override.h"
#include "debug.h"
#include "malloc_internal.h"
#include "module.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>

#define OV_EXPORT __attribute__((visibility("default")))

/* Not declared by glibc 2.36's headers (cfree left the API in 2.26; the
 * __libc_* names never were in it; the sized frees came in 2.43). */
void cfree(void *p);
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t align, size_t size);
void *__libc_malloc(size_t n);
void __libc_free(void *p);
void *__libc_calloc(size_t nmemb, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void *__libc_valloc(size_t n);
void *__libc_pvalloc(size_t n);

/* OV3. */
/* OV5: the first module, in the loader's order, that defines malloc. */
typedef struct first_malloc {
	const char *path;
	uintptr_t addr;
} first_malloc;

static int note_first(void *arg, const char *path, uintptr_t addr)
{
	first_malloc *f = arg;
	f->path = path;
	f->addr = addr;
	return 1;
}

static void warn_if_not_first(void)
{
	first_malloc f = {NULL, 0};
	if (hw_module_defining("malloc", note_first, &f) == 0)
		return;
	uintptr_t lo, hi;
	bool program;
	hw_module_self(&lo, &hi, &program);
	if (f.addr >= lo && f.addr < hi)
		return;
	hw_report_write("heapward: warning: %s%s defines malloc ahead of libheapward-malloc.so: "
			"calls to malloc reach it first, and heapward sees only what it "
			"passes on (to __libc_malloc)\n",
			f.path[0] ? "" : "the program ", f.path[0] ? f.path : "itself");
}

__attribute__((constructor)) static void ov_start(void)
{
	hw_mc_init_env();
	hw_mc_debug_exit_last();
	warn_if_not_first();
}

OV_EXPORT void *malloc(size_t n) { return hw_malloc(n); }

/* OV6: free's and realloc's bodies, for their other names too. */
static void ov_free(void *p) { hw_mc_free_kind(p, MC_KIND_MALLOC, false, 0, "free"); }

static void *ov_realloc(void *p, size_t n)
{
	if (p && !hw_mc_kind_check(p, MC_KIND_MALLOC, false, 0, "realloc")) {
		errno = EINVAL;
		return NULL;
	}
	return hw_realloc(p, n);
}

OV_EXPORT void free(void *p) { ov_free(p); }

/* Size and alignment checked (kind.c KD5), and the kind, as free's. */
OV_EXPORT void free_sized(void *p, size_t size) { hw_free_sized(p, size); }

OV_EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
	hw_free_aligned_sized(p, align, size);
}

OV_EXPORT void *calloc(size_t nmemb, size_t size) { return hw_calloc(nmemb, size); }

OV_EXPORT void *realloc(void *p, size_t n) { return ov_realloc(p, n); }

OV_EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
	if (p && !hw_mc_kind_check(p, MC_KIND_MALLOC, false, 0, "reallocarray")) {
		errno = EINVAL;
		return NULL;
	}
	return hw_reallocarray(p, nmemb, size);
}

OV_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	return hw_posix_memalign(out, align, n);
}

OV_EXPORT void *aligned_alloc(size_t align, size_t n) { return hw_aligned_alloc(align, n); }

OV_EXPORT void *memalign(size_t align, size_t n) { return hw_memalign(align, n); }

OV_EXPORT void *valloc(size_t n) { return hw_valloc(n); }

OV_EXPORT void *pvalloc(size_t n) { return hw_pvalloc(n); }

OV_EXPORT size_t malloc_usable_size(void *p) { return hw_malloc_usable_size(p); }

OV_EXPORT int malloc_trim(size_t pad) { return hw_malloc_trim(pad); }

/* glibc's fields, from this heap (docs/building.md lists them); live
 * guarded objects (the debug mode's guard=) count as large ones, their
 * pages as Ready and in use:
 *   arena     heap bytes backed by memory (Ready)
 *   ordblks   spans of small objects      smblks, fsmblks, usmblks  0
 *   hblks     live large objects          hblkhd    their bytes (whole pages)
 *   uordblks  heap bytes in spans and large objects
 *   fordblks  Ready heap bytes in neither (free, not yet released)
 *   keepcost  released heap bytes (what a trim has given back) */
static struct mallinfo2 ov_mallinfo2(void)
{
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	struct mallinfo2 mi = {0};
	mi.arena = st.heap_ready + st.guarded_bytes;
	mi.ordblks = st.small_spans;
	mi.hblks = st.large_objects + st.guarded_objects;
	mi.hblkhd = st.large_bytes + st.guarded_bytes;
	mi.uordblks = st.heap_inuse + st.guarded_bytes;
	mi.fordblks = mi.arena > mi.uordblks ? mi.arena - mi.uordblks : 0;
	mi.keepcost = st.heap_released;
	return mi;
}

OV_EXPORT struct mallinfo2 mallinfo2(void) { return ov_mallinfo2(); }

/* A mallinfo2 field as an int of glibc's older mallinfo: INT_MAX when it
 * does not fit (glibc's own wraps around, which can show a heap of
 * negative size). */
static int ov_int(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

/* mallinfo2's figures in mallinfo's ints: glibc deprecated it in 2.33, but
 * programs built before still call it, and glibc's would describe its own
 * heap, which holds nothing here. */
OV_EXPORT struct mallinfo mallinfo(void)
{
	struct mallinfo2 m = ov_mallinfo2();
	struct mallinfo mi = {
		.arena = ov_int(m.arena),
		.ordblks = ov_int(m.ordblks),
		.smblks = ov_int(m.smblks),
		.hblks = ov_int(m.hblks),
		.hblkhd = ov_int(m.hblkhd),
		.usmblks = ov_int(m.usmblks),
		.fsmblks = ov_int(m.fsmblks),
		.uordblks = ov_int(m.uordblks),
		.fordblks = ov_int(m.fordblks),
		.keepcost = ov_int(m.keepcost),
	};
	return mi;
}

/* As glibc's, to the error output; one line in heapward's form
 * (stats.c). */
OV_EXPORT void malloc_stats(void) { hw_ov_stats_print(""); }

/* OH1. */
_Static_assert((int)OH_KIND_NEW == (int)MC_KIND_NEW &&
		       (int)OH_KIND_NEW_ARRAY == (int)MC_KIND_NEW_ARRAY &&
		       (int)OH_KIND_NEW_ALIGNED == (int)MC_KIND_NEW_ALIGNED &&
		       (int)OH_KIND_NEW_ARRAY_ALIGNED == (int)MC_KIND_NEW_ARRAY_ALIGNED,
	       "override.h's kinds are not the malloc layer's");

void *hw_ov_new(size_t n, size_t align, unsigned kind)
{
	if (!align)
		return hw_mc_malloc_kind(n, kind);
	return hw_mc_aligned_kind(align, n, kind);
}

void hw_ov_no_cxx_runtime(void)
{
	hw_fatal("heapward: operator new: out of memory, and no C++ runtime to throw "
		 "std::bad_alloc");
}

void hw_ov_delete(void *p, unsigned kind, bool sized, size_t size, const char *op)
{
	hw_mc_free_kind(p, kind, sized, size, op);
}

/* The other names of free and of the glibc-internal entry points (OV6). */
OV_EXPORT void cfree(void *p) { ov_free(p); }
OV_EXPORT void *__libc_malloc(size_t n) { return hw_malloc(n); }
OV_EXPORT void __libc_free(void *p) { ov_free(p); }
OV_EXPORT void *__libc_calloc(size_t nmemb, size_t size) { return hw_calloc(nmemb, size); }
OV_EXPORT void *__libc_realloc(void *p, size_t n) { return ov_realloc(p, n); }
OV_EXPORT void *__libc_memalign(size_t align, size_t n) { return hw_memalign(align, n); }
OV_EXPORT void *__libc_valloc(size_t n) { return hw_valloc(n); }
OV_EXPORT void *__libc_pvalloc(size_t n) { return hw_pvalloc(n); }

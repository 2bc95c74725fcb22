/* kind.c: which call made each object, for allocation/deallocation
 * mismatch checks.
 *
 * Owns: hw_mc_kind_set, hw_mc_kind_check and hw_mc_align_check
 * (malloc_internal.h), the kind of every object (MC8: a large one's okind
 * byte, a small one's bits of its state entry), and the mismatch reports:
 *   heapward: alloc-dealloc mismatch: operator delete of 0x... (a 24-byte
 *     object allocated by malloc); alloc_dealloc_mismatch=0 accepts a C and
 *     C++ mix
 *   heapward: new-delete size mismatch: operator delete of 0x... with size
 *     32 (a 24-byte object allocated by operator new)
 *   heapward: free-size mismatch: free_sized of 0x... with size 32 (a
 *     24-byte object allocated by malloc)
 *   heapward: free-size mismatch: free_aligned_sized of 0x... with
 *     alignment 64 (a 24-byte object allocated by malloc, not aligned to it)
 * (each one line). The override library (src/override/) sets kinds: its
 * operator new records one, and every deallocation it defines (free,
 * realloc, each operator delete) checks one first. The prefixed API never
 * looks at kinds (its objects are all the malloc family's), so hw_free's
 * fast path is unchanged; its sized frees (hw_free_sized,
 * hw_free_aligned_sized) check the size here, and the alignment.
 *
 * Invariants (MC8, and):
 *   KD1. Only a live object's start is checked; any other pointer (NULL,
 *        foreign, interior, freed) passes here untouched and meets the
 *        free's or realloc's own checks (MA3), which report it.
 *   KD2. A mismatch is reported once, in one of the two fixed forms above
 *        (followed, in debug mode, by the sanitizer-layout report with the
 *        object's allocation stack),
 *        counts as an error (hw_malloc_stats.errors) and aborts unless the
 *        layer continues on errors; the object then stays live and its kind
 *        unchanged.
 *   KD3. A mix of the C and the C++ families (an object from malloc freed
 *        by an operator delete, one from an operator new freed by free or
 *        realloc) passes as a match does when alloc_dealloc_mismatch is
 *        off, or when a foreign C++ runtime is loaded: a module other than
 *        this library and the C++ runtime libraries (libstdc++, libc++)
 *        that exports a global operator new or delete. Such a module (a
 *        library linked with its own copy of the runtime, rust-lld's
 *        libLLVM; a program with its own global operator new) calls its
 *        own: its new calls malloc, its delete calls free, and neither is
 *        ours to interpose, while its objects meet our delete and ours its
 *        free. The C++ forms among themselves (new and new[], aligned or
 *        not, the sized delete's size) are checked either way. The
 *        answer is looked up on a mix only, and again only when the
 *        loader's module list has changed. Otherwise the report of a mix
 *        says how to accept it.
 *   KD4. An operator delete[] of a pointer that is no object's start but
 *        the block of a guarded object of operator new (8 or 16 bytes
 *        before it, where its zero cookie sent the runtime: guard.c GD8)
 *        is reported as that object's mismatch (KD2), its address the
 *        object's: the program called delete[] on it.
 *   KD5. A sized free (C23's free_sized, free_aligned_sized) checks the
 *        size as a sized delete does, against the request (calloc's
 *        product, realloc's new size), and free_aligned_sized checks that
 *        its alignment is a power of two dividing the object's address
 *        (the alignment aligned_alloc was given must be; a larger one
 *        that happens to divide it passes). free_size_mismatch=0 turns
 *        both checks off (the kind is still checked).
 *
 * Locking: none. The object's kind is written by its owner only: at
 * allocation, and at its free by the thread freeing it, which the program
 * already orders after the allocation (as for the page map, MC3).
 */
#include "malloc_internal.h"

#include "debug.h"
#include "guard.h"
#include "module.h"

#include <errno.h>
#include <string.h>

static const char *const made_by[MC_KIND_COUNT] = {
	"malloc",
	"operator new",
	"operator new[]",
	"operator new(std::align_val_t)",
	"operator new[](std::align_val_t)",
};

/* The span of p when p is a live object's start (its slot in *idx), else
 * NULL (KD1). */
static mc_span *live_start(void *p, size_t *idx)
{
	mc_span *s = mc_span_of((uintptr_t)p);
	if (!s)
		s = hw_mc_guard_span((uintptr_t)p);
	if (!s)
		return NULL;
	if (s->kind == MC_SPAN_LARGE || s->kind == MC_SPAN_GUARDED) {
		*idx = 0;
		return (uintptr_t)p == s->start && (s->kind == MC_SPAN_LARGE || s->live) ? s
											 : NULL;
	}
	if (s->kind != MC_SPAN_SMALL)
		return NULL;
	uintptr_t off = (uintptr_t)p - s->start;
	size_t i = mc_slot_index(s, off);
	if (i * s->size != off || i >= s->nobjs || s->state[i] == 0)
		return NULL;
	*idx = i;
	return s;
}

void hw_mc_kind_set(void *p, unsigned kind)
{
	size_t idx;
	mc_span *s = live_start(p, &idx);
	HW_CHECK(s && kind < MC_KIND_COUNT,
		 "malloc: kind set on a pointer that is not a new object");
	if (s->kind != MC_SPAN_SMALL) {
		s->okind = (uint8_t)kind;
		if (s->kind == MC_SPAN_GUARDED &&
		    (kind == MC_KIND_NEW || kind == MC_KIND_NEW_ALIGNED))
			hw_mc_guard_cookie(s); /* GD8 */
	} else
		s->state[idx] = (s->state[idx] & MC_STATE_SLACK_MASK) |
				(mc_state)kind << MC_STATE_KIND_SHIFT;
}

/* KD3: whether the module defining a global operator new or delete at
 * addr is a foreign C++ runtime (1) or this library or a C++ runtime
 * library, whose calls reach ours (0). */
static int foreign_one(void *arg, const char *path, uintptr_t addr)
{
	(void)arg;
	uintptr_t lo, hi;
	bool program;
	hw_module_self(&lo, &hi, &program);
	if (addr >= lo && addr < hi)
		return 0;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	static const char *const runtimes[] = {"libstdc++.so", "libc++.so", "libc++abi.so"};
	for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++)
		if (strncmp(base, runtimes[i], strlen(runtimes[i])) == 0)
			return 0;
	return 1;
}

/* KD3: whether a foreign C++ runtime is loaded. The answer is kept with
 * the loader's generation it was found at (racing callers find the same). */
static bool foreign_runtime(void)
{
	static uint64_t gen_plus_one; /* atomic: 0 = not looked yet */
	static bool answer;           /* atomic */
	uint64_t g = hw_module_generation() + 1;
	if (__atomic_load_n(&gen_plus_one, __ATOMIC_ACQUIRE) == g)
		return __atomic_load_n(&answer, __ATOMIC_RELAXED);
	/* The Itanium C++ ABI's names of operator new(size_t) and operator
	 * delete(void *), LP64 and ILP32: every runtime defines them. */
	static const char *const names[] = {"_Znwm", "_ZdlPv", "_Znwj"};
	bool found = false;
	for (size_t i = 0; i < sizeof names / sizeof names[0] && !found; i++)
		found = hw_module_defining(names[i], foreign_one, NULL) != 0;
	__atomic_store_n(&answer, found, __ATOMIC_RELAXED);
	__atomic_store_n(&gen_plus_one, g, __ATOMIC_RELEASE);
	return found;
}

/* The kind (MC8) and the requested size of the live object at slot idx of
 * s (a large or guarded one's in its record). */
static unsigned kind_of(const mc_span *s, size_t idx, size_t *len)
{
	if (s->kind != MC_SPAN_SMALL) {
		*len = s->req;
		return s->okind;
	}
	*len = mc_state_len(s, s->state[idx]);
	return mc_state_kind(s->state[idx]);
}

/* KD2: the report of a mismatch found in p, live at slot idx of s (value:
 * the size or alignment op was given; mix: a C and C++ mix), and the
 * abort or, when the layer continues, the count. */
static HW_COLD void mismatch(void *p, const mc_span *s, size_t idx, mc_mismatch what,
			     size_t value, bool mix, const char *op)
{
	size_t len;
	unsigned have = kind_of(s, idx, &len);
	const char *by = have < MC_KIND_COUNT ? made_by[have] : "?";
	hw_mc_guard_say_pending(); /* GD9 */
	switch (what) {
	case MC_MISMATCH_KIND:
		hw_report_write("heapward: alloc-dealloc mismatch: %s of %p (a %zu-byte object "
				"allocated by %s)%s\n",
				op, p, len, by,
				mix ? "; alloc_dealloc_mismatch=0 accepts a C and C++ mix" : "");
		break;
	case MC_MISMATCH_NEW_SIZE:
	case MC_MISMATCH_FREE_SIZE:
		hw_report_write("heapward: %s: %s of %p with size %zu (a %zu-byte object "
				"allocated by %s)\n",
				what == MC_MISMATCH_NEW_SIZE ? "new-delete size mismatch"
							     : "free-size mismatch",
				op, p, value, len, by);
		break;
	case MC_MISMATCH_FREE_ALIGN:
		hw_report_write("heapward: free-size mismatch: %s of %p with alignment %zu (a "
				"%zu-byte object allocated by %s, not aligned to it)\n",
				op, p, value, len, by);
		break;
	}
	int saved = errno; /* as hw_mc_misuse: the report may run the symbolizer */
	if (hw_mc_debug_on())
		hw_mc_report_mismatch(p, s, idx, what, value, by, op);
	__atomic_fetch_add(&hw_mc_errors, 1, __ATOMIC_RELAXED);
	if (hw_mc_cfg.abort_on_error)
		hw_process_abort();
	errno = saved;
}

bool hw_mc_kind_check(void *p, unsigned kind, bool sized, size_t size, const char *op)
{
	size_t idx = 0;
	mc_span *s = live_start(p, &idx);
	if (!s && (kind == MC_KIND_NEW_ARRAY || kind == MC_KIND_NEW_ARRAY_ALIGNED) &&
	    (s = hw_mc_guard_cookie_owner((uintptr_t)p)) != NULL)
		p = (void *)s->start; /* KD4 */
	if (!s)
		return true;
	size_t len;
	unsigned have = kind_of(s, idx, &len);
	bool mix = (have == MC_KIND_MALLOC) != (kind == MC_KIND_MALLOC);
	if (HW_LIKELY(have == kind && (!sized || size == len)) ||
	    (mix && (!hw_mc_cfg.alloc_dealloc_mismatch || foreign_runtime()))) {
		/* A small slot's kind goes with its state at the free; a large
		 * or guarded one's is reset here. */
		if (s->kind != MC_SPAN_SMALL)
			s->okind = MC_KIND_MALLOC;
		return true;
	}
	mc_mismatch what = have != kind             ? MC_MISMATCH_KIND
			   : kind == MC_KIND_MALLOC ? MC_MISMATCH_FREE_SIZE
						    : MC_MISMATCH_NEW_SIZE;
	mismatch(p, s, idx, what, size, mix, op);
	return false;
}

bool hw_mc_align_check(void *p, size_t align, const char *op)
{
	size_t idx = 0;
	mc_span *s = live_start(p, &idx);
	if (!s || mc_aligned_to(p, align))
		return true;
	mismatch(p, s, idx, MC_MISMATCH_FREE_ALIGN, align, false, op);
	return false;
}

/* leak_copies_test.c: with the leak check on, an allocation through the
 * standard names leaves no copy of the address it returns in the stack
 * below its caller (src/malloc/debug.c DM6, malloc.c MA10). Such a copy
 * outlives the call in memory the program's next calls may leave
 * unwritten (exit's own frames, say), where the leak check's conservative
 * scan takes it for a root: `malloc(10); exit(6);` then reported no leak.
 *
 * Each case allocates, then a leaf function looks for the address in the
 * 8 KiB below its own frame. Neither function ever holds the address
 * itself: the caller keeps it masked and the scan compares masked words,
 * so the only copies it can find are the allocator's. Run twice by ctest:
 * guard=none and guard=all. The objects are freed at the end: the run must
 * end with no leak and no error.
 */
#include "check.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#define MASK ((uintptr_t)0x5a5aa5a55a5aa5a5u)
#define SCAN_WORDS 1024
#define NOINLINE __attribute__((noinline))

/* The C++ operators, by their mangled names (libheapward-malloc.so
 * defines them; this program is C). */
void *_Znwm(size_t n);
void *_Znam(size_t n);
void *_ZnwmSt11align_val_t(size_t n, size_t align);
void _ZdlPv(void *p);
void _ZdaPv(void *p);
void _ZdlPvSt11align_val_t(void *p, size_t align);

/* How many words below this function's frame hold masked ^ MASK. */
NOINLINE static size_t copies_below(uintptr_t masked)
{
	const volatile uintptr_t *frame = __builtin_frame_address(0);
	size_t n = 0;
	for (size_t i = 1; i <= SCAN_WORDS; i++)
		n += (frame[-(ptrdiff_t)i] ^ MASK) == masked;
	return n;
}

enum { C_MALLOC,
       C_MALLOC_LARGE,
       C_CALLOC,
       C_CALLOC_LARGE,
       C_REALLOC_MOVED,
       C_REALLOC_SAME,
       C_REALLOC_LARGE,
       C_ALIGNED,
       C_POSIX_MEMALIGN,
       C_MEMALIGN,
       C_VALLOC,
       C_NEW,
       C_NEW_ARRAY,
       C_NEW_ALIGNED,
       C_COUNT };

static const char *const names[C_COUNT] = {
	"malloc(24)",
	"malloc(100000)",
	"calloc(3, 8)",
	"calloc(1, 100000)",
	"realloc to 200",
	"realloc within class",
	"realloc of 100000",
	"aligned_alloc(64)",
	"posix_memalign",
	"memalign(256)",
	"valloc(10)",
	"operator new",
	"operator new[]",
	"operator new(align 64)",
};

/* Case c's object, masked; the realloc cases start from an object made
 * here too (its copies go when realloc returns through the scrub). */
NOINLINE static uintptr_t make(int c)
{
	switch (c) {
	case C_MALLOC:
		return (uintptr_t)malloc(24) ^ MASK;
	case C_MALLOC_LARGE:
		return (uintptr_t)malloc(100000) ^ MASK;
	case C_CALLOC:
		return (uintptr_t)calloc(3, 8) ^ MASK;
	case C_CALLOC_LARGE:
		return (uintptr_t)calloc(1, 100000) ^ MASK;
	case C_REALLOC_MOVED:
		return (uintptr_t)realloc(malloc(16), 200) ^ MASK;
	case C_REALLOC_SAME:
		return (uintptr_t)realloc(malloc(20), 24) ^ MASK;
	case C_REALLOC_LARGE:
		return (uintptr_t)realloc(malloc(100000), 90000) ^ MASK;
	case C_ALIGNED:
		return (uintptr_t)aligned_alloc(64, 64) ^ MASK;
	case C_POSIX_MEMALIGN: {
		/* Its out-parameter is the program's copy: a global, cleared,
		 * not a slot of this frame. */
		static void *out;
		uintptr_t m = posix_memalign(&out, 4096, 100) == 0 ? (uintptr_t)out ^ MASK : MASK;
		out = NULL;
		return m;
	}
	case C_MEMALIGN:
		return (uintptr_t)memalign(256, 40) ^ MASK;
	case C_VALLOC:
		return (uintptr_t)valloc(10) ^ MASK;
	case C_NEW:
		return (uintptr_t)_Znwm(24) ^ MASK;
	case C_NEW_ARRAY:
		return (uintptr_t)_Znam(48) ^ MASK;
	case C_NEW_ALIGNED:
		return (uintptr_t)_ZnwmSt11align_val_t(24, 64) ^ MASK;
	}
	return MASK;
}

static void give_back(int c, void *p)
{
	if (c == C_NEW)
		_ZdlPv(p);
	else if (c == C_NEW_ARRAY)
		_ZdaPv(p);
	else if (c == C_NEW_ALIGNED)
		_ZdlPvSt11align_val_t(p, 64);
	else
		free(p);
}

static void test_no_copy_below(void)
{
	uintptr_t kept[C_COUNT][3];
	/* Three rounds: the first calls of a kind take paths (start-up,
	 * first guarded object, first stack in the depot) the next ones do
	 * not. */
	for (int round = 0; round < 3; round++)
		for (int c = 0; c < C_COUNT; c++) {
			kept[c][round] = make(c);
			EXPECT(kept[c][round] != MASK, "%s failed", names[c]);
			size_t n = copies_below(kept[c][round]);
			EXPECT(n == 0,
			       "%s (round %d): %zu copies of its address in the stack below",
			       names[c], round, n);
		}
	for (int c = 0; c < C_COUNT; c++)
		for (int round = 0; round < 3; round++)
			give_back(c, (void *)(kept[c][round] ^ MASK));
}

HW_TEST_MAIN(T(test_no_copy_below))

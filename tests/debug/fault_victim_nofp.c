/* fault_victim_nofp.c: code built as distributions and -O2 build it, without
 * frame pointers, for fault_victim.c's scenario uaf_nofp: the allocation,
 * the free and the stale access each happen three calls deep in functions
 * that keep no frame record, so a frame-pointer walk skips some of them and
 * a walk with the unwind tables (platform/stackwalk.h UW6) sees them all.
 * Built with -O2 -g -fomit-frame-pointer (CMakeLists.txt).
 *
 * Owns: nofp_alloc1-3, nofp_free1-3 and nofp_touch1-3; each N calls N+1
 * and then runs an empty asm, so no call is a tail call and every function
 * keeps a frame of its own in the tables. And nofp_alloc_busy, for the
 * scenario leak_nofp: an allocation whose caller holds a value in rbp.
 *
 * Locking: none.
 */
#include "heapward.h"

#include "fault_victim_nofp.h"

#define NOINLINE __attribute__((noinline))
#define NOT_A_TAIL_CALL() __asm__ volatile("" :: \
						   : "memory")

NOINLINE char *nofp_alloc3(size_t n)
{
	char *p = hw_malloc(n);
	NOT_A_TAIL_CALL();
	return p;
}

NOINLINE char *nofp_alloc2(size_t n)
{
	char *p = nofp_alloc3(n);
	NOT_A_TAIL_CALL();
	return p;
}

/* hw_malloc(n) with eight values live across the call: more than the six
 * registers a call keeps, so rbp holds one of them (as in most -O2 code,
 * where rbp is one more register) and a frame-pointer walk from the
 * allocator finds no frame record past this function's return address. */
NOINLINE char *nofp_alloc_busy(size_t n, const volatile unsigned *v)
{
	unsigned a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
	char *p = hw_malloc(n);
	if (p)
		p[0] = (char)(a * b + c * d + e * f + g * h + (a ^ h) + (b ^ g) + (c ^ f) +
			      (d ^ e));
	return p;
}

NOINLINE char *nofp_alloc1(size_t n)
{
	char *p = nofp_alloc2(n);
	NOT_A_TAIL_CALL();
	return p;
}

NOINLINE void nofp_free3(char *p)
{
	hw_free(p);
	NOT_A_TAIL_CALL();
}

NOINLINE void nofp_free2(char *p)
{
	nofp_free3(p);
	NOT_A_TAIL_CALL();
}

NOINLINE void nofp_free1(char *p)
{
	nofp_free2(p);
	NOT_A_TAIL_CALL();
}

NOINLINE void nofp_touch3(volatile char *p)
{
	p[16] = 1;
	NOT_A_TAIL_CALL();
}

NOINLINE void nofp_touch2(volatile char *p)
{
	nofp_touch3(p);
	NOT_A_TAIL_CALL();
}

NOINLINE void nofp_touch1(volatile char *p)
{
	nofp_touch2(p);
	NOT_A_TAIL_CALL();
}

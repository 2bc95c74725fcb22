/* fault_victim_nocfi.c: code with frame pointers and no unwind tables, as a
 * JIT's generated code is (HotSpot's, V8's), for fault_victim.c's scenario
 * uaf_nocfi: the stale access happens in nofp_touch3, which has tables,
 * called from here two calls deep. A walk with the tables stops at
 * nocfi_touch2, whose code has none, and must go on by its frame pointer
 * (platform/stackwalk.h UW6). Built with -O0 -g -fno-omit-frame-pointer
 * -fno-asynchronous-unwind-tables -fno-unwind-tables (CMakeLists.txt).
 *
 * Owns: nocfi_touch1 and nocfi_touch2.
 *
 * Locking: none.
 */
#include "fault_victim_nocfi.h"

#include "fault_victim_nofp.h"

#define NOINLINE __attribute__((noinline))

NOINLINE void nocfi_touch2(volatile char *p)
{
	nofp_touch3(p);
	__asm__ volatile("" ::
				 : "memory"); /* not a tail call */
}

NOINLINE void nocfi_touch1(volatile char *p)
{
	nocfi_touch2(p);
	__asm__ volatile("" ::
				 : "memory");
}

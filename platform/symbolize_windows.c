/* symbolize_windows.c: symbolize.h on Windows, which has no symbolizer.
 *
 * Owns: a session that never starts a tool. The POSIX session runs
 * llvm-symbolizer or addr2line as a child over a socketpair, started with
 * vfork and execve so that it allocates nothing (SZ1); Windows has neither,
 * and the Wine this is tested under has no symbolizer to run. Reports keep
 * every frame as "(module+0xoffset)", the file address of a PE image
 * (module.h MO3), which `llvm-symbolizer --obj=module offset` and
 * `addr2line -e module offset` resolve offline.
 *
 * Invariants (symbolize.h's, and how they hold here):
 *   SZ1. Nothing is allocated and no process is started.
 *   SZ2. No child, no descriptor.
 *   SZ3. Every question is answered "unknown" (0 frames).
 *   SZ4. hw_symbolizer_close has nothing to reap or close.
 *
 * Locking: a session is its caller's.
 */
#include "symbolize.h"

void hw_symbolizer_open(hw_symbolizer *s, bool enabled, const char *path)
{
	(void)enabled, (void)path;
	s->tool = HW_SYM_NONE;
	s->path[0] = s->module[0] = '\0';
	s->fd = s->pid = -1;
	s->broken = false;
	s->have = 0;
}

size_t hw_symbolize(hw_symbolizer *s, const char *module, uintptr_t addr, hw_symbol *out,
		    size_t max)
{
	(void)s, (void)module, (void)addr, (void)out, (void)max;
	return 0;
}

void hw_symbolizer_close(hw_symbolizer *s)
{
	s->tool = HW_SYM_NONE;
}

/* stop_windows.c: stop.h on Windows, where the other threads are left
 * running.
 *
 * Owns: the caller's own state (its registers, from RtlCaptureContext, and
 * its stack pointer) and the answer that nothing else was stopped.
 *
 * Why no stop. Windows could suspend every other thread (SuspendThread and
 * GetThreadContext), but the leak check would then scan only their stacks,
 * registers and the blocks beside their thread pointers, and Windows keeps
 * thread-local storage elsewhere: in blocks the loader and the C runtime
 * (gcc's emulated TLS) allocate from their heaps (module_windows.c). A
 * pointer held only in a thread-local variable would read as a leak. With
 * hw_world_stop failing, the check scans every writable region instead
 * (those heaps included) and says so in its report ("the threads could not
 * be stopped: ... leaks may be missed").
 *
 * Invariants (stop.h's, and how they hold here):
 *   SW1. There is no handler.
 *   SW2. hw_world_stop stops nothing and returns -1 with w->n == 0;
 *        hw_world_resume has nothing to release.
 *   SW3. Nothing is installed.
 *   SW4. As stop.h: the caller serialises.
 *
 * hw_thread_pointer answers 0 (unknown, as stop.h allows): no TLS block
 * sits at a fixed offset from a Windows thread's own pointer (the TEB).
 *
 * SW7: hw_world_copy is ReadProcessMemory on this very process, which
 * fails instead of faulting.
 *
 * Locking: the caller's (SW4).
 */
#include "stop.h"

#include <errno.h>
#include <string.h>

#include <windows.h>

int hw_world_stop(hw_world *w, unsigned timeout_ms)
{
	(void)timeout_ms;
	memset(&w->self, 0, sizeof w->self);
	w->self.tid = (int)GetCurrentThreadId();
	w->self.stopped = true;
	CONTEXT c;
	RtlCaptureContext(&c);
	const DWORD64 regs[] = {c.Rax, c.Rbx, c.Rcx, c.Rdx, c.Rsi, c.Rdi, c.Rbp, c.R8,
				c.R9, c.R10, c.R11, c.R12, c.R13, c.R14, c.R15};
	for (unsigned i = 0; i < sizeof regs / sizeof regs[0] && i < HW_STOP_NREGS; i++)
		w->self.regs[w->self.nregs++] = (uintptr_t)regs[i];
	w->self.sp = (uintptr_t)__builtin_frame_address(0);
	w->self.tp = 0;
	w->n = 0;
	w->missed = 0;
	return -1;
}

uintptr_t hw_thread_pointer(void)
{
	return 0;
}

void hw_world_resume(hw_world *w)
{
	(void)w;
}

int hw_world_copy(void *dst, uintptr_t src, size_t n)
{
	SIZE_T got = 0;
	return ReadProcessMemory(GetCurrentProcess(), (LPCVOID)src, dst, n, &got) && got == n
		       ? 0
		       : EFAULT;
}

/* stackwalk.h: the unwinders, for the stacks the debug mode records at
 * every allocation and free, and prints in its reports.
 *
 * Owns: walking the chain of saved frame pointers of the calling thread
 * (hw_unwind_here) or of a stopped context (hw_unwind_from), and the
 * per-thread bounds of the stack that every frame is checked against, and
 * the stack of an interrupted context (a fault's pc and frame pointer:
 * hw_unwind_context); and the slower walks with the unwind tables, which
 * need no frame pointers (hw_unwind_tables_here, hw_unwind_tables_context).
 * Implementation in stackwalk.c; the bounds come from the OS's mappings
 * (hw_platform_mapping_at, platform.h).
 *
 * A frame pointer walk reads, at each frame, the caller's saved frame
 * pointer at [fp] and the return address at [fp + one word] (the x86-64
 * and AArch64 frame record). It costs two loads and a few compares per
 * frame: this is what makes stacks cheap enough to record at every
 * allocation (a DWARF unwinder costs microseconds and may allocate or take
 * the loader's lock).
 *
 * Code built without frame pointers. Every function of this project is
 * built with -fno-omit-frame-pointer (CMakeLists.txt), so the frames from
 * the unwinder up to the program's call are always right. A function of
 * the program built without them (Debian's C library, most distribution
 * binaries) keeps no frame record: its caller's frame is skipped (the walk
 * goes from the frame that called it to that frame's caller), and when it
 * uses the frame-pointer register for data, the walk stops at the first
 * check that value fails, or, if the value happens to look like a frame of
 * this stack, records one or more wrong return addresses. The walk never
 * reads outside the stack (UW1) whatever it finds. Build the program with
 * -fno-omit-frame-pointer for whole stacks.
 *
 * Invariants:
 *   UW1. Every load is inside [lo, hi), the mapping that holds the stack
 *        being walked: a frame pointer is followed only when it is aligned
 *        to a word, strictly above the previous one (stacks grow down, so a
 *        loop is impossible) and at least two words below hi.
 *   UW2. No allocation, no lock, no stdio: the bounds of a thread's stack
 *        are looked up once per thread (and again when the walk starts on
 *        another stack: a signal's alternate stack, a coroutine), with
 *        open/read/close of the OS's map only, and cached in
 *        initial-exec thread-local storage. Async-signal-safe.
 *   UW3. The output is return addresses, innermost first, at most max of
 *        them; the walk stops at the first frame that fails UW1, at a
 *        return address that cannot be one (in the first page, or inside
 *        the stack being walked), or at max.
 *   UW4. On an architecture whose frame record this file does not know,
 *        the walk records nothing (0 frames) rather than guess.
 *   UW5. An interrupted context may be in a function that has no frame
 *        record of its own yet (its first instructions: a stack overflow
 *        at its call) or at all (a leaf built without frame pointers: the
 *        C library's memcpy): the frame pointer is then its caller's, and
 *        the walk alone would skip the caller. The word at sp is taken as
 *        the caller's return address when it lies in a readable and
 *        writable mapping (an overflowed stack pointer is in the guard),
 *        is not the return address of fp's frame record already, is code
 *        of a loaded module, and follows a call instruction (x86-64: the
 *        five-byte relative call or an indirect call of 2, 3, 6 or 7
 *        bytes). Elsewhere (AArch64 keeps it in the link register) the
 *        word is not read. A function with a frame of its own keeps
 *        locals at sp, which the checks reject unless a local holds such
 *        an address, which then shows as one frame too many.
 *
 *   UW6. The table walks (hw_unwind_tables_*) use the unwind tables every
 *        function of a module has whether or not it keeps frame pointers
 *        (POSIX: .eh_frame, through the compiler runtime's
 *        _Unwind_Backtrace, libgcc_s or LLVM's libunwind; Windows: .pdata,
 *        through RtlCaptureStackBackTrace), so they see every frame of
 *        distribution binaries and of programs built with -O2's defaults.
 *        They cost 100 to 250 ns a frame (x86-64, Linux; a frame-pointer
 *        walk, 2.6 ns), take the loader's lock (recursive) to find each
 *        module's tables and, for code whose tables a JIT registered, a
 *        lock of the runtime that may allocate: a thread that is inside a
 *        table walk already (its allocator called back from there) gets 0
 *        frames, and the caller falls back to the frame-pointer walk. No
 *        allocation or lock of this project. Where the tables end at a
 *        frame whose code has none (a JIT's, or code built without them)
 *        and whose frame pointer holds a frame record, the walk goes on by
 *        frame pointers from there (POSIX; the outermost frame of a thread
 *        has a zero frame pointer, which ends it).
 *   UW7. A table walk survives a stack the program damaged (a saved frame
 *        pointer overwritten by a buffer overflow on the stack makes the
 *        runtime read its caller's frame from a wild address): on POSIX it
 *        runs with SIGSEGV and SIGBUS unblocked (it may run in their
 *        handler) and a recovery point, and the fault handler calls
 *        hw_unwind_tables_recover first, which ends the walk with the
 *        frames found before the fault and restores the signal mask. This
 *        holds where fault.h's handler is installed (the debug mode
 *        installs it); elsewhere such a fault kills the process, as it
 *        would without the walk. Windows' unwinder checks every frame
 *        against the thread's stack limits itself.
 *
 * Locking: none; the bounds cache and UW6's and UW7's state are per
 * thread.
 */
#ifndef HW_STACKWALK_H
#define HW_STACKWALK_H

#include <stddef.h>
#include <stdint.h>

/* The return addresses of the calling thread's stack, starting with the
 * return address of the function that calls hw_unwind_here (so out[0] is
 * in that function's caller); returns how many were written (UW3). */
size_t hw_unwind_here(uintptr_t *out, size_t max);

/* The same from frame pointer fp (a context stopped in a signal handler,
 * say): out[0] is the return address stored in fp's frame record. The
 * bounds are those of the stack holding fp. */
size_t hw_unwind_from(uintptr_t fp, uintptr_t *out, size_t max);

/* The stack of an interrupted context (a signal handler's ucontext): out[0]
 * is pc itself, the instruction that was interrupted (not a return
 * address), then the return address at sp when UW5 takes it for one, then
 * the return addresses from fp's frame record on, as hw_unwind_from.
 * Async-signal-safe (UW2). Returns how many were written; 0 when max is 0
 * or pc is 0. */
size_t hw_unwind_context(uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t *out, size_t max);

/* hw_unwind_here with the unwind tables (UW6): the same frames, out[0] in
 * the caller of the function that calls it; 0 when the tables cannot be
 * used (UW6). */
size_t hw_unwind_tables_here(uintptr_t *out, size_t max);

/* The stack of the context a fault interrupted, with the unwind tables
 * (UW6), walked from inside the fault's handler, through its signal frame:
 * out[0] is pc, then the return addresses of its callers. 0 when no frame
 * of the walk is at pc (the tables cannot cross this signal frame, or the
 * caller is not in a handler of that fault): the caller then uses
 * hw_unwind_context. */
size_t hw_unwind_tables_context(uintptr_t pc, uintptr_t *out, size_t max);

/* UW7, for the fault handler, before anything else: when the calling
 * thread faulted inside a table walk, returns from that walk (with the
 * frames it found) and never returns here; otherwise returns at once.
 * Async-signal-safe. POSIX only. */
void hw_unwind_tables_recover(void);

#endif

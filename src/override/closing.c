/* closing.c: close and fclose by their standard names, so that the debug
 * mode's copy of standard error is taken only when the program closes its
 * own (platform/console.h CN4, src/malloc/debug.c DM7).
 *
 * Why: the leak report at exit must reach the standard error that GNU
 * coreutils close in an exit handler, so the debug mode kept a copy of it
 * from its start, at descriptor 100. A program that lists its descriptors
 * saw it: CPython's test_subprocess runs a child that prints its own and
 * wants exactly those it was given, and failed under `heapward run`. Now
 * the copy is taken just before the program closes descriptor 2, and a
 * program that never does has no descriptor of heapward's.
 *
 * Owns: close and fclose (exports.map). Built only where the OS layer
 * reaches the C library's by names of their own (HW_LIBC_CLOSE,
 * platform/CMakeLists.txt), so that no call loops back here.
 *
 * Invariants:
 *   SC1. close and fclose are the C library's, with what they return and
 *        the errno they set; before one closes descriptor 2, the copy is
 *        taken if the debug mode asked for it (hw_console_close,
 *        hw_console_fclose).
 *   SC2. The constructor tells the debug mode that closes are seen
 *        (hw_mc_debug_watch_stderr): from then on it asks for the copy at
 *        close, and closes one it took at its start.
 *   SC3. Neither calls an exported name of this library (override.c OV6).
 *
 * Locking: none here (console.h, debug.c DM7).
 */
#include "console.h"
#include "debug.h"

#include <stdio.h>
#include <unistd.h>

#define SC_EXPORT __attribute__((visibility("default")))

/* SC1. */
SC_EXPORT int close(int fd) { return hw_console_close(fd); }

SC_EXPORT int fclose(FILE *f) { return hw_console_fclose(f); }

/* SC2. */
__attribute__((constructor)) static void sc_start(void) { hw_mc_debug_watch_stderr(); }

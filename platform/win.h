/* win.h: what only the Windows backend (windows.c) offers.
 *
 * Owns: the process's commit charge, the number Windows counts a process's
 * memory by, for the tests that show the seed's point on Windows: memory is
 * charged only when the heap makes it Ready.
 *
 * Locking: none.
 */
#ifndef HW_PLATFORM_WIN_H
#define HW_PLATFORM_WIN_H

#include <stddef.h>

/* The process's commit charge in bytes (PagefileUsage of
 * GetProcessMemoryInfo, which Windows documents as the commit charge), or
 * SIZE_MAX when it cannot be read. Wine derives it from the host's resident
 * anonymous memory and swap instead (committed pages count once touched),
 * so under Wine it moves with what is touched, not with what is
 * committed. */
size_t hw_platform_commit_charge(void);

#endif

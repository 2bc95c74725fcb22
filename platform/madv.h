/* madv.h: madvise advice values newer than the C library's headers.
 *
 * Owns: MADV_GUARD_INSTALL / MADV_GUARD_REMOVE (Linux 6.13: guard regions
 * inside one mapping, no extra VMA), MADV_POPULATE_WRITE (5.14) and
 * MADV_FREE, defined when Debian 12's headers lack them. Kernels without
 * them answer EINVAL, which each backend probes for.
 *
 * Locking: none (constants).
 */
#ifndef HW_PLATFORM_MADV_H
#define HW_PLATFORM_MADV_H

#include <sys/mman.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif

#endif

/* file.h: reading a small file whole, for the layer's own input files (the
 * debug mode's leak suppressions).
 *
 * Owns: hw_file_read. POSIX in file_posix.c, Windows in file_windows.c.
 *
 * Invariants:
 *   FI1. No allocation and no stdio: the bytes go to the caller's buffer,
 *        so it works inside a malloc replacement, before constructors run.
 *   FI2. The answer is 0 with *len the file's size, or an errno value with
 *        *len the bytes read so far: ENOENT (no such file), EACCES
 *        (permission denied), EISDIR (a directory; on Windows, EACCES:
 *        what opening one gives there), EFBIG (more than cap bytes: buf
 *        holds the first cap), or another error of the OS's open or read
 *        (Windows: EIO for what has no errno of its own).
 *
 * Locking: none.
 */
#ifndef HW_FILE_H
#define HW_FILE_H

#include <stddef.h>

/* Reads the file at path into buf[0, cap) (FI2). */
int hw_file_read(const char *path, char *buf, size_t cap, size_t *len);

#endif

/* file.h: reading a small file whole, for the layer's own input files (the
 * debug mode's leak suppressions), and where the process's /proc files are.
 *
 * Owns: hw_file_read, and on POSIX hw_file_proc_path and hw_file_number (the
 * one reader of the numbers in /proc's text). POSIX in file_posix.c,
 * Windows in file_windows.c.
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
 *   FI3. Files about the process (maps, smaps) are read through the
 *        calling thread's directory, not /proc/self's: once the main
 *        thread has ended (pthread_exit) while others run, /proc/self
 *        describes that ended thread, whose maps are empty and whose exe
 *        link is broken. (The exe link is read from /proc/self while it
 *        answers: under Valgrind only that link names the program.)
 *   FI4. hw_file_number reads digits only: no sign, no spaces, no "0x"
 *        (callers skip what precedes the digits), and refuses a value
 *        that does not fit in 64 bits rather than wrap.
 *
 * Locking: none.
 */
#ifndef HW_FILE_H
#define HW_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads the file at path into buf[0, cap) (FI2). */
int hw_file_read(const char *path, char *buf, size_t cap, size_t *len);

#ifndef _WIN32
/* FI3: the path of the process's /proc file name ("maps", "exe") in the
 * calling thread's directory, "/proc/thread-self/<name>" where the kernel
 * has it (Linux 3.17), else "/proc/self/<name>", into out[0, cap); false
 * when it does not fit. */
bool hw_file_proc_path(const char *name, char *out, size_t cap);

/* FI4: the unsigned number in base 10 or 16 (lower-case digits, as /proc
 * writes them) at the start of s into *out, and where its digits end;
 * NULL when s does not start with a digit of the base or the value passes
 * UINT64_MAX. */
const char *hw_file_number(const char *s, unsigned base, uint64_t *out);
#endif

#endif

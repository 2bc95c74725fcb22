/* console.h: where the process's reports go, and ending it with a status.
 *
 * Owns: the report destination (standard error, or a file per process, the
 * sanitizers' log_path), hw_process_exit and the last exit handler
 * (hw_process_on_exit_last). The writer itself,
 * hw_console_write, is declared by the base floor (base.h) and defined
 * beside these in console_posix.c.
 *
 * Invariants:
 *   CN1. With a log prefix set, every hw_console_write goes to the file
 *        "<prefix>.<pid>" (created 0666 minus the umask, appended to),
 *        opened for each write and closed after it: a process that reports
 *        nothing creates no file, a child of fork() writes its own file,
 *        and no descriptor of the layer stays open between reports. When
 *        the file cannot be opened, the writes go to standard error, after
 *        one line saying so.
 *   CN2. No allocation, no stdio: open/write/getpid only, and the prefix
 *        is copied into a fixed buffer (HW_LOG_PREFIX_MAX bytes; a longer
 *        one is refused).
 *   CN3. hw_process_exit flushes the C library's output streams (a
 *        destructor that ends the process must not lose the program's
 *        buffered output) and ends the process with the status at once:
 *        no further exit handlers or destructors run.
 *   CN4. After hw_console_keep, a line that standard error can no longer
 *        take because the program closed it (GNU coreutils close it in an
 *        exit handler, before the leak check at exit runs) goes to the copy
 *        of standard error kept then, and only while that copy still
 *        refers to the file it was taken from: a program that closes every
 *        descriptor and opens its own files under the same numbers gets no
 *        line written into them. While standard error is open, lines go to
 *        it, wherever the program redirected it. After
 *        hw_console_keep_at_close instead, the copy is taken only when the
 *        program closes standard error through hw_console_close or
 *        hw_console_fclose (the override library's close and fclose), so
 *        a program that keeps it open never has a descriptor of ours: a
 *        test that lists a child's descriptors (CPython's test_subprocess)
 *        sees only its own.
 *   CN5. The function given to hw_process_on_exit_last runs at a normal
 *        exit (exit(), or main's return) after every module's destructors
 *        and after every exit handler registered later than the call: a
 *        library whose destructor flushes its own buffers (libgfortran's
 *        units) or frees what it kept has done so. It is tied to no
 *        module, so only code that is never unloaded may register it.
 *
 * Locking: none. The prefix is set at start-up, before any report; the
 * kept copy then too, or when standard error closes, its descriptor
 * published atomically; the log descriptor is published with an atomic
 * compare-and-swap.
 */
#ifndef HW_CONSOLE_H
#define HW_CONSOLE_H

#include <stdbool.h>
#include <stdio.h>

#define HW_LOG_PREFIX_MAX 256

/* Sends reports to "<prefix>.<pid>" (CN1); "" sends them to standard error
 * again. False when prefix is too long (nothing changes). */
bool hw_console_log_path(const char *prefix);

/* Keeps a close-on-exec copy of standard error for when the program closes
 * its own (CN4). Called at start-up; a later call replaces the copy. Does
 * nothing when standard error is closed already or no descriptor is free. */
void hw_console_keep(void);

/* CN4: closes the copy hw_console_keep took, if any, and has it taken when
 * standard error is about to close instead (hw_console_close,
 * hw_console_fclose). Where the platform has neither (Windows), the same
 * as hw_console_keep. */
void hw_console_keep_at_close(void);

/* The C library's close and fclose (HW_LIBC_CLOSE: Linux with glibc's
 * __close and _IO_fclose), which first take CN4's copy when they close
 * standard error after hw_console_keep_at_close. */
int hw_console_close(int fd);
int hw_console_fclose(FILE *f);

/* The process's id (reports print it). */
int hw_process_id(void);

/* Flushes stdio and ends the process with status (CN3). */
__attribute__((noreturn)) void hw_process_exit(int status);

/* Registers fn to run last at a normal exit (CN5); one function per
 * process (a second call replaces the first's function, not its place).
 * Call it from a constructor of a module that stays loaded to the end.
 * False where the platform has no such hook or refused (no memory): the
 * caller's destructor must then do the work. */
bool hw_process_on_exit_last(void (*fn)(void));

#endif

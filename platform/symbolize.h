/* symbolize.h: turning code addresses into function, file and line, at
 * report time, with a well-kept external symbolizer.
 *
 * Owns: a symbolizer session: finding the tool, running it as a child
 * process, asking it about one address at a time and parsing its answers.
 * POSIX implementation in symbolize_posix.c.
 *
 * Tools, in order: the path given (symbolizer_path; a name containing
 * "addr2line" is spoken to as addr2line, anything else as llvm-symbolizer),
 * else llvm-symbolizer found on PATH (Debian package llvm; a versioned
 * llvm-symbolizer-N of package llvm-N, newest first, when the unversioned
 * name is missing), else addr2line
 * found on PATH (binutils), else none: the caller then prints the module
 * and offset only, "(/path/lib.so+0x1234)", which offline tools take. This
 * project reads no DWARF itself.
 *
 * Invariants:
 *   SZ1. No allocation: the session is a fixed-size structure, the child
 *        is started with vfork and execve (no fork handlers run, nothing in
 *        the child but dup2/open/execve/_exit), all signals blocked around
 *        the vfork (the child execs with them blocked), and every string is
 *        built in the session's buffers. So it works inside a malloc
 *        replacement and while the caller holds the allocator's locks.
 *   SZ2. The child talks over one socketpair (its stdin and stdout), its
 *        stderr goes to /dev/null, and its environment is only LC_ALL=C:
 *        no LD_PRELOAD, so the symbolizer never runs on heapward itself.
 *        Writes use MSG_NOSIGNAL: a dead child is an error, never a
 *        SIGPIPE in the program.
 *   SZ3. Every wait for an answer is bounded (HW_SYMBOLIZE_TIMEOUT_MS); a
 *        child that times out, dies or answers in a form this file does not
 *        know is killed and reaped, and the session answers "unknown" from
 *        then on (the report keeps its module+offset frames).
 *   SZ4. hw_symbolizer_close reaps the child (no zombie is left) and closes
 *        every descriptor the session opened; a session that was never
 *        asked anything started no process.
 *
 * Locking: a session is its caller's; use one from one thread at a time.
 */
#ifndef HW_SYMBOLIZE_H
#define HW_SYMBOLIZE_H

#include "module.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HW_SYMBOLIZE_TIMEOUT_MS 20000
#define HW_SYMBOL_TEXT_MAX 512

typedef enum hw_sym_tool { HW_SYM_NONE,
			   HW_SYM_LLVM,
			   HW_SYM_ADDR2LINE } hw_sym_tool;

/* One frame of an answer (with inlining, an address may have several:
 * the innermost inlined function first). Empty strings and 0 mean
 * unknown. */
typedef struct hw_symbol {
	char function[HW_SYMBOL_TEXT_MAX];
	char file[HW_SYMBOL_TEXT_MAX];
	unsigned line, column;
} hw_symbol;

typedef struct hw_symbolizer {
	hw_sym_tool tool;
	char path[HW_MODULE_PATH_MAX];   /* the tool */
	char module[HW_MODULE_PATH_MAX]; /* addr2line: the file its child reads */
	int fd, pid;                     /* the child, -1 when none */
	bool broken;                     /* SZ3 */
	size_t have;                     /* bytes of an answer in buf */
	char buf[8192];
} hw_symbolizer;

/* Starts a session: picks the tool (none when enabled is false or nothing
 * is found), starts no process yet. path: the tool to use, "" to search. */
void hw_symbolizer_open(hw_symbolizer *s, bool enabled, const char *path);

/* The frames at file address addr of the module at path module (MO3 of
 * module.h; for a return address, pass the call's address: one less), at
 * most max of them into out; returns how many, 0 when unknown. */
size_t hw_symbolize(hw_symbolizer *s, const char *module, uintptr_t addr, hw_symbol *out,
		    size_t max);

/* Ends the session (SZ4). */
void hw_symbolizer_close(hw_symbolizer *s);

#endif

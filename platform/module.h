/* module.h: the loaded modules (the program and its shared objects), as
 * the debug mode's reports and leak check need them.
 *
 * Owns: finding the module that holds an address (its file and load bias,
 * to print "(module+0xoffset)" and to ask a symbolizer), the executable
 * range of the module holding this code (to trim the allocator's own frames
 * from recorded stacks), and the writable segments of every module (the
 * leak check's global roots), which modules define a symbol (the kind
 * check's foreign C++ runtimes) and whether the list changed. POSIX/ELF
 * implementation in module_posix.c.
 *
 * Invariants:
 *   MO1. hw_module_find and hw_module_writable go through the dynamic
 *        loader's list (dl_iterate_phdr): they allocate nothing but take
 *        the loader's lock, so they must not run in a signal handler nor
 *        while a thread that may hold that lock is stopped.
 *   MO2. hw_module_self calls nothing: it reads the program headers of
 *        its own module through the linker-defined __ehdr_start and the
 *        program's through the auxiliary vector, so it works from the
 *        first allocation on, inside the dynamic loader included.
 *   MO3. A module's file address is the run-time address minus its bias;
 *        that is the address a symbolizer and "(module+0x...)" take.
 *   MO4. hw_module_defining reads each module's dynamic symbol table
 *        through its GNU hash table, in place (MO1's conditions); a module
 *        without one (old-style DT_HASH only) is not looked at.
 *
 * Locking: none of its own (the loader's, MO1).
 */
#ifndef HW_MODULE_H
#define HW_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest module path kept, NUL included (longer ones are cut). */
#define HW_MODULE_PATH_MAX 512

typedef struct hw_module {
	char path[HW_MODULE_PATH_MAX]; /* the program's from /proc/self/exe */
	uintptr_t bias;                /* run-time address - file address (MO3) */
} hw_module;

/* The module whose loaded segments hold addr, into *out; false when none
 * does (MO1). */
bool hw_module_find(uintptr_t addr, hw_module *out);

/* [*lo, *hi): the lowest and highest address of the executable segments of
 * the module this code is linked into; *is_program: whether that module is
 * the program itself (a static link) rather than a shared object (MO2). */
void hw_module_self(uintptr_t *lo, uintptr_t *hi, bool *is_program);

/* [*lo, *hi): the executable range of the dynamic linker (the program's
 * interpreter, ld.so); false for a program without one (static). Calls
 * nothing but getauxval (MO2's conditions). */
bool hw_module_linker(uintptr_t *lo, uintptr_t *hi);

/* Calls fn(arg, lo, hi) for every writable loaded segment of every module
 * (data and bss, relocation-read-only data included: [lo, hi) is the
 * segment's whole memory image); stops at the first non-zero return and
 * returns it, else 0 (MO1). */
typedef int (*hw_segment_fn)(void *arg, uintptr_t lo, uintptr_t hi);
int hw_module_writable(hw_segment_fn fn, void *arg);

/* Calls fn(arg, lo, hi) for the calling thread's TLS block of every module
 * that has one allocated (static blocks sit just below the thread pointer;
 * a block made later for a dlopen'ed module is wherever it was allocated);
 * stops at the first non-zero return and returns it, else 0 (MO1). */
int hw_module_tls(hw_segment_fn fn, void *arg);

/* Calls fn(arg, path, addr) for every loaded module whose dynamic symbol
 * table defines name (a symbol it exports, at run-time address addr; the
 * program's own path is ""), stopping at the first non-zero return, which
 * it returns; else 0 (MO1, MO4). */
typedef int (*hw_symbol_fn)(void *arg, const char *path, uintptr_t addr);
int hw_module_defining(const char *name, hw_symbol_fn fn, void *arg);

/* The loader's count of modules loaded plus modules unloaded so far: a
 * change means the list changed (MO1). */
uint64_t hw_module_generation(void);

#endif

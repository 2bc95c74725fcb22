/* module_windows.c: module.h on Windows (PE images).
 *
 * Owns: hw_module_find, hw_module_self, hw_module_linker,
 * hw_module_writable, hw_module_tls, read from the loaded images' own
 * headers (the DOS header at the module's base, its PE headers, its
 * section table), and hw_module_defining (the loader's export lookup,
 * GetProcAddress) and hw_module_generation (the number of modules: a load
 * and an unload between two calls go unseen).
 *
 * Invariants (module.h's, and how they hold here):
 *   MO1. hw_module_find asks the loader (GetModuleHandleExW, which takes its
 *        lock) and hw_module_writable lists the modules with
 *        EnumProcessModules into a fixed array (up to WM_MAX_MODULES;
 *        more are not walked): nothing is allocated in this process's C
 *        runtime heap.
 *   MO2. hw_module_self reads the headers of its own image through the
 *        linker-defined __ImageBase, and asks the loader nothing but the
 *        program's base (GetModuleHandleW(NULL), which reads the process
 *        block).
 *   MO3. A module's file address is its preferred address (the image base
 *        in its optional header) plus the section offset: bias is the
 *        run-time base minus that image base, the address addr2line and
 *        llvm-symbolizer take for a PE file.
 *
 * Windows has no dynamic linker image of its own for a program (the loader
 * is ntdll, a module like any other): hw_module_linker answers false.
 * Thread-local storage lives in blocks the loader and the C runtime (gcc's
 * emulated TLS) allocate from their heaps, not beside a thread pointer:
 * hw_module_tls calls nothing and returns 0, and stop_windows.c leaves the
 * threads running, so the leak check scans every writable region instead
 * (those heaps included).
 *
 * Locking: none of its own (the loader's, MO1).
 */
#include "module.h"

#include "base.h"

#include <string.h>

#include <windows.h>

#include <psapi.h>

#define WM_MAX_MODULES 1024

/* The DOS header of the image this file is linked into (GNU ld defines it
 * for every PE image). */
extern const IMAGE_DOS_HEADER __ImageBase;

/* This image's base, as an address the compiler cannot see as the one
 * IMAGE_DOS_HEADER object it is declared to be (the headers lie beyond). */
static const void *own_base(void)
{
	const void *p = &__ImageBase;
	__asm__(""
		: "+r"(p));
	return p;
}

static const IMAGE_NT_HEADERS *nt_headers(const void *base)
{
	const IMAGE_DOS_HEADER *dos = base;
	return (const IMAGE_NT_HEADERS *)((const char *)base + dos->e_lfanew);
}

/* Calls fn(arg, lo, hi) for each section of the image at base whose
 * characteristics include all of `want`; stops at the first non-zero
 * return and returns it. */
static int sections(const void *base, DWORD want, hw_segment_fn fn, void *arg)
{
	const IMAGE_NT_HEADERS *nt = nt_headers(base);
	const IMAGE_SECTION_HEADER *sec = IMAGE_FIRST_SECTION(nt);
	for (WORD i = 0; i < nt->FileHeader.NumberOfSections; i++) {
		if ((sec[i].Characteristics & want) != want)
			continue;
		uintptr_t lo = (uintptr_t)base + sec[i].VirtualAddress;
		size_t size = sec[i].Misc.VirtualSize ? sec[i].Misc.VirtualSize
						      : sec[i].SizeOfRawData;
		int rc = size ? fn(arg, lo, lo + size) : 0;
		if (rc != 0)
			return rc;
	}
	return 0;
}

bool hw_module_find(uintptr_t addr, hw_module *out)
{
	HMODULE m;
	out->path[0] = '\0';
	out->bias = 0;
	if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
					GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
				(LPCWSTR)addr, &m))
		return false;
	DWORD n = GetModuleFileNameA(m, out->path, HW_MODULE_PATH_MAX);
	out->path[n < HW_MODULE_PATH_MAX ? n : HW_MODULE_PATH_MAX - 1] = '\0';
	out->bias = (uintptr_t)m - (uintptr_t)nt_headers(m)->OptionalHeader.ImageBase;
	return true;
}

typedef struct range {
	uintptr_t lo, hi;
} range;

static int widen(void *arg, uintptr_t lo, uintptr_t hi)
{
	range *r = arg;
	r->lo = lo < r->lo ? lo : r->lo;
	r->hi = hi > r->hi ? hi : r->hi;
	return 0;
}

void hw_module_self(uintptr_t *lo, uintptr_t *hi, bool *is_program)
{
	range r = {UINTPTR_MAX, 0};
	(void)sections(own_base(), IMAGE_SCN_MEM_EXECUTE, widen, &r);
	*lo = r.lo < r.hi ? r.lo : 0;
	*hi = r.lo < r.hi ? r.hi : 0;
	*is_program = (const void *)GetModuleHandleW(NULL) == own_base();
}

bool hw_module_linker(uintptr_t *lo, uintptr_t *hi)
{
	*lo = *hi = 0;
	return false;
}

/* The loaded modules into mods (at most WM_MAX_MODULES); how many. */
static size_t list_modules(HMODULE *mods)
{
	DWORD bytes = 0;
	if (!EnumProcessModules(GetCurrentProcess(), mods, WM_MAX_MODULES * sizeof mods[0], &bytes))
		return 0;
	size_t n = bytes / sizeof mods[0];
	return n > WM_MAX_MODULES ? WM_MAX_MODULES : n;
}

int hw_module_writable(hw_segment_fn fn, void *arg)
{
	HMODULE mods[WM_MAX_MODULES];
	size_t n = list_modules(mods);
	for (size_t i = 0; i < n; i++) {
		int rc = sections(mods[i], IMAGE_SCN_MEM_WRITE, fn, arg);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int hw_module_tls(hw_segment_fn fn, void *arg)
{
	(void)fn, (void)arg;
	return 0;
}

int hw_module_defining(const char *name, hw_symbol_fn fn, void *arg)
{
	HMODULE mods[WM_MAX_MODULES];
	size_t n = list_modules(mods);
	for (size_t i = 0; i < n; i++) {
		FARPROC p = GetProcAddress(mods[i], name);
		if (!p)
			continue;
		char path[HW_MODULE_PATH_MAX];
		DWORD len = GetModuleFileNameA(mods[i], path, sizeof path);
		path[len < sizeof path ? len : sizeof path - 1] = '\0';
		int rc = fn(arg, mods[i] == GetModuleHandleW(NULL) ? "" : path, (uintptr_t)p);
		if (rc != 0)
			return rc;
	}
	return 0;
}

uint64_t hw_module_generation(void)
{
	HMODULE mods[WM_MAX_MODULES];
	return list_modules(mods);
}

/* module_posix.c: module.h on ELF systems (dl_iterate_phdr, __ehdr_start,
 * getauxval).
 *
 * Owns: hw_module_find, hw_module_self, hw_module_linker,
 * hw_module_writable, hw_module_tls.
 *
 * Invariants: MO1-MO3 of module.h. The program's own entry in the loader's
 * list has an empty name; its path is read from /proc/self/exe, or, when
 * the main thread has ended, from the calling thread's exe link (file.h
 * FI3; readlink, into the caller's buffer).
 *
 * Locking: none of its own.
 */
#include "module.h"

#include "base.h"
#include "file.h"

#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

/* The ELF header of the module this file is linked into (GNU ld, gold and
 * lld define it); hidden, so it binds to this module's own. */
extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

typedef struct find_ctx {
	uintptr_t addr;
	hw_module *out;
	bool found;
} find_ctx;

static void copy_path(char *to, const char *from)
{
	size_t n = strlen(from);
	if (n >= HW_MODULE_PATH_MAX)
		n = HW_MODULE_PATH_MAX - 1;
	memcpy(to, from, n);
	to[n] = '\0';
}

static int find_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	find_ctx *f = arg;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type != PT_LOAD || f->addr < lo || f->addr - lo >= ph->p_memsz)
			continue;
		f->out->bias = info->dlpi_addr;
		if (info->dlpi_name && info->dlpi_name[0]) {
			copy_path(f->out->path, info->dlpi_name);
		} else {
			/* /proc/self first: Valgrind answers that link (only)
			 * with the program's path, not its own. */
			char exe[64];
			ssize_t n = readlink("/proc/self/exe", f->out->path,
					     HW_MODULE_PATH_MAX - 1);
			if (n <= 0 && hw_file_proc_path("exe", exe, sizeof exe))
				n = readlink(exe, f->out->path, HW_MODULE_PATH_MAX - 1);
			f->out->path[n > 0 ? n : 0] = '\0';
		}
		f->found = true;
		return 1;
	}
	return 0;
}

bool hw_module_find(uintptr_t addr, hw_module *out)
{
	find_ctx f = {addr, out, false};
	out->path[0] = '\0';
	out->bias = 0;
	dl_iterate_phdr(find_one, &f);
	return f.found;
}

/* The executable range of the module whose ELF header is at eh. */
static void text_of(const ElfW(Ehdr) * eh, uintptr_t *lo, uintptr_t *hi)
{
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
	/* The bias: the ELF header is at file address 0 of the first segment. */
	uintptr_t bias = (uintptr_t)eh, l = UINTPTR_MAX, h = 0;
	for (ElfW(Half) i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
			bias = (uintptr_t)eh - ph[i].p_vaddr;
	for (ElfW(Half) i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
			continue;
		l = hw_min(l, bias + ph[i].p_vaddr);
		h = hw_max(h, bias + ph[i].p_vaddr + ph[i].p_memsz);
	}
	*lo = l <= h ? l : 0;
	*hi = h;
}

void hw_module_self(uintptr_t *lo, uintptr_t *hi, bool *is_program)
{
	const ElfW(Ehdr) *eh = &__ehdr_start;
	text_of(eh, lo, hi);
	*is_program = (uintptr_t)eh + eh->e_phoff == (uintptr_t)getauxval(AT_PHDR);
}

bool hw_module_linker(uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t base = (uintptr_t)getauxval(AT_BASE);
	if (!base)
		return false;
	text_of((const ElfW(Ehdr) *)base, lo, hi);
	return *lo < *hi;
}

typedef struct writable_ctx {
	hw_segment_fn fn;
	void *arg;
	int rc;
} writable_ctx;

static int writable_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	writable_ctx *w = arg;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum && w->rc == 0; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || ph->p_memsz == 0)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		w->rc = w->fn(w->arg, lo, lo + ph->p_memsz);
	}
	return w->rc;
}

int hw_module_writable(hw_segment_fn fn, void *arg)
{
	writable_ctx w = {fn, arg, 0};
	dl_iterate_phdr(writable_one, &w);
	return w.rc;
}

static int tls_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	writable_ctx *w = arg;
	if (!info->dlpi_tls_data)
		return 0;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum && w->rc == 0; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_TLS && ph->p_memsz > 0)
			w->rc = w->fn(w->arg, (uintptr_t)info->dlpi_tls_data,
				      (uintptr_t)info->dlpi_tls_data + ph->p_memsz);
	}
	return w->rc;
}

int hw_module_tls(hw_segment_fn fn, void *arg)
{
	writable_ctx w = {fn, arg, 0};
	dl_iterate_phdr(tls_one, &w);
	return w.rc;
}

/* module_posix.c: module.h on ELF systems (dl_iterate_phdr, __ehdr_start,
 * getauxval).
 *
 * Owns: hw_module_find, hw_module_self, hw_module_linker,
 * hw_module_writable, hw_module_tls, hw_module_defining,
 * hw_module_generation.
 *
 * Invariants: MO1-MO3 of module.h. The program's own entry in the loader's
 * list has an empty name; its path is read from /proc/self/exe, or, when
 * the main thread has ended, from the calling thread's exe link (file.h
 * FI3; readlink, into the caller's buffer). MO4: the dynamic section's
 * addresses are run-time ones in glibc's loaded modules (the loader
 * relocates them in place), file ones where a loader does not (the vDSO
 * in some): an address below the module's bias is taken as a file
 * address.
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

typedef struct defining_ctx {
	const char *name;
	uint32_t hash;
	hw_symbol_fn fn;
	void *arg;
	int rc;
} defining_ctx;

/* The GNU hash of a symbol name (the ELF gABI extension's function). */
static uint32_t gnu_hash(const char *s)
{
	uint32_t h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

/* The run-time address a dynamic entry's d_ptr stands for (MO4). */
static uintptr_t dyn_addr(const struct dl_phdr_info *info, uintptr_t p)
{
	return p < info->dlpi_addr ? info->dlpi_addr + p : p;
}

/* The defined symbol name in one module's GNU hash table, or NULL. */
static const ElfW(Sym) * gnu_lookup(const uint32_t *ht, const ElfW(Sym) * syms, const char *strs,
				    const char *name, uint32_t h)
{
	const unsigned bits = 8 * sizeof(ElfW(Addr));
	uint32_t nbuckets = ht[0], first = ht[1], nbloom = ht[2], shift = ht[3];
	if (nbuckets == 0 || nbloom == 0)
		return NULL;
	const ElfW(Addr) *bloom = (const ElfW(Addr) *)(ht + 4);
	const uint32_t *buckets = (const uint32_t *)(bloom + nbloom);
	const uint32_t *chain = buckets + nbuckets;
	ElfW(Addr) mask = ((ElfW(Addr))1 << (h % bits)) | ((ElfW(Addr))1 << ((h >> shift) % bits));
	if ((bloom[(h / bits) % nbloom] & mask) != mask)
		return NULL;
	for (uint32_t i = buckets[h % nbuckets]; i >= first && i != 0; i++) {
		uint32_t h2 = chain[i - first];
		const ElfW(Sym) *s = &syms[i];
		if ((h | 1) == (h2 | 1) && s->st_shndx != SHN_UNDEF && s->st_value != 0 &&
		    strcmp(strs + s->st_name, name) == 0)
			return s;
		if (h2 & 1)
			break;
	}
	return NULL;
}

static int defining_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	defining_ctx *d = arg;
	const ElfW(Dyn) *dyn = NULL;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	if (!dyn)
		return 0;
	const uint32_t *ht = NULL;
	const ElfW(Sym) *syms = NULL;
	const char *strs = NULL;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		if (dyn->d_tag == DT_GNU_HASH)
			ht = (const uint32_t *)dyn_addr(info, dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_SYMTAB)
			syms = (const ElfW(Sym) *)dyn_addr(info, dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_STRTAB)
			strs = (const char *)dyn_addr(info, dyn->d_un.d_ptr);
	}
	const ElfW(Sym) *s =
		ht && syms && strs ? gnu_lookup(ht, syms, strs, d->name, d->hash) : NULL;
	if (!s)
		return 0;
	d->rc = d->fn(d->arg, info->dlpi_name ? info->dlpi_name : "",
		      info->dlpi_addr + (uintptr_t)s->st_value);
	return d->rc;
}

int hw_module_defining(const char *name, hw_symbol_fn fn, void *arg)
{
	defining_ctx d = {name, gnu_hash(name), fn, arg, 0};
	dl_iterate_phdr(defining_one, &d);
	return d.rc;
}

static int generation_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
		*(uint64_t *)arg = (uint64_t)info->dlpi_adds + (uint64_t)info->dlpi_subs;
	return 1;
}

uint64_t hw_module_generation(void)
{
	uint64_t g = 0;
	dl_iterate_phdr(generation_one, &g);
	return g;
}

/* windows.c: the Windows backend of the OS memory contract, and the OS views
 * (committed bytes, regions, what an address is) that tests, the simulator
 * and the malloc layer's reports read.
 *
 * Owns: the process's shared OS instance (hw_platform_os_instance), private
 * instances (hw_platform_os_create), every VirtualAlloc/VirtualFree call of
 * the heap, and the process's commit charge (win.h).
 *
 * Windows has the seed's memory model natively: address space is reserved,
 * then committed (charged against the system's commit limit: RAM plus page
 * files) and only then usable. How each transition is done:
 *   reserve  VirtualAlloc(hint, MEM_RESERVE, PAGE_NOACCESS); a hint that is
 *            taken (or not 64 KiB aligned) is retried without one, as mmap
 *            treats a hint on Linux
 *   map      nothing: Reserved and Prepared are both reserved, uncommitted
 *            address space (bookkeeping only; the heap's states say which)
 *   use      VirtualAlloc(MEM_COMMIT, PAGE_READWRITE): the commit, the one
 *            transition that charges memory and the one that can fail for
 *            lack of it
 *   unuse    VirtualFree(MEM_DECOMMIT): the charge is returned and the pages
 *            read as zero when committed again (caps.released_reads_zero)
 *   fault    VirtualFree(MEM_DECOMMIT) too: decommitted pages trap on any
 *            access (an access violation), and, unlike PAGE_NOACCESS on
 *            committed pages, stop being charged. Windows has no mapping
 *            count to run out of (a reservation is one entry whatever its
 *            pages' states), so fault never fails here
 *   release  VirtualFree(MEM_RELEASE), which frees one whole reservation
 *            and nothing else: caps.partial_release is false, and the heap
 *            releases exactly the ranges it reserved (src/grow.c, meta.c)
 *   alloc    VirtualAlloc(MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
 *   unfault  the commit of use (fault left the pages decommitted, as map
 *            finds them), with use's roll-back and messages
 *   seal     VirtualProtect(PAGE_NOACCESS) (P13): the pages stay committed,
 *            their contents kept, and trap; unseal is VirtualProtect back
 *            to PAGE_READWRITE. A protection change needs no mapping entry
 *            and charges nothing, so neither fails here; every page must be
 *            committed (decommitted guard pages cannot be protected):
 *            caps.seal_spans_faults is false
 * advise_huge has no Windows equivalent (large pages need a privilege and
 * are never paged out): caps.huge_page_size is 0. populate is a no-op: a
 * committed page is demand-zero, and PrefetchVirtualMemory reads file
 * pages in, it does not back fresh ones.
 *
 * Invariants:
 *   WIN1. (P2) A commit that fails leaves the range decommitted, the state it
 *       was in (use is only called on Prepared pages, which are never
 *       committed): every piece committed before the failure is decommitted
 *       again, and so is the piece that failed.
 *   WIN2. (P3) ENOMEM is returned for ERROR_NOT_ENOUGH_MEMORY,
 *       ERROR_OUTOFMEMORY and ERROR_COMMITMENT_LIMIT; for
 *       ERROR_INVALID_PARAMETER from a reserve or alloc without a hint (P1
 *       leaves the length as the only argument: a length beyond the address
 *       space); and for ERROR_ACCESS_DENIED from a commit inside a private
 *       reservation, which is how Wine reports a commit the host refused
 *       (an mprotect that hit the overcommit limit). Every other error
 *       aborts with "heapward: platform: <op>(<addr>, <n>) failed: error <e>".
 *   WIN3. Every call stays inside one reservation: VirtualAlloc and VirtualFree
 *       refuse a range that crosses two, and the heap's ranges may (a run can
 *       span address-contiguous arenas), so use, unuse and fault split the
 *       range where VirtualQuery says the reservation changes.
 *   WIN4. release accepts only whole reservations: each piece of the range
 *       must start at its reservation's base and end at its end, or the call
 *       aborts with "heapward: platform: release(<addr>, <n>): not whole
 *       reservations" (a heap that ignored caps.partial_release).
 *
 * Locking: instances are unlocked (platform.h); the calls are the kernel's
 * and may run in several threads at once (caps.concurrent_calls). The shared
 * instance is set up under an INIT_ONCE.
 */
#include "platform.h"
#include "win.h"

#include "base.h"

#include <errno.h>
#include <string.h>

#include <windows.h>

#include <psapi.h>

typedef struct win_impl {
	hw_platform pf;
} win_impl;

static HW_NORETURN HW_COLD void os_fail(const char *op, const void *p, size_t n, DWORD e)
{
	hw_fatal("heapward: platform: %s(%p, %zu) failed: error %lu", op, p, n, (unsigned long)e);
}

/* WIN2: the errors that mean "no memory" (commit limit, or address space). */
static bool out_of_memory(DWORD e)
{
	return e == ERROR_NOT_ENOUGH_MEMORY || e == ERROR_OUTOFMEMORY ||
	       e == ERROR_COMMITMENT_LIMIT;
}

static MEMORY_BASIC_INFORMATION query(const char *op, const void *p, size_t n, const void *at)
{
	MEMORY_BASIC_INFORMATION mi;
	if (VirtualQuery(at, &mi, sizeof mi) != sizeof mi)
		os_fail(op, p, n, GetLastError());
	return mi;
}

/* WIN3: the end of the part of [q, end) inside q's reservation. The whole
 * range must be reserved: a free page in it is the caller's bug. */
static char *piece_end(const char *op, char *q, char *end)
{
	MEMORY_BASIC_INFORMATION mi = query(op, q, (size_t)(end - q), q);
	void *alloc = mi.AllocationBase;
	for (;;) {
		if (mi.State == MEM_FREE)
			hw_fatal("heapward: platform: %s(%p, %zu): page %p is not reserved", op,
				 (void *)q, (size_t)(end - q), mi.BaseAddress);
		char *next = (char *)mi.BaseAddress + mi.RegionSize;
		if (next >= end)
			return end;
		mi = query(op, q, (size_t)(end - q), next);
		if (mi.AllocationBase != alloc)
			return next;
	}
}

/* Decommits [p, p + n), piece by piece (WIN3). Cannot fail on owned memory. */
static void decommit(const char *op, void *p, size_t n)
{
	char *q = p, *end = q + n;
	while (q < end) {
		char *e = piece_end(op, q, end);
		if (!VirtualFree(q, (size_t)(e - q), MEM_DECOMMIT))
			os_fail(op, q, (size_t)(e - q), GetLastError());
		q = e;
	}
}

/* WIN2: whether a failed commit of [q, q + n) means "no memory". */
static bool commit_refused(DWORD e, void *q)
{
	if (out_of_memory(e))
		return true;
	if (e != ERROR_ACCESS_DENIED)
		return false;
	MEMORY_BASIC_INFORMATION mi;
	return VirtualQuery(q, &mi, sizeof mi) == sizeof mi && mi.Type == MEM_PRIVATE &&
	       mi.State != MEM_FREE;
}

static int win_reserve(hw_platform *pf, void *hint, size_t n, void **out)
{
	(void)pf;
	void *p = hint ? VirtualAlloc(hint, n, MEM_RESERVE, PAGE_NOACCESS) : NULL;
	if (p == NULL)
		p = VirtualAlloc(NULL, n, MEM_RESERVE, PAGE_NOACCESS);
	if (p == NULL) {
		DWORD e = GetLastError();
		if (out_of_memory(e) || e == ERROR_INVALID_PARAMETER)
			return ENOMEM;
		os_fail("reserve", hint, n, e);
	}
	*out = p;
	return 0;
}

static int win_map(hw_platform *pf, void *p, size_t n)
{
	(void)pf, (void)p, (void)n;
	return 0;
}

static int win_use(hw_platform *pf, void *p, size_t n)
{
	(void)pf;
	char *q = p, *end = q + n;
	while (q < end) {
		char *e = piece_end("use", q, end);
		if (VirtualAlloc(q, (size_t)(e - q), MEM_COMMIT, PAGE_READWRITE) == NULL) {
			DWORD err = GetLastError();
			if (!commit_refused(err, q))
				os_fail("use", q, (size_t)(e - q), err);
			decommit("use", p, (size_t)(e - (char *)p)); /* WIN1 */
			return ENOMEM;
		}
		q = e;
	}
	return 0;
}

static void win_unuse(hw_platform *pf, void *p, size_t n)
{
	(void)pf;
	decommit("unuse", p, n);
}

static int win_fault(hw_platform *pf, void *p, size_t n)
{
	(void)pf;
	decommit("fault", p, n);
	return 0;
}

/* Sets the protection of committed [p, p + n), piece by piece (WIN3). */
static void set_protection(const char *op, void *p, size_t n, DWORD prot)
{
	char *q = p, *end = q + n;
	while (q < end) {
		char *e = piece_end(op, q, end);
		DWORD old;
		if (!VirtualProtect(q, (size_t)(e - q), prot, &old))
			os_fail(op, q, (size_t)(e - q), GetLastError());
		q = e;
	}
}

static int win_seal(hw_platform *pf, void *p, size_t n)
{
	(void)pf;
	set_protection("seal", p, n, PAGE_NOACCESS);
	return 0;
}

static int win_unseal(hw_platform *pf, void *p, size_t n)
{
	(void)pf;
	set_protection("unseal", p, n, PAGE_READWRITE);
	return 0;
}

static void win_release(hw_platform *pf, void *p, size_t n)
{
	(void)pf;
	char *q = p, *end = q + n;
	while (q < end) {
		MEMORY_BASIC_INFORMATION mi = query("release", p, n, q);
		char *e = piece_end("release", q, end);
		/* WIN4: the piece starts its reservation, and the reservation
		 * does not go on past it. */
		bool whole = mi.AllocationBase == q;
		if (whole && e == end) {
			MEMORY_BASIC_INFORMATION after;
			whole = VirtualQuery(e, &after, sizeof after) != sizeof after ||
				after.State == MEM_FREE || after.AllocationBase != q;
		}
		if (!whole)
			hw_fatal("heapward: platform: release(%p, %zu): not whole reservations", p,
				 n);
		if (!VirtualFree(q, 0, MEM_RELEASE))
			os_fail("release", q, (size_t)(e - q), GetLastError());
		q = e;
	}
}

static int win_alloc(hw_platform *pf, size_t n, void **out)
{
	(void)pf;
	void *p = VirtualAlloc(NULL, n, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
	if (p == NULL) {
		DWORD e = GetLastError();
		if (out_of_memory(e) || e == ERROR_INVALID_PARAMETER || e == ERROR_ACCESS_DENIED)
			return ENOMEM;
		os_fail("alloc", NULL, n, e);
	}
	*out = p;
	return 0;
}

static void win_destroy(hw_platform *pf)
{
	VirtualFree(pf->impl, 0, MEM_RELEASE);
}

/* P11 without a reservation: the lowest free region at or above from that
 * holds n bytes aligned to align, which is where VirtualAlloc without a
 * hint places a reservation when from is 0. (Reserving a window-sized
 * region only to release it cost Wine a page-protection table for every
 * page of it: 256 MiB for the default 1 TiB window, kept after the
 * release.) */
static int win_probe(hw_platform *pf, size_t n, size_t align, uintptr_t from, uintptr_t *out)
{
	(void)pf;
	SYSTEM_INFO si;
	GetSystemInfo(&si);
	uintptr_t a = hw_max((uintptr_t)si.lpMinimumApplicationAddress, from);
	uintptr_t top = (uintptr_t)si.lpMaximumApplicationAddress;
	MEMORY_BASIC_INFORMATION mi;
	while (a < top && VirtualQuery((void *)a, &mi, sizeof mi) == sizeof mi) {
		uintptr_t lo = (uintptr_t)mi.BaseAddress, hi = lo + mi.RegionSize;
		uintptr_t start = hw_align_up(hw_max(lo, from), align);
		if (mi.State == MEM_FREE && start >= lo && start <= hi && hi - start >= n) {
			*out = start;
			return 0;
		}
		if (hi <= a)
			break;
		a = hi;
	}
	return ENOMEM;
}

/* The shared instance's table and the private ones' differ only in
 * destroy: the shared instance lives as long as the process (platform.h). */
#define WIN_OPS(destroy_fn)              \
	{                                \
		.reserve = win_reserve,  \
		.map = win_map,          \
		.use = win_use,          \
		.unuse = win_unuse,      \
		.fault = win_fault,      \
		.release = win_release,  \
		.alloc = win_alloc,      \
		.unfault = win_use,      \
		.seal = win_seal,        \
		.unseal = win_unseal,    \
		.advise_huge = NULL,     \
		.probe = win_probe,      \
		.destroy = (destroy_fn), \
	}

static const hw_platform_ops shared_ops = WIN_OPS(NULL);
static const hw_platform_ops private_ops = WIN_OPS(win_destroy);

static void win_init(win_impl *wi, const hw_platform_ops *ops)
{
	SYSTEM_INFO si;
	GetSystemInfo(&si);
	hw_platform *pf = &wi->pf;
	memset(wi, 0, sizeof *wi);
	pf->name = "windows";
	pf->ops = ops;
	pf->impl = wi;
	pf->caps.page_size = si.dwPageSize;
	pf->caps.huge_page_size = 0;
	pf->caps.granularity = si.dwAllocationGranularity;
	pf->caps.use_needs_call = true;
	pf->caps.released_reads_zero = true;
	pf->caps.partial_release = false;
	pf->caps.guard = HW_GUARD_DECOMMIT;
	pf->caps.concurrent_calls = true;
}

static INIT_ONCE os_once = INIT_ONCE_STATIC_INIT;
static win_impl os_impl;

static BOOL CALLBACK os_init(INIT_ONCE *once, void *arg, void **ctx)
{
	(void)once, (void)arg, (void)ctx;
	win_init(&os_impl, &shared_ops);
	return TRUE;
}

hw_platform *hw_platform_os_instance(void)
{
	InitOnceExecuteOnce(&os_once, os_init, NULL, NULL);
	return &os_impl.pf;
}

hw_platform *hw_platform_os_plain_guards(void)
{
	return hw_platform_os_instance(); /* decommitted pages: the only guard */
}

hw_platform *hw_platform_os_create(void)
{
	win_impl *wi = VirtualAlloc(NULL, sizeof *wi, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
	if (wi == NULL)
		return NULL;
	win_init(wi, &private_ops);
	return &wi->pf;
}

/* Linux's private instances (platform.h) do not exist here. */
hw_platform *hw_platform_linux_create(bool force_protnone, bool use_madv_free)
{
	(void)force_protnone, (void)use_madv_free;
	errno = ENOSYS;
	return NULL;
}

size_t hw_platform_commit_charge(void)
{
	PROCESS_MEMORY_COUNTERS pmc;
	memset(&pmc, 0, sizeof pmc);
	pmc.cb = sizeof pmc;
	if (!GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc))
		return SIZE_MAX;
	/* Windows documents PagefileUsage as the commit charge (PrivateUsage
	 * of the _EX counters is the same number); Wine 8 fills only it. */
	return pmc.PagefileUsage;
}

/* ---- OS views ---- */

/* Calls fn for each region (pages of one reservation in one state and
 * protection) overlapping [p, p + n), clipped; free address space too.
 * Stops at the first non-zero return. */
typedef int (*region_fn)(void *arg, const MEMORY_BASIC_INFORMATION *mi, uintptr_t lo,
			 uintptr_t hi);

static int regions(const void *p, size_t n, region_fn fn, void *arg)
{
	uintptr_t a = (uintptr_t)p, end = a + n < a ? UINTPTR_MAX : a + n;
	while (a < end) {
		MEMORY_BASIC_INFORMATION mi;
		if (VirtualQuery((const void *)a, &mi, sizeof mi) != sizeof mi)
			return -1;
		uintptr_t hi = (uintptr_t)mi.BaseAddress + mi.RegionSize;
		if (hi <= a)
			return -1;
		int rc = fn(arg, &mi, a, hi < end ? hi : end);
		if (rc != 0)
			return rc;
		a = hi;
	}
	return 0;
}

typedef struct committed_ctx {
	hw_stretch_fn fn;
	void *arg;
} committed_ctx;

static int each_committed(void *arg, const MEMORY_BASIC_INFORMATION *mi, uintptr_t lo,
			  uintptr_t hi)
{
	committed_ctx *c = arg;
	if (mi->State == MEM_FREE)
		return 1;
	if (mi->State == MEM_COMMIT)
		c->fn(c->arg, lo, hi);
	return 0;
}

/* Committed pages: what a reader would find there is the process's (the
 * working set is the memory manager's business). */
int hw_platform_resident_each(const void *p, size_t n, hw_stretch_fn fn, void *arg)
{
	committed_ctx c = {fn, arg};
	return regions(p, n, each_committed, &c) == 0 ? 0 : -1;
}

static void add_bytes(void *arg, uintptr_t lo, uintptr_t hi) { *(size_t *)arg += hi - lo; }

size_t hw_platform_resident_bytes(const void *p, size_t n)
{
	size_t committed = 0;
	return hw_platform_resident_each(p, n, add_bytes, &committed) == 0 ? committed : SIZE_MAX;
}

static bool writable(const MEMORY_BASIC_INFORMATION *mi)
{
	const DWORD rw = PAGE_READWRITE | PAGE_WRITECOPY | PAGE_EXECUTE_READWRITE |
			 PAGE_EXECUTE_WRITECOPY;
	return mi->State == MEM_COMMIT && (mi->Protect & rw) != 0 && !(mi->Protect & PAGE_GUARD);
}

typedef struct maps_ctx {
	hw_mapping_fn fn;
	void *arg;
	long count;
} maps_ctx;

static int map_one(void *arg, const MEMORY_BASIC_INFORMATION *mi, uintptr_t lo, uintptr_t hi)
{
	maps_ctx *m = arg;
	if (mi->State == MEM_FREE)
		return 0;
	m->count++;
	return m->fn ? m->fn(m->arg, lo, hi, writable(mi)) : 0;
}

int hw_platform_mappings(const void *p, size_t n, hw_mapping_fn fn, void *arg)
{
	maps_ctx m = {fn, arg, 0};
	return regions(p, n, map_one, &m);
}

int hw_platform_mapping_at(const void *p, uintptr_t *lo, uintptr_t *hi, bool *rw)
{
	/* The region holding p: its pages share one state and protection
	 * (a thread's stack: its committed part, up to the stack's base). */
	MEMORY_BASIC_INFORMATION mi;
	if (VirtualQuery(p, &mi, sizeof mi) != sizeof mi || mi.State == MEM_FREE)
		return -1;
	*lo = (uintptr_t)mi.BaseAddress;
	*hi = (uintptr_t)mi.BaseAddress + mi.RegionSize;
	if (rw)
		*rw = writable(&mi);
	return 0;
}

long hw_platform_vma_count(void)
{
	SYSTEM_INFO si;
	GetSystemInfo(&si);
	uintptr_t lo = (uintptr_t)si.lpMinimumApplicationAddress;
	uintptr_t hi = (uintptr_t)si.lpMaximumApplicationAddress;
	maps_ctx m = {NULL, NULL, 0};
	return regions((const void *)lo, hi - lo, map_one, &m) == 0 ? m.count : -1;
}

long hw_platform_max_map_count(void)
{
	return -1; /* Windows has no per-process limit on regions */
}

hw_addr_kind hw_platform_describe(const void *p, char *name, size_t len, bool *rw)
{
	volatile char here = 0; /* an address on this thread's stack */
	MEMORY_BASIC_INFORMATION mi, own;
	if (len > 0)
		name[0] = '\0';
	if (VirtualQuery(p, &mi, sizeof mi) != sizeof mi ||
	    VirtualQuery((const void *)&here, &own, sizeof own) != sizeof own)
		return HW_ADDR_UNKNOWN;
	if (rw)
		*rw = writable(&mi);
	if (mi.State == MEM_FREE)
		return HW_ADDR_UNMAPPED;
	if (mi.AllocationBase == own.AllocationBase)
		return HW_ADDR_OWN_STACK;
	if (mi.Type == MEM_IMAGE) {
		if (len > 0 && GetModuleFileNameA((HMODULE)mi.AllocationBase, name,
						  (DWORD)(len > 0xffff ? 0xffff : len)) == 0)
			name[0] = '\0';
		return HW_ADDR_MODULE;
	}
	/* The main thread's stack and the C runtime's heap are private memory
	 * like any other: Windows does not name them. */
	return HW_ADDR_ANON;
}

int hw_platform_huge_advised(const void *p, size_t n)
{
	/* There is no hint to carry: 0 wherever something is reserved. */
	maps_ctx m = {NULL, NULL, 0};
	if (regions(p, n, map_one, &m) != 0 || m.count == 0)
		return -1;
	return 0;
}

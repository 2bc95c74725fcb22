/* platform.h: the OS memory contract, written once.
 *
 * Owns: the four address-space states, the eight transitions between them, the
 * capability record a backend publishes, and the platform instance (a table of
 * operations plus per-instance counters and failure injection). Backends live in
 * platform/linux.c and platform/sim.c; nothing outside platform/ calls the OS.
 *
 * States (per OS page):
 *   None      not owned; the default state of every address.
 *   Reserved  owned, faults on any access, costs no memory.
 *   Prepared  owned, cheap to make Ready; contents undefined, access undefined
 *             (the simulator traps it).
 *   Ready     usable: readable and writable, counted as resident.
 *
 * Transitions (the heap calls them through hw_sys_*, below):
 *   reserve  None             -> Reserved   may fail: ENOMEM
 *   map      Reserved         -> Prepared   may fail: ENOMEM
 *   use      Prepared         -> Ready      may fail: ENOMEM (the Windows commit)
 *   unuse    Ready            -> Prepared   contents forfeit (the scavenge path)
 *   fault    Ready|Prepared   -> Reserved   may fail: ENOMEM (no VMA left)
 *   release  any owned        -> None       (named sysFree in the Go runtime;
 *                                           owned = Reserved|Prepared|Ready)
 *   alloc    None             -> Ready      may fail: ENOMEM
 *   unfault  Reserved by fault -> Ready     may fail: ENOMEM (see P9)
 *   unfault_many  the same over k ranges at once (P10)
 *   fault_many    fault over k ranges at once (P10)
 *   seal     Ready -> Ready, sealed    may fail: ENOMEM (see P13)
 *   unseal   Ready, sealed -> Ready    may fail: ENOMEM
 *
 * Hints (not transitions: they change no state, cannot fail, and are not
 * counted in calls[]):
 *   advise_huge  ask that the Ready pages of an owned range be backed by huge
 *                pages where the OS can (THP on Linux); for large metadata
 *                arrays read at random, where TLB misses dominate. Only
 *                meaningful when caps.huge_page_size != 0.
 *   populate     ask that the pages of k Ready ranges be backed now, as a
 *                first write would back them (their contents unchanged), so
 *                that their first touch takes no page fault: on Linux one
 *                process_madvise(MADV_POPULATE_WRITE) for all the ranges,
 *                where touching them costs a page fault per page. Pages the
 *                OS cannot back now fault on their first touch as before.
 *                Every page of every range must be Ready: the simulator
 *                refuses others as an illegal call (S4).
 *
 * Invariants:
 *   P1. Every address and length passed to a transition is a multiple of
 *       caps.page_size and the length is non-zero; violating this is a caller
 *       bug and aborts with "heapward: platform: unaligned <op>".
 *   P2. A transition either succeeds for the whole range or fails with ENOMEM
 *       and leaves every page of the range in its previous state.
 *   P3. ENOMEM is the only recoverable error. Any other OS error reports the
 *       call, range and errno, and aborts.
 *   P4. After a successful unuse or fault, if caps.released_reads_zero, the
 *       pages read as zero once they are Ready again. This is the one place the
 *       "released pages are zero" knowledge lives; the heap reads it from here.
 *   P5. calls[k] counts every call of kind k made through hw_sys_*, failed or
 *       not; failures[k] counts the ones that returned ENOMEM.
 *   P6. The simulator (sim.h) under its record_illegal policy refuses an
 *       illegal transition with EINVAL and changes nothing; hw_sys_* passes
 *       that EINVAL through (it is not counted in failures[k]). No other
 *       backend or policy returns EINVAL: a heap that sees it has made an
 *       illegal call. unuse and release are void and refuse silently.
 *   P7. Failure injection covers the calls that can fail (reserve, map, use,
 *       fault, alloc, unfault, seal, unseal); unuse and release never fail and never
 *       advance fail_seen, whatever the mask.
 *   P8. owned == bytes of successful reserve and alloc calls less bytes
 *       released: what the instance's users still hold. A heap that was
 *       destroyed leaves it as it found it (the harness checks this after
 *       every input, so a leaked reservation is caught where it happens).
 *   P9. unfault takes pages that the last transition over them made
 *       Reserved by a fault (no reserve, map or release since) straight to
 *       Ready, in one call where map + use would take two or three: on
 *       Linux with guard regions it is MADV_GUARD_REMOVE alone (fault kept
 *       the read/write protection), with PROT_NONE an mprotect, on Windows
 *       a commit. The pages read as P4 says for a use after fault. Calling
 *       it on other Reserved pages (from reserve) is a caller bug: the
 *       simulator refuses it (P6), the real backends cannot tell and leave
 *       such pages trapping.
 *   P10. unfault_many is unfault over k disjoint ranges, in order, in as
 *       few system calls as the OS allows (Linux with guard regions: one
 *       process_madvise per 64 ranges; elsewhere, and where that is
 *       refused, one unfault per range). Each range counts as one unfault
 *       call in calls[] (and failures[]), and injection picks ranges as it
 *       picks calls. It returns 0 with every range Ready, or the error of
 *       range *done: ranges before it Ready, it and the ones after it as
 *       they were (P2 per range). fault_many is fault over k ranges in the
 *       same way, the ranges done Reserved.
 *   P11. probe answers where a reservation would land now, at or above a
 *       given address (0: anywhere), from the backend's own probe
 *       (Windows: the free regions VirtualQuery lists, lowest first, as
 *       VirtualAlloc places; the simulator: its own placement; Linux, for
 *       a new window: a random free range far below where the kernel
 *       places mappings, linux.c L6) or by making one and releasing it
 *       at once, ENOMEM when that landed below the bound: no state
 *       changes, owned stays, nothing is counted or injected.
 *   P12. address_limit answers how much address space the process may hold
 *       in all (Linux: RLIMIT_AS's soft limit, read at each call, since the
 *       program may change it), SIZE_MAX when nothing limits it (Windows
 *       and the simulator, whose backing is its own bound); a reservation
 *       that would pass it fails with ENOMEM. Users size their defaults by
 *       it, so that a process under `ulimit -v` still starts.
 *   P13. seal makes Ready pages trap on any access while they keep their
 *       memory and their contents: they stay Ready (resident, and Ready to
 *       the state query and to the heap above), and unseal makes them usable
 *       again with their contents as they were. For a user that keeps
 *       memory it will reuse soon out of reach meanwhile (the guarded heap's
 *       quarantine, malloc/guard.c), where fault and unfault would discard
 *       it and make the next touch fault it in again. On Linux
 *       mprotect(PROT_NONE) and back (SEGV_ACCERR; a sealed stretch is a
 *       mapping of its own, so the kernel's mapping limit bounds them, and a
 *       seal or an unseal that would split one past the limit fails with
 *       ENOMEM, the pages as they were); on Windows VirtualProtect
 *       (PAGE_NOACCESS and back); on the simulator a flag of its own. Where
 *       caps.seal_spans_faults (Linux with guard regions, whose markers
 *       outlive a protection change; the simulator), a range may also hold
 *       pages Reserved by a fault (P9), which seal and unseal leave as they
 *       are (trapping): a user sealing whole runs, guard pages included,
 *       lets neighbouring sealed runs merge into one mapping and unseals
 *       them in one call. Elsewhere every page of the range must be Ready
 *       (and for unseal sealed, for seal not sealed): the simulator refuses
 *       other ranges as illegal calls (P6). Sealed pages take no transition
 *       but unseal and release (which takes them as Ready pages): no unuse,
 *       no fault, no populate; whoever sealed them unseals them before it
 *       gives them back (a heap's free run must be usable).
 *
 * Locking: a platform instance is not locked. Its counters and injection state
 * belong to whoever owns the instance; a heap serializes its own calls under
 * its lock, except on a backend with caps.concurrent_calls (Linux), where a
 * scavenge's releases run with the heap lock dropped: calls on disjoint
 * ranges may then come from several threads at once (the counters and owned
 * are atomic; failure injection, a single-threaded test feature, is then
 * approximate). Two heaps may share the OS instance only if nobody reads the
 * counters (hw_platform_os() is shared; its counters are best-effort).
 */
#ifndef HW_PLATFORM_H
#define HW_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum hw_mem_state {
	HW_MEM_NONE = 0,
	HW_MEM_RESERVED = 1,
	HW_MEM_PREPARED = 2,
	HW_MEM_READY = 3,
} hw_mem_state;

/* Transition kinds, used to index counters and to pick calls to fail. */
typedef enum hw_sys_kind {
	HW_SYS_RESERVE = 0,
	HW_SYS_MAP,
	HW_SYS_USE,
	HW_SYS_UNUSE,
	HW_SYS_FAULT,
	HW_SYS_RELEASE,
	HW_SYS_ALLOC,
	HW_SYS_UNFAULT,
	HW_SYS_SEAL,
	HW_SYS_UNSEAL, /* last: the older kinds keep their numbers */
	HW_SYS_NKINDS
} hw_sys_kind;

/* How fault makes a range trap. */
typedef enum hw_guard_kind {
	HW_GUARD_NONE = 0,     /* backend has no fault (never true on Linux) */
	HW_GUARD_PROTNONE = 1, /* mprotect(PROT_NONE): splits VMAs, SEGV_ACCERR */
	HW_GUARD_MADVISE = 2,  /* MADV_GUARD_INSTALL: no VMA, SEGV_MAPERR */
	HW_GUARD_SIM = 3,      /* the simulator's own page states */
	HW_GUARD_DECOMMIT = 4, /* Windows MEM_DECOMMIT: no charge, access violation */
} hw_guard_kind;

typedef struct hw_platform_caps {
	size_t page_size;         /* OS page: the unit of every transition */
	size_t huge_page_size;    /* transparent huge page, or 0 when none */
	size_t granularity;       /* reserve alignment (64 KiB on Windows) */
	bool use_needs_call;      /* Prepared->Ready does real work (a commit) */
	bool released_reads_zero; /* see P4 */
	bool partial_release;     /* release may cover part of a reservation */
	hw_guard_kind guard;
	bool concurrent_calls;  /* calls on disjoint ranges may run in several threads at
				  once (the real OS); the simulator's may not */
	bool seal_spans_faults; /* seal and unseal ranges may hold faulted pages (P13) */
} hw_platform_caps;

typedef struct hw_platform hw_platform;

/* One range of the calls that take several (P1 applies to each). */
typedef struct hw_range {
	void *p;
	size_t n;
} hw_range;

/* A backend's operations. Each returns 0 or ENOMEM (P2, P3); void ones cannot
 * fail recoverably. Callers never call these directly: use hw_sys_*. */
typedef struct hw_platform_ops {
	int (*reserve)(hw_platform *pf, void *hint, size_t n, void **out);
	int (*map)(hw_platform *pf, void *p, size_t n);
	int (*use)(hw_platform *pf, void *p, size_t n);
	void (*unuse)(hw_platform *pf, void *p, size_t n);
	int (*fault)(hw_platform *pf, void *p, size_t n);
	void (*release)(hw_platform *pf, void *p, size_t n);
	int (*alloc)(hw_platform *pf, size_t n, void **out);
	int (*unfault)(hw_platform *pf, void *p, size_t n);
	void (*advise_huge)(hw_platform *pf, void *p, size_t n);        /* NULL: no-op */
	void (*populate)(hw_platform *pf, const hw_range *r, size_t k); /* NULL: no-op */
	/* P10 over r[0..k): the number of ranges done, *rc the error of the
	 * next one when it is less than k. NULL: one unfault per range. */
	size_t (*unfault_many)(hw_platform *pf, const hw_range *r, size_t k, int *rc);
	/* The same for fault. NULL: one fault per range. */
	size_t (*fault_many)(hw_platform *pf, const hw_range *r, size_t k, int *rc);
	/* P11's probe: where a reservation of n bytes aligned to align would
	 * land, at or above from. NULL: a reservation made and released at
	 * once. */
	int (*probe)(hw_platform *pf, size_t n, size_t align, uintptr_t from, uintptr_t *out);
	/* P13; NULL: the backend cannot seal (every seal fails with ENOMEM). */
	int (*seal)(hw_platform *pf, void *p, size_t n);
	int (*unseal)(hw_platform *pf, void *p, size_t n);
	/* P12; NULL: no limit. */
	size_t (*address_limit)(hw_platform *pf);
	void (*destroy)(hw_platform *pf); /* NULL for static instances */
	/* Optional state query (NULL on backends that cannot answer, such as
	 * the real OS): the first page of [p, p + n) not in state st, or NULL
	 * when all are; *got receives that page's state. The heap's validator
	 * checks I12 with it when present. */
	const void *(*find_other)(const hw_platform *pf, const void *p, size_t n,
				  hw_mem_state st, hw_mem_state *got);
} hw_platform_ops;

struct hw_platform {
	const char *name;
	const hw_platform_ops *ops;
	hw_platform_caps caps;
	uint64_t calls[HW_SYS_NKINDS];
	uint64_t failures[HW_SYS_NKINDS];
	size_t owned; /* bytes held through this instance (P8) */
	/* Failure injection: when fail_at is non-zero, the fail_at-th call
	 * (1-based, counting only kinds in fail_mask) returns ENOMEM without
	 * reaching the backend, then fail_at resets to 0. */
	uint64_t fail_at;
	uint64_t fail_seen;
	unsigned fail_mask; /* bit (1u << hw_sys_kind); 0 means every kind */
	void *impl;         /* backend state */
};

/* The process's real OS backend (linux.c or windows.c). Shared; never
 * destroyed; initialised on first use (thread-safe). hw_platform_os()
 * returns it. */
hw_platform *hw_platform_os_instance(void);

/* The process's real OS backend with the guard pages the kernel had before
 * guard regions: protection changes (Linux: PROT_NONE, HW_GUARD_PROTNONE)
 * even where the kernel has MADV_GUARD_INSTALL. Shared, as
 * hw_platform_os_instance, and the same instance where there is no choice
 * (Windows). For the malloc layer's guard_regions=0. */
hw_platform *hw_platform_os_plain_guards(void);

/* A private instance of the real OS backend, with its own counters and the
 * defaults of the shared one. Free it with hw_platform_destroy. Returns NULL
 * on ENOMEM. */
hw_platform *hw_platform_os_create(void);

/* A private Linux backend instance with its own counters; force_protnone
 * picks the PROT_NONE fallback even when the kernel has guard regions. Free
 * it with hw_platform_destroy. Returns NULL on ENOMEM, and with ENOSYS on
 * Windows. */
hw_platform *hw_platform_linux_create(bool force_protnone, bool use_madv_free);

void hw_platform_destroy(hw_platform *pf);

/* Fail the nth matching call (1 = the next one) with ENOMEM; mask as fail_mask. */
void hw_platform_inject(hw_platform *pf, uint64_t nth, unsigned mask);

/* The transitions, with P1 checked and P5 counted. */
int hw_sys_reserve(hw_platform *pf, void *hint, size_t n, void **out);
int hw_sys_map(hw_platform *pf, void *p, size_t n);
int hw_sys_use(hw_platform *pf, void *p, size_t n);
void hw_sys_unuse(hw_platform *pf, void *p, size_t n);
int hw_sys_fault(hw_platform *pf, void *p, size_t n);
void hw_sys_release(hw_platform *pf, void *p, size_t n);
int hw_sys_alloc(hw_platform *pf, size_t n, void **out);
int hw_sys_unfault(hw_platform *pf, void *p, size_t n);
/* P10: unfault of r[0..k); *done receives the number of ranges made Ready. */
int hw_sys_unfault_many(hw_platform *pf, const hw_range *r, size_t k, size_t *done);
/* P10: fault of r[0..k); *done receives the number of ranges faulted. */
int hw_sys_fault_many(hw_platform *pf, const hw_range *r, size_t k, size_t *done);

/* P13: seal and unseal [p, p + n). */
int hw_sys_seal(hw_platform *pf, void *p, size_t n);
int hw_sys_unseal(hw_platform *pf, void *p, size_t n);

/* P11: where a reservation of n bytes aligned to align (a power of two, a
 * multiple of the page) would land now, at or above from (0: anywhere, for
 * a new window: the backend may prefer a range the process's later
 * mappings will not reach, as Linux does, linux.c L6): its address in *out
 * and 0, or ENOMEM when none fits. The answer may be stale by the time the
 * caller reserves there (another thread, another mapping), and under Wine
 * a range it names free may hold the host's own mappings. */
int hw_sys_probe(hw_platform *pf, size_t n, size_t align, uintptr_t from, uintptr_t *out);

/* P11's answer for a backend without a probe of its own: a reservation of
 * n + align bytes made anywhere and released at once. For backends' probes
 * to fall back on. */
int hw_sys_probe_by_reserve(hw_platform *pf, size_t n, size_t align, uintptr_t from,
			    uintptr_t *out);

/* P12: the address space the process may hold in all, or SIZE_MAX. */
size_t hw_sys_address_limit(hw_platform *pf);

/* The advise_huge hint (P1 applies to its range). */
void hw_sys_advise_huge(hw_platform *pf, void *p, size_t n);
/* The populate hint over r[0..k) (P1 applies to each range; k may be 0). */
void hw_sys_populate(hw_platform *pf, const hw_range *r, size_t k);

/* Whether the backend answers state queries (ops.find_other), and the query
 * itself (only when it does): the first page of [p, p + n) not in state st,
 * or NULL; *got receives its state. */
bool hw_sys_can_query(const hw_platform *pf);
const void *hw_sys_find_other(const hw_platform *pf, const void *p, size_t n, hw_mem_state st,
			      hw_mem_state *got);

const char *hw_sys_kind_name(hw_sys_kind k);

/* What the OS itself says about this process's memory, for tests, benchmarks
 * and the simulator's check (so nothing outside platform/ calls the OS). */

/* Bytes of [p, p+n) holding memory: on Linux resident pages (mincore; a page
 * mapped to the shared zero page by a read counts); on Windows committed
 * pages (VirtualQuery: what the process is charged for; which of them are in
 * its working set is the memory manager's business). p and n are multiples
 * of the OS page. Returns SIZE_MAX when part of the range is not mapped
 * (on Windows: not reserved). */
size_t hw_platform_resident_bytes(const void *p, size_t n);

/* Calls fn for each stretch of [p, p + n) whose pages hold memory, as
 * hw_platform_resident_bytes counts them, in address order (p and n as
 * there). For a reader of memory it does not own, which must not fault in
 * every page of a large mapping nobody touched (a page of it holds only
 * zeros). Returns 0, or -1 when part of the range is not mapped (fn has
 * then seen the stretches before it). */
typedef void (*hw_stretch_fn)(void *arg, uintptr_t lo, uintptr_t hi);
int hw_platform_resident_each(const void *p, size_t n, hw_stretch_fn fn, void *arg);

/* Number of mappings (VMAs; Windows: regions of reserved address space) of
 * this process, or -1 when it cannot be read. */
long hw_platform_vma_count(void);

/* The kernel's limit on mappings per process (vm.max_map_count), or -1
 * (always on Windows, which has no such limit). */
long hw_platform_max_map_count(void);

/* Calls fn for every mapping that overlaps [p, p+n), in address order, with
 * its bounds clipped to the range and whether it is readable and writable.
 * Stops at the first non-zero return of fn and returns it; 0 when fn always
 * returned 0; -1 when the mappings cannot be read. */
typedef int (*hw_mapping_fn)(void *arg, uintptr_t lo, uintptr_t hi, bool rw);
int hw_platform_mappings(const void *p, size_t n, hw_mapping_fn fn, void *arg);

/* The whole mapping holding p: its bounds [*lo, *hi) and whether it is
 * readable and writable. Returns 0, or -1 when no mapping holds p or the
 * mappings cannot be read. Allocates nothing (stack buffers, open/read/
 * close only), so it is async-signal-safe. */
int hw_platform_mapping_at(const void *p, uintptr_t *lo, uintptr_t *hi, bool *rw);

/* What an address is to the OS, for reports about pointers that are not a
 * heap's: which mapping holds it. */
typedef enum hw_addr_kind {
	HW_ADDR_UNKNOWN = 0, /* the mappings cannot be read */
	HW_ADDR_UNMAPPED,    /* no mapping holds it */
	HW_ADDR_OWN_STACK,   /* the calling thread's stack */
	HW_ADDR_MAIN_STACK,  /* the main thread's stack (another thread calls) */
	HW_ADDR_BRK,         /* the brk heap: another allocator's memory */
	HW_ADDR_MODULE,      /* a module's code or data (its file mappings, and the
				anonymous zero-initialised data right after them) */
	HW_ADDR_ANON,        /* another anonymous mapping (another thread's stack,
				another allocator's mmap, ...) */
} hw_addr_kind;

/* Classifies p; for HW_ADDR_MODULE, name receives the file's path (NUL-
 * terminated, possibly truncated; "" otherwise), and *rw whether the mapping
 * is writable. Allocates nothing (reads /proc/self/maps into stack buffers),
 * so a malloc layer can call it on its error path. On Windows (VirtualQuery)
 * the main thread's stack and another allocator's heap are HW_ADDR_ANON:
 * Windows does not name them. */
hw_addr_kind hw_platform_describe(const void *p, char *name, size_t len, bool *rw);

/* Whether every mapping overlapping [p, p+n) carries the advise_huge hint:
 * 1 or 0, or -1 when nothing is mapped there or the mappings cannot be read
 * (0 wherever something is reserved on Windows, which has no such hint). */
int hw_platform_huge_advised(const void *p, size_t n);

#endif

/* linux.c: the Linux backend of the OS memory contract, and the OS views
 * (residency, mappings, limits) that tests and the simulator read.
 *
 * Owns: the process's shared OS instances (hw_platform_os_instance, and
 * hw_platform_os_plain_guards with PROT_NONE guards), private
 * instances (hw_platform_linux_create, hw_platform_os_create), the start-up
 * guard-region probe, and every mmap/mprotect/madvise/munmap call of the
 * heap.
 *
 * How each transition is done (states as in platform.h):
 *   reserve  mmap(hint, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE),
 *            then its first page made writable, touched, discarded and
 *            made PROT_NONE again (L8)
 *   map      mprotect(READ|WRITE); with guard == MADVISE also
 *            madvise(MADV_GUARD_REMOVE), since a Reserved range may have come
 *            from fault and still carry guard markers
 *   use      nothing (ops->use is NULL: Prepared and Ready differ only in
 *            whether pages are backed, which the first touch decides)
 *   unuse    madvise(MADV_DONTNEED) (default: released pages read as zero), or
 *            madvise(MADV_FREE) when the instance was created with
 *            use_madv_free: the kernel may keep the old contents until memory
 *            is short, so released pages do NOT read as zero and
 *            caps.released_reads_zero is false. If MADV_FREE answers EINVAL
 *            (kernel < 4.5) the instance switches to MADV_DONTNEED for good.
 *   fault    guard == MADVISE:  madvise(MADV_GUARD_INSTALL): contents are
 *                               discarded, no VMA is created; access traps
 *                               with SEGV_MAPERR
 *            guard == PROTNONE: mprotect(PROT_NONE) then madvise(DONTNEED):
 *                               access traps with SEGV_ACCERR; every fault
 *                               in the middle of a mapping costs two VMAs,
 *                               so vm.max_map_count caps it (see L3)
 *   release  munmap
 *   alloc    mmap(NULL, READ|WRITE, MAP_PRIVATE|MAP_ANONYMOUS)
 *   unfault  guard == MADVISE:  madvise(MADV_GUARD_REMOVE) alone: fault left
 *                               the protection read/write, so map's
 *                               mprotect would change nothing; the pages
 *                               read as zero (the install discarded them)
 *            guard == PROTNONE: mprotect(READ|WRITE) (fault's DONTNEED
 *                               already made them read as zero)
 *
 * Invariants:
 *   L1. (P2) A call that returns ENOMEM leaves the range as it was: an
 *       mprotect that fails part-way is rolled back over the whole range (the
 *       rollback only merges mappings, so it does not need a new VMA); a
 *       guard install that fails part-way is undone with GUARD_REMOVE (the
 *       pages stay Ready but their contents are gone: fault is only called
 *       on memory whose contents are dead).
 *   L2. (P3) ENOMEM from the kernel is returned only when it means "out of
 *       memory or out of VMAs" (and mmap's EINVAL, which after P1 can only
 *       mean a length too large for the address space); an ENOMEM that means
 *       "range not mapped" (the caller's bug) and every other errno abort with
 *       "heapward: platform: <op>(<addr>, <n>) failed: errno <e>".
 *   L3. The first time an instance runs out of VMAs it says so on stderr,
 *       once: "heapward: platform: <op>(<addr>, <n>): out of VMAs
 *       (vm.max_map_count=N); the call returns ENOMEM and leaves the range as
 *       it was (reported once)". release cannot fail: when munmap runs out of
 *       VMAs, the range is discarded (MADV_DONTNEED), made to trap where a
 *       guard install allows, and its address space stays reserved (leaked).
 *   L4. caps.guard is MADVISE only when the start-up probe saw
 *       MADV_GUARD_INSTALL discard a page and MADV_GUARD_REMOVE succeed; the
 *       probe runs once per process (the kernel's answer does not change).
 *   L5. populate never fails and never changes a page's state or contents:
 *       an error from the kernel ends the hint early (the pages left fault
 *       on their first touch); unfault_many's ranges that process_madvise
 *       did not finish are unfaulted one by one, so each has unfault's
 *       errors (L2). The first time process_madvise is refused
 *       (a kernel without it, or without PIDFD_SELF_THREAD: ENOSYS, EBADF,
 *       EINVAL, EPERM) the process uses one madvise per range for good;
 *       the first time MADV_POPULATE_WRITE is refused (EINVAL, before
 *       5.14) it stops populating.
 *   L6. probe (P11) for a new window (from == 0) answers a range low in
 *       the address space: the kernel places every mapping made without a
 *       hint at the highest free address below the ones made before, so
 *       a window found where a mapping lands now (the generic probe) has
 *       the process's later mappings (thread stacks, libraries, a JIT's
 *       reservations) growing down into it from its top, until nothing is
 *       left to grow into: a JavaScript engine's WebAssembly memories
 *       (10 GiB of address space each) filled a 1 TiB window in 100 of
 *       them. The low range is drawn at random (getrandom) among the
 *       aligned ranges in [size / 32, size / 2), size being the address
 *       space's (the power of two above where a mapping lands now: 2^47
 *       on x86-64): at least 2^45 bytes below the region the kernel fills
 *       top-down there, and random so that heap addresses stay
 *       unpredictable. A range counts when a reservation asked for there
 *       (a hint) lands there, and is released at once; after
 *       LOW_TRIES ranges that are taken (a sanitizer's shadow, say) the
 *       answer is the generic one, as for from != 0. Under a sanitizer the
 *       ranges tried are fixed, spread evenly over that span, not drawn:
 *       the shadow memory of every address a heap touched is never given
 *       back, so a process that creates and destroys heaps (a fuzzer) grew
 *       by a new window's shadow each time (the OS fuzzer passed its 2.5
 *       GiB limit in 20 s); with fixed ranges a new heap reuses the window
 *       an earlier one gave back.
 *   L7. seal and unseal (P13) are mprotect(PROT_NONE) and
 *       mprotect(PROT_READ | PROT_WRITE), with L1's rollback and L3's
 *       report. caps.seal_spans_faults holds only with guard regions: a
 *       guard marker outlives any protection change over it, where under
 *       PROT_NONE guards an unseal over a guard page would open it.
 *   L8. A reservation has its anon_vma (the kernel's record of a
 *       mapping's anonymous pages) from the start, which every mapping
 *       later split from it shares. The kernel merges two neighbouring
 *       mappings of one protection only when their anon_vmas are the same
 *       (or one has none), and gives a mapping without one a new one at
 *       its first touch: a run made writable between two guard pages and
 *       then touched got its own, and once freed (PROT_NONE, data and
 *       guard) it stayed a mapping of its own beside its neighbours, also
 *       freed. Under PROT_NONE guards a quarantine of 5000 freed guarded
 *       objects then held 5000 mappings, where it holds one now, and
 *       node, whose start-up frees many, ran out of mappings before its
 *       worker threads could map their stacks.
 *
 * populate (the hint) is madvise(MADV_POPULATE_WRITE) for one range, and
 * unfault_many (P10) with guard regions MADV_GUARD_REMOVE; for several
 * ranges, one process_madvise with that advice on the calling thread's
 * pidfd (PIDFD_SELF_THREAD, Linux 6.15; since 6.13 a process may give
 * itself any advice through it): up to HW_IOV_BATCH ranges per call, no
 * descriptor to open, nothing to redo after fork. The ranges the kernel
 * did not finish go one by one, as unfault and populate do them alone.
 *
 * Huge pages: caps.huge_page_size is hpage_pmd_size unless THP is "never".
 * advise_huge is madvise(MADV_HUGEPAGE), which the heap asks only for its
 * large metadata arrays; heap pages are never advised, though under THP
 * "always" the kernel may back a touched Ready range with a huge page.
 *
 * Locking: instances are unlocked (platform.h). The shared instance is set up
 * under pthread_once; the MADV_FREE fallback and the once-only VMA message
 * use atomics, so concurrent heaps on the shared instance stay race-free.
 */
#include "platform.h"

#include "base.h"
#include "file.h"
#include "madv.h"
#include "nocancel.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
/* The calling thread as a pidfd (linux/pidfd.h, 6.15). */
#define HW_PIDFD_SELF_THREAD (-10000)
/* Ranges per process_madvise call (at most IOV_MAX, 1024). */
#define HW_IOV_BATCH 64

typedef struct linux_impl {
	hw_platform pf;
	int unuse_advice; /* MADV_DONTNEED or MADV_FREE (atomic) */
	int vma_reported; /* L3: the out-of-VMAs message was printed (atomic) */
} linux_impl;

/* L5, for the process (the kernel's answer does not change): process_madvise
 * on this thread was refused; MADV_POPULATE_WRITE was refused. Atomic. */
static int no_vector, no_populate;

static linux_impl *impl_of(hw_platform *pf)
{
	return pf->impl;
}

/* ---- small file and number helpers (no stdio: F1 of report.c applies) ---- */

/* Reads up to len-1 bytes of a small file, NUL-terminated (a longer one is
 * cut); -1 on error. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	size_t got;
	int rc = hw_file_read(path, buf, len - 1, &got);
	if (rc != 0 && rc != EFBIG)
		return -1;
	buf[got] = '\0';
	return (ssize_t)got;
}

/* The decimal number a small file holds, after any blanks; -1 when it
 * cannot be read or holds none. */
static long read_long(const char *path)
{
	char buf[64];
	if (read_small(path, buf, sizeof buf) <= 0)
		return -1;
	const char *s = buf + strspn(buf, " \t");
	uint64_t v;
	return hw_file_number(s, 10, &v) && v <= LONG_MAX ? (long)v : -1;
}

/* ---- errors ---- */

static HW_NORETURN HW_COLD void os_fail(const char *op, const void *p, size_t n, int e)
{
	hw_fatal("heapward: platform: %s(%p, %zu) failed: errno %d", op, p, n, e);
}

/* mprotect and madvise say ENOMEM both for "no memory / no VMA left" and for
 * "the range is not mapped". msync(MS_ASYNC) tells them apart: it fails with
 * ENOMEM exactly when part of the range is unmapped, and does nothing else
 * on anonymous memory. */
static bool range_mapped(void *p, size_t n)
{
	return msync(p, n, MS_ASYNC) == 0 || errno != ENOMEM;
}

/* L3: says once per instance that the VMA limit was hit, and what the call
 * did about it (`outcome`). */
static void report_vma_limit(linux_impl *li, const char *op, const void *p, size_t n,
			     const char *outcome)
{
	if (__atomic_exchange_n(&li->vma_reported, 1, __ATOMIC_RELAXED))
		return;
	hw_report_write("heapward: platform: %s(%p, %zu): out of VMAs (vm.max_map_count=%ld); "
			"%s (reported once)\n",
			op, p, n, hw_platform_max_map_count(), outcome);
}

/* mprotect with L1/L2: 0, or ENOMEM with the range restored to `undo`. */
static int protect(linux_impl *li, const char *op, void *p, size_t n, int prot, int undo)
{
	if (mprotect(p, n, prot) == 0)
		return 0;
	int e = errno;
	if (e != ENOMEM || !range_mapped(p, n))
		os_fail(op, p, n, e);
	/* Part of the range may have changed before the split that failed;
	 * restoring the old protection merges mappings back. */
	if (mprotect(p, n, undo) != 0)
		hw_fatal("heapward: platform: %s(%p, %zu): cannot roll back a failed "
			 "mprotect: errno %d",
			 op, p, n, errno);
	report_vma_limit(li, op, p, n, "the call returns ENOMEM and leaves the range as it was");
	return ENOMEM;
}

/* madvise that must succeed (L2): only EINTR/EAGAIN are retried. */
static int advise(void *p, size_t n, int advice)
{
	int rc;
	while ((rc = madvise(p, n, advice)) != 0 && (errno == EINTR || errno == EAGAIN))
		;
	return rc == 0 ? 0 : errno;
}

/* ---- the guard probe (L4) ---- */

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static bool guard_works;

static void probe_guard(void)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, 3 * ps, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return;
	unsigned char resident = 0;
	p[ps] = 1;
	/* The install must really discard the touched page, and the removal
	 * must succeed; an unknown advice answers EINVAL instead. */
	guard_works = madvise(p + ps, ps, MADV_GUARD_INSTALL) == 0 &&
		      mincore(p + ps, ps, &resident) == 0 && (resident & 1) == 0 &&
		      madvise(p + ps, ps, MADV_GUARD_REMOVE) == 0;
	munmap(p, 3 * ps);
}

/* ---- the transitions ---- */

/* mmap for reserve and alloc. P1 leaves the length as the only thing the
 * caller controls, so EINVAL ("length too large", as Valgrind's address
 * space manager answers) is address-space exhaustion, i.e. ENOMEM. */
static int map_new(const char *op, void *hint, size_t n, int prot, int flags, void **out)
{
	void *p = mmap(hint, n, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	if (p == MAP_FAILED) {
		if (errno == ENOMEM || errno == EINVAL)
			return ENOMEM;
		os_fail(op, hint, n, errno);
	}
	*out = p;
	return 0;
}

/* L8's write where the kernel cannot populate: unchecked, since under a
 * sanitizer a reservation may lie where an earlier heap left its shadow
 * poisoned (L6), and no object of the program's is there. */
__attribute__((no_sanitize("address"))) static void touch(volatile unsigned char *p) { *p = 0; }

/* L8: gives the reservation at p its anon_vma while it is one mapping. */
static void prime_anon_vma(unsigned char *p, size_t ps)
{
	if (mprotect(p, ps, PROT_READ | PROT_WRITE) != 0)
		return; /* out of VMAs: a usable reservation, whose parts merge less */
	if (madvise(p, ps, MADV_POPULATE_WRITE) != 0)
		touch(p); /* before Linux 5.14 */
	int e = advise(p, ps, MADV_DONTNEED);
	if (e != 0)
		os_fail("reserve", p, ps, e);
	/* Merges the page back: needs no VMA, cannot fail for want of one. */
	if (mprotect(p, ps, PROT_NONE) != 0)
		os_fail("reserve", p, ps, errno);
}

static int linux_reserve(hw_platform *pf, void *hint, size_t n, void **out)
{
	int rc = map_new("reserve", hint, n, PROT_NONE, MAP_NORESERVE, out);
	if (rc == 0)
		prime_anon_vma(*out, pf->caps.page_size);
	return rc;
}

/* ---- the window's probe (L6) ---- */

#define LOW_TRIES 8
#if HW_ASAN || HW_TSAN
#define LOW_RANDOM 0
#else
#define LOW_RANDOM 1
#endif

static uint64_t random64(void)
{
	uint64_t r = 0;
	if (syscall(SYS_getrandom, &r, sizeof r, GRND_NONBLOCK) != (long)sizeof r) {
		uintptr_t here = (uintptr_t)&r;
		r = hw_now_ns() ^ ((uint64_t)here << 16);
	}
	return hw_mix64(r); /* every bit of the fallback's input moves the result */
}

/* Whether a reservation of [p, p + n) asked for at p lands there; released
 * at once either way. */
static bool range_free(uintptr_t p, size_t n)
{
	void *got;
	if (map_new("probe", (void *)p, n, PROT_NONE, MAP_NORESERVE, &got) != 0)
		return false;
	munmap(got, n);
	return (uintptr_t)got == p;
}

/* L6's low range for a new window of n bytes aligned to align; false
 * when LOW_TRIES of them are taken. */
static bool probe_low(hw_platform *pf, size_t n, size_t align, uintptr_t *out)
{
	void *top;
	if (map_new("probe", NULL, pf->caps.page_size, PROT_NONE, MAP_NORESERVE, &top) != 0)
		return false;
	munmap(top, pf->caps.page_size);
	/* The span's bounds from the address space's size (the power of two
	 * above top: 2^47 on x86-64), which the process's mappings do not
	 * move. */
	uintptr_t space = (uintptr_t)hw_pow2_floor((uintptr_t)top) * 2;
	uintptr_t lo = hw_align_up(space / 32, align);
	uintptr_t hi = space / 2;
	for (int try = 0; try < LOW_TRIES && lo < hi && hi - lo >= n; try++) {
		uintptr_t slots = (hi - lo - n) / align + 1;
		uintptr_t k = LOW_RANDOM ? (uintptr_t)(random64() % slots)
					 : slots / (LOW_TRIES - 1) * (uintptr_t)try;
		uintptr_t p = lo + k * align;
		if (range_free(p, n)) {
			*out = p;
			return true;
		}
	}
	return false;
}

/* P11 (L6): align is a power of two and a page multiple (platform.h). */
static int linux_probe(hw_platform *pf, size_t n, size_t align, uintptr_t from, uintptr_t *out)
{
	if (from == 0 && probe_low(pf, n, align, out))
		return 0;
	return hw_sys_probe_by_reserve(pf, n, align, from, out);
}

static int linux_map(hw_platform *pf, void *p, size_t n)
{
	linux_impl *li = impl_of(pf);
	int rc = protect(li, "map", p, n, PROT_READ | PROT_WRITE, PROT_NONE);
	if (rc != 0)
		return rc;
	if (pf->caps.guard == HW_GUARD_MADVISE) {
		int e = advise(p, n, MADV_GUARD_REMOVE);
		if (e != 0)
			os_fail("map", p, n, e);
	}
	return 0;
}

static void linux_unuse(hw_platform *pf, void *p, size_t n)
{
	linux_impl *li = impl_of(pf);
	int advice = __atomic_load_n(&li->unuse_advice, __ATOMIC_RELAXED);
	int e = advise(p, n, advice);
	if (e == EINVAL && advice == MADV_FREE) {
		__atomic_store_n(&li->unuse_advice, MADV_DONTNEED, __ATOMIC_RELAXED);
		e = advise(p, n, MADV_DONTNEED);
	}
	if (e != 0)
		os_fail("unuse", p, n, e);
}

static int linux_fault(hw_platform *pf, void *p, size_t n)
{
	linux_impl *li = impl_of(pf);
	if (pf->caps.guard == HW_GUARD_MADVISE) {
		int e = advise(p, n, MADV_GUARD_INSTALL);
		if (e == 0)
			return 0;
		if (e != ENOMEM || !range_mapped(p, n))
			os_fail("fault", p, n, e);
		if (advise(p, n, MADV_GUARD_REMOVE) != 0)
			os_fail("fault", p, n, errno);
		return ENOMEM;
	}
	int rc = protect(li, "fault", p, n, PROT_NONE, PROT_READ | PROT_WRITE);
	if (rc != 0)
		return rc;
	/* Cannot fail with ENOMEM now: the range is mapped, and DONTNEED
	 * neither allocates nor splits. */
	int e = advise(p, n, MADV_DONTNEED);
	if (e != 0)
		os_fail("fault", p, n, e);
	return 0;
}

/* P9: the pages were faulted, so only the fault itself is undone. */
static int linux_unfault(hw_platform *pf, void *p, size_t n)
{
	if (pf->caps.guard == HW_GUARD_MADVISE) {
		/* Removing markers splits nothing and allocates nothing. */
		int e = advise(p, n, MADV_GUARD_REMOVE);
		if (e != 0)
			os_fail("unfault", p, n, e);
		return 0;
	}
	return protect(impl_of(pf), "unfault", p, n, PROT_READ | PROT_WRITE, PROT_NONE);
}

static void linux_release(hw_platform *pf, void *p, size_t n)
{
	if (munmap(p, n) == 0)
		return;
	int e = errno;
	if (e != ENOMEM)
		os_fail("release", p, n, e);
	/* L3: unmapping the middle of a mapping needs a VMA. Give the memory
	 * back and make it trap where that needs none; the range stays
	 * reserved. */
	report_vma_limit(impl_of(pf), "release", p, n,
			 "the range is discarded but stays mapped (its address space leaks)");
	if (advise(p, n, MADV_DONTNEED) != 0)
		os_fail("release", p, n, errno);
	if (pf->caps.guard == HW_GUARD_MADVISE)
		(void)advise(p, n, MADV_GUARD_INSTALL);
}

static int linux_alloc(hw_platform *pf, size_t n, void **out)
{
	return map_new("alloc", NULL, n, PROT_READ | PROT_WRITE, 0, out);
}

static void linux_advise_huge(hw_platform *pf, void *p, size_t n)
{
	(void)pf;
	/* A hint: EINVAL means a kernel without THP, and the pages work the
	 * same either way. */
	(void)madvise(p, n, MADV_HUGEPAGE);
}

/* L5: one madvise; false when the hint is over (an error). */
static bool populate_one(const hw_range *r)
{
	if (madvise(r->p, r->n, MADV_POPULATE_WRITE) == 0)
		return true;
	if (errno == EINVAL)
		__atomic_store_n(&no_populate, 1, __ATOMIC_RELAXED);
	return false;
}

/* L5: advice over a prefix of r[0..k) by process_madvise on this thread,
 * HW_IOV_BATCH ranges a call: the number of ranges wholly done (the rest,
 * from the first the kernel did not finish, are the caller's). */
static size_t advise_vector(const hw_range *r, size_t k, int advice)
{
	size_t done = 0;
	while (done < k && !__atomic_load_n(&no_vector, __ATOMIC_RELAXED)) {
		struct iovec iov[HW_IOV_BATCH];
		size_t m = hw_min(k - done, (size_t)HW_IOV_BATCH);
		for (size_t i = 0; i < m; i++)
			iov[i] = (struct iovec){r[done + i].p, r[done + i].n};
		long got = syscall(SYS_process_madvise, HW_PIDFD_SELF_THREAD, iov, m, advice, 0u);
		if (got < 0) {
			int e = errno;
			if (e == ENOSYS || e == EBADF || e == EINVAL || e == EPERM)
				__atomic_store_n(&no_vector, 1, __ATOMIC_RELAXED);
			return done;
		}
		/* The kernel stops at the first range it cannot finish. */
		size_t whole = 0, left = (size_t)got;
		for (; whole < m && left >= iov[whole].iov_len; whole++)
			left -= iov[whole].iov_len;
		done += whole;
		if (whole < m)
			return done;
	}
	return done;
}

static void linux_populate(hw_platform *pf, const hw_range *r, size_t k)
{
	(void)pf;
	size_t i = k > 1 ? advise_vector(r, k, MADV_POPULATE_WRITE) : 0;
	for (; i < k && !__atomic_load_n(&no_populate, __ATOMIC_RELAXED); i++)
		if (!populate_one(&r[i]))
			return;
}

/* P10: advice over every range at once where guard regions are in use;
 * the ranges the kernel did not finish, and every range under PROT_NONE,
 * one by one through one (with its errors). A range the kernel stopped
 * inside may be partly done: one completes it, or undoes it (P2). */
static size_t each_range(hw_platform *pf, const hw_range *r, size_t k, int *rc, int advice,
			 int (*one)(hw_platform *pf, void *p, size_t n))
{
	size_t i = 0;
	if (pf->caps.guard == HW_GUARD_MADVISE && k > 1)
		i = advise_vector(r, k, advice);
	for (; i < k; i++)
		if ((*rc = one(pf, r[i].p, r[i].n)) != 0)
			break;
	return i;
}

static size_t linux_unfault_many(hw_platform *pf, const hw_range *r, size_t k, int *rc)
{
	return each_range(pf, r, k, rc, MADV_GUARD_REMOVE, linux_unfault);
}

static size_t linux_fault_many(hw_platform *pf, const hw_range *r, size_t k, int *rc)
{
	return each_range(pf, r, k, rc, MADV_GUARD_INSTALL, linux_fault);
}

/* L7. */
static int linux_seal(hw_platform *pf, void *p, size_t n)
{
	return protect(impl_of(pf), "seal", p, n, PROT_NONE, PROT_READ | PROT_WRITE);
}

static int linux_unseal(hw_platform *pf, void *p, size_t n)
{
	return protect(impl_of(pf), "unseal", p, n, PROT_READ | PROT_WRITE, PROT_NONE);
}

/* P12. */
static size_t linux_address_limit(hw_platform *pf)
{
	(void)pf;
	struct rlimit r;
	if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY || r.rlim_cur > SIZE_MAX)
		return SIZE_MAX;
	return (size_t)r.rlim_cur;
}

static void linux_destroy(hw_platform *pf)
{
	munmap(impl_of(pf), hw_align_up(sizeof(linux_impl), pf->caps.page_size));
}

/* The shared instances' table and the private ones' differ only in
 * destroy: a shared instance lives as long as the process (platform.h). */
#define LINUX_OPS(destroy_fn)                         \
	{                                             \
		.reserve = linux_reserve,             \
		.map = linux_map,                     \
		.use = NULL,                          \
		.unuse = linux_unuse,                 \
		.fault = linux_fault,                 \
		.release = linux_release,             \
		.alloc = linux_alloc,                 \
		.unfault = linux_unfault,             \
		.advise_huge = linux_advise_huge,     \
		.populate = linux_populate,           \
		.unfault_many = linux_unfault_many,   \
		.fault_many = linux_fault_many,       \
		.seal = linux_seal,                   \
		.unseal = linux_unseal,               \
		.probe = linux_probe,                 \
		.address_limit = linux_address_limit, \
		.destroy = (destroy_fn),              \
	}

static const hw_platform_ops shared_ops = LINUX_OPS(NULL);
static const hw_platform_ops private_ops = LINUX_OPS(linux_destroy);

static size_t huge_page_size(void)
{
	char mode[128];
	if (read_small("/sys/kernel/mm/transparent_hugepage/enabled", mode, sizeof mode) <= 0 ||
	    strstr(mode, "[never]") != NULL)
		return 0;
	long sz = read_long("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
	return sz > 0 && hw_is_pow2((size_t)sz) ? (size_t)sz : 0;
}

static void linux_init(linux_impl *li, const hw_platform_ops *ops, bool force_protnone,
		       bool use_madv_free)
{
	pthread_once(&probe_once, probe_guard);
	hw_platform *pf = &li->pf;
	memset(li, 0, sizeof *li);
	pf->name = force_protnone ? "linux-protnone" : "linux";
	pf->ops = ops;
	pf->impl = li;
	pf->caps.page_size = (size_t)sysconf(_SC_PAGESIZE);
	pf->caps.huge_page_size = huge_page_size();
	pf->caps.granularity = pf->caps.page_size;
	pf->caps.use_needs_call = false;
	pf->caps.released_reads_zero = !use_madv_free;
	pf->caps.partial_release = true;
	pf->caps.concurrent_calls = true; /* system calls; the counters are atomic */
	pf->caps.guard = guard_works && !force_protnone ? HW_GUARD_MADVISE : HW_GUARD_PROTNONE;
	pf->caps.seal_spans_faults = pf->caps.guard == HW_GUARD_MADVISE; /* L7 */
	li->unuse_advice = use_madv_free ? MADV_FREE : MADV_DONTNEED;
}

static pthread_once_t os_once = PTHREAD_ONCE_INIT;
static linux_impl os_impl;

static void os_init(void)
{
	linux_init(&os_impl, &shared_ops, false, false);
}

hw_platform *hw_platform_os_instance(void)
{
	pthread_once(&os_once, os_init);
	return &os_impl.pf;
}

static pthread_once_t os_plain_once = PTHREAD_ONCE_INIT;
static linux_impl os_plain_impl;

static void os_plain_init(void)
{
	linux_init(&os_plain_impl, &shared_ops, true, false);
}

hw_platform *hw_platform_os_plain_guards(void)
{
	pthread_once(&os_plain_once, os_plain_init);
	return &os_plain_impl.pf;
}

hw_platform *hw_platform_linux_create(bool force_protnone, bool use_madv_free)
{
	size_t len = hw_align_up(sizeof(linux_impl), (size_t)sysconf(_SC_PAGESIZE));
	linux_impl *li =
		mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (li == MAP_FAILED)
		return NULL;
	linux_init(li, &private_ops, force_protnone, use_madv_free);
	return &li->pf;
}

hw_platform *hw_platform_os_create(void)
{
	return hw_platform_linux_create(false, false);
}

/* ---- OS views ---- */

/* mincore over [p, p + n), a chunk of pages at a time: fn(arg, the
 * chunk's start, its bytes (bit 0 of each says resident; the others are
 * reserved), its pages). 0, or -1 when part of the range is not mapped. */
typedef void (*chunk_fn)(void *arg, uintptr_t at, const unsigned char *vec, size_t pages);

static int mincore_chunks(const void *p, size_t n, chunk_fn fn, void *arg)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char vec[4096];
	uintptr_t c = (uintptr_t)p;
	for (size_t off = 0; off < n;) {
		size_t pages = hw_min((n - off) / ps, sizeof vec);
		if (pages == 0)
			break;
		if (mincore((void *)(c + off), pages * ps, vec) != 0)
			return -1;
		fn(arg, c + off, vec, pages);
		off += pages * ps;
	}
	return 0;
}

static void count_resident(void *arg, uintptr_t at, const unsigned char *vec, size_t pages)
{
	size_t *resident = arg, i = 0;
	(void)at;
	for (; i + 8 <= pages; i += 8) {
		uint64_t w;
		memcpy(&w, vec + i, sizeof w);
		*resident += hw_sum_bytes(w & 0x0101010101010101ull);
	}
	for (; i < pages; i++)
		*resident += vec[i] & 1;
}

size_t hw_platform_resident_bytes(const void *p, size_t n)
{
	size_t resident = 0;
	if (mincore_chunks(p, n, count_resident, &resident) != 0)
		return SIZE_MAX;
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

typedef struct stretch_ctx {
	hw_stretch_fn fn;
	void *arg;
	uintptr_t lo, hi; /* the stretch open so far (lo == hi: none) */
} stretch_ctx;

static void find_stretches(void *arg, uintptr_t at, const unsigned char *vec, size_t pages)
{
	stretch_ctx *c = arg;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	for (size_t i = 0; i < pages; i++) {
		uintptr_t page = at + i * ps;
		if (!(vec[i] & 1))
			continue;
		if (c->hi != page) {
			if (c->lo < c->hi)
				c->fn(c->arg, c->lo, c->hi);
			c->lo = page;
		}
		c->hi = page + ps;
	}
}

int hw_platform_resident_each(const void *p, size_t n, hw_stretch_fn fn, void *arg)
{
	stretch_ctx c = {fn, arg, 0, 0};
	int rc = mincore_chunks(p, n, find_stretches, &c);
	if (c.lo < c.hi)
		fn(arg, c.lo, c.hi);
	return rc;
}

long hw_platform_max_map_count(void)
{
	return read_long("/proc/sys/vm/max_map_count");
}

/* Parses "lo-hi perms ..." at the start of a maps line. */
static bool parse_maps_head(const char *s, uintptr_t *lo, uintptr_t *hi, bool *rw)
{
	uint64_t v[2];
	for (int k = 0; k < 2; k++) {
		s = hw_file_number(s, 16, &v[k]);
		if (!s || *s != (k == 0 ? '-' : ' '))
			return false;
		s++;
	}
	if (s[0] == '\0' || s[1] == '\0')
		return false;
	*lo = (uintptr_t)v[0];
	*hi = (uintptr_t)v[1];
	*rw = s[0] == 'r' && s[1] == 'w';
	return true;
}

/* Calls line(arg, head) for every line of the process's /proc file name
 * (file.h FI3), where head is the line's first 255 bytes; stops at the
 * first non-zero return. Reads with a fixed buffer, so long path names
 * cost nothing. */
static int lines_walk(const char *name, int (*line)(void *arg, const char *head), void *arg)
{
	char path[64];
	if (!hw_file_proc_path(name, path, sizeof path))
		return -1;
	int fd = hw_nc_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	char buf[4096], head[256];
	size_t hlen = 0;
	int rc = 0;
	for (;;) {
		ssize_t r = hw_nc_read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = -1;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r && rc == 0; i++) {
			if (buf[i] != '\n') {
				if (hlen + 1 < sizeof head)
					head[hlen++] = buf[i];
				continue;
			}
			head[hlen] = '\0';
			hlen = 0;
			rc = line(arg, head);
		}
		if (rc != 0)
			break;
	}
	hw_nc_close(fd);
	return rc;
}

typedef struct describe_ctx {
	uintptr_t p, own; /* the address, and one on the caller's stack */
	hw_addr_kind kind;
	char *name;
	size_t len;
	bool rw;
	uintptr_t prev_hi;   /* the previous mapping's end */
	char prev_path[160]; /* and its path, when a file's */
} describe_ctx;

static void copy_path(char *to, size_t len, const char *from)
{
	if (len == 0)
		return;
	size_t n = strlen(from);
	n = n < len - 1 ? n : len - 1;
	memcpy(to, from, n);
	to[n] = '\0';
}

/* The path column of a maps line: after five fields, past the padding. */
static const char *maps_path(const char *head)
{
	for (int field = 0; field < 5; field++) {
		while (*head && *head != ' ')
			head++;
		while (*head == ' ')
			head++;
	}
	return head;
}

static int describe_line(void *arg, const char *head)
{
	describe_ctx *d = arg;
	uintptr_t lo, hi;
	bool rw;
	if (!parse_maps_head(head, &lo, &hi, &rw))
		return -1;
	const char *path = maps_path(head);
	if (d->p < lo || d->p >= hi) {
		/* A module's zero-initialised data (bss) is the anonymous
		 * mapping right after its file mappings: remember the file. */
		if (path[0] == '/')
			copy_path(d->prev_path, sizeof d->prev_path, path);
		else if (lo != d->prev_hi)
			d->prev_path[0] = '\0';
		d->prev_hi = hi;
		return 0;
	}
	d->rw = rw;
	if (d->own >= lo && d->own < hi)
		d->kind = HW_ADDR_OWN_STACK;
	else if (strcmp(path, "[stack]") == 0)
		d->kind = HW_ADDR_MAIN_STACK;
	else if (strcmp(path, "[heap]") == 0)
		d->kind = HW_ADDR_BRK;
	else if (path[0] == '/') {
		d->kind = HW_ADDR_MODULE;
		copy_path(d->name, d->len, path);
	} else if (path[0] == '\0' && lo == d->prev_hi && d->prev_path[0] != '\0') {
		d->kind = HW_ADDR_MODULE; /* its bss */
		copy_path(d->name, d->len, d->prev_path);
	} else {
		d->kind = HW_ADDR_ANON;
	}
	return 1;
}

hw_addr_kind hw_platform_describe(const void *p, char *name, size_t len, bool *rw)
{
	volatile char here = 0; /* an address on this thread's stack */
	describe_ctx d = {
		(uintptr_t)p, (uintptr_t)&here, HW_ADDR_UNMAPPED, name, len, false, 0, ""};
	if (len > 0)
		name[0] = '\0';
	int rc = lines_walk("maps", describe_line, &d);
	if (rc < 0)
		return HW_ADDR_UNKNOWN;
	if (rw)
		*rw = d.rw;
	return d.kind;
}

typedef struct mapping_at_ctx {
	uintptr_t p, lo, hi;
	bool rw;
} mapping_at_ctx;

static int mapping_at_line(void *arg, const char *head)
{
	mapping_at_ctx *m = arg;
	uintptr_t lo, hi;
	bool rw;
	if (!parse_maps_head(head, &lo, &hi, &rw))
		return -1;
	if (m->p < lo || m->p >= hi)
		return 0;
	m->lo = lo;
	m->hi = hi;
	m->rw = rw;
	return 1;
}

int hw_platform_mapping_at(const void *p, uintptr_t *lo, uintptr_t *hi, bool *rw)
{
	mapping_at_ctx m = {(uintptr_t)p, 0, 0, false};
	if (lines_walk("maps", mapping_at_line, &m) != 1)
		return -1;
	*lo = m.lo;
	*hi = m.hi;
	if (rw)
		*rw = m.rw;
	return 0;
}

typedef struct maps_ctx {
	hw_mapping_fn fn;
	void *arg;
} maps_ctx;

static int maps_line(void *arg, const char *head)
{
	maps_ctx *m = arg;
	uintptr_t lo, hi;
	bool rw;
	return parse_maps_head(head, &lo, &hi, &rw) ? m->fn(m->arg, lo, hi, rw) : -1;
}

/* Calls fn(arg, lo, hi, rw) for every line of the maps file; stops at the
 * first non-zero return. */
static int maps_walk(hw_mapping_fn fn, void *arg)
{
	maps_ctx m = {fn, arg};
	return lines_walk("maps", maps_line, &m);
}

static int count_one(void *arg, uintptr_t lo, uintptr_t hi, bool rw)
{
	(void)lo, (void)hi, (void)rw;
	++*(long *)arg;
	return 0;
}

long hw_platform_vma_count(void)
{
	long n = 0;
	return maps_walk(count_one, &n) == 0 ? n : -1;
}

typedef struct clip_ctx {
	uintptr_t lo, hi;
	hw_mapping_fn fn;
	void *arg;
} clip_ctx;

static int clip_one(void *arg, uintptr_t lo, uintptr_t hi, bool rw)
{
	clip_ctx *c = arg;
	if (hi <= c->lo || lo >= c->hi)
		return 0;
	return c->fn(c->arg, lo > c->lo ? lo : c->lo, hi < c->hi ? hi : c->hi, rw);
}

int hw_platform_mappings(const void *p, size_t n, hw_mapping_fn fn, void *arg)
{
	clip_ctx c = {(uintptr_t)p, (uintptr_t)p + n, fn, arg};
	return maps_walk(clip_one, &c);
}

/* smaps: a header line per mapping (as in maps), then "Key: value" lines,
 * VmFlags last; "hg" there is MADV_HUGEPAGE. */
typedef struct huge_ctx {
	uintptr_t lo, hi;  /* the range asked about */
	bool inside;       /* the current mapping overlaps it */
	int seen, advised; /* overlapping mappings, and those with "hg" */
} huge_ctx;

static int huge_line(void *arg, const char *head)
{
	huge_ctx *c = arg;
	uintptr_t lo, hi;
	bool rw;
	if (parse_maps_head(head, &lo, &hi, &rw)) {
		c->inside = lo < c->hi && hi > c->lo;
		c->seen += c->inside;
	} else if (c->inside && strncmp(head, "VmFlags:", 8) == 0) {
		c->advised += strstr(head, " hg") != NULL;
	}
	return 0;
}

int hw_platform_huge_advised(const void *p, size_t n)
{
	huge_ctx c = {(uintptr_t)p, (uintptr_t)p + n, false, 0, 0};
	if (lines_walk("smaps", huge_line, &c) != 0 || c.seen == 0)
		return -1;
	return c.advised == c.seen;
}

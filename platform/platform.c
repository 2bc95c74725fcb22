/* platform.c: the hw_sys_* dispatch in front of every backend.
 *
 * Owns: the contract checks every backend shares (P1), the per-instance
 * counters (P5), failure injection (P7), and the public hw_platform_os().
 * Every reserve and alloc that succeeds, and every release, also updates
 * the process's set of heapward's own ranges (owned.h OW1).
 *
 * Invariants (numbered as in platform.h):
 *   P1. Every address and length is checked against caps.page_size before the
 *       backend runs; a violation aborts with "heapward: platform: unaligned
 *       <op> (<addr>, <n>)".
 *   P2. An injected failure returns ENOMEM before the backend runs, so the
 *       range is untouched; *out is NULL after any failed reserve/alloc.
 *   P5. calls[k] is counted before the call, failures[k] after it returns
 *       ENOMEM (injected or from the backend). EINVAL (P6) passes through
 *       uncounted.
 *   P7. Injection counts only fallible kinds in fail_mask, fires once, then
 *       disarms (fail_at = 0).
 *
 * Locking: none. Counters are bumped with relaxed atomic adds so a shared
 * instance (hw_platform_os) keeps best-effort counts without a data race;
 * failure injection is for single-owner instances and is read unlocked.
 */
#include "platform.h"

#include "base.h"
#include "heapward.h"
#include "owned.h"

#include <errno.h>

static const char *const kind_names[HW_SYS_NKINDS] = {
	[HW_SYS_RESERVE] = "reserve",
	[HW_SYS_MAP] = "map",
	[HW_SYS_USE] = "use",
	[HW_SYS_UNUSE] = "unuse",
	[HW_SYS_FAULT] = "fault",
	[HW_SYS_RELEASE] = "release",
	[HW_SYS_ALLOC] = "alloc",
	[HW_SYS_UNFAULT] = "unfault",
	[HW_SYS_SEAL] = "seal",
	[HW_SYS_UNSEAL] = "unseal",
};

const char *hw_sys_kind_name(hw_sys_kind k)
{
	return (unsigned)k < HW_SYS_NKINDS ? kind_names[k] : "?";
}

static void check_range(const hw_platform *pf, const char *op, const void *p, size_t n)
{
	size_t mask = pf->caps.page_size - 1;
	if (HW_UNLIKELY(n == 0 || (n & mask) != 0 || ((uintptr_t)p & mask) != 0))
		hw_fatal("heapward: platform: unaligned %s (%p, %zu)", op, p, n);
}

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* Counts the call and applies injection; true when this call must fail. */
static bool enter(hw_platform *pf, hw_sys_kind k)
{
	count(&pf->calls[k]);
	if (HW_LIKELY(__atomic_load_n(&pf->fail_at, __ATOMIC_RELAXED) == 0))
		return false;
	if (k == HW_SYS_UNUSE || k == HW_SYS_RELEASE)
		return false;
	if (pf->fail_mask != 0 && (pf->fail_mask & (1u << k)) == 0)
		return false;
	if (++pf->fail_seen != pf->fail_at)
		return false;
	pf->fail_at = 0;
	count(&pf->failures[k]);
	return true;
}

static int leave(hw_platform *pf, hw_sys_kind k, int rc)
{
	if (rc == ENOMEM)
		count(&pf->failures[k]);
	HW_ASSERT(rc == 0 || rc == ENOMEM || rc == EINVAL);
	return rc;
}

/* A reserve or alloc of [p, p + n) succeeded: the instance holds it (P8),
 * and heapward does (owned.h OW1). */
static void took(hw_platform *pf, void *p, size_t n)
{
	__atomic_add_fetch(&pf->owned, n, __ATOMIC_RELAXED);
	hw_platform_own((uintptr_t)p, n);
}

int hw_sys_reserve(hw_platform *pf, void *hint, size_t n, void **out)
{
	*out = NULL;
	check_range(pf, kind_names[HW_SYS_RESERVE], hint, n);
	if (enter(pf, HW_SYS_RESERVE))
		return ENOMEM;
	int rc = leave(pf, HW_SYS_RESERVE, pf->ops->reserve(pf, hint, n, out));
	HW_ASSERT(rc != 0 || ((uintptr_t)*out & (pf->caps.granularity - 1)) == 0);
	if (rc == 0)
		took(pf, *out, n);
	return rc;
}

int hw_sys_map(hw_platform *pf, void *p, size_t n)
{
	check_range(pf, kind_names[HW_SYS_MAP], p, n);
	if (enter(pf, HW_SYS_MAP))
		return ENOMEM;
	return leave(pf, HW_SYS_MAP, pf->ops->map(pf, p, n));
}

int hw_sys_use(hw_platform *pf, void *p, size_t n)
{
	check_range(pf, kind_names[HW_SYS_USE], p, n);
	if (enter(pf, HW_SYS_USE))
		return ENOMEM;
	if (pf->ops->use == NULL)
		return 0;
	return leave(pf, HW_SYS_USE, pf->ops->use(pf, p, n));
}

void hw_sys_unuse(hw_platform *pf, void *p, size_t n)
{
	check_range(pf, kind_names[HW_SYS_UNUSE], p, n);
	enter(pf, HW_SYS_UNUSE);
	pf->ops->unuse(pf, p, n);
}

int hw_sys_fault(hw_platform *pf, void *p, size_t n)
{
	check_range(pf, kind_names[HW_SYS_FAULT], p, n);
	if (enter(pf, HW_SYS_FAULT))
		return ENOMEM;
	return leave(pf, HW_SYS_FAULT, pf->ops->fault(pf, p, n));
}

int hw_sys_unfault(hw_platform *pf, void *p, size_t n)
{
	check_range(pf, kind_names[HW_SYS_UNFAULT], p, n);
	if (enter(pf, HW_SYS_UNFAULT))
		return ENOMEM;
	return leave(pf, HW_SYS_UNFAULT, pf->ops->unfault(pf, p, n));
}

int hw_sys_seal(hw_platform *pf, void *p, size_t n)
{
	check_range(pf, kind_names[HW_SYS_SEAL], p, n);
	if (enter(pf, HW_SYS_SEAL))
		return ENOMEM;
	if (pf->ops->seal == NULL)
		return leave(pf, HW_SYS_SEAL, ENOMEM);
	return leave(pf, HW_SYS_SEAL, pf->ops->seal(pf, p, n));
}

int hw_sys_unseal(hw_platform *pf, void *p, size_t n)
{
	check_range(pf, kind_names[HW_SYS_UNSEAL], p, n);
	if (enter(pf, HW_SYS_UNSEAL))
		return ENOMEM;
	/* Nothing was sealed where the backend cannot seal: a caller bug. */
	HW_ASSERT(pf->ops->unseal != NULL);
	return leave(pf, HW_SYS_UNSEAL, pf->ops->unseal(pf, p, n));
}

/* P10 with P7: how many of the next m calls of kind k injection lets
 * through (m when it fires later, or not at all). */
static size_t inject_window(const hw_platform *pf, hw_sys_kind k, size_t m)
{
	uint64_t at = __atomic_load_n(&pf->fail_at, __ATOMIC_RELAXED);
	if (HW_LIKELY(at == 0) || (pf->fail_mask != 0 && (pf->fail_mask & (1u << k)) == 0))
		return m;
	uint64_t left = at - pf->fail_seen; /* the left-th such call fails */
	return left <= m ? (size_t)left - 1 : m;
}

/* Counts n calls of kind k that reached the backend (P5, P7). */
static void count_many(hw_platform *pf, hw_sys_kind k, size_t n)
{
	__atomic_fetch_add(&pf->calls[k], n, __ATOMIC_RELAXED);
	if (__atomic_load_n(&pf->fail_at, __ATOMIC_RELAXED) != 0 &&
	    (pf->fail_mask == 0 || (pf->fail_mask & (1u << k)) != 0))
		pf->fail_seen += n;
}

typedef size_t (*many_fn)(hw_platform *pf, const hw_range *r, size_t k, int *rc);
typedef int (*one_fn)(hw_platform *pf, void *p, size_t n);

/* P10: the call of kind (fault or unfault) over r[0..k), through many
 * (NULL: one range at a time through one). */
static int sys_many(hw_platform *pf, hw_sys_kind kind, many_fn many, one_fn one,
		    const hw_range *r, size_t k, size_t *done)
{
	for (size_t i = 0; i < k; i++)
		check_range(pf, kind_names[kind], r[i].p, r[i].n);
	size_t w = inject_window(pf, kind, k), got = 0;
	int rc = 0;
	if (many != NULL && w > 0)
		got = many(pf, r, w, &rc);
	else
		while (got < w && (rc = one(pf, r[got].p, r[got].n)) == 0)
			got++;
	/* The ranges the backend did, and the one that failed. */
	count_many(pf, kind, got + (got < w));
	*done = got;
	if (got < w)
		return leave(pf, kind, rc);
	if (w == k)
		return 0;
	/* Range w is the injected failure: enter counts it and fires. */
	bool fired = enter(pf, kind);
	HW_ASSERT(fired);
	(void)fired;
	return ENOMEM;
}

int hw_sys_unfault_many(hw_platform *pf, const hw_range *r, size_t k, size_t *done)
{
	return sys_many(pf, HW_SYS_UNFAULT, pf->ops->unfault_many, pf->ops->unfault, r, k, done);
}

int hw_sys_fault_many(hw_platform *pf, const hw_range *r, size_t k, size_t *done)
{
	return sys_many(pf, HW_SYS_FAULT, pf->ops->fault_many, pf->ops->fault, r, k, done);
}

void hw_sys_release(hw_platform *pf, void *p, size_t n)
{
	check_range(pf, kind_names[HW_SYS_RELEASE], p, n);
	enter(pf, HW_SYS_RELEASE);
	hw_platform_disown((uintptr_t)p, n);
	pf->ops->release(pf, p, n);
	__atomic_sub_fetch(&pf->owned, n, __ATOMIC_RELAXED);
}

/* P12 */
size_t hw_sys_address_limit(hw_platform *pf)
{
	return pf->ops->address_limit ? pf->ops->address_limit(pf) : SIZE_MAX;
}

/* P11 */
int hw_sys_probe(hw_platform *pf, size_t n, size_t align, uintptr_t from, uintptr_t *out)
{
	*out = 0;
	check_range(pf, "probe", NULL, n);
	check_range(pf, "probe", NULL, align);
	if (pf->ops->probe)
		return pf->ops->probe(pf, n, align, from, out);
	return hw_sys_probe_by_reserve(pf, n, align, from, out);
}

int hw_sys_probe_by_reserve(hw_platform *pf, size_t n, size_t align, uintptr_t from,
			    uintptr_t *out)
{
	void *got;
	size_t big = n + align;
	if (big < n || pf->ops->reserve(pf, NULL, big, &got) != 0)
		return ENOMEM;
	pf->ops->release(pf, got, big);
	uintptr_t a = hw_align_up((uintptr_t)got, align);
	if (a < from)
		return ENOMEM;
	*out = a;
	return 0;
}

int hw_sys_alloc(hw_platform *pf, size_t n, void **out)
{
	*out = NULL;
	check_range(pf, kind_names[HW_SYS_ALLOC], NULL, n);
	if (enter(pf, HW_SYS_ALLOC))
		return ENOMEM;
	int rc = leave(pf, HW_SYS_ALLOC, pf->ops->alloc(pf, n, out));
	HW_ASSERT(rc != 0 || ((uintptr_t)*out & (pf->caps.granularity - 1)) == 0);
	if (rc == 0)
		took(pf, *out, n);
	return rc;
}

void hw_sys_advise_huge(hw_platform *pf, void *p, size_t n)
{
	check_range(pf, "advise_huge", p, n);
	if (pf->ops->advise_huge != NULL)
		pf->ops->advise_huge(pf, p, n);
}

void hw_sys_populate(hw_platform *pf, const hw_range *r, size_t k)
{
	for (size_t i = 0; i < k; i++)
		check_range(pf, "populate", r[i].p, r[i].n);
	if (k > 0 && pf->ops->populate != NULL)
		pf->ops->populate(pf, r, k);
}

bool hw_sys_can_query(const hw_platform *pf)
{
	return pf->ops->find_other != NULL;
}

const void *hw_sys_find_other(const hw_platform *pf, const void *p, size_t n, hw_mem_state st,
			      hw_mem_state *got)
{
	return pf->ops->find_other(pf, p, n, st, got);
}

void hw_platform_inject(hw_platform *pf, uint64_t nth, unsigned mask)
{
	pf->fail_seen = 0;
	pf->fail_mask = mask;
	__atomic_store_n(&pf->fail_at, nth, __ATOMIC_RELAXED);
}

void hw_platform_destroy(hw_platform *pf)
{
	if (pf != NULL && pf->ops->destroy != NULL)
		pf->ops->destroy(pf);
}

hw_platform *hw_platform_os(void)
{
	return hw_platform_os_instance();
}

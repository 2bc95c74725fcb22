/* wrap.h: a platform that forwards to another, with a hook on its reserve,
 * release, map and alloc calls (test support: tests and benchmarks only, never
 * installed).
 *
 * Owns: wrap_platform, a platform instance that forwards every call to a
 * real instance (its own private OS one, or one the caller passes), first
 * running the caller's hook on reserve, unuse, fault, map, unfault and alloc:
 * to make a release (or the map of a reuse) slow, hold it until a test says
 * go, count it, skip it, take a hinted range before the caller gets it, or
 * call back into the caller from inside the call. Its caps are the real
 * instance's, huge pages optional, so the heap treats it as that platform
 * (caps.concurrent_calls included).
 *
 * Invariants:
 *   WP1. Every call reaches the real instance exactly once, after the hook;
 *        an unuse, fault, map or unfault whose hook returns false does not (a
 *        skipped fault, map or unfault succeeds without changing anything); a
 *        reserve or alloc whose hook returns false fails with ENOMEM. The
 *        reserve hook receives the hint (NULL for none) as p.
 *
 * Locking: the hook runs in whatever thread made the call, possibly without
 * the heap lock (releases and reuses on a concurrent platform).
 */
#ifndef HW_PLATFORM_WRAP_H
#define HW_PLATFORM_WRAP_H

#include "platform.h"

#include <errno.h>
#include <string.h>

typedef struct wrap_platform {
	hw_platform pf; /* first: the ops receive &pf */
	hw_platform *real;
	/* Runs before each reserve, unuse, fault, map, unfault and alloc (k says which) and says
	 * whether the call goes on to the real instance; NULL: every call does. */
	bool (*before)(struct wrap_platform *w, hw_sys_kind k, void *p, size_t n);
	bool own_real; /* wrap_open made real; wrap_close destroys it */
	void *arg;
} wrap_platform;

static hw_platform *wrap_real(hw_platform *pf) { return ((wrap_platform *)pf)->real; }

static int wrap_reserve(hw_platform *pf, void *hint, size_t n, void **out)
{
	wrap_platform *w = (wrap_platform *)pf;
	if (w->before && !w->before(w, HW_SYS_RESERVE, hint, n))
		return ENOMEM;
	return hw_sys_reserve(w->real, hint, n, out);
}

static int wrap_map(hw_platform *pf, void *p, size_t n)
{
	wrap_platform *w = (wrap_platform *)pf;
	if (w->before && !w->before(w, HW_SYS_MAP, p, n))
		return 0;
	return hw_sys_map(w->real, p, n);
}

static int wrap_use(hw_platform *pf, void *p, size_t n) { return hw_sys_use(wrap_real(pf), p, n); }

static void wrap_unuse(hw_platform *pf, void *p, size_t n)
{
	wrap_platform *w = (wrap_platform *)pf;
	if (!w->before || w->before(w, HW_SYS_UNUSE, p, n))
		hw_sys_unuse(w->real, p, n);
}

static int wrap_fault(hw_platform *pf, void *p, size_t n)
{
	wrap_platform *w = (wrap_platform *)pf;
	if (w->before && !w->before(w, HW_SYS_FAULT, p, n))
		return 0;
	return hw_sys_fault(w->real, p, n);
}

static int wrap_unfault(hw_platform *pf, void *p, size_t n)
{
	wrap_platform *w = (wrap_platform *)pf;
	if (w->before && !w->before(w, HW_SYS_UNFAULT, p, n))
		return 0;
	return hw_sys_unfault(w->real, p, n);
}

static void wrap_release(hw_platform *pf, void *p, size_t n)
{
	hw_sys_release(wrap_real(pf), p, n);
}

static int wrap_alloc(hw_platform *pf, size_t n, void **out)
{
	wrap_platform *w = (wrap_platform *)pf;
	if (w->before && !w->before(w, HW_SYS_ALLOC, NULL, n))
		return ENOMEM;
	return hw_sys_alloc(w->real, n, out);
}

static void wrap_populate(hw_platform *pf, const hw_range *r, size_t k)
{
	hw_sys_populate(wrap_real(pf), r, k);
}

static int wrap_seal(hw_platform *pf, void *p, size_t n)
{
	return hw_sys_seal(wrap_real(pf), p, n);
}

static int wrap_unseal(hw_platform *pf, void *p, size_t n)
{
	return hw_sys_unseal(wrap_real(pf), p, n);
}

static const hw_platform_ops wrap_ops = {
	.reserve = wrap_reserve,
	.map = wrap_map,
	.use = wrap_use,
	.unuse = wrap_unuse,
	.fault = wrap_fault,
	.release = wrap_release,
	.alloc = wrap_alloc,
	.unfault = wrap_unfault,
	.populate = wrap_populate,
	.seal = wrap_seal,
	.unseal = wrap_unseal,
	.destroy = NULL,
};

/* Makes w forward to real, with huge pages when `huge` and real has them. */
static inline void wrap_init(wrap_platform *w, hw_platform *real, bool huge)
{
	memset(w, 0, sizeof *w);
	w->real = real;
	w->pf.name = "wrap";
	w->pf.ops = &wrap_ops;
	w->pf.caps = real->caps;
	if (!huge)
		w->pf.caps.huge_page_size = 0;
}

/* Opens w over a new private OS instance, with huge pages when `huge`.
 * false when the instance cannot be made. */
static inline bool wrap_open(wrap_platform *w, bool huge)
{
	hw_platform *real = hw_platform_os_create();
	if (real == NULL)
		return false;
	wrap_init(w, real, huge);
	w->own_real = true;
	return true;
}

static inline void wrap_close(wrap_platform *w)
{
	if (w->own_real)
		hw_platform_destroy(w->real);
}

#endif

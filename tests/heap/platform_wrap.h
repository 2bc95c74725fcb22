/* platform_wrap.h: a private Linux platform whose release calls a test can
 * intercept.
 *
 * Owns: wrap_platform, a platform instance that forwards every call to a
 * private Linux instance, first running the test's hook on unuse and fault
 * (to make a release slow, block it until the test says go, or count it). Its caps are
 * Linux's, huge pages optional, so the heap treats it as the real OS
 * (caps.concurrent_calls included).
 *
 * Invariants:
 *   WP1. Every call reaches the real instance exactly once, after the hook.
 *
 * Locking: the hook runs in whatever thread made the call, possibly without
 * the heap lock (scavenge releases on a concurrent platform).
 */
#ifndef HW_TESTS_PLATFORM_WRAP_H
#define HW_TESTS_PLATFORM_WRAP_H

#include "platform.h"

#include <string.h>

typedef struct wrap_platform {
	hw_platform pf; /* first: the ops receive &pf */
	hw_platform *real;
	/* Runs before each unuse and fault (k says which); NULL: none. */
	void (*before)(struct wrap_platform *w, hw_sys_kind k, void *p, size_t n);
	void *arg;
} wrap_platform;

static hw_platform *wrap_real(hw_platform *pf) { return ((wrap_platform *)pf)->real; }

static int wrap_reserve(hw_platform *pf, void *hint, size_t n, void **out)
{
	return hw_sys_reserve(wrap_real(pf), hint, n, out);
}

static int wrap_map(hw_platform *pf, void *p, size_t n) { return hw_sys_map(wrap_real(pf), p, n); }

static int wrap_use(hw_platform *pf, void *p, size_t n) { return hw_sys_use(wrap_real(pf), p, n); }

static void wrap_unuse(hw_platform *pf, void *p, size_t n)
{
	wrap_platform *w = (wrap_platform *)pf;
	if (w->before)
		w->before(w, HW_SYS_UNUSE, p, n);
	hw_sys_unuse(w->real, p, n);
}

static int wrap_fault(hw_platform *pf, void *p, size_t n)
{
	wrap_platform *w = (wrap_platform *)pf;
	if (w->before)
		w->before(w, HW_SYS_FAULT, p, n);
	return hw_sys_fault(w->real, p, n);
}

static void wrap_release(hw_platform *pf, void *p, size_t n)
{
	hw_sys_release(wrap_real(pf), p, n);
}

static int wrap_alloc(hw_platform *pf, size_t n, void **out)
{
	return hw_sys_alloc(wrap_real(pf), n, out);
}

static const hw_platform_ops wrap_ops = {
	.reserve = wrap_reserve,
	.map = wrap_map,
	.use = wrap_use,
	.unuse = wrap_unuse,
	.fault = wrap_fault,
	.release = wrap_release,
	.alloc = wrap_alloc,
	.destroy = NULL,
};

/* Opens w over a new private Linux instance, with huge pages when `huge`.
 * false when the instance cannot be made. */
static inline bool wrap_open(wrap_platform *w, bool huge)
{
	memset(w, 0, sizeof *w);
	w->real = hw_platform_linux_create(false, false);
	if (w->real == NULL)
		return false;
	w->pf.name = "wrap";
	w->pf.ops = &wrap_ops;
	w->pf.caps = w->real->caps;
	if (!huge)
		w->pf.caps.huge_page_size = 0;
	return true;
}

static inline void wrap_close(wrap_platform *w) { hw_platform_destroy(w->real); }

#endif

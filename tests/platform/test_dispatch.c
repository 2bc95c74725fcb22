/* test_dispatch.c: the hw_sys_* dispatch (platform/platform.c).
 *
 * Checks P1 (every unaligned or empty range aborts with the fixed message,
 * naming the op, address and size), P5 (counters), P6 (EINVAL from a
 * refusing simulator passes through uncounted), that a NULL backend use is a
 * counted no-op, and that the shared OS instance is one object however many
 * threads ask for it first.
 */
#include "heapward.h"
#include "owned.h"
#include "platform.h"
#include "ptest.h"
#include "sim.h"
#include "thread.h"

#include <errno.h>
#include <stdint.h>

#define PS 4096u

typedef struct bad_call {
	hw_sys_kind op;
	uintptr_t addr_off; /* added to a Ready page's address */
	size_t n;
	const char *want;
} bad_call;

static const bad_call bad_calls[] = {
	{HW_SYS_MAP, 1, PS, "heapward: platform: unaligned map ("},
	{HW_SYS_MAP, 0, PS + 1, "heapward: platform: unaligned map ("},
	{HW_SYS_USE, 0, 0, "heapward: platform: unaligned use ("},
	{HW_SYS_UNUSE, 8, PS, "heapward: platform: unaligned unuse ("},
	{HW_SYS_FAULT, 0, PS / 2, "heapward: platform: unaligned fault ("},
	{HW_SYS_RELEASE, 2048, PS, "heapward: platform: unaligned release ("},
	{HW_SYS_RESERVE, 100, PS, "heapward: platform: unaligned reserve ("},
	{HW_SYS_RESERVE, 0, 3 * PS - 1, "heapward: platform: unaligned reserve ("},
	{HW_SYS_ALLOC, 0, 0, "heapward: platform: unaligned alloc ("},
	{HW_SYS_ALLOC, 0, 17, "heapward: platform: unaligned alloc ("},
	{HW_SYS_UNFAULT, 0, PS - 1, "heapward: platform: unaligned unfault ("},
	{HW_SYS_SEAL, 4, PS, "heapward: platform: unaligned seal ("},
	{HW_SYS_UNSEAL, 0, 0, "heapward: platform: unaligned unseal ("},
};

static void make_bad_call(void *arg)
{
	const bad_call *bc = arg;
	hw_sim_config cfg = {.backing_bytes = 64 * PS};
	hw_platform *pf = hw_platform_sim_create(&cfg);
	void *p, *out;
	if (pf == NULL || hw_sys_alloc(pf, PS, &p) != 0)
		return;
	char *a = (char *)p + bc->addr_off;
	switch (bc->op) {
	case HW_SYS_RESERVE:
		hw_sys_reserve(pf, a, bc->n, &out);
		break;
	case HW_SYS_MAP:
		hw_sys_map(pf, a, bc->n);
		break;
	case HW_SYS_USE:
		hw_sys_use(pf, a, bc->n);
		break;
	case HW_SYS_UNUSE:
		hw_sys_unuse(pf, a, bc->n);
		break;
	case HW_SYS_FAULT:
		hw_sys_fault(pf, a, bc->n);
		break;
	case HW_SYS_RELEASE:
		hw_sys_release(pf, a, bc->n);
		break;
	case HW_SYS_ALLOC:
		hw_sys_alloc(pf, bc->n, &out);
		break;
	case HW_SYS_UNFAULT:
		hw_sys_unfault(pf, a, bc->n);
		break;
	case HW_SYS_SEAL:
		hw_sys_seal(pf, a, bc->n);
		break;
	case HW_SYS_UNSEAL:
		hw_sys_unseal(pf, a, bc->n);
		break;
	case HW_SYS_NKINDS:
		break;
	}
}

static void test_unaligned_aborts(void)
{
	for (size_t i = 0; i < sizeof bad_calls / sizeof bad_calls[0]; i++) {
		char err[256], size[32];
		EXPECT(dies_with(make_bad_call, (void *)&bad_calls[i], bad_calls[i].want, err,
				 sizeof err),
		       "case %zu (%s): stderr \"%s\"", i, hw_sys_kind_name(bad_calls[i].op), err);
		/* The line names the size too. */
		snprintf(size, sizeof size, ", %zu)\n", bad_calls[i].n);
		EXPECT(strstr(err, size) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err, size);
	}
}

static void test_counters(void)
{
	hw_sim_config cfg = {.backing_bytes = 64 * PS};
	hw_platform *pf = hw_platform_sim_create(&cfg);
	REQUIRE(pf != NULL);
	void *p, *q;
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * PS, &p) == 0);
	REQUIRE(hw_sys_map(pf, p, 8 * PS) == 0);
	REQUIRE(hw_sys_use(pf, p, 4 * PS) == 0);
	REQUIRE(hw_sys_use(pf, (char *)p + 4 * PS, PS) == 0);
	hw_sys_unuse(pf, p, PS);
	REQUIRE(hw_sys_fault(pf, p, 2 * PS) == 0);
	REQUIRE(hw_sys_unfault(pf, p, PS) == 0);
	REQUIRE(hw_sys_alloc(pf, PS, &q) == 0);
	REQUIRE(hw_sys_seal(pf, q, PS) == 0);
	REQUIRE(hw_sys_unseal(pf, q, PS) == 0);
	REQUIRE(hw_sys_seal(pf, q, PS) == 0);
	hw_sys_release(pf, q, PS);
	hw_sys_release(pf, p, 8 * PS);
	static const uint64_t want[HW_SYS_NKINDS] = {1, 1, 2, 1, 1, 2, 1, 1, 2, 1};
	for (int k = 0; k < HW_SYS_NKINDS; k++) {
		EXPECT(pf->calls[k] == want[k], "%s: %llu calls", hw_sys_kind_name((hw_sys_kind)k),
		       (unsigned long long)pf->calls[k]);
		EXPECT(pf->failures[k] == 0);
	}
	hw_platform_destroy(pf);
}

/* P8: owned follows reserve and alloc up and release down, partial releases
 * included; a failed reserve owns nothing. */
static void test_owned_bytes(void)
{
	hw_sim_config cfg = {.backing_bytes = 64 * PS};
	hw_platform *pf = hw_platform_sim_create(&cfg);
	REQUIRE(pf != NULL);
	void *p, *q, *r;
	EXPECT(pf->owned == 0);
	REQUIRE(hw_sys_reserve(pf, NULL, 8 * PS, &p) == 0);
	REQUIRE(hw_sys_alloc(pf, 2 * PS, &q) == 0);
	EXPECT(pf->owned == 10 * PS, "owned %zu", pf->owned);
	hw_sys_release(pf, (char *)p + 6 * PS, 2 * PS);
	EXPECT(pf->owned == 8 * PS, "owned %zu", pf->owned);
	hw_platform_inject(pf, 1, 0);
	EXPECT(hw_sys_reserve(pf, NULL, 4 * PS, &r) == ENOMEM);
	EXPECT(pf->owned == 8 * PS, "a failed reserve owns nothing: %zu", pf->owned);
	hw_sys_release(pf, p, 6 * PS);
	hw_sys_release(pf, q, 2 * PS);
	EXPECT(pf->owned == 0, "owned %zu", pf->owned);
	hw_platform_destroy(pf);
}

static void test_kind_names(void)
{
	static const char *const want[HW_SYS_NKINDS] = {"reserve", "map", "use", "unuse",
							"fault", "release", "alloc", "unfault",
							"seal", "unseal"};
	for (int k = 0; k < HW_SYS_NKINDS; k++)
		EXPECT(strcmp(hw_sys_kind_name((hw_sys_kind)k), want[k]) == 0, "kind %d", k);
	EXPECT(strcmp(hw_sys_kind_name(HW_SYS_NKINDS), "?") == 0);
}

static void test_einval_passes_through(void)
{
	hw_sim_config cfg = {.backing_bytes = 16 * PS, .record_illegal = true};
	hw_platform *pf = hw_platform_sim_create(&cfg);
	REQUIRE(pf != NULL);
	void *p;
	REQUIRE(hw_sys_reserve(pf, NULL, PS, &p) == 0);
	EXPECT(hw_sys_use(pf, p, PS) == EINVAL, "use of a Reserved page is refused");
	EXPECT(pf->calls[HW_SYS_USE] == 1 && pf->failures[HW_SYS_USE] == 0,
	       "EINVAL is counted as a call, not as an ENOMEM failure");
	EXPECT(hw_sim_illegal_count(pf, NULL, 0) == 1);
	hw_platform_destroy(pf);
}

/* Linux has no use call (Prepared and Ready differ only in backing): the
 * dispatch makes it a counted no-op. Windows commits there. Either way the
 * call is counted and injection applies. */
static void test_use_is_counted_and_injectable(void)
{
	hw_platform *pf = hw_platform_os_create();
	REQUIRE(pf != NULL);
	REQUIRE((pf->ops->use != NULL) == pf->caps.use_needs_call,
		"a backend has a use call exactly when Prepared->Ready needs one");
	void *p;
	REQUIRE(hw_sys_reserve(pf, NULL, 2 * PS, &p) == 0);
	REQUIRE(hw_sys_map(pf, p, 2 * PS) == 0);
	EXPECT(hw_sys_use(pf, p, 2 * PS) == 0);
	EXPECT(pf->calls[HW_SYS_USE] == 1);
	/* Injection still applies: a Windows-like heap must handle it. */
	hw_platform_inject(pf, 1, 1u << HW_SYS_USE);
	EXPECT(hw_sys_use(pf, p, 2 * PS) == ENOMEM);
	EXPECT(pf->calls[HW_SYS_USE] == 2 && pf->failures[HW_SYS_USE] == 1);
	hw_sys_release(pf, p, 2 * PS);
	hw_platform_destroy(pf);
}

static void *get_os(void *arg)
{
	*(hw_platform **)arg = hw_platform_os_instance();
	return NULL;
}

static void test_os_instance_is_shared(void)
{
	hw_platform *seen[4] = {0};
	hw_thread t[4];
	for (int i = 0; i < 4; i++)
		REQUIRE(hw_thread_start(&t[i], get_os, &seen[i]) == 0);
	for (int i = 0; i < 4; i++)
		hw_thread_join(&t[i]);
	hw_platform *os = hw_platform_os();
	EXPECT(os != NULL && os == hw_platform_os_instance());
	for (int i = 0; i < 4; i++)
		EXPECT(seen[i] == os, "thread %d saw another instance", i);
	EXPECT(os->ops->destroy == NULL, "the shared instance is never destroyed");
	hw_platform_destroy(os); /* a no-op */
	void *p;
	EXPECT(hw_sys_alloc(os, os->caps.page_size, &p) == 0);
	hw_sys_release(os, p, os->caps.page_size);
}

/* owned.h: how much of [lo, hi) one range of the process's set of
 * heapward's own ranges covers. */
typedef struct own_probe {
	uintptr_t lo, hi;
	bool whole, part;
} own_probe;

static void probe_range(void *arg, uintptr_t lo, uintptr_t hi)
{
	own_probe *o = arg;
	if (lo <= o->lo && hi >= o->hi)
		o->whole = true;
	else if (lo < o->hi && hi > o->lo)
		o->part = true;
}

/* 1: one range covers [lo, hi); 0: none touches it; -1: in between. */
static int owned_state(uintptr_t lo, uintptr_t hi)
{
	own_probe o = {lo, hi, false, false};
	if (hw_platform_owned(probe_range, &o) != 0)
		return -2;
	return o.whole ? 1 : o.part ? -1
				    : 0;
}

/* OW1, OW2: what reserve and alloc hand out is in the set, what release
 * gives back is not, a release of part of a range leaves the rest, and a
 * reservation made beside one joins it. */
static void test_owned_set(void)
{
	hw_platform *os = hw_platform_os_instance();
	size_t g = os->caps.granularity;
	void *r, *a;
	REQUIRE(hw_sys_reserve(os, NULL, 4 * g, &r) == 0);
	uintptr_t lo = (uintptr_t)r;
	EXPECT(owned_state(lo, lo + 4 * g) == 1);
	REQUIRE(hw_sys_alloc(os, g, &a) == 0);
	EXPECT(owned_state((uintptr_t)a, (uintptr_t)a + g) == 1);
	hw_sys_release(os, a, g);
	EXPECT(owned_state((uintptr_t)a, (uintptr_t)a + g) == 0, "released, still owned");
	if (!os->caps.partial_release) {
		hw_sys_release(os, r, 4 * g);
		EXPECT(owned_state(lo, lo + 4 * g) == 0);
		return;
	}
	hw_sys_release(os, (void *)(lo + g), g);
	EXPECT(owned_state(lo, lo + g) == 1 && owned_state(lo + 2 * g, lo + 4 * g) == 1);
	EXPECT(owned_state(lo + g, lo + 2 * g) == 0, "the released middle is still owned");
	void *again;
	REQUIRE(hw_sys_reserve(os, (void *)(lo + g), g, &again) == 0);
	if (again == (void *)(lo + g))
		EXPECT(owned_state(lo, lo + 4 * g) == 1, "the hole filled is one range again");
	else
		printf("(the OS did not take the hint: merging not checked)\n");
	hw_sys_release(os, again, g);
	hw_sys_release(os, r, g);
	hw_sys_release(os, (void *)(lo + 2 * g), 2 * g);
	EXPECT(owned_state(lo, lo + 4 * g) == 0);
}

HW_TEST_MAIN(T(test_unaligned_aborts), T(test_counters), T(test_owned_bytes), T(test_kind_names),
	     T(test_einval_passes_through), T(test_use_is_counted_and_injectable),
	     T(test_os_instance_is_shared), T(test_owned_set))

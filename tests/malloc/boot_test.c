/* boot_test.c: calls into the layer from inside its own start (boot.c).
 *
 * The layer's start allocates its page map's top array from the platform
 * (hw_sys_alloc). On wrap.h's forwarder, that call first runs a hook, and
 * the hook calls the layer back, as the C library does from pthread_create
 * (a new thread's TLS vector) or pthread_atfork while the layer starts:
 * same thread, start not finished. Each call must get memory (from the
 * bootstrap arena), and what it got must behave as an allocation after the
 * start: sized, reallocated, freed, with no report.
 */
#include "check.h"
#include "heapward.h"
#include "malloc_internal.h"
#include "wrap.h"

#include <errno.h>
#include <string.h>

static wrap_platform w;
static int inside;               /* hook calls made from inside the start */
static unsigned char *m, *z, *a; /* what the calls got */
static int m_errno;

static bool call_back(wrap_platform *x, hw_sys_kind k, void *p, size_t n)
{
	(void)x;
	(void)p;
	(void)n;
	if (k != HW_SYS_ALLOC || inside++)
		return true;
	errno = 0;
	m = hw_malloc(100);
	m_errno = errno;
	z = hw_calloc(10, 30);
	a = hw_aligned_alloc(64, 200);
	return true;
}

static void test_calls_during_start(void)
{
	REQUIRE(wrap_open(&w, false));
	w.before = call_back;
	mc_start_config c = {.platform = &w.pf, .options = ""};
	hw_mc_reset(&c);
	unsigned char *after = hw_malloc(24); /* starts the layer */
	REQUIRE(after != NULL);
	REQUIRE(inside > 0, "the start made no platform alloc to call back from");
	EXPECT(m && z && a, "calls from inside the start got memory (%p %p %p)", (void *)m,
	       (void *)z, (void *)a);
	EXPECT(m_errno == 0, "errno %d after a served call", m_errno);
	REQUIRE(m && z && a);
	EXPECT(hw_mc_boot_owns(m) && hw_mc_boot_owns(z) && hw_mc_boot_owns(a), "from the arena");
	EXPECT(((uintptr_t)a & 63) == 0, "aligned_alloc(64) %p", (void *)a);
	bool zero = true;
	for (size_t i = 0; i < 300; i++)
		zero &= z[i] == 0;
	EXPECT(zero, "calloc's block is zero");
	EXPECT(hw_malloc_usable_size(m) == 100, "usable %zu", hw_malloc_usable_size(m));
	memset(m, 5, 100);
	unsigned char *moved = hw_realloc(m, 5000);
	REQUIRE(moved);
	EXPECT(!hw_mc_boot_owns(moved) && moved[0] == 5 && moved[99] == 5, "realloc moved it out");
	hw_free(moved);
	hw_free(z);
	hw_free(a);
	hw_free(after);
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	EXPECT(st.errors == 0, "%llu reports", (unsigned long long)st.errors);
	hw_mc_reset(NULL);
	wrap_close(&w);
}

HW_TEST_MAIN(T(test_calls_during_start))

/* classes_test.c: the size classes (src/malloc/classes.c), exhaustively.
 *
 * Checks MC1 (rounding waste below 1/8 for every size from 128 B to the
 * small maximum, below 1/16 from 1 KiB, and page rounding keeps it below 1/8 above it), MC2 (span
 * tail waste at most 1/8), CL1 (mc_class_of is the smallest fitting class
 * for every size) and CL2 (the division magic is exact at every offset of
 * every span).
 */
#include "check.h"
#include "malloc_internal.h"

static void test_class_of_is_smallest_fit(void)
{
	hw_mc_classes_init();
	unsigned bad = 0;
	for (size_t n = 0; n <= MC_SMALL_MAX; n++) {
		unsigned c = mc_class_of(n);
		bool ok = c < MC_NCLASSES && hw_mc_classes[c].size >= n &&
			  (c == 0 || hw_mc_classes[c - 1].size < n);
		if (!ok && bad++ < 5)
			EXPECT(ok, "size %zu -> class %u (%u bytes)", n, c,
			       c < MC_NCLASSES ? hw_mc_classes[c].size : 0);
	}
	EXPECT(bad == 0, "%u sizes map to the wrong class", bad);
}

/* The largest share of its slot a request of lo to hi bytes wastes, and
 * (in *at) the first request that wastes it. */
static double worst_waste(size_t lo, size_t hi, size_t *at)
{
	double worst = 0;
	for (size_t n = lo; n <= hi; n++) {
		uint32_t slot = hw_mc_classes[mc_class_of(n)].size;
		double w = (double)(slot - n) / (double)slot;
		if (w > worst) {
			worst = w;
			*at = n;
		}
	}
	return worst;
}

static void test_rounding_waste_under_one_eighth(void)
{
	hw_mc_classes_init();
	size_t worst_n = 0;
	double worst = worst_waste(128, MC_SMALL_MAX, &worst_n);
	EXPECT(worst <= 0.125, "size %zu wastes %.4f of its slot", worst_n, worst);
	/* MC1: from 1 KiB, 16 classes per doubling. */
	worst = worst_waste(1025, MC_SMALL_MAX, &worst_n);
	EXPECT(worst < 0.0625, "size %zu wastes %.4f of its slot", worst_n, worst);
	/* Above the small maximum a request is rounded to whole pages. */
	worst = 0;
	for (size_t n = MC_SMALL_MAX + 1; n <= 4 * MC_SMALL_MAX; n++) {
		size_t run = (n + MC_PAGE - 1) / MC_PAGE * MC_PAGE;
		double w = (double)(run - n) / (double)run;
		if (w > worst) {
			worst = w;
			worst_n = n;
		}
	}
	EXPECT(worst <= 0.125, "large size %zu wastes %.4f of its run", worst_n, worst);
}

static void test_classes_shape(void)
{
	hw_mc_classes_init();
	for (unsigned c = 0; c < MC_NCLASSES; c++) {
		const mc_class *k = &hw_mc_classes[c];
		EXPECT(k->size % 16 == 0, "class %u size %u", c, k->size);
		if (c)
			EXPECT(k->size > hw_mc_classes[c - 1].size, "class %u not increasing", c);
		size_t span = (size_t)k->npages * MC_PAGE;
		EXPECT(k->nobjs == span / k->size && k->nobjs >= 1, "class %u nobjs", c);
		EXPECT((span % k->size) * 8 <= span, "class %u (%u B): tail %zu of %zu", c, k->size,
		       span % k->size, span);
		EXPECT(k->cap >= k->batch && k->batch >= 1, "class %u batch", c);
		/* What a full bin pins (classes.c): about 4 KiB of slots, one
		 * slot above 1 KiB. */
		EXPECT(k->size > 1024 ? k->cap == 1 : (size_t)k->cap * k->size <= 4096,
		       "class %u (%u B): a bin of %u slots", c, k->size, k->cap);
	}
	EXPECT(hw_mc_classes[MC_NCLASSES - 1].size == MC_SMALL_MAX, "last class");
}

static void test_division_magic_exact(void)
{
	hw_mc_classes_init();
	unsigned bad = 0;
	for (unsigned c = 0; c < MC_NCLASSES; c++) {
		const mc_class *k = &hw_mc_classes[c];
		mc_span s = {.size = k->size, .magic = k->magic};
		for (size_t off = 0; off < (size_t)k->nobjs * k->size; off++)
			if (mc_slot_index(&s, off) != off / k->size && bad++ < 5)
				EXPECT(false, "class %u offset %zu", c, off);
	}
	EXPECT(bad == 0, "%u inexact divisions", bad);
}

HW_TEST_MAIN(T(test_class_of_is_smallest_fit), T(test_rounding_waste_under_one_eighth),
	     T(test_classes_shape), T(test_division_magic_exact))

/* classes.c: the size classes and the size-to-class table.
 *
 * Owns: hw_mc_classes (slot size, span pages, slots per span, division magic,
 * thread-cache batch and cap, span record size) and the lookup table
 * behind mc_class_of (4 KiB, one entry per 16 bytes up to MC_SMALL_MAX, so
 * the fast path makes one load and no size test beyond its range check).
 *
 * Invariants (malloc_internal.h MC1, MC2, and):
 *   CL1. mc_class_of(n) is the smallest class whose slot holds n bytes, for
 *        every n <= MC_SMALL_MAX (tests/malloc/classes_test.c checks every n).
 *   CL2. (off * magic) >> MC_MAGIC_SHIFT == off / size for every offset off inside a
 *        span (checked here for each slot's first and last byte, and
 *        exhaustively by the test).
 *   CL3. The tables are a pure function of the constants: filling them twice
 *        writes the same values, so a second call is harmless.
 *
 * Why these classes: 16-byte steps to 256 keep malloc's 16-byte alignment
 * and the small sizes programs use most exact; 8 classes per doubling above
 * (Go's size/8 spacing) bound rounding waste by 1/9 of the slot, under the
 * 1/8 target, where 4 per doubling would waste up to 1/5 (a 129-byte request
 * in a 160-byte slot). From 1 KiB, where a slot's waste is many bytes, 16
 * per doubling halve it: sqlite's page cache keeps tens of thousands of
 * 1032-byte objects live, 11.6% over their size in 1152-byte slots and 5.4%
 * in 1088-byte ones; realprog.sh's sqlite peaked at 1.13x glibc's RSS with
 * 8 per doubling, 1.10x with 16.
 *
 * Locking: none; the tables are filled under the init lock, before the
 * ready flag that publishes them.
 */
#include "malloc_internal.h"

mc_class hw_mc_classes[MC_NCLASSES];
uint8_t hw_mc_lut[MC_SMALL_MAX / 16 + 1];
static size_t cache_slots;

static uint32_t class_size(unsigned c)
{
	if (c < 16)
		return 16u * (c + 1);
	if (c < 32) {
		unsigned k = (c - 16) / 8, j = (c - 16) % 8; /* doubling k from 256 */
		uint32_t base = 256u << k;
		return base + (base / 8) * (j + 1);
	}
	unsigned k = (c - 32) / 16, j = (c - 32) % 16; /* doubling k from 1024 */
	uint32_t base = 1024u << k;
	return base + (base / 16) * (j + 1);
}

static uint16_t span_pages(uint32_t size)
{
	size_t min_bytes = hw_min((size_t)size * 8, 65536);
	size_t np = (min_bytes + MC_PAGE - 1) / MC_PAGE;
	while (((np * MC_PAGE) % size) * 8 > np * MC_PAGE) /* MC2 */
		np++;
	return (uint16_t)np;
}

void hw_mc_classes_init(void)
{
	size_t slots = 0;
	for (unsigned c = 0; c < MC_NCLASSES; c++) {
		mc_class *k = &hw_mc_classes[c];
		k->size = class_size(c);
		k->npages = span_pages(k->size);
		HW_CHECK(k->npages <= MC_SPAN_MAX_PAGES,
			 "malloc: a span has more pages than its release mask holds");
		k->nobjs = (uint16_t)(k->npages * MC_PAGE / k->size);
		HW_CHECK(k->nobjs <= MC_MAX_SLOTS,
			 "malloc: a span has more slots than its freemap holds");
		k->magic = (((uint64_t)1 << MC_MAGIC_SHIFT) - 1) / k->size + 1;
		/* A batch is about 2 KiB of slots (1 to 16): a refill or flush
		 * takes the class lock once per batch, and a bin holds at most
		 * two batches (CA4: fewer until the thread shows it needs
		 * them). What a cache holds costs more than its bytes: each
		 * cached slot keeps its whole span in use (MC5), and the slots
		 * a cache keeps lie in as many spans. With 8 KiB batches,
		 * realprog's cxx-mt (8 threads, objects to 3000 B) kept 427
		 * spans (4.3 MiB) for about 1 MiB live, and peaked at 1.28x
		 * glibc's RSS; with 2 KiB, 1.06x, at the same CPU time (the
		 * per-processor arenas, span.c SP8, make a refill cheap). */
		size_t batch = hw_max(1, hw_min(16, 2048 / k->size));
		k->batch = (uint16_t)batch;
		/* Above 1 KiB a bin holds one slot. Those classes are dense
		 * (16 per doubling) and their spans hold 8 to 16 slots, so a
		 * thread that uses many of them pins a span per class with
		 * one slot each, and a second slot per bin doubles what the
		 * caches keep (glibc's tcache keeps none above 1032 bytes).
		 * realprog's cxx-mt (8 threads, objects to 3000 B): peak RSS
		 * 1.113 -> 1.065x glibc's, CPU 0.917 -> 0.929x (11
		 * alternated rounds); sqlite's 4368-byte page-cache objects
		 * made 1.5% more central calls and no slower run. */
		k->cap = (uint16_t)(k->size > 1024 ? 1 : 2 * batch);
		slots += k->cap;
		/* The record: header, state per slot (MC4, MC8). */
		size_t rec = sizeof(mc_span) + (size_t)k->nobjs * sizeof(mc_state);
		k->rec_bytes = (uint32_t)hw_align_up(rec, 64);
		/* MC9: a debug record per slot after the state entries. */
		rec = mc_dbg_offset(k->nobjs) + (size_t)k->nobjs * sizeof(mc_dbg_obj);
		k->rec_bytes_dbg = (uint32_t)hw_align_up(rec, 64);
		HW_CHECK(k->rec_bytes_dbg <= MC_META_MAX,
			 "malloc: a span record is larger than the metadata allocator's largest");
		/* CL2 at each slot's edges. */
		for (size_t i = 0; i < k->nobjs; i++) {
			size_t lo = i * k->size, hi = lo + k->size - 1;
			HW_CHECK(((uint64_t)lo * k->magic) >> MC_MAGIC_SHIFT == i &&
					 ((uint64_t)hi * k->magic) >> MC_MAGIC_SHIFT == i,
				 "malloc: class division magic is inexact");
		}
	}
	HW_CHECK(class_size(MC_NCLASSES - 1) == MC_SMALL_MAX, "malloc: class table size");
	unsigned c = 0;
	for (size_t i = 0; i < sizeof hw_mc_lut; i++) {
		while (hw_mc_classes[c].size < i * 16)
			c++;
		hw_mc_lut[i] = (uint8_t)c;
	}
	cache_slots = slots;
}

size_t hw_mc_cache_slots(void) { return cache_slots; }

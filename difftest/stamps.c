/* stamps.c: the contents stamps of live objects.
 *
 * Owns: where a live object's stamps sit, their values (from the object's
 * salt), writing them at allocation, and checking them at free and at
 * verify ops, and that a run handed out as zeroed reads zero.
 *
 * Invariants:
 *   ST1. Live objects carry stamps (a word at the start of their pages,
 *        all of them up to STAMPS pages, STAMPS spread pages beyond, and the
 *        run's last word), checked at free and at verify ops; a zeroed run
 *        reads zero over its first 256 bytes and at those places before it
 *        is stamped. Guard pages and pages released inside the run carry
 *        none (their contents are gone, and a read traps on the simulator);
 *        pages unguarded or reused are stamped again.
 *
 * Locking: none; one run at a time (driver.h).
 */
#include "driver_internal.h"

static uint64_t stamp_value(const hw_model_obj *o, size_t j)
{
	return hw_harness_mix64(o->salt + j) | 1;
}

/* ---- contents (ST1) ------------------------------------------------------------- */

/* Stamps: one word at the start of a heap page (the heap moves and
 * releases whole pages), on every page of runs up to STAMPS pages and on
 * STAMPS evenly spread pages (and the last) of longer ones, so a run costs
 * a bounded number of page faults; plus the run's last word, which catches
 * a run cut short. Pages without a stamp are still compared page by page
 * (state) and, on the simulator, trap if the heap releases them in use. */
bool hw_drv_stamped(size_t j, size_t n)
{
	return n <= STAMPS || j % ((n + STAMPS - 1) / STAMPS) == 0 || j == n - 1;
}

static uint64_t *tail_word(const driver *d, const hw_model_obj *o)
{
	return (uint64_t *)(o->addr + o->npages * d->P - 8);
}

/* Writes the stamps. On a zeroed run each is an exchange, so the word it
 * replaces is checked to be zero too, with one write fault per page where a
 * read before the write would take two (the zero page, then a copy). */
bool hw_drv_stamp(driver *d, const hw_model_obj *o)
{
	for (size_t j = 0; j <= o->npages; j++) {
		if (j < o->npages && !hw_drv_stamped(j, o->npages))
			continue;
		uint64_t *w = j < o->npages ? (uint64_t *)(o->addr + j * d->P) : tail_word(d, o);
		uint64_t v = j < o->npages ? stamp_value(o, j) : ~stamp_value(o, 0);
		if (!o->zeroed) {
			/* Its old contents are junk (Memcheck: undefined). */
			*(volatile uint64_t *)w = v;
			continue;
		}
		uint64_t old = __atomic_exchange_n(w, v, __ATOMIC_RELAXED);
		if (old != 0) {
			hw_drv_fail(d,
				    "p%u (%p, %zu pages) was handed out as zeroed but reads %#llx "
				    "at %p",
				    (unsigned)o->id, (void *)o->addr, o->npages,
				    (unsigned long long)old, (const void *)w);
			return false;
		}
	}
	return true;
}

/* Whether page j of o is one of its guard pages or released inside it
 * (the model's view): no contents to write or check. */
static bool hole_page(const driver *d, size_t first, size_t j)
{
	return hw_mp_hole(d->m.page[first + j]);
}

void hw_drv_restamp(driver *d, const hw_model_obj *o, size_t first, size_t n)
{
	size_t at = hw_model_index(&d->m, o->addr);
	for (size_t j = first; j < first + n; j++) {
		if (hole_page(d, at, j))
			continue;
		if (hw_drv_stamped(j, o->npages))
			*(volatile uint64_t *)(o->addr + j * d->P) = stamp_value(o, j);
		if (j == o->npages - 1)
			*(volatile uint64_t *)tail_word(d, o) = ~stamp_value(o, 0);
	}
}

bool hw_drv_check_stamps(driver *d, const hw_model_obj *o, const char *when)
{
	return hw_drv_check_stamps_upto(d, o, o->npages, when);
}

bool hw_drv_check_stamps_upto(driver *d, const hw_model_obj *o, size_t upto, const char *when)
{
	size_t first = hw_model_index(&d->m, o->addr);
	for (size_t j = 0; j <= o->npages; j++) {
		if (j < o->npages && (j >= upto || !hw_drv_stamped(j, o->npages)))
			continue;
		if (j == o->npages && upto < o->npages)
			break;
		if (hole_page(d, first, j < o->npages ? j : o->npages - 1))
			continue;
		const volatile uint64_t *w = j < o->npages ? (uint64_t *)(o->addr + j * d->P)
							   : tail_word(d, o);
		uint64_t want = j < o->npages ? stamp_value(o, j) : ~stamp_value(o, 0);
		if (*w != want) {
			hw_drv_fail(d,
				    "contents of p%u (%p, %zu pages) changed %s at %p: read %#llx, "
				    "wrote %#llx",
				    (unsigned)o->id, (void *)o->addr, o->npages, when,
				    (const void *)w, (unsigned long long)*w,
				    (unsigned long long)want);
			return false;
		}
	}
	return true;
}

/* A zeroed run reads zero over its first 256 bytes, and (stamp) at the
 * stamp places, where any earlier object left a non-zero stamp. The first
 * word is a stamp place. */
bool hw_drv_check_zero(driver *d, const hw_model_obj *o)
{
	const volatile uint64_t *first = (const uint64_t *)o->addr;
	for (size_t i = 1; i < 32; i++) {
		if (first[i] != 0) {
			hw_drv_fail(d,
				    "p%u (%p, %zu pages) was handed out as zeroed but reads %#llx "
				    "at %p",
				    (unsigned)o->id, (void *)o->addr, o->npages,
				    (unsigned long long)first[i], (const void *)&first[i]);
			return false;
		}
	}
	return true;
}

/* owned.c: the set of address ranges heapward holds from the OS (owned.h).
 *
 * Owns: the set, a sorted array of ranges (OW2), and its incomplete flag
 * (OW3). Invariants OW1-OW3 are owned.h's.
 *
 * Locking: own_lock guards the array, its count and the flag.
 */
#include "owned.h"

#include "base.h"
#include "thread.h"

#include <string.h>

/* 128 KiB of zeros until used: far more ranges than a process holds (a
 * heap's arenas, 64 MiB each, and the layer's metadata chunks). */
#define OW_MAX 8192

typedef struct ow_range {
	uintptr_t lo, hi;
} ow_range;

static hw_mutex own_lock = HW_MUTEX_INIT;
static ow_range set[OW_MAX];
static size_t count;
static bool incomplete;

/* The index of the first range whose end is above a. */
static size_t first_above(uintptr_t a)
{
	size_t lo = 0, hi = count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set[mid].hi <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool insert_at(size_t i, uintptr_t lo, uintptr_t hi)
{
	if (count == OW_MAX) {
		incomplete = true;
		return false;
	}
	memmove(&set[i + 1], &set[i], (count - i) * sizeof set[0]);
	set[i] = (ow_range){lo, hi};
	count++;
	return true;
}

static void remove_at(size_t i)
{
	memmove(&set[i], &set[i + 1], (count - i - 1) * sizeof set[0]);
	count--;
}

void hw_platform_own(uintptr_t lo, size_t n)
{
	uintptr_t hi = lo + n;
	hw_mutex_lock(&own_lock);
	/* The ranges [i, j) touch [lo, hi) or overlap it (a range the set kept
	 * after its owner unmapped it some other way): one range takes them. */
	size_t i = first_above(lo - (lo > 0)), j = i;
	for (; j < count && set[j].lo <= hi; j++) {
		lo = hw_min(lo, set[j].lo);
		hi = hw_max(hi, set[j].hi);
	}
	if (j == i) {
		(void)insert_at(i, lo, hi);
	} else {
		set[i] = (ow_range){lo, hi};
		memmove(&set[i + 1], &set[j], (count - j) * sizeof set[0]);
		count -= j - i - 1;
	}
	hw_mutex_unlock(&own_lock);
}

void hw_platform_disown(uintptr_t lo, size_t n)
{
	uintptr_t hi = lo + n;
	hw_mutex_lock(&own_lock);
	/* A release covers part of one range, or of several when the set
	 * merged what separate calls made. */
	for (size_t i = first_above(lo); i < count && set[i].lo < hi;) {
		ow_range r = set[i];
		if (r.lo >= lo && r.hi <= hi) {
			remove_at(i);
			continue;
		}
		if (r.lo < lo && r.hi > hi) {
			set[i].hi = lo;
			if (!insert_at(i + 1, hi, r.hi))
				set[i].hi = r.hi; /* OW3: kept whole, the set incomplete */
			break;
		}
		if (r.lo < lo)
			set[i].hi = lo;
		else
			set[i].lo = hi;
		i++;
	}
	hw_mutex_unlock(&own_lock);
}

int hw_platform_owned(hw_stretch_fn fn, void *arg)
{
	hw_mutex_lock(&own_lock);
	int rc = incomplete ? -1 : 0;
	for (size_t i = 0; rc == 0 && i < count; i++)
		fn(arg, set[i].lo, set[i].hi);
	hw_mutex_unlock(&own_lock);
	return rc;
}

void hw_platform_owned_lock(void) { hw_mutex_lock(&own_lock); }
void hw_platform_owned_unlock(void) { hw_mutex_unlock(&own_lock); }

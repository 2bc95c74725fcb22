/* quarantine.h: a bounded FIFO of freed objects, held back before their
 * memory is reused (debug mode, issue 13).
 *
 * Owns: the FIFO's interface. One implementation serves every kind of
 * freed object the layer holds back: each entry says where the object is,
 * how many bytes it holds of the bound, and what to do with it when it
 * leaves (its owner's eviction function: check it, report damage, give its
 * memory back). The FIFO itself knows nothing of spans, patterns or
 * reports.
 *
 * Invariants: QU1-QU4 of quarantine.c.
 *
 * Locking: one lock per FIFO, a leaf: nothing else is taken while it is
 * held (eviction functions run after it is released), and the fork hooks
 * hold it (malloc_internal.h's order).
 */
#ifndef HW_MALLOC_QUARANTINE_H
#define HW_MALLOC_QUARANTINE_H

#include "base.h"
#include "platform.h"
#include "thread.h"

typedef struct mc_qentry mc_qentry;
/* Called once for each entry that leaves the FIFO (evicted by newer ones,
 * too large to enter, or drained), without the FIFO's lock held. */
typedef void (*mc_q_evict_fn)(const mc_qentry *e);

struct mc_qentry {
	void *p;             /* the object's start */
	size_t bytes;        /* what it holds of the bound (its slot, its pages) */
	size_t size;         /* the owner's: e.g. its requested bytes */
	mc_q_evict_fn evict; /* what to do when it leaves */
};

typedef struct mc_quarantine {
	hw_mutex lock;
	hw_platform *pf;
	mc_qentry *ring; /* cap entries, from the platform */
	size_t cap, head, n;
	size_t bytes, max_bytes;
	uint64_t evicted; /* entries that left the ring, ever */
} mc_quarantine;

/* Sets q up to hold at most max_bytes bytes and max_count entries (its
 * ring, max_count * 32 bytes, comes from pf, made Ready; pages the ring
 * never reaches cost address space only on Linux). 0, or ENOMEM with q
 * holding nothing (every entry then leaves at once). max_count 0 or
 * max_bytes 0: a FIFO that holds nothing. */
int hw_mc_quarantine_init(mc_quarantine *q, hw_platform *pf, size_t max_bytes, size_t max_count);
/* Gives the ring back to its platform and forgets every entry without
 * calling its eviction function (the objects died with their heap:
 * hw_mc_reset). q is then as after a failed init. */
void hw_mc_quarantine_reset(mc_quarantine *q);
/* Adds *e, newest. First the oldest entries leave, in order, while the
 * FIFO is full (max_count) or adding e would pass max_bytes; an entry of
 * more than max_bytes never enters (it leaves at once, after them). */
void hw_mc_quarantine_put(mc_quarantine *q, const mc_qentry *e);
/* Every entry held when it is called leaves, oldest first (entries other
 * threads put meanwhile may stay: the call ends). */
void hw_mc_quarantine_drain(mc_quarantine *q);
/* Entries held, their bytes, entries that left the ring ever (not those too
 * large to enter). */
void hw_mc_quarantine_stats(mc_quarantine *q, size_t *count, size_t *bytes, uint64_t *evicted);
/* The lock (fork hooks). */
void hw_mc_quarantine_lock(mc_quarantine *q);
void hw_mc_quarantine_unlock(mc_quarantine *q);

#endif

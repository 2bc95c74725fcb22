/* quarantine.c: the bounded FIFO of freed objects (quarantine.h).
 *
 * Owns: the ring of entries, its bounds, and the order in which entries
 * leave it. What an entry's leaving means (a pattern check, a report, the
 * memory given back) is its eviction function's, the owner's.
 *
 * Invariants:
 *   QU1. Bounds: outside a call, the FIFO holds at most cap entries and at
 *        most max_bytes bytes (the sum of its entries' bytes).
 *   QU2. Order: entries leave in the order they were put (oldest first),
 *        whatever makes them leave; an entry too large to enter (bytes >
 *        max_bytes, or a FIFO that holds nothing) leaves right after the
 *        older entries its put made leave.
 *   QU3. Every entry put leaves exactly once (evicted, drained or too
 *        large), by one eviction call, unless hw_mc_quarantine_reset
 *        forgets it.
 *   QU4. No eviction function runs with the lock held: entries are taken
 *        out under it, at most QU_BATCH at a time, and evicted after it is
 *        released. So an eviction function may take any lock of the
 *        layer, free, or report; and a put never waits for another
 *        thread's eviction.
 *
 * Locking: q->lock guards every field but pf; a leaf (quarantine.h).
 */
#include "quarantine.h"

#include <errno.h>
#include <string.h>

#define QU_BATCH 16

static size_t ring_bytes(const mc_quarantine *q)
{
	return hw_align_up(q->cap * sizeof(mc_qentry), q->pf->caps.page_size);
}

int hw_mc_quarantine_init(mc_quarantine *q, hw_platform *pf, size_t max_bytes, size_t max_count)
{
	memset(q, 0, sizeof *q);
	hw_mutex_init(&q->lock);
	q->pf = pf;
	if (max_count == 0 || max_bytes == 0)
		return 0;
	void *ring;
	if (max_count > SIZE_MAX / 2 / sizeof(mc_qentry) ||
	    hw_sys_alloc(pf, hw_align_up(max_count * sizeof(mc_qentry), pf->caps.page_size),
			 &ring) != 0)
		return ENOMEM;
	q->ring = ring;
	q->cap = max_count;
	q->max_bytes = max_bytes;
	return 0;
}

void hw_mc_quarantine_reset(mc_quarantine *q)
{
	if (q->ring)
		hw_sys_release(q->pf, q->ring, ring_bytes(q));
	hw_platform *pf = q->pf;
	memset(q, 0, sizeof *q);
	hw_mutex_init(&q->lock);
	q->pf = pf;
}

/* Under the lock: the oldest entry leaves the ring. */
static mc_qentry pop(mc_quarantine *q)
{
	mc_qentry e = q->ring[q->head];
	q->head = q->head + 1 == q->cap ? 0 : q->head + 1;
	q->n--;
	q->bytes -= e.bytes;
	q->evicted++;
	return e;
}

/* Without the lock (QU4). */
static void evict(const mc_qentry *out, size_t k)
{
	for (size_t i = 0; i < k; i++)
		// cppcheck-suppress uninitvar ; out[0..k) were written by pop
		out[i].evict(&out[i]);
}

void hw_mc_quarantine_put(mc_quarantine *q, const mc_qentry *e)
{
	mc_qentry out[QU_BATCH];
	for (;;) {
		size_t k = 0;
		hw_mutex_lock(&q->lock);
		bool fits = q->cap > 0 && e->bytes <= q->max_bytes;
		size_t adding = fits ? e->bytes : 0;
		while (k < QU_BATCH && q->n > 0 &&
		       (q->n == q->cap || q->bytes + adding > q->max_bytes))
			out[k++] = pop(q);
		/* The loop stopped on its condition, not on a full batch: e has
		 * room now (QU1), or never will. */
		bool room = k < QU_BATCH;
		if (room && fits) {
			size_t tail = q->head + q->n;
			q->ring[tail >= q->cap ? tail - q->cap : tail] = *e;
			q->n++;
			q->bytes += e->bytes;
		}
		hw_mutex_unlock(&q->lock);
		evict(out, k);
		if (room) {
			if (!fits)
				e->evict(e);
			return;
		}
	}
}

void hw_mc_quarantine_drain(mc_quarantine *q)
{
	mc_qentry out[QU_BATCH];
	size_t k;
	hw_mutex_lock(&q->lock);
	uint64_t until = q->evicted + q->n;
	hw_mutex_unlock(&q->lock);
	do {
		k = 0;
		hw_mutex_lock(&q->lock);
		while (k < QU_BATCH && q->n > 0 && q->evicted < until)
			out[k++] = pop(q);
		hw_mutex_unlock(&q->lock);
		evict(out, k);
	} while (k > 0);
}

void hw_mc_quarantine_stats(mc_quarantine *q, size_t *count, size_t *bytes, uint64_t *evicted)
{
	hw_mutex_lock(&q->lock);
	*count = q->n;
	*bytes = q->bytes;
	*evicted = q->evicted;
	hw_mutex_unlock(&q->lock);
}

void hw_mc_quarantine_lock(mc_quarantine *q) { hw_mutex_lock(&q->lock); }
void hw_mc_quarantine_unlock(mc_quarantine *q) { hw_mutex_unlock(&q->lock); }

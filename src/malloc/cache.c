/* cache.c: the per-thread caches.
 *
 * Owns: each thread's mc_cache (one bin of free slots per class, as an array
 * stack: a cached slot's memory is never written, so a cached slot holds no
 * link a stray write could corrupt), its creation on the thread's first
 * call, its flush and recycling at thread exit, and the recycled records.
 *
 * Remote frees. A slot freed by a thread other than the one that allocated
 * it goes into the freeing thread's cache like any other (as jemalloc,
 * tcmalloc and Scudo do), and returns to its span when that cache flushes a
 * batch under the class lock. One mechanism for local and remote frees, no
 * owner per span, so a thread's exit abandons nothing but its cache (which
 * it flushes); the price is a lock per batch in a producer/consumer pair,
 * where an owner-side CAS list (mimalloc) pays an atomic per object
 * (bench/malloc_bench.c measures the pair).
 *
 * Invariants (MC7, and):
 *   CA1. mc_tls_cache is NULL until the thread's first allocation or
 *        free, then its cache, then &mc_dead_cache once its exit hook has
 *        flushed it (or when no cache could be made); later calls from that
 *        thread take the locked fallback (one slot per class-lock round
 *        trip). mc_tls equals mc_tls_cache, except that it stays NULL when
 *        mc_slow_only is set (malloc_internal.h).
 *   CA2. The exit hook re-arms itself until the round before the last
 *        (T7), so frees made by other libraries' destructors in earlier
 *        rounds still find the cache; that round flushes it, and the last
 *        round's callers take the fallback. Not the last round itself:
 *        ThreadSanitizer tears its own thread state down in the last
 *        round from an older key, which runs before ours.
 *   CA3. A cache record is never freed: it goes on the recycled list for
 *        the next thread (records come from the platform, not the heap).
 *   CA4. A bin's cap starts at min(MC_CAP_START, its class's cap) and
 *        grows by one at each refill (the bin ran empty) and each free
 *        into a full bin, up to the class's cap (two batches), which the
 *        slot array is sized for; a refill takes min(cap, batch) slots. So
 *        a class a thread uses now and then keeps a slot or two in its
 *        cache, not two batches, and only the classes it keeps coming
 *        back for grow their bins (cache memory pins spans: classes.c).
 *
 * Locking: a cache is its thread's alone (no lock). cache_lock guards the
 * recycled list; it is taken alone, never with another lock of the layer
 * (so the fork hooks take it first).
 */
#include "malloc_internal.h"

#include <errno.h>
#include <string.h>

HW_THREAD_LOCAL mc_cache *mc_tls_cache;
HW_THREAD_LOCAL mc_cache *mc_tls;
bool mc_slow_only;
mc_cache mc_dead_cache;
uint64_t mc_threads_live;

static hw_thread_key exit_key;
static hw_mutex cache_lock = HW_MUTEX_INIT;
static mc_cache *recycled; /* under cache_lock */
static size_t record_bytes;

static void cache_exit(void *v);

static mc_cache *set_tls(mc_cache *c)
{
	mc_tls_cache = c;
	mc_tls = mc_slow_only ? NULL : c;
	return c;
}

int hw_mc_cache_init(void)
{
	record_bytes = hw_align_up(sizeof(mc_cache) + hw_mc_cache_slots() * sizeof(mc_slot),
				   mc_g.pf->caps.page_size);
	/* Once per process: a restarted layer (hw_mc_reset) keeps its key. */
	static bool key_made;
	if (!key_made && hw_thread_key_create(&exit_key, cache_exit) != 0)
		return ENOMEM;
	key_made = true;
	return 0;
}

mc_cache *hw_mc_cache_create(void)
{
	mc_cache *c;
	hw_mutex_lock(&cache_lock);
	c = recycled;
	if (c)
		recycled = c->next_free;
	hw_mutex_unlock(&cache_lock);
	if (!c) {
		void *p;
		if (hw_sys_alloc(mc_g.pf, record_bytes, &p) != 0)
			return set_tls(&mc_dead_cache);
		c = p;
	}
	memset(c, 0, sizeof *c);
	mc_slot *slot = c->slots;
	for (unsigned k = 0; k < MC_NCLASSES; k++) {
		c->bin[k].slot = slot;
		c->bin[k].cap = hw_min(mc_classes[k].cap, MC_CAP_START);
		c->bin[k].size = mc_classes[k].size;
		slot += mc_classes[k].cap;
	}
	if (hw_thread_key_set(exit_key, c) != 0) {
		/* No exit hook: a cache would leak its slots at exit. */
		hw_mutex_lock(&cache_lock);
		c->next_free = recycled;
		recycled = c;
		hw_mutex_unlock(&cache_lock);
		return set_tls(&mc_dead_cache);
	}
	__atomic_fetch_add(&mc_threads_live, 1, __ATOMIC_RELAXED);
	return set_tls(c);
}

void hw_mc_cache_flush(mc_cache *c)
{
	for (unsigned k = 0; k < MC_NCLASSES; k++) {
		mc_bin *b = &c->bin[k];
		if (b->n) {
			hw_mc_central_give(k, b->slot, b->n);
			b->n = 0;
		}
	}
}

static void cache_exit(void *v)
{
	mc_cache *c = v;
	int saved = errno;
	/* "+ 1 <", not "< ROUNDS - 1": with one round (Windows) that would be
	 * an unsigned compare against 0. */
	if (++c->exit_rounds + 1 < HW_THREAD_EXIT_ROUNDS &&
	    hw_thread_key_set(exit_key, c) == 0) {
		errno = saved;
		return; /* CA2 */
	}
	set_tls(&mc_dead_cache);
	hw_mc_cache_flush(c);
	hw_mutex_lock(&cache_lock);
	c->next_free = recycled;
	recycled = c;
	hw_mutex_unlock(&cache_lock);
	__atomic_fetch_sub(&mc_threads_live, 1, __ATOMIC_RELAXED);
	errno = saved;
}

void hw_mc_cache_reset(void)
{
	mc_cache *c = mc_tls_cache;
	set_tls(NULL);
	hw_mutex_lock(&cache_lock);
	if (c && c != &mc_dead_cache) {
		/* Disarmed: the thread's exit must not flush a released record. */
		(void)hw_thread_key_set(exit_key, NULL);
		c->next_free = recycled;
		recycled = c;
		__atomic_fetch_sub(&mc_threads_live, 1, __ATOMIC_RELAXED);
	}
	while (recycled) {
		mc_cache *next = recycled->next_free;
		hw_sys_release(mc_g.pf, recycled, record_bytes);
		recycled = next;
	}
	hw_mutex_unlock(&cache_lock);
}

void hw_mc_cache_lock(void) { hw_mutex_lock(&cache_lock); }
void hw_mc_cache_unlock(void) { hw_mutex_unlock(&cache_lock); }

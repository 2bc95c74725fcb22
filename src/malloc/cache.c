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
 *   CA1. hw_mc_tls_cache is NULL until the thread's first allocation or
 *        free, then its cache, then &hw_mc_dead_cache once its exit hook has
 *        flushed it (or when no cache could be made); later calls from that
 *        thread take the locked fallback (one slot per class-lock round
 *        trip). hw_mc_tls equals hw_mc_tls_cache, except that it stays NULL when
 *        hw_mc_slow_only is set (malloc_internal.h).
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
 *        into a full bin, up to the class's cap (two batches; one slot
 *        above 1 KiB), which the slot array is sized for; a refill takes
 *        min(cap, batch) slots. So a class a thread uses now and then
 *        keeps a slot or two in its cache, not two batches, and only the
 *        classes it keeps coming back for grow their bins (cache memory
 *        pins spans: classes.c).
 *   CA5. Remote drain. A thread that makes no call keeps its cached slots,
 *        and each may pin a span. Every cache from its creation to its
 *        owner's exit (or hw_mc_cache_reset) is on the live list. The
 *        drainer (the scavenger's idle hook, span.c SP4, and
 *        hw_malloc_trim), holding cache_lock: stores drain = 1 in every
 *        live cache but its own; calls hw_process_barrier once; then for
 *        each, loads busy: when set, stores drain = 0 and skips it (its
 *        owner is working, not idle); otherwise gives every bin's slots to
 *        the central lists, puts each bin's cap back to its start (CA4)
 *        and stores drain = 0 (release). The owner touches its bins only
 *        between busy = 1; compiler barrier; load drain (0, else busy = 0
 *        and wait until drain is 0, then again) and busy = 0 (release)
 *        (malloc_internal.h mc_cache_enter). Why no two touch a bin at
 *        once: the barrier (thread.h T9) puts a full fence somewhere in
 *        the owner's instruction stream between the drainer's drain store
 *        and its busy load. If that fence falls before the owner's busy
 *        store, the owner's drain load comes after it and sees 1; if
 *        after its drain load, its busy store is visible to the drainer's
 *        load, which sees 1 (or the 0 of a bracket that has ended, whose
 *        bin writes it then sees); between the two, it orders the store
 *        before the load as a fence would. Where the barrier is
 *        unavailable (hw_mc_drain_on false) no drain flag is ever set and
 *        idle caches are kept.
 *   CA6. Fork: the child has only the forking thread, which was outside
 *        the layer (in fork). Every other thread's cache leaves the live
 *        list in the child (fork_child, cache_lock held) with its slots:
 *        its owner does not exist there, and a busy flag it left set would
 *        never clear, while one it left clear does not say its bins were
 *        consistent when the address space was copied. Those slots are
 *        never handed out in the child (as before drains existed).
 *
 * Locking: a cache's bins are its thread's, and the drainer's while the
 * owner is outside its busy bracket (CA5, no lock on the owner's side).
 * cache_lock guards the recycled list, the live list and the drain
 * counters, and is held through a drain, which takes class locks under it
 * (malloc_internal.h's order); nothing takes it under another lock of the
 * layer, and the fork hooks take it first.
 */
#include "malloc_internal.h"

#include <errno.h>
#include <string.h>

HW_THREAD_LOCAL mc_cache *hw_mc_tls_cache;
HW_THREAD_LOCAL mc_cache *hw_mc_tls;
bool hw_mc_slow_only;
mc_cache hw_mc_dead_cache;
uint64_t hw_mc_threads_live;

bool hw_mc_drain_on;

static hw_thread_key exit_key;
static hw_mutex cache_lock = HW_MUTEX_INIT;
static mc_cache *recycled;        /* under cache_lock */
static mc_cache *live;            /* CA5, under cache_lock */
static uint64_t drained, skipped; /* under cache_lock */
static size_t record_bytes;

static void live_link(mc_cache *c)
{
	c->live_prev = NULL;
	c->live_next = live;
	if (live)
		live->live_prev = c;
	live = c;
}

static void live_unlink(mc_cache *c)
{
	if (c->live_prev)
		c->live_prev->live_next = c->live_next;
	else
		live = c->live_next;
	if (c->live_next)
		c->live_next->live_prev = c->live_prev;
	c->live_prev = c->live_next = NULL;
}

/* Under cache_lock: c (off the live list, its bins empty or abandoned)
 * onto the recycled list (CA3). */
static void recycle_locked(mc_cache *c)
{
	c->next_free = recycled;
	recycled = c;
}

/* CA4: where class k's bin cap starts, and starts again after a drain. */
static uint32_t cap_start(unsigned k)
{
	return hw_min(hw_mc_classes[k].cap, MC_CAP_START);
}

static void cache_exit(void *v);

static mc_cache *set_tls(mc_cache *c)
{
	hw_mc_tls_cache = c;
	hw_mc_tls = hw_mc_slow_only ? NULL : c;
	return c;
}

int hw_mc_cache_init(void)
{
	record_bytes = hw_align_up(sizeof(mc_cache) + hw_mc_cache_slots() * sizeof(mc_slot),
				   hw_mc_g.pf->caps.page_size);
	/* Once per process: a restarted layer (hw_mc_reset) keeps its key. */
	static bool key_made;
	if (!key_made && hw_thread_key_create(&exit_key, cache_exit) != 0)
		return ENOMEM;
	key_made = true;
	/* CA5: registers the barrier now, not in the first drain. */
	hw_mc_drain_on = hw_process_barrier_ready();
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
		if (hw_sys_alloc(hw_mc_g.pf, record_bytes, &p) != 0)
			return set_tls(&hw_mc_dead_cache);
		c = p;
	}
	memset(c, 0, sizeof *c);
	mc_slot *slot = c->slots;
	for (unsigned k = 0; k < MC_NCLASSES; k++) {
		c->bin[k].slot = slot;
		c->bin[k].cap = cap_start(k);
		c->bin[k].size = hw_mc_classes[k].size;
		slot += hw_mc_classes[k].cap;
	}
	if (hw_thread_key_set(exit_key, c) != 0) {
		/* No exit hook: a cache would leak its slots at exit. */
		hw_mutex_lock(&cache_lock);
		recycle_locked(c);
		hw_mutex_unlock(&cache_lock);
		return set_tls(&hw_mc_dead_cache);
	}
	hw_mutex_lock(&cache_lock);
	live_link(c);
	hw_mutex_unlock(&cache_lock);
	__atomic_fetch_add(&hw_mc_threads_live, 1, __ATOMIC_RELAXED);
	return set_tls(c);
}

/* Every bin of c to the central lists, by whoever may touch them now
 * (CA5); the slots moved. */
static size_t flush_bins(mc_cache *c)
{
	size_t n = 0;
	for (unsigned k = 0; k < MC_NCLASSES; k++) {
		mc_bin *b = &c->bin[k];
		if (b->n) {
			hw_mc_central_give(k, b->slot, b->n);
			n += b->n;
			b->n = 0;
		}
	}
	return n;
}

void hw_mc_cache_flush(mc_cache *c)
{
	mc_cache_enter(c);
	flush_bins(c);
	mc_cache_leave(c);
}

void hw_mc_cache_enter_wait(mc_cache *c)
{
	do {
		/* A drain lasts as long as the flush of every live cache: give
		 * the processor to the drainer rather than spin. */
		while (__atomic_load_n(&c->drain, MC_FLAG_LOAD))
			hw_sleep_ns(20000);
	} while (!mc_cache_try_enter(c));
}

size_t hw_mc_cache_drain(mc_cache *self)
{
	if (self == &hw_mc_dead_cache)
		self = NULL;
	size_t n = 0;
	hw_mutex_lock(&cache_lock);
	bool remote = false;
	if (hw_mc_drain_on) {
		for (mc_cache *c = live; c; c = c->live_next)
			if (c != self) {
				__atomic_store_n(&c->drain, 1, MC_FLAG_STORE);
				remote = true;
			}
	}
	/* CA5's one barrier; should it fail after all, no cache is drained. */
	bool fenced = remote && hw_process_barrier();
	for (mc_cache *c = live; remote && c; c = c->live_next) {
		if (c == self)
			continue;
		if (!fenced) {
			/* Nothing ordered: leave it. */
		} else if (__atomic_load_n(&c->busy, MC_FLAG_LOAD)) {
			skipped++;
		} else {
			n += flush_bins(c);
			for (unsigned k = 0; k < MC_NCLASSES; k++)
				c->bin[k].cap = cap_start(k);
			drained++;
		}
		__atomic_store_n(&c->drain, 0, __ATOMIC_RELEASE);
	}
	/* The caller's own: no other drainer while cache_lock is held, and the
	 * caller is not inside a bracket. */
	if (self)
		n += flush_bins(self);
	hw_mutex_unlock(&cache_lock);
	return n;
}

void hw_mc_cache_drain_counts(uint64_t *d, uint64_t *s)
{
	hw_mutex_lock(&cache_lock);
	*d = drained;
	*s = skipped;
	hw_mutex_unlock(&cache_lock);
}

void hw_mc_cache_fork_child(void)
{
	mc_cache *own = hw_mc_tls_cache;
	bool linked = false;
	for (mc_cache *c = live; c; c = c->live_next)
		linked = linked || c == own;
	live = NULL;
	if (linked)
		live_link(own);
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
	set_tls(&hw_mc_dead_cache);
	/* Off the live list first (CA5): a drain in progress ends before the
	 * unlink, and none reaches c after it, so the flush needs no bracket.
	 * The flush takes class locks under cache_lock, as a drain does. */
	hw_mutex_lock(&cache_lock);
	live_unlink(c);
	flush_bins(c);
	recycle_locked(c);
	hw_mutex_unlock(&cache_lock);
	__atomic_fetch_sub(&hw_mc_threads_live, 1, __ATOMIC_RELAXED);
	errno = saved;
}

void hw_mc_cache_reset(void)
{
	mc_cache *c = hw_mc_tls_cache;
	set_tls(NULL);
	hw_mutex_lock(&cache_lock);
	if (c && c != &hw_mc_dead_cache) {
		/* Disarmed: the thread's exit must not flush a released record. */
		(void)hw_thread_key_set(exit_key, NULL);
		live_unlink(c);
		recycle_locked(c);
		__atomic_fetch_sub(&hw_mc_threads_live, 1, __ATOMIC_RELAXED);
	}
	/* hw_mc_reset's precondition: no other thread has a cache. */
	live = NULL;
	drained = skipped = 0;
	while (recycled) {
		mc_cache *next = recycled->next_free;
		hw_sys_release(hw_mc_g.pf, recycled, record_bytes);
		recycled = next;
	}
	hw_mutex_unlock(&cache_lock);
}

void hw_mc_cache_lock(void) { hw_mutex_lock(&cache_lock); }
void hw_mc_cache_unlock(void) { hw_mutex_unlock(&cache_lock); }

/* guard.c: guarded objects: pages of their own against a guard page,
 * faulted and quarantined when freed (guard.h).
 *
 * Owns: the guarded heap (a second private page heap whose page is the OS
 * page, 4 KiB: a small guarded object costs one Ready page and one guard
 * page, 8 KiB of address space and 4 KiB of memory, where the layer's 8 KiB
 * pages would cost twice that), its page map, the policy (guard=all or
 * sample:N, guard_min/guard_max, guard_side, guard_align, seed), the
 * budgets, what a freed guarded object does in the debug mode's one
 * quarantine (debug_quarantine.c's FIFO, under its quarantine_bytes bound:
 * faulted while it is held, its run freed when it leaves), and the
 * counters.
 *
 * Layout of a run (P: the guarded heap's page):
 *   right: [data pages][guard page]; the object ends at the guard, rounded
 *          to its alignment a = max(guard_align, the request's alignment):
 *          start = data end - align_up(n, a) (an alignment above P starts
 *          the object at the run's start instead, the run aligned to it);
 *   left:  [guard pages: max(P, a)][data pages]; the object starts right
 *          after the guard.
 * Every byte of the data pages outside the object holds the pattern
 * (harden.c HD3), checked at free and realloc.
 *
 * Invariants (MC3's page map, MC8 and MC9 hold for the records; and):
 *   GD1. Every page of a guarded run, guard pages included, maps to its
 *        record in gmap while the run is live, quarantined, cached (GD6)
 *        or ready after its cache (GD7; a new ready run, hw_mc_freed_span);
 *        once the run goes back to the heap its pages map to hw_mc_freed_span
 *        until the heap hands them out again.
 *   GD2. A record's live is 1 exactly while it is on the live list (set
 *        under the lock when it joins; a free clears it first, with an
 *        atomic exchange, so of two racing frees one reports); a
 *        quarantined record (live 0, all its pages guard pages) is an
 *        entry of the debug mode's quarantine whose bytes are its data
 *        pages'. live_count/live_bytes (which count allocations in flight
 *        too) are the live ones' number and data pages' bytes (guard pages
 *        not counted).
 *   GD3. live_count <= guard_budget_count and live_bytes <=
 *        guard_budget_bytes: an allocation that would pass one is not
 *        guarded (over_budget counts it; one warning per process, GD9).
 *        Under PROT_NONE guards (no guard regions) each live guarded run
 *        is two mappings, its data and its guard, and the kernel's limit
 *        on them (vm.max_map_count) is the whole process's:
 *        guard_budget_count is held to half of seven eighths of it (28,669
 *        by default), so the program and the layer's own heap keep
 *        mappings to grow with. With guards at the limit, the layer's
 *        next span may need a mapping too, and hw_malloc(16) then fails
 *        with ENOMEM (guarded_test's PROT_NONE child allowed it, and saw
 *        it in one run of two). Freed runs trap whole and merge with their
 *        neighbours' guards (platform/linux.c L8): they add no mapping.
 *        A refused guarded allocation (the heap full or unable to grow,
 *        the OS refusing a guard page) is not guarded either (refused
 *        counts it; one warning, GD9), and leaves nothing behind (GD12
 *        keeps its cost down). So is one whose run the guarded heap's
 *        window could never hold (an alignment past it: hw_heap_fits),
 *        counted but without the warning, which would blame a resource.
 *   GD4. Every page of a freed guarded object's run traps before it
 *        enters the quarantine: the run is sealed (GD10) or its data pages
 *        are guard pages too; when it leaves (evicted, drained at exit)
 *        or cannot enter (the quarantine off or smaller than the object,
 *        or its pages could not be faulted), its run goes back to the
 *        guarded heap (GD6 first), whose free guard pages stay faulted
 *        until reused.
 *   GD6. A run leaving the quarantine (or unable to enter it) with all its
 *        pages trapping (faulted, or sealed: GD10), of a shape a later
 *        object can take (1 to
 *        GD_CACHE_DATA data pages, a one-page guard on either side), is
 *        kept in the cache of its shape, record and all, instead of going
 *        back to the heap: the next guarded object of that shape unfaults
 *        its data pages, or unseals the run (one call for all of them,
 *        GD7), where a new run costs a heap
 *        allocation, an unfault of the whole run and a guard install. A
 *        cached run is freed memory: its pages trap, its record (live 0)
 *        still names the last object for a fault report. The cache holds
 *        runs of at most cache_max bytes in all, guard pages included: the
 *        quarantine's bound (quarantine_bytes), and at least GD_CACHE_RUNS
 *        one-page runs. A faulted run costs only its address space (the
 *        window has room for the cache's) and its record, and the
 *        quarantine empties in bursts: with 256 runs cached, gcc's cc1
 *        took 511,000 of its 944,000 guarded objects' runs new from the
 *        heap (a claim that unfaults the run, then a guard install) while
 *        476,000 others went back to it; with cache_max, 134,000 and
 *        70,000. The rest, and all of them at hw_malloc_trim
 *        (hw_mc_guard_trim), go back to the heap.
 *   GD8. The 8 bytes before a guarded object of operator new (not new[],
 *        MC8's kinds) hold zero instead of the pattern (cookie 1), when
 *        they are in its data pages; checked as zero at free. They are
 *        where operator delete[] reads an array's element count: a
 *        delete[] of such an object then runs no destructor, and frees a
 *        pointer 8 or 16 bytes before the object, which kind.c KD4 reports
 *        as the mismatch it is. With the pattern there, the count read was
 *        a 64-bit random number, and a destructor that touches no memory
 *        ran that many times: the program hung. (A write of zero to those
 *        bytes of such an object goes unseen; a malloc'd object keeps the
 *        pattern, where s[-1] = 0 is a classic underflow.)
 *   GD9. GD3's warnings (the budget spent, an allocation larger than the
 *        whole budget, a guarded allocation refused) wait for a report:
 *        hw_mc_guard_say_pending prints them, once, when the debug mode
 *        reports an error, for that is when it matters that an object may
 *        not have been guarded. A run with no error stays silent, as under
 *        the sanitizers: `heapward run` sets guard=all, programs with more
 *        live objects than the budget are most, and a line on every
 *        process's standard error failed every test that compares a
 *        child's stderr (CPython's test_json, test_subprocess; under
 *        `ulimit -v`, every process of a shell script said its guarded
 *        heap was full). With verbosity >= 1 they are printed at once.
 *   GD5. The sampling and guard_side=random draws come from one
 *        splitmix64 sequence seeded by `seed` (the clock when 0), under
 *        the lock: a single-threaded program's choices repeat with a seed.
 *   GD7. A run of a cached shape is handed out from the ready list of
 *        its shape: runs whose data pages are Ready again and populated (the
 *        platform's populate hint), their guard in place. An allocation that
 *        finds the list empty refills it: up to MC_GUARD_READY_PAGES data
 *        pages' worth of runs, from the cache (GD6: their data pages
 *        unfaulted by one call, hw_heap_unguard_many) and, when the cache
 *        has too few, new runs from the heap, their guard pages faulted by
 *        one call (hw_heap_guard_many: a call per new run was 262 of the 360
 *        madvise calls of `ls` under `heapward run`), all populated by one
 *        call, where each first touch would take a page fault. A ready run
 *        is freed memory that no longer traps: its pages map to its record
 *        (the last object, as in the cache) or, new, to hw_mc_freed_span;
 *        the allocation that takes it maps them to its record.
 *        hw_malloc_trim gives ready runs back to the heap too.
 *   GD10. A freed guarded object's run is sealed (platform.h P13: every
 *        page traps, its memory and contents kept) rather than faulted,
 *        whole, guard pages included, where the platform's seal spans
 *        faulted pages (Linux with guard regions: neighbouring sealed runs
 *        are one mapping, and a stretch of them is unsealed in one call)
 *        and the quarantine is small enough that all its runs and the
 *        cache's can stay sealed: quarantine_bytes / P plus the cache's
 *        one-page runs, cache_max / 2P (seal_max), at most an eighth of
 *        the kernel's mapping limit (each sealed run splits at most one
 *        mapping in three, whatever the order of seals and unseals): 21
 *        MiB with the default limit.
 *        Elsewhere, past seal_max sealed runs (runs whose unseal was
 *        refused, below, count too), while sealing is off, and with half a
 *        guard budget spent, its data pages become guard pages. A sealed
 *        run pays only when a guarded allocation reuses it from the cache;
 *        one that goes back to the heap instead costs an unseal and a
 *        fault more than a faulted run. So sealing goes off when a sealed
 *        run leaving the quarantine finds the cache full, and on again
 *        when a refill finds fewer cached runs than it wants; and it
 *        waits while half a budget is spent, since past the budget
 *        allocations are not guarded and nothing reuses the runs. Under
 *        `heapward run --quarantine_bytes=16m` python (whose live objects
 *        reach the budget) took 5 s instead of 4 with every run sealed.
 *        Faulting discards a page the next object must fault in again,
 *        and undoing it costs a call per run: a sealed run costs one
 *        protection change when it is freed and a share of one when it is
 *        reused, and no page fault (debug_bench's guarded pair, quarantine
 *        16 MiB, takes 0.6 of the time it took faulted, here). With a
 *        larger quarantine most sealed runs would wait long in it, holding
 *        their memory, and few would come back sealed: at the default 256
 *        MiB, sealing the first 8191 and faulting the rest made the real
 *        programs of bench/realprog.sh slower under `heapward run`, not
 *        faster, and raised their peak memory by up to a quarter. A sealed
 *        run keeps its memory: quarantine_bytes (which counts a guarded
 *        object's data pages) bounds it in the quarantine, as it bounds
 *        the fast path's quarantined objects, and cache_max in the cache
 *        (its runs' bytes, guard pages included). sealed_runs counts the
 *        runs with sealed set; a sealed run goes back to the heap only
 *        unsealed (a free run must be usable), its data pages then
 *        faulted (freed memory keeps trapping, and holds none); one whose
 *        unseal the OS refuses (out of mappings) waits on the stuck list,
 *        retried at the next trim.
 *   GD11. A run's intact is set at its object's free when the pattern was
 *        whole then and the run is sealed; its memory then holds the
 *        pattern everywhere in its data pages but where the object was
 *        (and its cookie's 8 zeros, GD8), since nothing could write it
 *        while it was sealed. The next object on it has the pattern
 *        written only there (outside the new object), not over the whole
 *        of its data pages again: that was a sixth of a guarded pair, the
 *        page long out of the caches.
 *   GD12. Once the guarded heap refuses a new run (it could not grow: an
 *        address-space limit, its window full; or the OS refused the
 *        run's guard page or its page-map leaf), runs of that many pages
 *        or more are not asked of it again until a guarded object is
 *        freed or a run goes back to the heap (either may have made
 *        room), or GD_RETRY allocations later (the program may have
 *        unmapped memory of its own). Each refusal had cost the calls of
 *        a failed grow, a reservation and a probe made and undone: under
 *        `ulimit -v 150000`, python3 under `heapward run` made 95,000
 *        mmaps and 125,000 munmaps and took 0.68 s, not 0.26.
 *   GD13. A run's zero is set while it is ready (or new) when its data
 *        pages read as zero: a new run whose pages the heap says are zero
 *        (released, hw_heap_alloc_aligned's zeroed), or a faulted one
 *        made usable again where faulted pages come back zero (platform.h
 *        P4); never for an unsealed run, which kept its bytes. The object
 *        then placed on it is zero (the pattern goes only around it, the
 *        cookie's zeros before it), so hw_mc_guard_alloc clears a calloc'd
 *        object only on a run without zero. In cc1 under `heapward run`,
 *        calloc's memset took 37,000 of the 411,500 page faults, on
 *        objects of more than 8 pages whose untouched pages now never
 *        fault in.
 *
 * Locking: guard_lock guards the live list, the cache, ready and stuck
 * lists, the counters, sealed_runs and sealing, and the generator. It
 * is a leaf taken after the meta lock in the layer's order
 * (malloc_internal.h): nothing is taken under it; the heap, metadata and
 * page-map calls happen outside it, and so do seals and unseals (a run's
 * seal belongs to whoever holds the run: its free, or the list it was
 * taken from). hw_mc_guard_describe and
 * hw_mc_guard_span take no lock (GD1's entries are atomic; records live in
 * metadata, never unmapped: span.c SP1).
 */
#include "guard.h"

#include "debug.h"
#include "inspect.h"
#include "track.h"

#include <errno.h>
#include <string.h>

#define GD_ARENA ((size_t)64 << 20)
#define GD_WINDOW_MAX ((size_t)1 << 40)
/* GD6's shapes: 1 to 8 data pages; the least cache_max: 256 one-page
 * runs. GD7 adds at most 64 pages per shape (32 one-page runs and their
 * guards), 4 MiB: inside the window's slack of one arena (window_bytes). */
#define GD_CACHE_DATA 8
#define GD_CACHE_RUNS 256
/* GD3: vm.max_map_count's default, when it cannot be read. */
#define GD_MAPS_DEFAULT 65530

typedef struct gd_config {
	int mode; /* enum hw_options_guard */
	unsigned sample;
	size_t min, max;
	int side; /* enum hw_options_side */
	size_t align;
	size_t budget_bytes;
	uint64_t budget_count;
	size_t quarantine_bytes;
	uint64_t seed;
} gd_config;

int hw_mc_guard_enabled;
static gd_config gcfg;  /* under the init lock */
static hw_heap *gheap;  /* published by hw_mc_guard_enabled */
static mc_pagemap gmap; /* the same */
static unsigned gshift; /* log2 of the guarded heap's page */
static size_t gpage;
static hw_mutex guard_lock = HW_MUTEX_INIT;
/* Under guard_lock (GD2, GD3, GD5); live_count and live_bytes are written
 * under it and read without it too (GD3's spent budget), over_budget and
 * warned_budget and warned_whole are atomic. */
static uint64_t rng;
static mc_span *live_head;
static size_t live_count, live_bytes;
static uint64_t over_budget, refused;
static bool warned_budget, warned_whole, warned_refused;
/* GD9: the warnings waiting for a report (atomic): the budget spent; the
 * size of the first allocation larger than the whole budget (0: none); a
 * guarded allocation refused. */
static bool pending_spent, pending_refused;
static size_t pending_whole;
/* GD12 (atomic): the fewest pages of a refused new run (SIZE_MAX: none
 * refused), and how many more allocations leave the heap alone. */
#define GD_RETRY 256
static size_t refused_pages = SIZE_MAX;
static unsigned refused_wait;
/* GD6, under guard_lock: LIFO lists through next, per side and data
 * pages, and the bytes of their runs (cache_max: set at start). */
static mc_span *cache[2][GD_CACHE_DATA];
static size_t cached, cache_max;
/* GD7, under guard_lock: LIFO lists through next, as the cache. */
static mc_span *ready[2][GD_CACHE_DATA];
/* GD10, under guard_lock (seal_max: set at start). */
static size_t sealed_runs, seal_max;
static bool sealing;
static mc_span *stuck;

void hw_mc_guard_configure(const hw_options *o)
{
	gcfg.mode = o->guard;
	gcfg.sample = o->guard_sample;
	gcfg.min = o->guard_min;
	gcfg.max = o->guard_max;
	gcfg.side = o->guard_side;
	gcfg.align = o->guard_align;
	gcfg.budget_bytes = o->guard_budget_bytes;
	gcfg.budget_count = o->guard_budget_count;
	gcfg.quarantine_bytes = o->quarantine_bytes;
	gcfg.seed = o->seed;
}

static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* The least grow unit the heap takes: 512 pages. */
static size_t least_arena(void) { return (size_t)512 * gpage; }

/* GD6: the bytes of runs the cache may hold. */
static size_t cache_bound(void)
{
	return hw_max(gcfg.quarantine_bytes, (size_t)GD_CACHE_RUNS * 2 * gpage);
}

/* The window: room for the budgets' live objects (their data pages, and a
 * guard page each: at most one per data page), for the quarantine's (the
 * same bound) and for the cache's runs, a quarter more for fragmentation,
 * one arena more; but at most a quarter of the process's address-space
 * limit (platform.h P12), past which guarded allocations are refused, not
 * the heap. */
static size_t window_bytes(size_t limit)
{
	size_t per = gcfg.budget_count > SIZE_MAX / gpage ? SIZE_MAX
							  : (size_t)gcfg.budget_count * gpage;
	size_t live = sat_add(gcfg.budget_bytes, hw_min(per, gcfg.budget_bytes));
	size_t w = sat_add(live, sat_add(gcfg.quarantine_bytes, gcfg.quarantine_bytes));
	w = sat_add(w, cache_max);
	w = hw_min(sat_add(sat_add(w, w / 4), GD_ARENA), GD_WINDOW_MAX);
	return hw_min(w, hw_max(limit / 4, least_arena()));
}

/* The grow unit: the heap's default (GD_ARENA, or less under an
 * address-space limit), but at most 256 arenas in the window (the leak
 * check keeps a bounded list of the heaps' arenas). */
static size_t arena_bytes(size_t window)
{
	size_t a = hw_heap_default_arena(hw_mc_g.pf, gpage);
	while (a < window / 256)
		a *= 2;
	return a;
}

void hw_mc_guard_start(void)
{
	if (gcfg.mode == HW_OPT_GUARD_NONE || gheap)
		return;
	gpage = hw_max((size_t)4096, hw_mc_g.pf->caps.page_size);
	gshift = hw_log2(gpage);
	hw_heap_config cfg = {0};
	cfg.platform = hw_mc_g.pf;
	cfg.page_size = gpage;
	size_t limit = hw_sys_address_limit(hw_mc_g.pf);
	if (hw_mc_g.pf->caps.guard == HW_GUARD_PROTNONE) {
		/* GD3: two mappings per live run, an eighth of them kept. */
		long maps = hw_platform_max_map_count();
		uint64_t m = maps > 0 ? (uint64_t)maps : GD_MAPS_DEFAULT;
		uint64_t cap = (m - m / 8) / 2;
		if (gcfg.budget_count > cap)
			gcfg.budget_count = cap;
	}
	cache_max = cache_bound();
	size_t w = window_bytes(limit);
	cfg.arena_size = arena_bytes(w);
	cfg.address_space = hw_align_up(w, cfg.arena_size);
	hw_heap *h = hw_heap_create(&cfg);
	uintptr_t base;
	size_t wsize;
	bool mapped = false;
	if (h && hw_heap_grow(h, 1) == 0) {
		hw_heap_window(h, &base, &wsize);
		mapped = hw_mc_map_init(&gmap, base, wsize, gshift) == 0;
	}
	if (!mapped) {
		if (h)
			hw_heap_destroy(h);
		hw_report_write("heapward: guarded objects are off: no address space for their "
				"heap (%zu bytes)\n",
				cfg.address_space);
		return;
	}
	gheap = h;
	if (hw_mc_g.pf->caps.seal_spans_faults) {
		/* GD10. */
		long maps = hw_platform_max_map_count();
		size_t bound = maps > 0 ? (size_t)maps / 8 : 8192;
		size_t runs = sat_add(gcfg.quarantine_bytes / gpage, cache_max / (2 * gpage));
		seal_max = runs <= bound ? runs : 0;
		sealing = seal_max > 0;
	}
	rng = gcfg.seed ? gcfg.seed : hw_now_ns();
	__atomic_store_n(&hw_mc_guard_enabled, 1, __ATOMIC_RELEASE);
}

/* GD5: splitmix64, under guard_lock. */
static uint64_t draw(void)
{
	uint64_t z = hw_mix64(rng);
	rng += 0x9e3779b97f4a7c15ull;
	return z;
}

static void list_push(mc_span **head, mc_span *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void list_remove(mc_span **head, mc_span *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

/* The data pages of record s: [*lo, *hi). */
static void data_of(const mc_span *s, uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t run_end = s->run + ((uintptr_t)s->npages << gshift);
	if (s->cls == HW_SIDE_LEFT) {
		*lo = s->start & ~(uintptr_t)(gpage - 1);
		*hi = run_end;
	} else {
		*lo = s->run;
		*hi = run_end - gpage;
	}
}

static void say_refused(void)
{
	hw_report_write("heapward: warning: a guarded allocation was refused (the guarded heap is "
			"full, or the OS refused a guard page: the kernel's limit on mappings, "
			"vm.max_map_count, under PROT_NONE guards); such allocations are not "
			"guarded (hw_malloc_stats.guard_refused counts them)\n");
}

/* GD9: a warning said now (verbosity >= 1), or held in *pending for the
 * first report. */
static void say_or_hold(void (*say)(void), bool *pending)
{
	if (hw_mc_cfg.verbosity >= 1)
		say();
	else
		__atomic_store_n(pending, true, __ATOMIC_RELEASE);
}

/* GD3: counts a refused guarded allocation; the first one refused for want
 * of a resource (warn) is said, once (GD9). */
static void count_refused(bool warn)
{
	hw_mutex_lock(&guard_lock);
	refused++;
	bool first = warn && !warned_refused;
	warned_refused |= warn;
	hw_mutex_unlock(&guard_lock);
	if (first)
		say_or_hold(say_refused, &pending_refused);
}

/* GD12: whether a new run of np pages waits, and the wait counted down. */
static bool refused_waits(size_t np)
{
	if (np < __atomic_load_n(&refused_pages, __ATOMIC_RELAXED))
		return false;
	unsigned w = __atomic_load_n(&refused_wait, __ATOMIC_RELAXED);
	if (w == 0)
		return false; /* this one tries: GD_RETRY more wait if it fails */
	(void)__atomic_compare_exchange_n(&refused_wait, &w, w - 1, false, __ATOMIC_RELAXED,
					  __ATOMIC_RELAXED);
	return true;
}

/* GD12: a new run of np pages refused (np 1: any run would be). */
static void refused_note(size_t np)
{
	size_t cur = __atomic_load_n(&refused_pages, __ATOMIC_RELAXED);
	while (np < cur && !__atomic_compare_exchange_n(&refused_pages, &cur, np, true,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	__atomic_store_n(&refused_wait, GD_RETRY, __ATOMIC_RELAXED);
}

/* GD12: there may be room again. */
static void refused_clear(void)
{
	if (__atomic_load_n(&refused_pages, __ATOMIC_RELAXED) != SIZE_MAX)
		__atomic_store_n(&refused_pages, SIZE_MAX, __ATOMIC_RELAXED);
}

/* Gives back the reservation of GD3 that a failed allocation made. */
static void unreserve(size_t data)
{
	hw_mutex_lock(&guard_lock);
	__atomic_store_n(&live_count, live_count - 1, __ATOMIC_RELAXED);
	__atomic_store_n(&live_bytes, live_bytes - data, __ATOMIC_RELAXED);
	hw_mutex_unlock(&guard_lock);
}

/* GD6, GD10: the bytes of run s, guard pages included. */
static size_t run_bytes(const mc_span *s) { return (size_t)s->npages << gshift; }

/* GD10: seals run s (its object freed); false when sealing is off, half a
 * guard budget is spent, seal_max runs are sealed or the OS refuses. */
static bool seal_run(mc_span *s)
{
	/* GD10: near the budget's end, allocations are soon not guarded, and
	 * what is freed now is not reused soon. */
	if (__atomic_load_n(&live_count, __ATOMIC_RELAXED) >= gcfg.budget_count / 2 ||
	    __atomic_load_n(&live_bytes, __ATOMIC_RELAXED) >= gcfg.budget_bytes / 2)
		return false;
	hw_mutex_lock(&guard_lock);
	bool room = sealing && sealed_runs < seal_max;
	sealed_runs += room;
	hw_mutex_unlock(&guard_lock);
	if (!room)
		return false;
	if (hw_sys_seal(hw_mc_g.pf, (void *)s->run, run_bytes(s)) == 0) {
		/* As the heap tells the tools of its guard pages (track.h). */
		hw_track_guard((void *)s->run, run_bytes(s));
		s->sealed = true;
		return true;
	}
	hw_mutex_lock(&guard_lock);
	sealed_runs--;
	hw_mutex_unlock(&guard_lock);
	return false;
}

/* GD10: unseals the k sealed runs of g, adjacent ones in one call (g in
 * address order); returns how many are usable again, moved to the front
 * of g in their order; the others go on the stuck list. */
static size_t unseal_runs(mc_span **g, size_t k)
{
	size_t ok = 0;
	for (size_t i = 0; i < k;) {
		size_t j = i + 1;
		while (j < k && g[j]->run == g[j - 1]->run + run_bytes(g[j - 1]))
			j++;
		uintptr_t lo = g[i]->run, hi = g[j - 1]->run + run_bytes(g[j - 1]);
		bool done = hw_sys_unseal(hw_mc_g.pf, (void *)lo, hi - lo) == 0;
		hw_mutex_lock(&guard_lock);
		for (size_t m = i; m < j; m++) {
			if (done) {
				/* The data pages only: the guard pages stay
				 * guard pages. */
				uintptr_t dlo, dhi;
				data_of(g[m], &dlo, &dhi);
				hw_track_unguard((void *)dlo, dhi - dlo, true);
				g[m]->sealed = false;
				g[ok++] = g[m];
			} else {
				g[m]->next = stuck;
				stuck = g[m];
			}
		}
		if (done)
			sealed_runs -= j - i;
		hw_mutex_unlock(&guard_lock);
		i = j;
	}
	return ok;
}

/* GD1 then the run back to the heap (its guard pages become free released
 * pages, still faulted), and the record back to the metadata. A sealed run
 * is unsealed first and its data pages faulted (GD10: what was freed keeps
 * trapping until the heap hands it out again, and holds no memory). */
static void release_run(mc_span *s)
{
	if (s->sealed) {
		if (unseal_runs(&s, 1) == 0)
			return;
		uintptr_t lo, hi;
		data_of(s, &lo, &hi);
		(void)hw_heap_guard(gheap, (void *)lo, (hi - lo) >> gshift);
	}
	uintptr_t run = s->run;
	size_t np = s->npages;
	(void)hw_mc_map_set(&gmap, gshift, run, np, &hw_mc_freed_span);
	hw_mc_meta_free(s, mc_large_rec_bytes(s->dbg));
	(void)hw_heap_free(gheap, (void *)run, np);
	refused_clear();
}

/* The pattern over [lo, hi) but [skip_lo, skip_hi). */
static void fill_around(uintptr_t lo, uintptr_t hi, uintptr_t skip_lo, uintptr_t skip_hi)
{
	hw_mc_pattern_fill((unsigned char *)lo, (unsigned char *)hw_max(lo, hw_min(hi, skip_lo)));
	hw_mc_pattern_fill((unsigned char *)hw_min(hi, hw_max(lo, skip_hi)), (unsigned char *)hi);
}

/* The pattern around a new guarded object of n bytes, then live (GD2).
 * [old_lo, old_hi) is all that lacks the pattern in its data pages (the
 * last object of an intact run, GD11), or the whole of them. */
static void *publish(mc_span *s, size_t n, uintptr_t old_lo, uintptr_t old_hi)
{
	uintptr_t lo, hi;
	data_of(s, &lo, &hi);
	fill_around(hw_max(lo, old_lo), hw_min(hi, old_hi), s->start, s->start + n);
	s->cookie = 0;
	hw_mutex_lock(&guard_lock);
	list_push(&live_head, s);
	s->live = 1; /* GD2: live exactly while on the live list */
	hw_mutex_unlock(&guard_lock);
	return (void *)s->start;
}

/* GD6, GD7: the index of the lists for runs of this side and data pages,
 * or -1 when no list keeps such runs. */
static int shape_of(int side, size_t dpages)
{
	if (dpages == 0 || dpages > GD_CACHE_DATA)
		return -1;
	return (side == HW_SIDE_LEFT) * GD_CACHE_DATA + (int)(dpages - 1);
}

static mc_span **cache_list(int shape)
{
	return &cache[shape / GD_CACHE_DATA][shape % GD_CACHE_DATA];
}

static mc_span **ready_list(int shape)
{
	return &ready[shape / GD_CACHE_DATA][shape % GD_CACHE_DATA];
}

/* Under guard_lock: the first run of list l, off it, or NULL. */
static mc_span *pop(mc_span **l)
{
	mc_span *s = *l;
	if (s) {
		*l = s->next;
		s->next = NULL;
	}
	return s;
}

/* GD6: keeps faulted run s (its object freed) for a later object of its
 * shape, or gives it back to the heap. */
static void cache_or_release(mc_span *s)
{
	uintptr_t lo, hi;
	data_of(s, &lo, &hi);
	bool one_guard = s->npages == ((hi - lo) >> gshift) + 1;
	int shape = one_guard ? shape_of(s->cls, (hi - lo) >> gshift) : -1;
	hw_mutex_lock(&guard_lock);
	bool keep = shape >= 0 && run_bytes(s) <= cache_max - cached;
	if (keep) {
		mc_span **l = cache_list(shape);
		s->next = *l;
		*l = s;
		cached += run_bytes(s);
	}
	/* GD10: a full cache: what is freed now is not reused soon. */
	if (!keep && s->sealed)
		sealing = false;
	hw_mutex_unlock(&guard_lock);
	if (!keep)
		release_run(s);
}

/* A guarded record of rec bytes, cleared, for an object of n bytes on the
 * np pages from run, its guard on side (its start is the caller's). */
static void record_init(mc_span *s, size_t rec, bool dbg, size_t np, uintptr_t run, size_t n,
			int side)
{
	memset(s, 0, rec);
	s->dbg = dbg;
	s->kind = MC_SPAN_GUARDED;
	s->npages = (uint32_t)np;
	s->run = run;
	s->req = n;
	s->cls = (uint8_t)side;
}

/* The guard pages of a run at run with dpages data pages: lead bytes of
 * them on the left, else one page on the right. */
static hw_range guard_range(int side, uintptr_t run, size_t dpages, size_t lead)
{
	if (side == HW_SIDE_LEFT)
		return (hw_range){(void *)run, lead};
	return (hw_range){(void *)(run + (dpages << gshift)), gpage};
}

/* A new run of np pages (aligned to run_align, or 0) from the heap, with
 * dpages data pages and its guard pages (guard_range) faulted unless the
 * caller faults them (!guard: ready_fill, several in one call), its record
 * made with no object, its pages mapped to the record (GD1); NULL when the
 * heap or the OS refuses. */
static mc_span *new_run(int side, size_t dpages, size_t np, size_t lead, size_t run_align,
			bool dbg, bool guard)
{
	size_t want = np + (run_align > gpage ? (run_align >> gshift) - 1 : 0);
	if (refused_waits(want))
		return NULL;
	size_t rec = mc_large_rec_bytes(dbg);
	bool zero = false;
	void *r = hw_heap_alloc_aligned(gheap, np, run_align, &zero);
	mc_span *s = r ? hw_mc_meta_alloc(rec) : NULL;
	if (!s) {
		if (r)
			(void)hw_heap_free(gheap, r, np);
		refused_note(r ? 1 : want);
		return NULL;
	}
	uintptr_t run = (uintptr_t)r;
	record_init(s, rec, dbg, np, run, 0, side);
	s->zero = zero; /* GD13 */
	hw_range g = guard_range(side, run, dpages, lead);
	if (hw_mc_map_set(&gmap, gshift, run, np, s) != 0 ||
	    (guard && hw_heap_guard(gheap, g.p, g.n >> gshift) != 0)) {
		release_run(s);
		refused_note(1);
		return NULL;
	}
	refused_clear(); /* a wait that ran out, and the grow worked */
	return s;
}

/* GD10: sorts the k runs of g by address (k is at most
 * MC_GUARD_READY_PAGES: insertion). */
static void sort_runs(mc_span **g, size_t k)
{
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && g[j - 1]->run > g[j]->run; j--) {
			mc_span *t = g[j];
			g[j] = g[j - 1];
			g[j - 1] = t;
		}
}

/* GD7: fills the ready list of shape (side, dpages) with runs from the
 * cache, then new ones, and returns one of them (NULL when there is none
 * to be had). Sealed runs are unsealed, adjacent ones in one call (GD10),
 * and need nothing more; faulted ones are unfaulted in one call; those
 * and the new ones are populated in one call. */
static mc_span *ready_fill(int shape, int side, size_t dpages, bool dbg)
{
	size_t want = hw_max((size_t)MC_GUARD_READY_PAGES / dpages, (size_t)1);
	mc_span *got[MC_GUARD_READY_PAGES], *faulted[MC_GUARD_READY_PAGES];
	hw_range r[MC_GUARD_READY_PAGES];
	size_t n = 0;
	hw_mutex_lock(&guard_lock);
	for (mc_span *s; n < want && (s = pop(cache_list(shape))); n++) {
		got[n] = s;
		cached -= run_bytes(s);
	}
	/* GD10: the cache runs short: freed runs are reused soon. */
	if (n < want && seal_max > 0)
		sealing = true;
	hw_mutex_unlock(&guard_lock);
	size_t ns = 0, nf = 0;
	for (size_t i = 0; i < n; i++) {
		mc_span *s = got[i];
		/* A record of the other size (the debug mode changed) is not
		 * reused. */
		if (s->dbg != dbg) {
			release_run(s);
		} else if (s->sealed) {
			s->zero = false; /* GD13: unsealed, it keeps its bytes */
			got[ns++] = s;
		} else {
			s->intact = false; /* GD11: a fault discarded it all */
			faulted[nf++] = s;
		}
	}
	sort_runs(got, ns);
	size_t k = unseal_runs(got, ns), kept = k;
	/* The faulted runs' data pages, usable again in one call. */
	for (size_t i = 0; i < nf; i++) {
		uintptr_t lo, hi;
		data_of(faulted[i], &lo, &hi);
		r[i] = (hw_range){(void *)lo, hi - lo};
	}
	size_t done = 0;
	if (nf > 0)
		(void)hw_heap_unguard_many(gheap, r, nf, &done);
	for (size_t i = 0; i < nf; i++) {
		if (i < done) {
			faulted[i]->zero = hw_mc_g.pf->caps.released_reads_zero; /* GD13 */
			got[k++] = faulted[i];
		} else {
			release_run(faulted[i]);
		}
	}
	size_t fresh = k;
	for (mc_span *s;
	     k < want && (s = new_run(side, dpages, dpages + 1, gpage, 0, dbg, false)); k++) {
		/* GD7: a new ready run holds no object yet. */
		(void)hw_mc_map_set(&gmap, gshift, s->run, s->npages, &hw_mc_freed_span);
		got[k] = s;
		r[k - fresh] = guard_range(side, s->run, dpages, gpage);
	}
	/* Their guard pages in one call; a run the OS refused one goes back. */
	size_t guarded = 0;
	if (k > fresh && hw_heap_guard_many(gheap, r, k - fresh, &guarded) != 0) {
		for (size_t i = fresh + guarded; i < k; i++)
			release_run(got[i]);
		refused_note(1);
		k = fresh + guarded;
	}
	if (k == 0)
		return NULL;
	for (size_t i = kept; i < k; i++) {
		uintptr_t lo, hi;
		data_of(got[i], &lo, &hi);
		r[i - kept] = (hw_range){(void *)lo, hi - lo};
	}
	hw_sys_populate(hw_mc_g.pf, r, k - kept);
	/* In the order they came: the heap's lowest addresses first. */
	hw_mutex_lock(&guard_lock);
	for (size_t i = k - 1; i > 0; i--) {
		got[i]->next = *ready_list(shape);
		*ready_list(shape) = got[i];
	}
	hw_mutex_unlock(&guard_lock);
	return got[0];
}

/* GD7: a ready run of this shape (its record still describes its last
 * object, or none: the caller fills it and maps the run to it), or NULL.
 * s is the run the caller popped from the ready list under the lock it
 * reserved the object's budget under (NULL when the list was empty). */
static mc_span *ready_take(mc_span *s, int shape, int side, size_t dpages, bool dbg)
{
	if (s && s->dbg != dbg) {
		release_run(s);
		s = NULL;
	}
	return s ? s : ready_fill(shape, side, dpages, dbg);
}

void hw_mc_guard_trim(void)
{
	if (!hw_mc_guard_on())
		return;
	/* GD10: the runs whose unseal was refused, tried again once each. */
	hw_mutex_lock(&guard_lock);
	mc_span *retry = stuck;
	stuck = NULL;
	hw_mutex_unlock(&guard_lock);
	while (retry) {
		mc_span *s = retry;
		retry = s->next;
		s->next = NULL;
		release_run(s);
	}
	for (;;) {
		hw_mutex_lock(&guard_lock);
		mc_span *s = NULL;
		for (int i = 0; i < 2 * GD_CACHE_DATA && !s; i++) {
			if ((s = pop(cache_list(i))) != NULL)
				cached -= run_bytes(s);
			else
				s = pop(ready_list(i));
		}
		hw_mutex_unlock(&guard_lock);
		if (!s)
			break;
		release_run(s);
	}
	/* span.c SP9: the leaves of gmap that now name no run. */
	(void)hw_mc_map_trim(&gmap);
}

/* GD3: whether a guarded object of data bytes of pages would pass a
 * budget now. Read without the lock too (a spent budget is found without
 * it); only the lock's answer lets an object in. */
static bool budget_spent(size_t data)
{
	size_t bytes = __atomic_load_n(&live_bytes, __ATOMIC_RELAXED);
	return __atomic_load_n(&live_count, __ATOMIC_RELAXED) >= gcfg.budget_count ||
	       data > gcfg.budget_bytes - bytes;
}

/* GD3: counts an allocation over budget; one warning per process. */
static void say_spent(void)
{
	hw_report_write("heapward: warning: the guard budget is spent (guard_budget_count=%llu "
			"live guarded objects, guard_budget_bytes=%zu bytes of their pages); "
			"allocations past it are not guarded (hw_malloc_stats.guard_over_budget "
			"counts them)\n",
			(unsigned long long)gcfg.budget_count, gcfg.budget_bytes);
}

static void say_whole(size_t n)
{
	hw_report_write("heapward: warning: an allocation of %zu bytes is larger than the guard "
			"budget (guard_budget_bytes=%zu); such allocations are not guarded "
			"(hw_malloc_stats.guard_over_budget counts them)\n",
			n, gcfg.budget_bytes);
}

void hw_mc_guard_say_pending(void)
{
	if (__atomic_exchange_n(&pending_spent, false, __ATOMIC_ACQ_REL))
		say_spent();
	if (__atomic_exchange_n(&pending_refused, false, __ATOMIC_ACQ_REL))
		say_refused();
	size_t n = __atomic_exchange_n(&pending_whole, 0, __ATOMIC_ACQ_REL);
	if (n)
		say_whole(n);
}

/* GD3: counts an allocation the budget cannot take; GD9's warning. */
static void *over_budget_now(void)
{
	__atomic_fetch_add(&over_budget, 1, __ATOMIC_RELAXED);
	if (!__atomic_exchange_n(&warned_budget, true, __ATOMIC_RELAXED))
		say_or_hold(say_spent, &pending_spent);
	return NULL;
}

/* GD3: counts an allocation larger than the whole bytes budget as over
 * budget, with a warning of its own (GD9): the budget is not spent. */
static void *over_whole_budget(size_t n)
{
	__atomic_fetch_add(&over_budget, 1, __ATOMIC_RELAXED);
	if (!__atomic_exchange_n(&warned_whole, true, __ATOMIC_RELAXED)) {
		if (hw_mc_cfg.verbosity >= 1)
			say_whole(n);
		else
			__atomic_store_n(&pending_whole, n, __ATOMIC_RELEASE);
	}
	return NULL;
}

void *hw_mc_guard_alloc(size_t n, size_t align, bool zero)
{
	if (n < gcfg.min || (gcfg.max && n > gcfg.max))
		return NULL;
	size_t a = hw_max(hw_max(align, (size_t)1), gcfg.align);
	int side = gcfg.side;
	if (hw_align_up(n, gpage) > gcfg.budget_bytes)
		return over_whole_budget(n);
	/* Without a draw to make (GD5), a spent budget needs no lock: the
	 * common case of a program with more live objects than the budget.
	 * (One page, the least an object takes: spent for it, spent.) */
	bool draws = gcfg.mode == HW_OPT_GUARD_SAMPLE || side == HW_SIDE_RANDOM;
	if (!draws && budget_spent(gpage))
		return over_budget_now();
	hw_mutex_lock(&guard_lock);
	if (gcfg.mode == HW_OPT_GUARD_SAMPLE && gcfg.sample > 1 && draw() % gcfg.sample != 0) {
		hw_mutex_unlock(&guard_lock);
		return NULL;
	}
	if (side == HW_SIDE_RANDOM)
		side = (draw() & 1) ? HW_SIDE_LEFT : HW_SIDE_RIGHT;
	/* The layout (see the top of the file). */
	size_t body = side == HW_SIDE_RIGHT && a <= gpage ? hw_align_up(n, a) : n;
	size_t dpages = hw_max((body + gpage - 1) >> gshift, (size_t)1);
	size_t lead = side == HW_SIDE_LEFT ? hw_max(gpage, a) : 0;
	size_t data = dpages << gshift;
	bool over = budget_spent(data);
	size_t run_align = a > gpage ? a : 0;
	int shape = run_align == 0 ? shape_of(side, dpages) : -1;
	mc_span *ready_run = NULL;
	if (!over) {
		__atomic_store_n(&live_count, live_count + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&live_bytes, live_bytes + data, __ATOMIC_RELAXED);
		/* GD7: a ready run in the same lock hold. */
		if (shape >= 0)
			ready_run = pop(ready_list(shape));
	}
	hw_mutex_unlock(&guard_lock);
	if (over)
		return over_budget_now();
	size_t np = dpages + (lead >> gshift) + (side == HW_SIDE_RIGHT);
	/* GD3: a run the window could never hold: the request, not a
	 * resource, is at fault. */
	bool fits = hw_heap_fits(gheap, np, run_align);
	bool dbg = hw_mc_debug_on();
	mc_span *s = shape >= 0 ? ready_take(ready_run, shape, side, dpages, dbg) : NULL;
	if (s) {
		/* GD7: a new ready run's pages map to hw_mc_freed_span, so a trim
		 * may have given their leaf back since (span.c SP9); making it
		 * again may be refused. */
		if (hw_mc_map_set(&gmap, gshift, s->run, np, s) != 0) {
			release_run(s);
			s = NULL;
		}
	} else if (fits) {
		s = new_run(side, dpages, np, lead, run_align, dbg, true);
	}
	if (!s) {
		unreserve(data);
		count_refused(fits);
		return NULL;
	}
	/* GD11: an intact run's pattern lacks only where its last object
	 * was (and its cookie's zeros). */
	uintptr_t old_lo = 0, old_hi = UINTPTR_MAX;
	if (s->intact) {
		old_lo = s->start - (s->cookie ? sizeof(uint64_t) : 0);
		old_hi = s->start + s->req;
	}
	bool clear = zero && !s->zero; /* GD13: the pattern goes only around it */
	record_init(s, mc_large_rec_bytes(dbg), dbg, np, s->run, n, side);
	if (side == HW_SIDE_LEFT)
		s->start = s->run + lead;
	else if (a > gpage)
		s->start = s->run;
	else
		s->start = s->run + data - body;
	if (clear)
		memset((void *)s->start, 0, n);
	return publish(s, n, old_lo, old_hi);
}

mc_span *hw_mc_guard_span(uintptr_t a)
{
	if (!hw_mc_guard_on())
		return NULL;
	return mc_map_get(&gmap, gshift, a);
}

void hw_mc_guard_cookie(mc_span *s)
{
	uintptr_t lo, hi;
	data_of(s, &lo, &hi);
	if (s->start - lo < sizeof(uint64_t))
		return;
	memset((void *)(s->start - sizeof(uint64_t)), 0, sizeof(uint64_t));
	s->cookie = 1;
}

const unsigned char *hw_mc_guard_damage(mc_span *s, bool repair)
{
	uintptr_t lo, hi;
	data_of(s, &lo, &hi);
	unsigned char *start = (unsigned char *)s->start, *end = start + s->req;
	unsigned char *head = s->cookie ? start - sizeof(uint64_t) : start;
	const unsigned char *bad = hw_mc_pattern_find((unsigned char *)lo, head);
	for (const unsigned char *c = head; !bad && c < start; c++)
		if (*c != 0)
			bad = c; /* GD8 */
	if (!bad)
		bad = hw_mc_pattern_find(end, (unsigned char *)hi);
	if (bad && repair) {
		hw_mc_pattern_fill((unsigned char *)lo, head);
		memset(head, 0, (size_t)(start - head));
		hw_mc_pattern_fill(end, (unsigned char *)hi);
	}
	return bad;
}

mc_span *hw_mc_guard_cookie_owner(uintptr_t p)
{
	mc_span *s = hw_mc_guard_span(p);
	if (!s || s->kind != MC_SPAN_GUARDED || !s->live || !s->cookie)
		return NULL;
	uintptr_t c = s->start - sizeof(uint64_t);
	/* p: where delete[] finds the block when its cookie is 8 or 16
	 * bytes (an element alignment up to 16). */
	return p == c || p == c - 8 ? s : NULL;
}

/* GD4: a guarded object leaves the quarantine, faulted (GD6). */
static void evict(const mc_qentry *e)
{
	cache_or_release(hw_mc_guard_span((uintptr_t)e->p));
}

void hw_mc_guard_free(void *p, mc_span *s, const char *op)
{
	if ((uintptr_t)p != s->start) {
		hw_mc_misuse(MC_BAD_INTERIOR, op, p, s, 0, NULL);
		return;
	}
	if (!s->live) {
		hw_mc_misuse(MC_BAD_DOUBLE_FREE, op, p, s, 0, NULL);
		return;
	}
	const unsigned char *bad = hw_mc_guard_damage(s, false);
	if (HW_UNLIKELY(bad))
		hw_mc_misuse(bad < (unsigned char *)p ? MC_BAD_UNDERFLOW : MC_BAD_OVERFLOW, op, p,
			     s, 0, bad);
	/* Two threads freeing it at once: one frees, the other reports. */
	if (!__atomic_exchange_n(&s->live, 0, __ATOMIC_ACQ_REL)) {
		hw_mc_misuse(MC_BAD_DOUBLE_FREE, op, p, s, 0, NULL);
		return;
	}
	if (s->dbg)
		hw_mc_debug_free(p, s, 0);
	uintptr_t lo, hi;
	data_of(s, &lo, &hi);
	size_t data = hi - lo;
	/* GD4: every page of the run traps from now on, reads included:
	 * sealed (GD10), or its data pages guard pages. */
	s->intact = bad == NULL; /* GD11 */
	bool faulted = seal_run(s);
	if (!faulted) {
		s->intact = false;
		faulted = hw_heap_guard(gheap, (void *)lo, data >> gshift) == 0;
	}
	hw_mutex_lock(&guard_lock);
	list_remove(&live_head, s);
	__atomic_store_n(&live_count, live_count - 1, __ATOMIC_RELAXED);
	__atomic_store_n(&live_bytes, live_bytes - data, __ATOMIC_RELAXED);
	hw_mutex_unlock(&guard_lock);
	refused_clear(); /* GD12 */
	if (!faulted)
		count_refused(true);
	mc_qentry e = {p, data, s->req, evict};
	if (!faulted)
		release_run(s);
	else if (!hw_mc_quar_put(&e))
		cache_or_release(s);
}

bool hw_mc_guard_describe(uintptr_t addr, mc_guard_obj *o)
{
	mc_span *s = hw_mc_guard_span(addr);
	if (!s || s->kind != MC_SPAN_GUARDED)
		return false;
	o->start = s->start;
	o->size = s->req;
	o->run = s->run;
	o->run_end = s->run + ((uintptr_t)s->npages << gshift);
	o->freed = s->live == 0;
	o->dbg = s->dbg != 0;
	if (o->dbg)
		o->rec = *mc_span_dbg(s);
	else
		memset(&o->rec, 0, sizeof o->rec);
	o->kind = s->okind;
	return true;
}

void hw_mc_guard_each(void (*fn)(void *arg, mc_span *s), void *arg)
{
	/* A free stopped between its exchange (live 0) and its list removal
	 * may have faulted the pages already: not an object to read. */
	for (mc_span *s = live_head; s; s = s->next)
		if (__atomic_load_n(&s->live, __ATOMIC_ACQUIRE))
			fn(arg, s);
}

hw_heap *hw_mc_guard_heap(void) { return hw_mc_guard_on() ? gheap : NULL; }

void hw_mc_guard_stats(mc_guard_stats *out)
{
	hw_mutex_lock(&guard_lock);
	out->live = live_count;
	out->live_bytes = live_bytes;
	out->over_budget = __atomic_load_n(&over_budget, __ATOMIC_RELAXED);
	out->refused = refused;
	out->sealed = sealed_runs;
	out->seal_max = seal_max;
	out->sealing = sealing;
	out->cached = cached;
	out->cache_max = cache_max;
	hw_mutex_unlock(&guard_lock);
}

void hw_mc_guard_lock(void) { hw_mutex_lock(&guard_lock); }
void hw_mc_guard_unlock(void) { hw_mutex_unlock(&guard_lock); }

void hw_mc_guard_reset(void)
{
	if (gheap) {
		hw_mc_map_release(&gmap);
		hw_heap_destroy(gheap);
	}
	__atomic_store_n(&hw_mc_guard_enabled, 0, __ATOMIC_RELEASE);
	gheap = NULL;
	memset(&gmap, 0, sizeof gmap);
	memset(&gcfg, 0, sizeof gcfg);
	rng = 0;
	live_head = NULL;
	memset(cache, 0, sizeof cache); /* the records went with the heap */
	memset(ready, 0, sizeof ready);
	cached = cache_max = 0;
	sealed_runs = seal_max = 0;
	sealing = false;
	stuck = NULL;
	live_count = live_bytes = 0;
	over_budget = refused = 0;
	warned_budget = warned_whole = warned_refused = false;
	pending_spent = pending_refused = false;
	pending_whole = 0;
	refused_pages = SIZE_MAX;
	refused_wait = 0;
}

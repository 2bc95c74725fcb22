/* span.c: spans, the page map, the central lists and large objects.
 *
 * Owns: the metadata allocator (span records and page-map leaves, in memory
 * the platform hands out directly, never heap pages), the page map's
 * entries (MC3), each class's partial list and the spans' free lists (MC5),
 * and large objects' runs.
 *
 * Invariants (malloc_internal.h MC3 to MC5, MC9's record sizes, and):
 *   SP1. Metadata memory is never unmapped: a record's memory, once a span
 *        record, only ever holds span records again (of any size, after
 *        SP5), so a racing lookup through a stale page-map entry reads
 *        span-record memory, possibly released (zero on Linux), never an
 *        unmapped page (the page map's leaves are never unmapped either:
 *        SP9 releases their pages and keeps them).
 *   SP2. A take hands out a span's listed slots lowest index first (a
 *        new span lists all of them): the span fills from its start, the
 *        pages it has not reached stay untouched, and the slots freed last
 *        are not preferred over lower ones, which leaves a span's high
 *        pages free for SP7 sooner. Takes and gives read and write only
 *        the record (MC5), never a slot.
 *   SP3. large_objects / large_bytes and small_spans / small_bytes count the
 *        live large runs and spans and their heap bytes.
 *   SP4. When the program is idle, the layer gives memory back without a
 *        call from it (once the scavenger thread runs: a single-threaded
 *        program starts it late, malloc.c MA7): the thread calls
 *        hw_mc_span_idle after each idle step, and once the central lists
 *        have not moved (no take or give) for IDLE_TRIM_NS it runs
 *        hw_mc_span_trim_all once, then nothing more until the lists have
 *        moved, and says so when they have stayed still MC_IDLE_RETIRE_NS
 *        more (malloc.c MA7 may then end the thread); hw_malloc_trim runs
 *        it at once. The trim drains the caches of the threads that are
 *        not inside the layer (cache.c CA5: their slots
 *        to the central lists), gives back the kept empty spans (SP6), the
 *        free pages inside spans that still hold live objects (SP7), the
 *        page map's leaves that name no live run (SP9) and the free
 *        metadata pages (SP5), and has the heap release all its free
 *        pages (the heap's own goal keeps retain_percent of in-use Ready).
 *   SP5. Free records go back to the OS at SP4's idle moments
 *        (meta_trim): the free lists' records are sorted by address, every
 *        whole OS page inside a run of adjacent free records is released,
 *        and each record touching such a page leaves its free list (a
 *        record straddling a kept page loses its kept part until that page
 *        is released too). Each released run becomes a *hole*, which the
 *        bump allocator takes (made Ready again) before asking the platform
 *        for a new chunk. meta_bytes counts chunk and leaf bytes less the
 *        holes'. At most META_HOLES holes: a trim stops releasing when the
 *        table is full.
 *   SP6. A give that empties a span (live 0) keeps it on its class's
 *        partial list when the list keeps no other empty span (central
 *        .empty) and holds no other span, and gives it back to the heap
 *        otherwise: a class whose last object comes and goes does not
 *        create and release a span, under the heap's one lock, each time,
 *        while a class with other partial spans has their free slots for
 *        its next takes. A take that finds its arena's list empty moves
 *        another arena's kept span to its own (adopt_empty: no thread
 *        holds a slot of it) before it makes a span. The kept span leaves
 *        that role when a take uses it, and goes back to the heap at the
 *        idle trim or malloc_trim (hw_mc_span_trim_all). (Kept whenever
 *        its list had no empty span, one per arena and class: realprog's
 *        cxx-mt kept about 50 at its peak and peaked at 6.7 MiB; as now,
 *        6.2 MiB, glibc 5.3.)
 *   SP7. At SP4's trims, every whole unit of heap pages (max(OS page, heap
 *        page)) of a partial span that only listed slots touch (a slot in
 *        a thread cache is free too, MC4, but the cache's owner may hand
 *        it out without the class lock, so it keeps its pages) is released
 *        inside the span's run (hw_heap_release_inside), and the span
 *        records it (rel, MC10). The listed slots that touch such pages
 *        leave the freemap: they are parked. When a take finds no listed
 *        slot, it makes the lowest parked slot's released pages Ready
 *        again (hw_heap_reuse_inside), which puts the parked slots that no
 *        released page touches any more back in the freemap. A refused reuse
 *        ends the take with what it has (none: ENOMEM to the caller) and
 *        leaves the span as it was. A span given back to the heap frees
 *        its released pages with it (free released pages, no call).
 *   SP8. Arenas: hw_mc_g.narenas sets of central lists (one per processor by
 *        default, the `arenas` option). A span belongs to the arena that
 *        made it (its record's arena) for its whole life: it is on that
 *        arena's partial list of its class, and slots given back (by any
 *        thread) return to it. A take serves from the arena of the
 *        processor the calling thread runs on (hw_cpu_current), so threads
 *        on different processors carve different spans: their slots,
 *        state entries and span headers do not share cache lines, and
 *        their refills take different locks. (With one set for all, 8
 *        threads on 2 processors spent over 40% of realprog's cxx-mt in
 *        the fast paths, mostly on cache misses for state entries and
 *        span headers that the other processor had just written.)
 *        Threads that share a processor share its arena, which costs no
 *        coherence traffic. Classes above MC_ARENA_SLOT_MAX have arena 0
 *        only: a slot of theirs spans 16 cache lines or more, a refill
 *        moves one or two slots, and a second arena would give every such
 *        class a second partly used span. (realprog's cxx-mt uses about
 *        30 of them, with 1-3 live objects each per thread: one arena for
 *        them took its peak RSS from 6.24 to 5.77-5.98 MiB, glibc 5.27, at
 *        the same CPU time.)
 *   SP9. Page-map leaves (MC3) go back at SP4's trims (hw_mc_map_trim;
 *        guard.c's map at hw_malloc_trim): a leaf whose every entry is
 *        &hw_mc_freed_span (every page it covers held a run, and none does
 *        now) has its top entry set to MC_LEAF_FREED, which a lookup reads
 *        as &hw_mc_freed_span for every page (malloc_internal.h), so it still
 *        says "freed". Its pages are released (unuse) and it is kept as
 *        kept[l] of its own top index l, never another's: a lookup that
 *        loaded it before the release may still read it, and reads either
 *        what the entry says now or, on a backend whose released pages read
 *        as zero, NULL ("not heap memory" for a free that is invalid
 *        anyway: no live run is there; on a backend whose released pages
 *        trap, the simulator's and Windows' decommit, that racing lookup
 *        faults, as SP1's records do). A leaf with a NULL entry is kept:
 *        MC_LEAF_FREED would turn "never ours" into "freed". meta_bytes loses
 *        the leaf's bytes, and gets them back when the leaf is reused.
 *        Every write of an entry (hw_mc_map_set: span creation and
 *        release, large objects, guard.c) and every release happen under
 *        meta_lock, so a release never misses an entry a writer wrote, and
 *        a writer that finds MC_LEAF_FREED in top (or NULL) installs a
 *        real leaf first (the kept one made Ready, or a new one; filled
 *        with &hw_mc_freed_span before it is published when top was
 *        MC_LEAF_FREED); a write of &hw_mc_freed_span over MC_LEAF_FREED is
 *        skipped: it says so already.
 *
 * Locking: malloc_internal.h's order. Class locks are striped: arena a's
 * class c takes class_locks[(11a + c) % MC_LOCKS] (lock_of). A class lock
 * guards the partial lists it serves and their spans'
 * freemap/listed/live/rel/parked/next/prev/partial; the meta lock
 * guards the metadata free lists, every page-map write and leaf release
 * (SP9) and the large counters;
 * span creation and release take the heap's lock (through hw_heap_*) under
 * the class lock.
 */
#include "malloc_internal.h"

#include "debug.h"
#include "inspect.h"
#include "options.h"

#include <errno.h>
#include <string.h>

#define META_CHUNK ((size_t)256 << 10)
/* Records come in multiples of 64 bytes up to MC_META_MAX, one free list
 * per size. (Power-of-two sizes wasted up to half a record: the 16-byte class's
 * 1664-byte record took 2048, the 48-byte class's 640 took 1024.) */
#define META_UNIT ((size_t)64)
#define META_BUCKETS (MC_META_MAX / META_UNIT)

/* Fewer locks than lists (SP8's lock_of), so the fork hooks hold fewer at
 * once (ThreadSanitizer's deadlock detector tracks at most 64 held by one
 * thread); classes far apart in size, rarely hot together, share one. */
#define MC_LOCKS 32

typedef struct lock_line {
	hw_mutex m;
} __attribute__((aligned(64))) lock_line;

static lock_line class_locks[MC_LOCKS];

typedef struct central {
	mc_span *partial;
	mc_span *empty; /* SP6: the one span kept with live == 0, or NULL */
	size_t spans;   /* SP3 */
	uint64_t ops;   /* takes and gives, for SP4's idle test (atomic, under lock) */
} __attribute__((aligned(64))) central;

/* SP4's idle test, touched by the scavenger thread only: the sum of the
 * classes' ops when it last changed, since when, and whether the trim for
 * that still period has run. */
#define IDLE_TRIM_NS 100000000ull
static uint64_t idle_seen, idle_since;
static bool idle_trimmed;

/* Under k's lock: the class's lists moved (SP4). Atomic only so the idle
 * hook may read it without the lock. */
static void moved(central *k)
{
	__atomic_store_n(&k->ops, k->ops + 1, __ATOMIC_RELAXED);
}

/* [arena][class]; the arenas past hw_mc_g.narenas are never touched. */
static central centrals[MC_ARENAS_MAX][MC_NCLASSES];

/* k's lock: arena a's class c uses stripe (11a + c) % MC_LOCKS, so the
 * first arenas' lists of one class have different locks. */
static hw_mutex *lock_of(const central *k)
{
	size_t i = (size_t)(k - &centrals[0][0]);
	size_t a = i / MC_NCLASSES, c = i % MC_NCLASSES;
	return &class_locks[(a * 11 + c) % MC_LOCKS].m;
}

static hw_mutex meta_lock = HW_MUTEX_INIT;
static void *meta_free_list[META_BUCKETS]; /* under meta_lock */
static size_t meta_free_count;             /* records on those lists */
static uintptr_t meta_bump, meta_end;
/* SP5, under meta_lock: released runs of metadata pages, for reuse. */
#define META_HOLES 1024
typedef struct meta_hole {
	uintptr_t start;
	size_t len;
} meta_hole;
static meta_hole meta_holes[META_HOLES];
static size_t meta_nholes;
static size_t meta_bytes, large_objects, large_bytes;

mc_span hw_mc_freed_span = {.kind = MC_SPAN_FREED};

/* Every metadata chunk, linked through its first word (hw_mc_span_reset
 * gives them back); under meta_lock. */
static void *meta_chunks;

void hw_mc_span_init(void)
{
	for (unsigned i = 0; i < MC_LOCKS; i++)
		hw_mutex_init(&class_locks[i].m);
}

/* The layer's platform's page size (a test's simulated platform may have
 * pages other than the OS's). */
static size_t os_page(void) { return hw_mc_g.pf->caps.page_size; }

static unsigned bucket_of(size_t bytes)
{
	return bytes <= META_UNIT ? 0 : (unsigned)((bytes - 1) / META_UNIT);
}

static bool meta_take_hole(size_t sz);

void *hw_mc_meta_alloc(size_t bytes)
{
	unsigned b = bucket_of(bytes);
	HW_CHECK(b < META_BUCKETS, "malloc: metadata record too large");
	size_t sz = META_UNIT * (b + 1);
	void *p = NULL;
	hw_mutex_lock(&meta_lock);
	if (meta_free_list[b]) {
		p = meta_free_list[b];
		meta_free_list[b] = *(void **)p;
		meta_free_count--;
	} else {
		if (meta_end - meta_bump < sz && !meta_take_hole(sz)) {
			void *chunk;
			if (hw_sys_alloc(hw_mc_g.pf, META_CHUNK, &chunk) != 0) {
				hw_mutex_unlock(&meta_lock);
				return NULL;
			}
			/* The chunk's first 64 bytes link it into meta_chunks,
			 * for hw_mc_span_reset. */
			*(void **)chunk = meta_chunks;
			meta_chunks = chunk;
			meta_bump = (uintptr_t)chunk + 64;
			meta_end = (uintptr_t)chunk + META_CHUNK;
			meta_bytes += META_CHUNK;
		}
		p = (void *)meta_bump;
		meta_bump += sz;
	}
	hw_mutex_unlock(&meta_lock);
	return p;
}

/* Under meta_lock: record p of bytes back on its free list. */
static void meta_free_locked(void *p, size_t bytes)
{
	unsigned b = bucket_of(bytes);
	*(void **)p = meta_free_list[b];
	meta_free_list[b] = p;
	meta_free_count++;
}

void hw_mc_meta_free(void *p, size_t bytes)
{
	hw_mutex_lock(&meta_lock);
	meta_free_locked(p, bytes);
	hw_mutex_unlock(&meta_lock);
}

/* A free record for SP5's sort. */
typedef struct meta_rec {
	uintptr_t start;
	size_t len;
} meta_rec;

/* SP5's order: by address. */
static bool rec_less(const void *a, const void *b)
{
	return ((const meta_rec *)a)->start < ((const meta_rec *)b)->start;
}

/* SP5, under meta_lock: the first hole of at least sz bytes becomes the
 * bump region (made Ready again); false when none is, or the platform
 * cannot make it Ready. */
static bool meta_take_hole(size_t sz)
{
	for (size_t i = 0; i < meta_nholes; i++) {
		if (meta_holes[i].len < sz)
			continue;
		meta_hole h = meta_holes[i];
		if (hw_sys_use(hw_mc_g.pf, (void *)h.start, h.len) != 0)
			return false;
		meta_holes[i] = meta_holes[--meta_nholes];
		meta_bump = h.start;
		meta_end = h.start + h.len;
		meta_bytes += h.len;
		return true;
	}
	return false;
}

/* SP5: releases the whole pages of the free records; returns the bytes. */
static size_t meta_trim(void)
{
	hw_mutex_lock(&meta_lock);
	size_t n = meta_free_count, bytes = 0;
	size_t abytes = hw_align_up(hw_max(n, 1) * sizeof(meta_rec), os_page());
	void *mem;
	if (n < 2 || meta_nholes == META_HOLES || hw_sys_alloc(hw_mc_g.pf, abytes, &mem) != 0) {
		hw_mutex_unlock(&meta_lock);
		return 0;
	}
	meta_rec *a = mem;
	size_t k = 0;
	for (unsigned b = 0; b < META_BUCKETS; b++)
		for (void *p = meta_free_list[b]; p && k < n; p = *(void **)p)
			a[k++] = (meta_rec){(uintptr_t)p, META_UNIT * (b + 1)};
	n = k;
	/* Not qsort: meta_lock is held, and the C library's qsort may call
	 * malloc. */
	hw_heapsort(a, n, sizeof *a, rec_less);
	/* Runs of adjacent free records; the whole pages inside each run go,
	 * and every record touching them is marked (len 0) to leave its list. */
	for (size_t i = 0; i < n && meta_nholes < META_HOLES;) {
		size_t j = i + 1;
		uintptr_t end = a[i].start + a[i].len;
		while (j < n && a[j].start == end) {
			end = a[j].start + a[j].len;
			j++;
		}
		uintptr_t p0 = hw_align_up(a[i].start, os_page());
		uintptr_t p1 = end & ~(uintptr_t)(os_page() - 1);
		if (p1 > p0) {
			hw_sys_unuse(hw_mc_g.pf, (void *)p0, p1 - p0);
			meta_holes[meta_nholes++] = (meta_hole){p0, p1 - p0};
			meta_bytes -= p1 - p0;
			bytes += p1 - p0;
			for (size_t r = i; r < j; r++)
				if (a[r].start < p1 && a[r].start + a[r].len > p0)
					a[r].len = 0;
		}
		i = j;
	}
	/* The lists again, in address order, without the marked records. */
	void **tail[META_BUCKETS];
	for (unsigned b = 0; b < META_BUCKETS; b++) {
		meta_free_list[b] = NULL;
		tail[b] = &meta_free_list[b];
	}
	meta_free_count = 0;
	for (size_t r = 0; r < n; r++) {
		if (a[r].len == 0)
			continue;
		unsigned b = bucket_of(a[r].len);
		*tail[b] = (void *)a[r].start;
		tail[b] = (void **)a[r].start;
		meta_free_count++;
	}
	for (unsigned b = 0; b < META_BUCKETS; b++)
		*tail[b] = NULL;
	hw_mutex_unlock(&meta_lock);
	hw_sys_release(hw_mc_g.pf, mem, abytes);
	return bytes;
}

/* SP9: a leaf's bytes. */
#define LEAF_BYTES (MC_LEAF_ENTRIES * sizeof(mc_span *))

/* Every entry of leaf to &hw_mc_freed_span. Atomic stores: a lookup that
 * loaded leaf before it was released may still read it (SP9). */
static void leaf_fill_freed(mc_span **leaf)
{
	for (size_t i = 0; i < MC_LEAF_ENTRIES; i++)
		__atomic_store_n(&leaf[i], &hw_mc_freed_span, __ATOMIC_RELAXED);
}

static size_t top_bytes(size_t ntop)
{
	/* top[ntop] then kept[ntop] (SP9). */
	return hw_align_up(2 * ntop * sizeof(mc_span **), os_page());
}

int hw_mc_map_init(mc_pagemap *m, uintptr_t base, size_t wsize, unsigned shift)
{
	size_t ntop = ((wsize >> shift) + MC_LEAF_ENTRIES - 1) / MC_LEAF_ENTRIES;
	void *mem;
	if (hw_sys_alloc(hw_mc_g.pf, top_bytes(ntop), &mem) != 0)
		return ENOMEM;
	*m = (mc_pagemap){base, wsize, mem, (mc_span ***)mem + ntop, ntop};
	return 0;
}

/* SP9, under meta_lock: top[l] (NULL or MC_LEAF_FREED) becomes a real leaf:
 * its kept leaf made Ready again, or a new one, filled with
 * &hw_mc_freed_span when top[l] was MC_LEAF_FREED (a new one reads as NULL
 * otherwise), before it is published. 0 or ENOMEM (top[l] unchanged). */
static int leaf_install(mc_pagemap *m, size_t l)
{
	mc_span **leaf = m->kept[l];
	if (leaf) {
		if (hw_sys_use(hw_mc_g.pf, leaf, LEAF_BYTES) != 0)
			return ENOMEM;
		m->kept[l] = NULL;
	} else {
		void *mem;
		if (hw_sys_alloc(hw_mc_g.pf, LEAF_BYTES, &mem) != 0)
			return ENOMEM;
		leaf = mem;
	}
	meta_bytes += LEAF_BYTES;
	/* A top that is not NULL is MC_LEAF_FREED: its pages said freed. (A
	 * NULL one's were never ours, and a new leaf reads as NULL.) */
	if (m->top[l])
		leaf_fill_freed(leaf);
	__atomic_store_n(&m->top[l], leaf, __ATOMIC_RELEASE);
	return 0;
}

/* hw_mc_map_set's work, under meta_lock (SP9: every write under it, so
 * a leaf release sees it). */
static int map_set_locked(mc_pagemap *m, unsigned shift, uintptr_t start, size_t npages,
			  mc_span *s)
{
	size_t first = (start - m->base) >> shift, last = first + npages - 1;
	bool freed = s == &hw_mc_freed_span;
	for (size_t l = first >> MC_LEAF_SHIFT; l <= last >> MC_LEAF_SHIFT; l++) {
		mc_span **leaf = m->top[l];
		/* MC_LEAF_FREED already says freed for every page. */
		if (leaf && (leaf != MC_LEAF_FREED || freed))
			continue;
		if (leaf_install(m, l) != 0)
			return ENOMEM;
	}
	for (size_t i = first; i <= last; i++) {
		mc_span **leaf = m->top[i >> MC_LEAF_SHIFT];
		if (leaf != MC_LEAF_FREED) /* (never NULL: installed above) */
			__atomic_store_n(&leaf[i & (MC_LEAF_ENTRIES - 1)], s, __ATOMIC_RELAXED);
	}
	return 0;
}

int hw_mc_map_set(mc_pagemap *m, unsigned shift, uintptr_t start, size_t npages, mc_span *s)
{
	hw_mutex_lock(&meta_lock);
	int rc = map_set_locked(m, shift, start, npages, s);
	hw_mutex_unlock(&meta_lock);
	return rc;
}

/* SP9, under meta_lock: whether no entry of leaf names anything but
 * &hw_mc_freed_span (writers hold meta_lock too: plain reads). */
static bool leaf_all_freed(mc_span *const *leaf)
{
	for (size_t i = 0; i < MC_LEAF_ENTRIES; i++)
		if (leaf[i] != &hw_mc_freed_span)
			return false;
	return true;
}

size_t hw_mc_map_trim(mc_pagemap *m)
{
	size_t bytes = 0;
	hw_mutex_lock(&meta_lock);
	for (size_t l = 0; l < m->ntop; l++) {
		mc_span **leaf = m->top[l];
		if (!mc_leaf_mapped(leaf) || !leaf_all_freed(leaf))
			continue;
		__atomic_store_n(&m->top[l], MC_LEAF_FREED, __ATOMIC_RELEASE);
		hw_sys_unuse(hw_mc_g.pf, leaf, LEAF_BYTES);
		m->kept[l] = leaf;
		meta_bytes -= LEAF_BYTES;
		bytes += LEAF_BYTES;
	}
	hw_mutex_unlock(&meta_lock);
	return bytes;
}

void hw_mc_map_release(mc_pagemap *m)
{
	if (!m->top)
		return;
	for (size_t l = 0; l < m->ntop; l++) {
		if (mc_leaf_mapped(m->top[l]))
			hw_sys_release(hw_mc_g.pf, m->top[l], LEAF_BYTES);
		if (m->kept[l])
			hw_sys_release(hw_mc_g.pf, m->kept[l], LEAF_BYTES);
	}
	hw_sys_release(hw_mc_g.pf, m->top, top_bytes(m->ntop));
	memset(m, 0, sizeof *m);
}

/* The layer's heap's map. */
static int map_set(uintptr_t start, size_t npages, mc_span *s)
{
	return hw_mc_map_set(&hw_mc_g.map, MC_PAGE_SHIFT, start, npages, s);
}

/* ---- pages released inside spans (SP7, MC10) ------------------------------- */

/* Pages [first, first + n) of a span as a mask (1 <= n, first + n <= 64). */
static uint64_t pages_mask(unsigned first, unsigned n)
{
	return (n >= 64 ? ~0ull : (1ull << n) - 1) << first;
}

/* The pages of s that slot i touches. */
static uint64_t slot_pages(const mc_span *s, size_t i)
{
	size_t lo = i * s->size, hi = lo + s->size - 1;
	unsigned p0 = (unsigned)(lo >> MC_PAGE_SHIFT), p1 = (unsigned)(hi >> MC_PAGE_SHIFT);
	return pages_mask(p0, p1 - p0 + 1);
}

/* The heap's release unit in pages: max(1, OS page / heap page). */
static size_t unit_pages(void) { return hw_max(os_page() / MC_PAGE, 1); }

/* The pages of mask whose whole units lie in mask (grow false), or every
 * page of a unit mask touches (grow true); units are aligned in the
 * address space, so a span's first and last units may stick out of it
 * (those never count as inside mask). */
static uint64_t whole_units(const mc_span *s, uint64_t mask, bool grow)
{
	size_t u = unit_pages();
	if (u == 1 || mask == 0)
		return mask;
	uint64_t out = 0;
	size_t lead = ((s->start / MC_PAGE) % u); /* pages of the first unit before s */
	for (size_t j0 = 0; j0 < s->npages + lead; j0 += u) {
		if (j0 < lead || j0 - lead + u > s->npages)
			continue; /* a unit that sticks out of the span */
		uint64_t m = pages_mask((unsigned)(j0 - lead), (unsigned)u);
		if (grow ? (mask & m) != 0 : (mask & m) == m)
			out |= m;
	}
	return out;
}

/* Releases (reuse false) or reuses each stretch of mask's pages; returns
 * the pages whose call succeeded. */
static uint64_t heap_pages(const mc_span *s, uint64_t mask, bool reuse)
{
	uint64_t done = 0;
	while (mask) {
		unsigned p = (unsigned)__builtin_ctzll(mask);
		uint64_t rest = ~(mask >> p);
		unsigned n = rest == 0 ? 64 - p : (unsigned)__builtin_ctzll(rest);
		void *a = (void *)(s->start + (uintptr_t)p * MC_PAGE);
		int rc = reuse ? hw_heap_reuse_inside(hw_mc_g.heap, a, n)
			       : hw_heap_release_inside(hw_mc_g.heap, a, n);
		uint64_t m = pages_mask(p, n);
		if (rc == 0)
			done |= m;
		mask &= ~m;
	}
	return done;
}

/* MC5: slot i of s listed (in the freemap) or not. */
static bool is_listed(const mc_span *s, size_t i)
{
	return s->freemap[i / 64] >> (i % 64) & 1;
}

static void list_slot(mc_span *s, size_t i)
{
	s->freemap[i / 64] |= 1ull << (i % 64);
	s->listed++;
}

static void unlist_slot(mc_span *s, size_t i)
{
	s->freemap[i / 64] &= ~(1ull << (i % 64));
	s->listed--;
}

/* MC10: after the pages `ready` of s were made Ready again, the parked
 * slots that touch them and no released page any more are listed again.
 * (Every slot that touched one of those pages was parked: no other slot
 * touches a released page.) */
static void unpark(mc_span *s, uint64_t ready)
{
	if (!ready || !s->parked)
		return;
	unsigned p0 = (unsigned)__builtin_ctzll(ready), p1 = 63u - (unsigned)__builtin_clzll(ready);
	size_t i0 = ((size_t)p0 << MC_PAGE_SHIFT) / s->size;
	size_t i1 = hw_min((((size_t)p1 + 1) << MC_PAGE_SHIFT) / s->size + 1, (size_t)s->nobjs);
	for (size_t i = i0; i < i1; i++) {
		uint64_t m = slot_pages(s, i);
		if (!(m & ready) || (m & s->rel))
			continue;
		HW_ASSERT(!is_listed(s, i));
		list_slot(s, i);
		s->parked--;
	}
}

/* SP7, before slot i is handed out: its released pages (whole units) are
 * made Ready. False when the heap refused (the pages it did make Ready stay
 * so, their parked slots back on the list). */
static bool ready_slot(mc_span *s, size_t i)
{
	uint64_t want = whole_units(s, slot_pages(s, i) & s->rel, true) & s->rel;
	if (!want)
		return true;
	uint64_t done = heap_pages(s, want, true);
	s->rel &= ~done;
	unpark(s, done);
	return done == want;
}

/* SP7: the lowest parked slot (s->parked > 0). Every slot touching a
 * released page at or above the lowest one has an index at or above that
 * of the slot holding that page's first byte, so that slot is parked. */
static size_t lowest_parked(const mc_span *s)
{
	size_t i = ((size_t)__builtin_ctzll(s->rel) << MC_PAGE_SHIFT) / s->size;
	HW_ASSERT(i < s->nobjs && !is_listed(s, i));
	return i;
}

/* SP7, under the class lock: releases the pages of s (holding live objects)
 * that only listed slots touch; returns the bytes released. */
static size_t span_trim_pages(mc_span *s)
{
	if (s->npages < 2 || s->live == 0)
		return 0;
	/* The pages of the taken slots: neither listed nor parked (a parked
	 * slot touches a released page, a taken one never does: MC10). */
	uint64_t keep = 0;
	for (size_t i = 0; i < s->nobjs; i++)
		if (!is_listed(s, i) && !(s->rel & slot_pages(s, i)))
			keep |= slot_pages(s, i);
	uint64_t rel = whole_units(s, pages_mask(0, s->npages) & ~keep & ~s->rel, false);
	if (!rel)
		return 0;
	for (size_t i = 0; i < s->nobjs; i++)
		if (is_listed(s, i) && (slot_pages(s, i) & rel)) {
			unlist_slot(s, i);
			s->parked++;
		}
	s->rel |= rel;
	uint64_t done = heap_pages(s, rel, false);
	if (done != rel) {
		s->rel &= ~(rel & ~done);
		unpark(s, rel & ~done);
	}
	return (size_t)__builtin_popcountll(done) * MC_PAGE;
}

/* MC9: a record's size, with or without debug records. */
static size_t small_rec_bytes(const mc_class *k, bool dbg)
{
	return dbg ? k->rec_bytes_dbg : k->rec_bytes;
}

static mc_span *span_new(unsigned a, unsigned c)
{
	const mc_class *k = &hw_mc_classes[c];
	void *run = hw_heap_alloc_aligned(hw_mc_g.heap, k->npages, 0, NULL);
	if (!run)
		return NULL;
	bool dbg = hw_mc_debug_on();
	size_t rec = small_rec_bytes(k, dbg);
	mc_span *s = hw_mc_meta_alloc(rec);
	if (!s) {
		hw_heap_free(hw_mc_g.heap, run, k->npages);
		return NULL;
	}
	memset(s, 0, rec);
	s->dbg = dbg;
	s->start = (uintptr_t)run;
	s->npages = k->npages;
	s->kind = MC_SPAN_SMALL;
	s->cls = (uint8_t)c;
	s->arena = (uint8_t)a;
	s->nobjs = k->nobjs;
	s->size = k->size;
	s->magic = k->magic;
	for (size_t i = 0; i < s->nobjs; i += 64)
		s->freemap[i / 64] = s->nobjs - i >= 64 ? ~0ull : (1ull << (s->nobjs - i)) - 1;
	s->listed = s->nobjs;
	if (map_set(s->start, s->npages, s) != 0) {
		hw_mc_meta_free(s, rec);
		hw_heap_free(hw_mc_g.heap, run, k->npages);
		return NULL;
	}
	/* SP7: pages past the last slot (MC2's rounding) hold nothing, ever. */
	size_t used = ((size_t)s->nobjs * s->size + MC_PAGE - 1) / MC_PAGE;
	if (used < s->npages)
		s->rel = heap_pages(
			s,
			whole_units(s, pages_mask((unsigned)used, s->npages - (unsigned)used),
				    false),
			false);
	centrals[a][c].spans++;
	return s;
}

/* Under the class lock: a span with live == 0 goes back to the heap. */
static void span_release(mc_span *s)
{
	const mc_class *k = &hw_mc_classes[s->cls];
	uintptr_t start = s->start;
	size_t np = s->npages;
	centrals[s->arena][s->cls].spans--;
	/* Entries and record under one hold of meta_lock; never ENOMEM: the
	 * leaves exist. */
	hw_mutex_lock(&meta_lock);
	(void)map_set_locked(&hw_mc_g.map, MC_PAGE_SHIFT, start, np, &hw_mc_freed_span);
	meta_free_locked(s, small_rec_bytes(k, s->dbg));
	hw_mutex_unlock(&meta_lock);
	hw_heap_free(hw_mc_g.heap, (void *)start, np);
}

static void partial_push(central *k, mc_span *s)
{
	s->prev = NULL;
	s->next = k->partial;
	if (k->partial)
		k->partial->prev = s;
	k->partial = s;
	s->partial = true;
}

static void partial_remove(central *k, mc_span *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		k->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->partial = false;
}

/* SP6: the empty span another arena keeps for class c, moved to arena a,
 * or NULL. No thread holds one of its slots (live 0), so no give reads
 * its arena while it changes. The caller holds a's lock; the others are
 * only tried, so the lock order stays what it was. */
static mc_span *adopt_empty(unsigned a, unsigned c)
{
	central *k = &centrals[a][c];
	for (unsigned i = 1; i < hw_mc_g.narenas; i++) {
		unsigned b = (a + i) % hw_mc_g.narenas;
		central *o = &centrals[b][c];
		bool shared = lock_of(o) == lock_of(k);
		if (!shared && !hw_mutex_trylock(lock_of(o)))
			continue;
		mc_span *s = o->empty;
		if (s) {
			o->empty = NULL;
			partial_remove(o, s);
			o->spans--;
			moved(o);
		}
		if (!shared)
			hw_mutex_unlock(lock_of(o));
		if (s) {
			s->arena = (uint8_t)a;
			k->spans++;
			return s;
		}
	}
	return NULL;
}

/* SP2: up to want of s's listed slots, lowest index first. */
static size_t take_listed(mc_span *s, mc_slot *out, size_t want)
{
	size_t got = 0;
	/* Words below w have no bit left, so while slots are listed, w stays
	 * below MC_FREEMAP_WORDS. */
	for (unsigned w = 0; got < want && got < s->listed; w++) {
		HW_ASSERT(w < MC_FREEMAP_WORDS);
		uint64_t bits = s->freemap[w];
		for (; bits && got < want; bits &= bits - 1) {
			size_t i = (size_t)w * 64 + (unsigned)__builtin_ctzll(bits);
			out[got].p = (void *)(s->start + i * s->size);
			out[got++].state = &s->state[i];
		}
		s->freemap[w] = bits;
	}
	s->listed -= (uint32_t)got;
	s->live += (uint32_t)got;
	return got;
}

size_t hw_mc_central_take(unsigned c, mc_slot *out, size_t want)
{
	/* SP8: the arena of the processor the thread runs on. */
	unsigned a = hw_mc_g.narenas > 1 && hw_mc_classes[c].size <= MC_ARENA_SLOT_MAX
			     ? hw_cpu_current() % hw_mc_g.narenas
			     : 0;
	central *k = &centrals[a][c];
	size_t got = 0;
	hw_mutex_lock(lock_of(k));
	moved(k);
	while (got < want) {
		mc_span *s = k->partial;
		if (!s) {
			s = adopt_empty(a, c);
			if (!s)
				s = span_new(a, c);
			if (!s)
				break;
			partial_push(k, s);
		}
		if (s == k->empty)
			k->empty = NULL; /* SP6: in use again */
		got += take_listed(s, out + got, want - got);
		if (got < want && s->parked) {
			/* SP7: no slot is listed; the lowest parked slot's pages
			 * are made Ready, which lists it (and its neighbours on
			 * those pages) again. */
			if (!ready_slot(s, lowest_parked(s)))
				goto refused;
			HW_ASSERT(s->listed > 0);
			continue;
		}
		if (!s->listed && !s->parked)
			partial_remove(k, s);
	}
refused:
	/* A refused reuse (SP7) leaves s on the list, with every slot it had. */
	hw_mutex_unlock(lock_of(k));
	return got;
}

void hw_mc_central_give(unsigned c, const mc_slot *objs, size_t n)
{
	central *k = NULL;
	for (size_t i = 0; i < n; i++) {
		void *p = objs[i].p;
		mc_span *s = mc_span_of((uintptr_t)p);
		HW_ASSERT(s && s->kind == MC_SPAN_SMALL && s->cls == c);
		/* A slot goes back to its span's arena (SP8): a batch of remote
		 * frees may hold several arenas' slots; most hold one. */
		central *own = &centrals[s->arena][c];
		if (own != k) {
			if (k)
				hw_mutex_unlock(lock_of(k));
			k = own;
			hw_mutex_lock(lock_of(k));
			moved(k);
		}
		size_t idx = mc_slot_index(s, (uintptr_t)p - s->start);
		HW_ASSERT(!is_listed(s, idx) && !(s->rel & slot_pages(s, idx)));
		list_slot(s, idx);
		s->live--;
		if (s->live == 0) {
			/* SP6: kept when it is its list's one span (so no other
			 * empty span is kept: that one would be on the list). */
			if (!k->partial || (k->partial == s && !s->next)) {
				HW_ASSERT(!k->empty);
				k->empty = s;
			} else {
				if (s->partial)
					partial_remove(k, s);
				span_release(s);
				continue;
			}
		}
		if (!s->partial)
			partial_push(k, s);
	}
	if (k)
		hw_mutex_unlock(lock_of(k));
}

void *hw_mc_large_alloc(size_t n, size_t align, bool *zeroed)
{
	size_t np = mc_large_pages(n);
	void *run = hw_heap_alloc_aligned(hw_mc_g.heap, np, align, zeroed);
	if (!run)
		return NULL;
	bool dbg = hw_mc_debug_on();
	size_t rec = mc_large_rec_bytes(dbg);
	mc_span *s = hw_mc_meta_alloc(rec);
	if (!s) {
		hw_heap_free(hw_mc_g.heap, run, np);
		errno = ENOMEM;
		return NULL;
	}
	memset(s, 0, rec);
	s->dbg = dbg;
	s->start = (uintptr_t)run;
	s->npages = (uint32_t)np;
	s->kind = MC_SPAN_LARGE;
	s->req = n;
	/* The entries and the counters under one hold of meta_lock. */
	hw_mutex_lock(&meta_lock);
	if (map_set_locked(&hw_mc_g.map, MC_PAGE_SHIFT, s->start, np, s) != 0) {
		meta_free_locked(s, rec);
		hw_mutex_unlock(&meta_lock);
		hw_heap_free(hw_mc_g.heap, run, np);
		errno = ENOMEM;
		return NULL;
	}
	large_objects++;
	large_bytes += np * MC_PAGE;
	hw_mutex_unlock(&meta_lock);
	return run;
}

bool hw_mc_large_resize(mc_span *s, size_t n)
{
	size_t np = mc_large_pages(n), old = s->npages;
	if (np == old)
		return true;
	if (np < old) {
		/* MC3: the tail maps to the freed record before the heap has
		 * it back. A shrink of a live run cannot fail. */
		(void)map_set(s->start + np * MC_PAGE, old - np, &hw_mc_freed_span);
		HW_CHECK(hw_heap_resize(hw_mc_g.heap, (void *)s->start, old, np) == 0,
			 "malloc: the heap refused to shrink a large object");
	} else {
		if (hw_heap_resize(hw_mc_g.heap, (void *)s->start, old, np) != 0)
			return false;
		if (map_set(s->start + old * MC_PAGE, np - old, s) != 0) {
			HW_CHECK(hw_heap_resize(hw_mc_g.heap, (void *)s->start, np, old) == 0,
				 "malloc: the heap refused to shrink a large object");
			return false;
		}
	}
	s->npages = (uint32_t)np;
	hw_mutex_lock(&meta_lock);
	large_bytes = large_bytes + np * MC_PAGE - old * MC_PAGE;
	hw_mutex_unlock(&meta_lock);
	return true;
}

void hw_mc_large_free(mc_span *s)
{
	uintptr_t start = s->start;
	size_t np = s->npages;
	size_t rec = mc_large_rec_bytes(s->dbg);
	/* Entries, record and counters under one hold of meta_lock; never
	 * ENOMEM: the leaves exist. */
	hw_mutex_lock(&meta_lock);
	(void)map_set_locked(&hw_mc_g.map, MC_PAGE_SHIFT, start, np, &hw_mc_freed_span);
	meta_free_locked(s, rec);
	large_objects--;
	large_bytes -= np * MC_PAGE;
	hw_mutex_unlock(&meta_lock);
	hw_heap_free(hw_mc_g.heap, (void *)start, np);
}

void hw_mc_span_reset(void)
{
	hw_mc_map_release(&hw_mc_g.map);
	while (meta_chunks) {
		void *next = *(void **)meta_chunks;
		hw_sys_release(hw_mc_g.pf, meta_chunks, META_CHUNK);
		meta_chunks = next;
	}
	memset(meta_free_list, 0, sizeof meta_free_list);
	meta_free_count = 0;
	meta_nholes = 0; /* SP5: the holes were inside the chunks */
	meta_bump = meta_end = 0;
	meta_bytes = large_objects = large_bytes = 0;
	for (unsigned a = 0; a < hw_mc_g.narenas; a++)
		for (unsigned c = 0; c < MC_NCLASSES; c++) {
			central *k = &centrals[a][c];
			k->partial = NULL;
			k->empty = NULL;
			k->spans = 0;
			k->ops = 0;
		}
	idle_seen = idle_since = 0;
	idle_trimmed = false;
}

void hw_mc_span_lock_all(void)
{
	for (unsigned i = 0; i < MC_LOCKS; i++)
		hw_mutex_lock(&class_locks[i].m);
	hw_mutex_lock(&meta_lock);
}

void hw_mc_span_unlock_all(void)
{
	hw_mutex_unlock(&meta_lock);
	for (unsigned i = MC_LOCKS; i-- > 0;)
		hw_mutex_unlock(&class_locks[i].m);
}

void hw_mc_span_stats(mc_span_stats *out)
{
	memset(out, 0, sizeof *out);
	for (unsigned a = 0; a < hw_mc_g.narenas; a++)
		for (unsigned c = 0; c < MC_NCLASSES; c++) {
			central *k = &centrals[a][c];
			hw_mutex_lock(lock_of(k));
			out->small_spans += k->spans;
			out->small_bytes += k->spans * hw_mc_classes[c].npages * MC_PAGE;
			hw_mutex_unlock(lock_of(k));
		}
	hw_mutex_lock(&meta_lock);
	out->large_objects = large_objects;
	out->large_bytes = large_bytes;
	out->meta_bytes = meta_bytes;
	hw_mutex_unlock(&meta_lock);
}

bool hw_mc_span_idle(void)
{
	uint64_t ops = 0, now = hw_now_ns();
	for (unsigned a = 0; a < hw_mc_g.narenas; a++)
		for (unsigned c = 0; c < MC_NCLASSES; c++)
			ops += __atomic_load_n(&centrals[a][c].ops, __ATOMIC_RELAXED);
	if (ops != idle_seen || idle_since == 0) {
		idle_seen = ops;
		idle_since = now;
		idle_trimmed = false;
		return false;
	}
	if (idle_trimmed)
		return now - idle_since >= IDLE_TRIM_NS + MC_IDLE_RETIRE_NS;
	if (now - idle_since < IDLE_TRIM_NS)
		return false;
	idle_trimmed = true;
	(void)hw_mc_span_trim_all();
	return false;
}

size_t hw_mc_span_trim_all(void)
{
	/* First the caches of threads that stopped calling (cache.c CA5), so
	 * the spans their slots kept can go back below. */
	(void)hw_mc_cache_drain(hw_mc_tls_cache);
	size_t bytes = 0;
	for (unsigned i = 0; i < hw_mc_g.narenas * MC_NCLASSES; i++) {
		central *k = &centrals[i / MC_NCLASSES][i % MC_NCLASSES];
		hw_mutex_lock(lock_of(k));
		mc_span *e = k->empty;
		if (e) {
			/* SP6: the kept empty span goes back to the heap. */
			k->empty = NULL;
			partial_remove(k, e);
			bytes += (size_t)e->npages * MC_PAGE;
			span_release(e);
		}
		/* SP7: the free pages of the spans still in use. */
		for (mc_span *s = k->partial; s; s = s->next)
			bytes += span_trim_pages(s);
		hw_mutex_unlock(lock_of(k));
	}
	/* SP9: the map's leaves that name no live run (after the spans above
	 * went back). */
	bytes += hw_mc_map_trim(&hw_mc_g.map);
	bytes += meta_trim();
	/* The heap keeps retain_percent of its in-use bytes Ready for reuse;
	 * a program that stopped allocating, or asked, gets them back too. */
	return bytes + hw_heap_scavenge(hw_mc_g.heap, SIZE_MAX);
}

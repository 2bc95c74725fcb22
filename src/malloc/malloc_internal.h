/* malloc_internal.h: the malloc layer's shared state and cross-file entry
 * points (classes.c, span.c, cache.c, harden.c, malloc.c).
 *
 * Owns: the size-class table, the span record, the page map that finds a
 * pointer's span, the central per-class lists, the thread cache record, the
 * layer's configuration, the misuse reports' entry points, and the restart
 * that tests and fuzz targets use (hw_mc_reset, below).
 *
 * Layout. The layer owns one private page heap (8 KiB pages), created on the
 * first call on the real OS, grown once at start so its window of address
 * space is fixed. A small object lives in a span: a run of heap pages cut
 * into equal slots of one class. A large object (more than MC_SMALL_MAX
 * bytes, or an alignment no class can give) is a page run of its own. Every
 * page of a span or large run maps to one span record (out of line, in
 * metadata the heap never hands out) through the page map: a top array over
 * the window whose leaves (8192 entries: 64 MiB of window each) are
 * allocated when a run first lands there. A NULL entry means "never ours",
 * so a foreign pointer is rejected by the same two loads that find a span.
 *
 * Invariants (numbered MCn; cited by the code and the tests):
 *   MC1. Classes: sizes are multiples of 16; from 16 to 256 in 16-byte steps,
 *        then 8 per doubling up to 1 KiB and 16 per doubling from there up
 *        to MC_SMALL_MAX, so a request of n >= 128 bytes wastes less than
 *        1/8 of its slot to rounding, and less than 1/16 from 1 KiB up
 *        (classes.c).
 *   MC2. A class's span is the fewest whole heap pages, holding at least
 *        min(8 slots, 64 KiB), whose tail (span bytes % slot) is at most 1/8
 *        of the span; at most MC_SPAN_MAX_PAGES pages (classes.c checks).
 *   MC3. Every page of a live span or large run maps to its record; every
 *        page of a run given back to the heap maps to hw_mc_freed_span until
 *        the heap hands it out again; every other page of the window maps
 *        to NULL (never ours).
 *   MC4. state[i] of a span is 0 when slot i is free (listed in the
 *        span's freemap, parked, in a thread cache, or in the debug mode's
 *        quarantine: debug_quarantine.c), and when it is live, slack + 1
 *        in its low MC_STATE_KIND_SHIFT bits, where slack = slot size -
 *        requested size (< 65536), and its kind (MC8) above them. So
 *        double free, requested size and kind need no header in the
 *        object, and one store makes a slot live.
 *   MC5. A span's slots are listed (bit set in its freemap; a new span
 *        lists every slot), parked (MC10) or live (taken: in caches,
 *        quarantined or with users), and live, listed and parked count
 *        them; a span with live == 0 is given back to the heap at once,
 *        except one per class that the class keeps (span.c SP6); a span
 *        is on its class's partial list exactly when it has a slot to hand
 *        out (listed or parked). No slot's memory holds any of this.
 *   MC10. Bit i of a span's rel is set when its page i is released inside
 *        the span's heap run (hw_heap_release_inside, span.c SP7): no live,
 *        cached, quarantined or listed slot touches such a page; the free
 *        slots that touch one are parked (off the freemap, so no take
 *        hands one out before its pages are Ready again), `parked` of
 *        them.
 *   MC6. An object with slack (slot size or page-rounded size minus the
 *        requested size) has a canary from its requested end up to the
 *        next multiple of 16 bytes (1 to 16 bytes, always inside the slack,
 *        since slots and runs end on 16-byte boundaries), written at
 *        allocation and checked at free and realloc. The canary byte at
 *        address x is byte x % 16 of a fixed pattern with no zero or
 *        ASCII byte (HD3), so the fast paths write and check it as one
 *        aligned 16-byte window (masking off the object's own bytes)
 *        without a call.
 *   MC7. A thread cache holds only free slots (state 0) of its bin's class,
 *        at most the bin's cap of them (cache.c CA4), each with the address of its state entry
 *        (so hw_malloc marks it live without a page-map lookup). Its
 *        thread touches its bins only inside a busy bracket
 *        (mc_cache_enter/mc_cache_try_enter ... mc_cache_leave), and the
 *        one other thread that may touch them, the drainer (cache.c CA5),
 *        only while the owner is outside one; so the fast paths take no
 *        lock and make no atomic read-modify-write: two plain stores and
 *        a load per call.
 *   MC8. Every object has an allocation kind (MC_KIND_*: which call made
 *        it), kept in its state entry (MC4) for a small object, okind for a
 *        large one. An allocation makes it MC_KIND_MALLOC (0); only
 *        hw_mc_kind_set and hw_mc_malloc_kind make it otherwise (right
 *        after the allocation), and a small slot loses it with its state
 *        at the free. hw_malloc and hw_free never read it, so the prefixed
 *        API costs nothing for it; the one caller that sets kinds (the
 *        override library's operator new) frees through the check
 *        (hw_mc_free_kind, which reads it with the state entry the free
 *        reads anyway). (In a byte array of its own, the kind cost
 *        operator new a page-map lookup and operator delete a cache line
 *        more per call: about 10% of realprog's cxx-mt.)
 *   MC9. In debug mode (debug.h), every span record made while it is on
 *        has dbg set and one mc_dbg_obj per slot (one for a large object)
 *        after its state entries: its size class's rec_bytes_dbg instead of
 *        rec_bytes (a large record: one mc_dbg_obj after the header), and
 *        it is freed with the size it was made with. An allocation writes
 *        alloc_* and zeroes free_*; a free that passed MA3's checks writes
 *        free_* before the slot can be handed out again. So a free slot's record
 *        says who allocated and freed it last, and a live object's
 *        free_stack is 0, except while the leak check (debug_leak.c) has
 *        the world stopped and uses it as its mark. Records made while the
 *        mode was off (it can start late, MA5) have dbg 0 and none.
 *
 * Locking. Lock order, outermost first:
 *   init lock -> cache lock -> class locks (ascending; 32 of them, striped
 *   over the arenas' classes: span.c; no path holds two) -> meta lock
 *   -> the guarded objects' lock (guard.c: a leaf)
 *   -> the debug mode's quarantine lock -> its report lock -> its depot
 *   lock (debug.h: leaves, nothing else is taken under any of them)
 *   -> the heap's locks (registry, scav_lock, lock: src/registry.c R2).
 * The cache lock (cache.c's recycled records and live list) is held by
 * the drainer while it gives drained slots to the central lists (CA5), so
 * class locks (and what they take) are taken under it; nothing takes it
 * under another lock of the layer, and the fork hooks take it first.
 * A class lock guards the partial lists it serves (span.c) and the
 * freemap and counts of every span on them; the meta lock guards the metadata
 * allocator, every page-map write (entries and leaves) and leaf release
 * (span.c SP9) and the large-object counters. So every page-map write is
 * made under the meta lock: span creation and release and a large
 * object's allocation, resize and free take it (after the class lock, for
 * spans), and guard.c writes its map with no lock of its own held. The
 * page map's entries are written with relaxed atomics and read with no
 * lock: a pointer a thread frees was handed to it through the program's
 * own synchronisation, which orders the span's creation before the lookup. The fork hooks
 * (malloc.c) take every lock of this layer in this order before fork(), so
 * they run before the registry's (registered earlier, so its prepare runs
 * later: pthread_atfork runs prepare hooks in reverse order).
 */
#ifndef HW_MALLOC_INTERNAL_H
#define HW_MALLOC_INTERNAL_H

#include "base.h"
#include "heapward.h"
#include "platform.h"
#include "thread.h"

#define MC_PAGE_SHIFT 13
#define MC_PAGE ((size_t)1 << MC_PAGE_SHIFT)
/* Largest small object. 64 KiB, not 32: above it a request is rounded to
 * whole 8 KiB pages, which wastes less than 1/8 only from 64 KiB up
 * (8191 / (64 KiB + 8 KiB) = 11%), so with this limit the 1/8 bound holds
 * for every size from 128 B (MC1 below it, page rounding above it). */
#define MC_SMALL_MAX ((size_t)65536)
#define MC_NCLASSES 128
/* The most slots a span has (16-byte slots in one page: MC2), and the
 * words of its freemap (classes.c checks every class fits). */
#define MC_MAX_SLOTS (MC_PAGE / 16)
#define MC_FREEMAP_WORDS (MC_MAX_SLOTS / 64)
/* Most arenas (span.c SP8; mc_global.narenas): a span record keeps its
 * arena in a byte. */
#define MC_ARENAS_MAX 64
/* The largest metadata record (span.c): the 16-byte class's with debug
 * records is 8.3 KiB (classes.c checks every class's). */
#define MC_META_MAX ((size_t)9 << 10)
/* Classes above this slot size take from arena 0 only (span.c SP8). */
#define MC_ARENA_SLOT_MAX 1024
/* A thread cache bin's cap when the thread starts (CA4). */
#define MC_CAP_START 2
/* The most heap pages of a small span (MC2): its released pages are the
 * bits of one word (MC10). */
#define MC_SPAN_MAX_PAGES 64
/* Slot division by multiplication (classes.c CL2): with a 40-bit shift
 * the magic is exact at every offset of a span of up to MC_SPAN_MAX_PAGES
 * pages (2^19 bytes) for every slot size up to MC_SMALL_MAX, and the
 * product stays below 2^55. (With 32 bits it was not: from the second
 * slot of the 13-page spans of 51200-byte slots.) */
#define MC_MAGIC_SHIFT 40
#define MC_LEAF_SHIFT 13
#define MC_LEAF_ENTRIES ((size_t)1 << MC_LEAF_SHIFT)
/* Requests above this fail with ENOMEM before any arithmetic on them. */
#define MC_MAX_REQUEST (SIZE_MAX / 4)

typedef struct mc_class {
	uint32_t size;          /* slot bytes */
	uint64_t magic;         /* slot index = (offset * magic) >> MC_MAGIC_SHIFT (CL2) */
	uint16_t npages;        /* heap pages per span */
	uint16_t nobjs;         /* slots per span */
	uint16_t batch;         /* slots moved per refill or flush of a thread cache */
	uint16_t cap;           /* slots a thread cache holds at most */
	uint32_t rec_bytes;     /* span record size (header, state and kind arrays) */
	uint32_t rec_bytes_dbg; /* the same with debug records (MC9) */
} mc_class;

extern mc_class hw_mc_classes[MC_NCLASSES];
/* By (n + 15) / 16 for n <= MC_SMALL_MAX: one load, one range check. */
extern uint8_t hw_mc_lut[MC_SMALL_MAX / 16 + 1];

/* Fills the tables (idempotent; called under the init lock and by tests). */
void hw_mc_classes_init(void);
/* Sum of every class's cap: slots in one thread cache. */
size_t hw_mc_cache_slots(void);

static inline unsigned mc_class_of(size_t n)
{
	return hw_mc_lut[(n + 15) >> 4];
}

/* Heap pages of a large object of n bytes (n <= MC_MAX_REQUEST; a
 * zero-byte one, possible with a large alignment, takes one page). */
static inline size_t mc_large_pages(size_t n)
{
	return (hw_max(n, 1) + MC_PAGE - 1) >> MC_PAGE_SHIFT;
}

/* A large object's record is MC_SPAN_QUARANTINED from its free until it
 * leaves the debug mode's quarantine (debug_quarantine.c): freed for every
 * check, its run and record kept. */
enum { MC_SPAN_SMALL = 1,
       MC_SPAN_LARGE = 2,
       MC_SPAN_FREED = 3,
       MC_SPAN_QUARANTINED = 4,
       MC_SPAN_GUARDED = 5 };

/* A slot's state entry (MC4, MC8): 0 free; live, slack + 1 in the low
 * bits and the kind from MC_STATE_KIND_SHIFT up. */
typedef uint32_t mc_state;
#define MC_STATE_KIND_SHIFT 24
#define MC_STATE_SLACK_MASK (((mc_state)1 << MC_STATE_KIND_SHIFT) - 1)

/* A span record. A guarded object's (MC_SPAN_GUARDED, guard.c) is a large
 * object's record whose start and req are the object's, npages its run's
 * pages of the guarded heap (guard pages included), run the run's first
 * byte, cls its guard side (0 right, 1 left), live 1 while it is live and
 * 0 in the quarantine, and next/prev its links in guard.c's live list or
 * quarantine (under guard.c's lock). */
typedef struct mc_span {
	uintptr_t start;
	uint32_t npages;
	uint8_t kind; /* MC_SPAN_* */
	uint8_t cls;
	uint16_t nobjs;
	uint32_t size;  /* slot bytes (small) */
	uint64_t magic; /* as mc_class.magic */
	size_t req;     /* large, guarded: requested bytes */
	uint8_t okind;  /* large, guarded: the object's MC_KIND_* (MC8) */
	uint8_t dbg;    /* the record holds debug records (MC9) */
	uint8_t arena;  /* small: the arena whose lists hold it (span.c SP8) */
	uint8_t cookie; /* guarded: the 8 bytes before start are zero (guard.c GD8) */
	/* The fields above are written once, when the record is made, and
	 * read by every free; the ones below change under the class lock at
	 * every refill and flush. A line of their own, so a thread's central
	 * traffic does not evict the others' copies of the read-only ones. */
	union {
		/* small: bit i set when slot i is listed (MC5), under the
		 * class lock. A bitmap, not a list through the slots: a take
		 * or give never touches a slot's memory, so a slot another
		 * processor freed is not a cache miss per slot on the next
		 * take (a list is read link by link, each miss after the
		 * last), and a write after free finds no allocator data. */
		uint64_t freemap[MC_FREEMAP_WORDS];
		uintptr_t run; /* guarded: the run's first byte */
	} __attribute__((aligned(64)));
	uint32_t listed, live; /* listed: bits set in freemap */
	uint64_t rel;          /* pages released inside the run (small spans) */
	uint32_t parked;       /* free slots off the freemap: they touch rel pages */
	struct mc_span *next, *prev;
	bool partial;
	bool sealed; /* guarded: the run is sealed, not faulted (guard.c GD10) */
	bool intact; /* guarded, freed: the pattern was whole at its free (GD11) */
	bool zero;   /* guarded, ready: its data pages read as zero (GD13) */
	/* MC4, one per slot (small spans only); then, with dbg, one
	 * mc_dbg_obj per slot (one for a large object). */
	mc_state state[] __attribute__((aligned(64)));
} mc_span;

/* MC4: a live slot's slack, and its requested bytes in span s. */
static inline size_t mc_state_slack(mc_state v)
{
	return (v & MC_STATE_SLACK_MASK) - 1;
}

static inline size_t mc_state_len(const mc_span *s, mc_state v)
{
	return s->size - mc_state_slack(v);
}

/* MC8: a live slot's kind. */
static inline unsigned mc_state_kind(mc_state v)
{
	return v >> MC_STATE_KIND_SHIFT;
}

/* MC9: what the debug mode keeps per object: the stack depot ids of its
 * last allocation and free (0: none recorded), and the numbers of the
 * threads that made them (saturating at UINT16_MAX). */
typedef struct mc_dbg_obj {
	uint32_t alloc_stack;
	uint32_t free_stack; /* a live object's: 0, or the leak check's mark */
	uint16_t alloc_tid, free_tid;
} mc_dbg_obj;

/* Where a record of nobjs slots (0 for a large object) keeps its debug
 * records, in bytes from its start. */
static inline size_t mc_dbg_offset(size_t nobjs)
{
	return hw_align_up(offsetof(mc_span, state) + nobjs * sizeof(mc_state),
			   _Alignof(mc_dbg_obj));
}

/* The bytes of a large (or guarded) object's record, with or without its
 * debug record (MC9). */
static inline size_t mc_large_rec_bytes(bool dbg)
{
	return dbg ? mc_dbg_offset(0) + sizeof(mc_dbg_obj) : sizeof(mc_span);
}

/* MC9: s's debug records (s->dbg must be set): one per slot, or one for a
 * large object. */
static inline mc_dbg_obj *mc_span_dbg(const mc_span *s)
{
	return (mc_dbg_obj *)((char *)s + mc_dbg_offset(s->nobjs));
}

/* A page map (MC3): one entry per page of a window of address space, in
 * leaves of MC_LEAF_ENTRIES entries, each allocated (span.c, from metadata,
 * never unmapped before hw_mc_reset) when a run first lands in its part of
 * the window. A leaf none of whose entries names a run is released at the
 * trims, its top entry then MC_LEAF_FREED, which reads as &hw_mc_freed_span
 * for every page it covers (span.c SP9). The layer's heap has one
 * (hw_mc_g.map); the guarded objects' heap another (guard.c). */
typedef struct mc_pagemap {
	uintptr_t base; /* the window */
	size_t wsize;
	mc_span ***top;  /* [ntop] leaves, atomically */
	mc_span ***kept; /* [ntop] released leaves kept for reuse (SP9), under the meta lock */
	size_t ntop;
} mc_pagemap;

extern mc_span hw_mc_freed_span;

/* SP9's top entry for a released leaf: every page it covers held a run and
 * none does now. Not a leaf in memory (a shared leaf of &hw_mc_freed_span
 * entries kept 64 KiB resident), and one compare with NULL's: lookups
 * still take one test on their fast path. */
#define MC_LEAF_FREED ((mc_span **)(uintptr_t)1)

/* Whether top entry leaf is a leaf in memory: not NULL, not MC_LEAF_FREED. */
static inline bool mc_leaf_mapped(mc_span *const *leaf)
{
	return (uintptr_t)leaf > (uintptr_t)MC_LEAF_FREED;
}

/* The entry of address a in m, whose pages are 1 << shift bytes; NULL when
 * a is outside the window or its page never held a run. */
static inline mc_span *mc_map_get(const mc_pagemap *m, unsigned shift, uintptr_t a)
{
	uintptr_t off = a - m->base;
	if (HW_UNLIKELY(off >= m->wsize))
		return NULL;
	size_t pg = off >> shift;
	mc_span **leaf = __atomic_load_n(&m->top[pg >> MC_LEAF_SHIFT], __ATOMIC_ACQUIRE);
	if (HW_UNLIKELY(!mc_leaf_mapped(leaf)))
		return leaf ? &hw_mc_freed_span : NULL;
	return __atomic_load_n(&leaf[pg & (MC_LEAF_ENTRIES - 1)], __ATOMIC_RELAXED);
}

/* Global state, written once at init (before the ready flag is published)
 * unless a comment says otherwise. */
typedef struct mc_global {
	hw_heap *heap;
	hw_platform *pf;
	mc_pagemap map;   /* the heap's window, MC_PAGE pages */
	unsigned narenas; /* 1 to MC_ARENAS_MAX (span.c SP8) */
} mc_global;

extern mc_global hw_mc_g;

/* The span holding address a (MC3), NULL when none ever did. */
static inline mc_span *mc_span_of(uintptr_t a)
{
	return mc_map_get(&hw_mc_g.map, MC_PAGE_SHIFT, a);
}

/* Slot index of byte offset off in a small span. */
static inline size_t mc_slot_index(const mc_span *s, uintptr_t off)
{
	return (size_t)(((uint64_t)off * s->magic) >> MC_MAGIC_SHIFT);
}

/* The layer's configuration. Defaults here; initialisation fills it from
 * HEAPWARD_OPTIONS (malloc.c) before the first allocation, and tests set it
 * directly or start the layer from an options string. */
typedef struct mc_config {
	bool abort_on_error;         /* misuse: report, then abort (else continue) */
	bool alloc_dealloc_mismatch; /* report malloc/delete and new/free (kind.c KD3) */
	bool free_size_mismatch;     /* check the sized frees' size and alignment (KD5) */
	unsigned exitcode;           /* exit status after errors or leaks (0: keep) */
	bool background_scavenger;   /* start the heap's scavenger at init */
	int fill_on_alloc;           /* a byte, or HW_OPTIONS_OFF */
	int fill_on_free;            /* a byte, or HW_OPTIONS_OFF */
	bool stats_at_exit;          /* print the statistics at exit */
	unsigned verbosity;
} mc_config;

extern mc_config hw_mc_cfg;

/* boot.c: the bootstrap arena, for calls made by a thread from inside its
 * own start of the layer (BT1: the init lock held). hw_mc_boot_alloc returns
 * NULL when the arena cannot hold the request (BT3). A block is never freed
 * (BT2); hw_mc_boot_owns says whether p is in the arena, hw_mc_boot_size
 * gives a block's requested size. */
void *hw_mc_boot_alloc(size_t n, size_t align);
bool hw_mc_boot_owns(const void *p);
size_t hw_mc_boot_size(const void *p);

/* malloc.c: lazy, race-free initialisation; false (errno ENOMEM) when it
 * failed (a later call tries again). */
bool hw_mc_init_slow(void);
/* Starts the layer with the options string s in place of HEAPWARD_OPTIONS
 * (tests: each option's effect, with no environment involved); false when
 * the layer had already started, or could not start. */
bool hw_mc_start(const char *s);
/* Starts the layer if no call has yet, and reads HEAPWARD_OPTIONS now if
 * its start could not (MA5): for the preload library's constructor, so
 * that help=1 and the options' warnings reach a program that never
 * allocates once the environment is readable. Leaves errno as it was. */
void hw_mc_init_env(void);

/* Starting over, on a platform of the caller's (tests and fuzz targets;
 * malloc.c MA8). The layer is one process-wide instance that starts itself
 * on hw_platform_os() at its first call (hw_platform_os_plain_guards()
 * under guard_regions=0). A test or fuzz target that wants a
 * fresh layer for every input, on a platform where failures can be injected
 * (the checked simulator, platform/sim.h), calls hw_mc_reset(&next) before
 * the input:
 *   - if the layer has started, it ends it: its private heap is destroyed
 *     (objects still live, or in the debug mode's quarantine, die with it:
 *     nothing may touch them afterwards), and every page-map leaf, metadata
 *     chunk, thread-cache record and the debug mode's memory goes back to
 *     the platform, so the platform holds nothing of the layer's
 *     afterwards (a harness can check that nothing leaked: P8 of
 *     platform.h);
 *   - every counter, list and setting returns to its initial value (hw_mc_cfg
 *     to its defaults), and the calling thread's cache is forgotten;
 *   - the next start (the next call that needs the layer: lazily, so an
 *     injected failure can hit the start itself) uses next: its platform,
 *     the private heap's window and arena size, and its options string in
 *     place of HEAPWARD_OPTIONS. next == NULL means the defaults (the real
 *     OS, the heap's default window and arenas, the environment).
 * next->platform and next->options must stay valid until the next reset.
 * Precondition: the caller is the only thread in the layer, during the
 * reset and until it returns (every other thread that called the layer has
 * exited); checked where it can be (HW_CHECK, "malloc: hw_mc_reset while
 * another thread has a cache"). Not in heapward.h and, like every hw_mc_
 * name, hidden: neither shipped library exports it. */
typedef struct mc_start_config {
	hw_platform *platform; /* NULL: the OS's, as at a first call */
	size_t address_space;  /* the private heap's window (hw_heap_config); 0: default */
	size_t arena_size;     /* the private heap's grow unit (hw_heap_config); 0: default */
	const char *options;   /* NULL: HEAPWARD_OPTIONS */
} mc_start_config;
void hw_mc_reset(const mc_start_config *next);
/* malloc.c MA9: how many times an allocation emptied the debug mode's
 * quarantine to be served (for the differential driver's model). */
uint64_t hw_mc_give_backs(void);
/* The layer's private heap, NULL while the layer has not started: for
 * hw_heap_validate and src/inspect.h's calls in tests and fuzz targets. */
hw_heap *hw_mc_heap(void);
extern int hw_mc_ready;
static inline bool mc_init(void)
{
	return HW_LIKELY(__atomic_load_n(&hw_mc_ready, __ATOMIC_ACQUIRE)) || hw_mc_init_slow();
}

/* A cached free slot and its state entry (MC7). */
typedef struct mc_slot {
	void *p;
	mc_state *state;
} mc_slot;

/* span.c: metadata, page map, central lists, large runs. */
void hw_mc_span_init(void);
void *hw_mc_meta_alloc(size_t bytes);
void hw_mc_meta_free(void *p, size_t bytes);
/* Up to want free slots of class c (MC7: state 0) into out; 0 only when
 * the heap is out of memory. Takes the class lock. */
size_t hw_mc_central_take(unsigned c, mc_slot *out, size_t want);
/* Gives n free slots of class c back to their spans. Takes the class lock. */
void hw_mc_central_give(unsigned c, const mc_slot *objs, size_t n);
/* A large object of n bytes (page runs), aligned to align (0 or a power of
 * two); *zeroed says whether its bytes are known zero. NULL on ENOMEM. */
void *hw_mc_large_alloc(size_t n, size_t align, bool *zeroed);
void hw_mc_large_free(mc_span *s);
/* Resizes large object s in place to hold n bytes (its run shrunk, or
 * grown into the free pages right after it: hw_heap_resize); true, or
 * false with s unchanged when the pages after it are not free. */
bool hw_mc_large_resize(mc_span *s, size_t n);
/* An empty page map over [base, base + wsize) of pages of 1 << shift
 * bytes, with a top entry for every leaf that covers part of it (one at
 * least, however small the window, as wsize > 0); 0 or ENOMEM. */
int hw_mc_map_init(mc_pagemap *m, uintptr_t base, size_t wsize, unsigned shift);
/* Points every page of [start, start + npages pages of 1 << shift bytes)
 * of m's window at s (MC3), creating or reinstalling leaves as needed; all
 * under the meta lock (span.c SP9). 0 or ENOMEM (nothing pointed then). */
int hw_mc_map_set(mc_pagemap *m, unsigned shift, uintptr_t start, size_t npages, mc_span *s);
/* SP9: releases every leaf of m whose entries are all &hw_mc_freed_span (the
 * trims); returns the bytes. Takes the meta lock. */
size_t hw_mc_map_trim(mc_pagemap *m);
/* Gives m's leaves, kept ones included, and its top array back to the
 * platform, and empties m (hw_mc_reset; nothing if m was never made). */
void hw_mc_map_release(mc_pagemap *m);
/* Takes or releases every lock of span.c (fork hooks). */
void hw_mc_span_lock_all(void);
void hw_mc_span_unlock_all(void);
/* hw_mc_reset's part: gives the page map's leaves and the metadata chunks
 * back to the platform and empties the central lists and counters. */
void hw_mc_span_reset(void);
typedef struct mc_span_stats {
	size_t small_spans, small_bytes, large_objects, large_bytes, meta_bytes;
} mc_span_stats;
void hw_mc_span_stats(mc_span_stats *out);
/* The layer's trim, hw_malloc_trim's and SP4's: drains the caches of the
 * threads outside the layer and flushes the caller's (cache.c CA5), gives
 * the classes' kept empty spans back to the heap (SP6), releases the free
 * pages inside spans (SP7), the page map's leaves that name no live run
 * (SP9) and the free metadata pages (SP5), then every free page of the
 * heap. Returns the bytes. */
size_t hw_mc_span_trim_all(void);
/* The idle step of the heap's idle hook (inspect.h, malloc.c):
 * hw_mc_span_trim_all once the central lists have not moved for a while
 * (span.c SP4). True once they have not moved for MC_IDLE_RETIRE_NS since
 * that trim. */
#define MC_IDLE_RETIRE_NS 1000000000ull
bool hw_mc_span_idle(void);

/* malloc.c: the end of a free the quarantine delayed (debug_quarantine.c
 * DQ2): small slot idx of s (state 0 already) filled as fill_on_free says
 * and given to the calling thread's cache; large object s filled and its
 * run given back to the heap. */
void hw_mc_slot_release(void *p, mc_span *s, size_t idx);
void hw_mc_large_release(mc_span *s);

/* cache.c: the thread caches. */
typedef struct mc_bin {
	mc_slot *slot;
	uint32_t n, cap;
	uint32_t size; /* the class's slot bytes */
} mc_bin;

typedef struct mc_cache {
	/* CA5's handshake, on the record's first cache line: busy written
	 * only by the owner, drain only by the drainer (cache_lock held). */
	int busy, drain;
	mc_bin bin[MC_NCLASSES];
	unsigned exit_rounds;
	struct mc_cache *next_free;
	struct mc_cache *live_prev, *live_next; /* CA5's live list, under cache_lock */
	/* Where hw_malloc writes the canary window of an object without slack
	 * (so that case takes no branch). */
	unsigned char spare[16] __attribute__((aligned(16)));
	mc_slot slots[];
} mc_cache;

/* The calling thread's cache (CA1 of cache.c). */
extern HW_THREAD_LOCAL mc_cache *hw_mc_tls_cache;
/* The fast paths' view of it: hw_mc_tls_cache, or NULL while per-object work
 * the fast paths do not do is configured (fill_on_alloc, fill_on_free), so
 * that one NULL test sends every call to the slow paths. */
extern HW_THREAD_LOCAL mc_cache *hw_mc_tls;
extern bool hw_mc_slow_only; /* written at init, before hw_mc_ready */
/* The cache of a thread that has exited (or could not get one): every bin
 * empty with cap 0, so both fast paths fall to the locked fallback. */
extern mc_cache hw_mc_dead_cache;
int hw_mc_cache_init(void);
/* The calling thread's cache, created now; &hw_mc_dead_cache on failure. */
mc_cache *hw_mc_cache_create(void);
/* The owner's side of CA5's handshake (MC7). The busy store and the drain
 * load are plain (relaxed store, acquire load: a plain mov on x86) with
 * only a compiler barrier between them; the drainer's process-wide barrier
 * (thread.h T9) is the fence for both. ThreadSanitizer cannot see that
 * barrier, so under it both are sequentially consistent, which makes the
 * handshake a plain Dekker one the tool understands. */
#if HW_TSAN
#define MC_FLAG_STORE __ATOMIC_SEQ_CST
#define MC_FLAG_LOAD __ATOMIC_SEQ_CST
#else
#define MC_FLAG_STORE __ATOMIC_RELAXED
#define MC_FLAG_LOAD __ATOMIC_ACQUIRE
#endif

/* Opens c's busy bracket: true when the owner may touch c's bins now;
 * false (the bracket closed again) while a drainer holds c. */
static inline bool mc_cache_try_enter(mc_cache *c)
{
	__atomic_store_n(&c->busy, 1, MC_FLAG_STORE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (HW_LIKELY(!__atomic_load_n(&c->drain, MC_FLAG_LOAD)))
		return true;
	__atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
	return false;
}
/* The same, waiting for a drain of c to end (the slow paths). */
void hw_mc_cache_enter_wait(mc_cache *c);
static inline void mc_cache_enter(mc_cache *c)
{
	if (HW_UNLIKELY(!mc_cache_try_enter(c)))
		hw_mc_cache_enter_wait(c);
}
/* Closes the bracket: the owner's bin writes before the drainer's reads. */
static inline void mc_cache_leave(mc_cache *c)
{
	__atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
}
/* The owner moves every slot of its own cache c to the central lists (in
 * its busy bracket). */
void hw_mc_cache_flush(mc_cache *c);
/* CA5: drains the cache of every thread that is not inside the layer now
 * (each bin to the central lists, its cap back to its start) and flushes
 * self, the caller's own cache (NULL or &hw_mc_dead_cache: none). Returns the
 * slots that went back. The remote part is off (other caches kept) when
 * hw_mc_drain_on is false. */
size_t hw_mc_cache_drain(mc_cache *self);
/* Whether remote drains happen: set at start-up from
 * hw_process_barrier_ready(); tests clear it to see the layer without. */
extern bool hw_mc_drain_on;
/* Caches drained and caches skipped because their owner was busy, since
 * the layer started (under cache_lock; tests). */
void hw_mc_cache_drain_counts(uint64_t *drained, uint64_t *skipped);
/* Fork child (cache_lock held): forgets every other thread's cache (CA6). */
void hw_mc_cache_fork_child(void);
extern uint64_t hw_mc_threads_live; /* atomic */
/* The recycled-records lock (fork hooks). */
void hw_mc_cache_lock(void);
void hw_mc_cache_unlock(void);
/* hw_mc_reset's part: forgets the calling thread's cache and gives every
 * cache record back to the platform. */
void hw_mc_cache_reset(void);

/* harden.c: canaries and misuse reports. */
/* The canary pattern (MC6): byte i is the canary byte at an address that is
 * i modulo 16; w is the same 16 bytes as two native words. */
typedef union __attribute__((aligned(16))) mc_canary_pattern {
	unsigned char b[16];
	uint64_t w[2];
} mc_canary_pattern;
extern const mc_canary_pattern hw_mc_canary;

/* MC6 at allocation, for an object whose bytes before end may be clobbered
 * (a new one): writes end's whole aligned 16-byte window, the object's
 * bytes in it included. end must be before the slot's or run's end. */
static inline void mc_canary_put(unsigned char *end)
{
	unsigned char *w = (unsigned char *)((uintptr_t)end & ~(uintptr_t)15);
	__builtin_memcpy(w, hw_mc_canary.b, 16);
}

/* MC6 check: whether any canary byte after end (before the slot's end) is
 * not the pattern. Two aligned loads, no call and no branch (which byte of
 * the window end is in varies from object to object, so a branch on it
 * would be mispredicted half the time). */
static inline bool mc_canary_bad(const unsigned char *end)
{
	const unsigned char *w = (const unsigned char *)((uintptr_t)end & ~(uintptr_t)15);
	uint64_t x0, x1;
	__builtin_memcpy(&x0, w, 8);
	__builtin_memcpy(&x1, w + 8, 8);
	x0 ^= hw_mc_canary.w[0];
	x1 ^= hw_mc_canary.w[1];
	/* Keep the window's bytes from end % 16 on: in word 0 only when end is
	 * in it (lt all ones), in word 1 all of them then. */
	unsigned m = (unsigned)((uintptr_t)end & 15);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t keep = ~(uint64_t)0 << ((m & 7) * 8);
#else
	uint64_t keep = ~(uint64_t)0 >> ((m & 7) * 8);
#endif
	uint64_t lt = -(uint64_t)(m < 8);
	return ((x0 & keep & lt) | (x1 & (keep | lt))) != 0;
}

/* The pattern (MC6's bytes: hw_mc_canary.b[x % 16] at address x) over
 * [lo, hi), and the first byte of [lo, hi) that is not it (NULL: none). */
void hw_mc_pattern_fill(unsigned char *lo, unsigned char *hi);
const unsigned char *hw_mc_pattern_find(const unsigned char *lo, const unsigned char *hi);
/* MC6 for an object whose bytes must be kept (realloc in place, large
 * runs): writes only the canary bytes after end, if slack > 0. */
void hw_mc_canary_write(unsigned char *end, size_t slack);
/* The first overwritten canary byte after end, or NULL (slack 0: NULL). */
const unsigned char *hw_mc_canary_find(const unsigned char *end, size_t slack);
/* Reports misuse of p by operation op ("free", "realloc",
 * "malloc_usable_size"), then aborts unless hw_mc_cfg says continue. */
enum {
	MC_BAD_DOUBLE_FREE = 1,
	MC_BAD_INTERIOR,
	MC_BAD_FOREIGN,
	MC_BAD_FREED_MEMORY,
	MC_BAD_OVERFLOW,
	MC_BAD_UNDERFLOW, /* a guarded object's pattern before its start */
};
HW_COLD void hw_mc_misuse(int what, const char *op, const void *p, const mc_span *s,
			  size_t idx, const void *at);
/* Reports a write after free found when the freed object [lo, lo + size)
 * left the quarantine (at_exit: at the exit-time check): at is its first
 * damaged byte (past lo + size: in the slot's slack), rec its record or
 * NULL; then aborts unless hw_mc_cfg says continue. */
HW_COLD void hw_mc_use_after_free(const void *at, uintptr_t lo, size_t size,
				  const mc_dbg_obj *rec, bool at_exit);
extern uint64_t hw_mc_errors; /* atomic */

/* kind.c: allocation kinds (MC8), for the override library's
 * allocation/deallocation mismatch checks. The kinds, in the order the
 * checks name them. */
enum {
	MC_KIND_MALLOC = 0,        /* the malloc family */
	MC_KIND_NEW,               /* operator new */
	MC_KIND_NEW_ARRAY,         /* operator new[] */
	MC_KIND_NEW_ALIGNED,       /* operator new with std::align_val_t */
	MC_KIND_NEW_ARRAY_ALIGNED, /* operator new[] with std::align_val_t */
	MC_KIND_COUNT
};
/* Records kind for p, a live object just returned by the hw_malloc family. */
void hw_mc_kind_set(void *p, unsigned kind);
/* Before p is freed by op (a name for the report, e.g. "operator delete"):
 * when p is a live object's start whose kind is not `kind`, or, with sized,
 * whose requested size is not size, reports the mismatch and returns false
 * (after which the process has aborted unless the layer continues: the
 * caller then must not free p). Otherwise puts p's kind back to
 * MC_KIND_MALLOC (MC8) and returns true; a pointer that is not a live
 * object's start is left to the free's own checks (true). */
bool hw_mc_kind_check(void *p, unsigned kind, bool sized, size_t size, const char *op);
/* Before p is freed by op, free_aligned_sized with alignment align: when p
 * is a live object's start and align is not a power of two dividing p,
 * reports the mismatch and returns false (the caller then must not free
 * p), as hw_mc_kind_check does; otherwise returns true (kind.c KD5). */
bool hw_mc_align_check(void *p, size_t align, const char *op);
/* KD5's test: align is a power of two dividing p. */
static inline bool mc_aligned_to(const void *p, size_t align)
{
	return hw_is_pow2(align) && hw_align_down((uintptr_t)p, align) == (uintptr_t)p;
}
/* malloc.c: the override library's allocation and free with the kind fused
 * into the fast paths. hw_mc_malloc_kind(n, kind) is hw_malloc(n) then
 * hw_mc_kind_set; hw_mc_free_kind(p, ...) is hw_free(p) when
 * hw_mc_kind_check(p, ...) passes (nothing for NULL). Same reports, same
 * errno rules (MA2). */
void *hw_mc_malloc_kind(size_t n, unsigned kind);
/* hw_aligned_alloc(align, n) then hw_mc_kind_set (operator new with an
 * alignment). */
void *hw_mc_aligned_kind(size_t align, size_t n, unsigned kind);
void hw_mc_free_kind(void *p, unsigned kind, bool sized, size_t size, const char *op);

#endif

/* malloc_model.h: the reference model of the malloc layer (src/malloc), for
 * the malloc_fuzzer target and its tests.
 *
 * Owns: the live objects (address, requested size, where the layer must
 * have put them), the ring of recently freed addresses (stale pointers for
 * misuse ops), and the layer's documented policy written the plain way:
 * the size classes and their spans (heapward.h, malloc_internal.h MC1-MC2),
 * which requests become large page runs, the page runs of large objects,
 * and when a realloc keeps its place (heapward.h).
 *
 * Invariants:
 *   MM1. live[] holds the live objects in the order they were made (an
 *        object's index is its rank, so "object c % live" picks the same
 *        object in every run); byaddr[] holds the same objects sorted by
 *        address, and no two of them overlap (hw_mm_add refuses an
 *        overlap).
 *   MM2. The policy functions are pure and follow the header's words
 *        only: class k's slot is 16 (k + 1) bytes for k < 16, then 8
 *        classes per doubling from 256 bytes to 1 KiB, then 16 per
 *        doubling from 1 KiB to 64 KiB; a class's span is
 *        the fewest 8 KiB pages holding min(8 slots, 64 KiB) whose tail is
 *        at most 1/8 of the span; anything else is a run of whole 8 KiB
 *        pages.
 *   MM3. large_objects, large_bytes and errors are the counts the layer's
 *        hw_malloc_stats must equal exactly.
 *   MM4. With the debug mode's quarantine on (hw_mm_quarantine), a removed
 *        object goes to quar[], a FIFO written the plain way: it holds the
 *        freed objects, oldest first, whose slots (a class's slot size) or
 *        pages add up to at most qmax bytes; an object bigger than qmax
 *        leaves at once. A large object counts in MM3 until it leaves; one
 *        that leaves damaged (written after its free: hw_mm_quar_damage)
 *        is one more error. (The layer's count bound, 2^20 objects, is
 *        never reached: qmax / 16 is below it.)
 *
 * Locking: none; one run at a time.
 */
#ifndef HW_DIFFTEST_MALLOC_MODEL_H
#define HW_DIFFTEST_MALLOC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HW_MM_PAGE ((size_t)8192)
#define HW_MM_SMALL_MAX ((size_t)65536)
#define HW_MM_NCLASSES 128
#define HW_MM_LARGE 0xffu /* cls of a large object */
/* cls of a guarded object (guard=): pages of its own in the guarded heap,
 * counted neither as a span's nor as a large object, always moved by a
 * realloc, its slack the pattern up to the next 16 bytes. */
#define HW_MM_GUARDED 0xfeu
/* Requests above this fail with ENOMEM (heapward.h: SIZE_MAX / 4). */
#define HW_MM_MAX_REQUEST (SIZE_MAX / 4)
#define HW_MM_RING 16

typedef struct hw_mm_obj {
	uintptr_t addr;
	size_t n;       /* requested bytes: exactly the usable size */
	unsigned cls;   /* its class, or HW_MM_LARGE */
	size_t pages;   /* large: heap pages of its run (a realloc in place resizes it) */
	uintptr_t span; /* small: the start of the heap run holding it (found at allocation) */
	uint32_t id;
	uint64_t salt; /* seeds its contents stamps */
	size_t qbytes; /* guarded: its data pages' bytes (its share of the quarantine) */
	unsigned kind; /* the call that made it (MC_KIND_*: 0 the malloc family, or new, new[]) */
} hw_mm_obj;

typedef struct hw_mm {
	hw_mm_obj *live;
	size_t nlive, cap;
	uint32_t *byaddr; /* indices into live[], by address (MM1) */
	uint32_t next_id;
	uintptr_t ring[HW_MM_RING]; /* recently freed addresses */
	unsigned ring_next;
	/* MM3 */
	size_t large_objects, large_bytes;
	uint64_t errors;
	/* MM4: a ring of qcap objects from qhead, qn of them, of qbytes; qmax
	 * 0: no quarantine. damaged[] runs beside quar[]. */
	hw_mm_obj *quar;
	bool *damaged;
	size_t qcap, qhead, qn, qbytes, qmax;
} hw_mm;

/* 0, or -1 when the harness has no memory. */
int hw_mm_init(hw_mm *m);
void hw_mm_fini(hw_mm *m);

/* ---- policy (MM2) ---- */

/* Slot bytes of class k (k < HW_MM_NCLASSES). */
size_t hw_mm_class_size(unsigned k);
/* The smallest class holding n bytes (n <= HW_MM_SMALL_MAX). */
unsigned hw_mm_class_of(size_t n);
/* Heap pages of a span of class k. */
size_t hw_mm_span_pages(unsigned k);
/* Where n bytes aligned to align (a power of two, at least 16 meaning
 * none) go: a class, or HW_MM_LARGE. */
unsigned hw_mm_place(size_t n, size_t align);
/* Heap pages of a large object of n bytes (at least one). */
size_t hw_mm_large_pages(size_t n);
/* Bytes after the requested end up to the slot's or run's end. */
size_t hw_mm_slack(const hw_mm_obj *o);
/* Whether hw_realloc(o, n) keeps o's place (heapward.h: n stays in its
 * class; large: n stays large and needs no more pages than o's run and the
 * free_after free heap pages right after it). */
bool hw_mm_realloc_in_place(const hw_mm_obj *o, size_t n, size_t free_after);

/* ---- objects (MM1) ---- */

/* The live object that overlaps [addr, addr + max(n, 1)), or NULL. */
const hw_mm_obj *hw_mm_overlap(const hw_mm *m, uintptr_t addr, size_t n);
/* Index in live[] of the object starting at addr, or -1. */
long hw_mm_find(const hw_mm *m, uintptr_t addr);
/* Adds an object (counts MM3); o->id is set. -1 when it overlaps a live
 * one or the harness has no memory. */
int hw_mm_add(hw_mm *m, hw_mm_obj *o);
/* Removes live[i], pushing its address on the ring (counts MM3); into the
 * quarantine (MM4) when held, which is false for an object the layer
 * could not hold (a guarded one whose pages it could not fault: guard.c
 * GD4 gives its run back at once). */
void hw_mm_remove(hw_mm *m, size_t i, bool held);
/* Changes live[i]'s size in place (a realloc that kept its place). */
void hw_mm_resize(hw_mm *m, size_t i, size_t n);
/* Ring slot k (0: the latest free), or 0 when nothing was freed there. */
uintptr_t hw_mm_ring(const hw_mm *m, unsigned k);
/* MM4: turns the quarantine on, bounded by max_bytes; -1 when the harness
 * has no memory. */
int hw_mm_quarantine(hw_mm *m, size_t max_bytes);
/* Bytes a freed object holds of the quarantine's bound. */
size_t hw_mm_quar_bytes(const hw_mm_obj *o);
/* Quarantined object k (0: the oldest; k < qn). */
const hw_mm_obj *hw_mm_quar_at(const hw_mm *m, size_t k);
/* Object k was written after its free: one error when it leaves. */
void hw_mm_quar_damage(hw_mm *m, size_t k);
/* Every quarantined object leaves, oldest first. */
void hw_mm_quar_drain(hw_mm *m);
/* The model's own consistency (MM1, MM3); 0, or -1 with a message. */
int hw_mm_check(const hw_mm *m, char *msg, size_t len);

#endif

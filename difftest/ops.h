/* ops.h: the one op-stream format every fuzz target and the difftest reads.
 *
 * Owns: the record layout, the configuration header (record 0), the opcode
 * tables of the heap targets and of the platform target, and the argument
 * decoders (sizes, alignments, limits, injection) so that every target maps
 * bytes to calls the same way. fuzz/FORMAT.md documents the same table for
 * people; the two must agree.
 *
 * Invariants:
 *   O1. A record is 8 bytes: [op:u8][a:u8][b:u16 LE][c:u32 LE]. Record 0 is
 *       the configuration header; records 1.. are ops. A trailing partial
 *       record is ignored, and at most HW_OPS_MAX_RECORDS ops are read.
 *   O2. The opcode is op & 0x3f. Numbers are never reused or renumbered; an
 *       unassigned number does nothing. The two high bits are reserved and
 *       ignored.
 *   O3. Arguments come from the record by mask or clamp only. The only
 *       modulo of a changing count is an object index against the number of
 *       live objects (the caller does it).
 *   O4. Every configuration bit not assigned below is ignored; an all-zero
 *       header (or no header at all) is the default configuration.
 *   O5. Each encoder (hw_ops_enc_*, hw_ops_config_encode) is the exact
 *       inverse of its decoder: decoding what it wrote gives back the values
 *       it was given, and the bits no decoder reads are 0. A value the
 *       format cannot carry is refused (-1, nothing written), never
 *       rounded.
 *
 * Locking: none (pure functions over caller buffers).
 */
#ifndef HW_DIFFTEST_OPS_H
#define HW_DIFFTEST_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HW_OPS_RECORD 8
#define HW_OPS_MAX_RECORDS 4096
#define HW_OPS_OPCODE_MASK 0x3f

typedef struct hw_op {
	uint8_t code; /* op & 0x3f (O2) */
	uint8_t a;
	uint16_t b;
	uint32_t c;
} hw_op;

/* Number of op records in an input of `size` bytes (O1). */
size_t hw_ops_count(size_t size);

/* Op record i (0-based, after the header); i < hw_ops_count(size). */
hw_op hw_ops_get(const uint8_t *data, size_t i);

/* Writes one record into out[8] (generators and the seed writer). */
void hw_ops_put(uint8_t *out, uint8_t op, uint8_t a, uint16_t b, uint32_t c);

/* ---- heap targets (heap_sim_fuzzer, heap_os_fuzzer, difftest) ---------- */

/* The heap targets' op table, the one list of their ops (O2: append only;
 * a number is never reused). Each row: X(NAME, code, "name", changes_heap,
 * weight), where changes_heap says the op calls into the heap (the driver
 * checks the heap after it) and weight is the op's share, per thousand, of
 * the fixed-seed generator's ops. The enum, the op names (ops.c), the
 * driver's handler table and the generator are all made from it; the driver
 * handles op NAME in a function op_NAME. Arguments (fuzz/FORMAT.md):
 *   ALLOC          hw_heap_alloc(pages(a & 7, b))
 *   ALLOC_ALIGNED  hw_heap_alloc_aligned(pages(a & 7, b), align(a >> 3), &z)
 *   FREE           free live object b % live
 *   SCAVENGE       hw_heap_scavenge(c)
 *   SCAVENGE_ALL   hw_heap_scavenge(SIZE_MAX)
 *   GROW           hw_heap_grow(1 + (b & 0xfff))
 *   SET_LIMIT      hw_heap_set_memory_limit(b * 64 KiB)
 *   BG_STEP        hw_heap_scavenger_step, 1 + (a & 3) times
 *   INJECT         hw_platform_inject(1 + (b & 0xff), kind(a))
 *   TOUCH_STALE    read page b % n of freed run a & 15
 *   INVALID_FREE   kind a & 7 (below), live object c % live
 *   VALIDATE       deep check, model check, hw_sim_check
 *   STATS          arena list against stats.mapped
 *   VERIFY         check every live object's contents
 *   FREE_ALL       free every live object, oldest first
 *   AIMED_FREE     a wrong-size free aimed at the next allocated run: from
 *                  live object c % live (a & 1: the first from there whose
 *                  run ends on a chunk boundary with a run right after it)
 *                  or a freed run (a & 2: ring slot c & 15), a count
 *                  (b & 3) that reaches 0 exactly to the end of the next
 *                  run, 1 into it by 1 + ((b >> 2) & 7) pages, 2 past its
 *                  own end by 1 + ((b >> 2) & 7), 3 exactly to the next
 *                  run's start
 *   GUARD          hw_heap_guard on live object b % live: a & 0x1f pages
 *                  (0: an invalid count), from page c & 0xfff of the object,
 *                  or (a & 0x20) ending that many pages before its end
 *   UNGUARD        hw_heap_unguard, with GUARD's fields
 *   RESIZE         hw_heap_resize of live object b % live (HW_RESIZE_*,
 *                  a & 3): grow by or shrink by 1 + (c & 0x3f) pages (a
 *                  shrink to 0 pages is an invalid call), to c & 0xfff
 *                  pages, or to the end of the free pages after it
 *   RELEASE_INSIDE hw_heap_release_inside, with GUARD's fields
 *   REUSE_INSIDE   hw_heap_reuse_inside, with GUARD's fields */
#define HW_HEAP_OPS(X)                                      \
	X(NOP, 0x00, "nop", false, 0)                       \
	X(ALLOC, 0x01, "alloc", true, 300)                  \
	X(ALLOC_ALIGNED, 0x02, "alloc_aligned", true, 70)   \
	X(FREE, 0x03, "free", true, 300)                    \
	X(SCAVENGE, 0x04, "scavenge", true, 50)             \
	X(SCAVENGE_ALL, 0x05, "scavenge_all", true, 10)     \
	X(GROW, 0x06, "grow", true, 15)                     \
	X(SET_LIMIT, 0x07, "set_limit", true, 25)           \
	X(BG_STEP, 0x08, "bg_step", true, 50)               \
	X(INJECT, 0x09, "inject", false, 25)                \
	X(TOUCH_STALE, 0x0a, "touch_stale", false, 50)      \
	X(INVALID_FREE, 0x0b, "invalid_free", true, 40)     \
	X(VALIDATE, 0x0c, "validate", false, 10)            \
	X(STATS, 0x0d, "stats", false, 10)                  \
	X(VERIFY, 0x0e, "verify", false, 20)                \
	X(FREE_ALL, 0x0f, "free_all", true, 5)              \
	X(AIMED_FREE, 0x10, "aimed_free", true, 30)         \
	X(GUARD, 0x11, "guard", true, 30)                   \
	X(UNGUARD, 0x12, "unguard", true, 15)               \
	X(RESIZE, 0x13, "resize", true, 30)                 \
	X(RELEASE_INSIDE, 0x14, "release_inside", true, 30) \
	X(REUSE_INSIDE, 0x15, "reuse_inside", true, 15)

enum {
#define HW_OPS_ENUM_(name, code, str, changes, weight) HW_OP_##name = code,
	HW_HEAP_OPS(HW_OPS_ENUM_)
#undef HW_OPS_ENUM_
		HW_OP_HEAP_COUNT_
};

/* Kinds of HW_OP_INVALID_FREE (a & 7). */
enum {
	HW_BADFREE_WRONG_SIZE = 0, /* live object, npages + 1 + (b & 7), or fewer */
	HW_BADFREE_INTERIOR = 1,   /* live object's page 1 + b % (npages - 1) */
	HW_BADFREE_DOUBLE = 2,     /* a freed run again (ring slot b & 15) */
	HW_BADFREE_OUTSIDE = 3,    /* an address no arena holds */
	HW_BADFREE_UNALIGNED = 4,  /* live object start + 1 + (b & 0xff) */
	HW_BADFREE_ZERO = 5,       /* live object start, 0 pages */
	HW_BADFREE_NULL = 6,       /* NULL, 1 + (b & 0xfff) pages: a no-op, returns 0 */
	HW_BADFREE_PAST_END = 7,   /* live object, npages + 1 + (b & 0xfff) */
};

typedef struct hw_ops_config {
	size_t page_size;        /* heap page P */
	size_t os_page_size;     /* simulated OS page O */
	size_t huge_page_size;   /* simulated huge page, 0 = none */
	size_t arena_pages;      /* arena size in heap pages */
	size_t max_arenas;       /* the heap grows to at most this many arenas */
	size_t memory_limit;     /* initial limit, 0 = none */
	unsigned retain_percent; /* 0 = the heap's default */
	bool fault_on_free;
	bool ignore_hints;
	bool released_reads_zero;
	bool use_needs_call;
	bool deep_every_op; /* deep checks after every op (slow, thorough) */
} hw_ops_config;

/* Decodes the header of an input (defaults when it is shorter than one
 * record; O4). */
void hw_ops_config_decode(const uint8_t *data, size_t size, hw_ops_config *out);

/* Argument decoders (O3). */
size_t hw_ops_alloc_pages(const hw_op *op);
size_t hw_ops_align(const hw_op *op);
size_t hw_ops_grow_pages(const hw_op *op);
size_t hw_ops_limit_bytes(uint16_t b);
uint64_t hw_ops_inject_nth(const hw_op *op);
unsigned hw_ops_inject_mask(const hw_op *op);

/* BG_STEP: how many scavenger steps (1 + (a & 3)). */
unsigned hw_ops_bg_times(const hw_op *op);

/* AIMED_FREE's fields (see HW_HEAP_OPS). */
enum {
	HW_AIM_THROUGH_NEXT = 0, /* exactly through the end of the next run */
	HW_AIM_INTO_NEXT = 1,    /* extra pages into the next run */
	HW_AIM_PAST_OWN = 2,     /* extra pages past its own end */
	HW_AIM_TO_NEXT = 3,      /* exactly to the next run's start */
};
typedef struct hw_ops_aim {
	bool from_freed; /* a & 2: from ring slot index & 15, else live object index % live */
	bool chunk_edge; /* a & 1: the first object from there ending on a chunk edge */
	uint32_t index;  /* c */
	unsigned how;    /* b & 3: HW_AIM_* */
	unsigned extra;  /* 1 + ((b >> 2) & 7) */
} hw_ops_aim;
void hw_ops_aim_decode(const hw_op *op, hw_ops_aim *out);

/* RESIZE's kinds (a & 3). */
enum {
	HW_RESIZE_GROW = 0,    /* by 1 + (c & 0x3f) pages */
	HW_RESIZE_SHRINK = 1,  /* by 1 + (c & 0x3f) pages */
	HW_RESIZE_TO = 2,      /* to c & 0xfff pages */
	HW_RESIZE_TO_NEXT = 3, /* through the free pages right after it */
};
int hw_ops_enc_resize(uint8_t *out, unsigned kind, uint16_t index, uint32_t c);

/* The fields of GUARD, UNGUARD, RELEASE_INSIDE and REUSE_INSIDE (see
 * HW_HEAP_OPS). */
typedef struct hw_ops_guard {
	uint16_t index;  /* b: live object index % live */
	unsigned npages; /* a & 0x1f */
	bool from_end;   /* a & 0x20: offset counts back from the object's end */
	unsigned offset; /* c & 0xfff, in pages */
} hw_ops_guard;
void hw_ops_guard_decode(const hw_op *op, hw_ops_guard *out);

const char *hw_ops_heap_name(uint8_t code);

/* ---- encoders of heap records (O5) ---------------------------------------- */

/* The size-class code an alloc record carries in a & 7 (hw_ops_alloc_pages):
 * the first code of each class. */
typedef enum hw_ops_size_class {
	HW_OPS_TINY = 0,   /* 1-4 pages (codes 0-3) */
	HW_OPS_SMALL = 4,  /* 1-32 pages (codes 4-5) */
	HW_OPS_MEDIUM = 6, /* 1-512 pages */
	HW_OPS_LARGE = 7,  /* 1-4096 pages */
} hw_ops_size_class;

/* HW_OP_INJECT kind meaning "any call" (a & 7 == 7); 0-6 are hw_sys_kind. */
#define HW_OPS_INJECT_ANY 7u

/* Each writes one record into out[8]; 0, or -1 when the value cannot be
 * carried (nothing written). */
int hw_ops_config_encode(const hw_ops_config *cfg, uint8_t *out);
/* ALLOC of npages, in the smallest class that holds it, or in cls. */
int hw_ops_enc_alloc(uint8_t *out, size_t npages);
int hw_ops_enc_alloc_in(uint8_t *out, hw_ops_size_class cls, size_t npages);
/* ALLOC_ALIGNED: align is a power of two, 4 KiB to 16 MiB, or 1 to 128
 * bytes (the tiny alignments of a & 0x80). */
int hw_ops_enc_alloc_aligned(uint8_t *out, hw_ops_size_class cls, size_t npages, size_t align);
void hw_ops_enc_free(uint8_t *out, uint16_t index);
void hw_ops_enc_scavenge(uint8_t *out, uint32_t bytes);
int hw_ops_enc_grow(uint8_t *out, size_t npages);
/* bytes: a multiple of 64 KiB. */
int hw_ops_enc_set_limit(uint8_t *out, size_t bytes);
int hw_ops_enc_bg_step(uint8_t *out, unsigned times);
/* kind: an hw_sys_kind or HW_OPS_INJECT_ANY; nth: 1 to 256. */
int hw_ops_enc_inject(uint8_t *out, unsigned kind, uint64_t nth);
/* Page `page` (modulo its length) of the freed run in ring slot 0-15. */
int hw_ops_enc_touch_stale(uint8_t *out, unsigned slot, uint16_t page);
/* kind: HW_BADFREE_*; arg: the kind's b (see the kinds above); object: the
 * live object index (modulo the live count). */
int hw_ops_enc_invalid_free(uint8_t *out, unsigned kind, uint16_t arg, uint32_t object);
int hw_ops_enc_aimed_free(uint8_t *out, const hw_ops_aim *aim);
/* GUARD (unguard false) or UNGUARD: npages 0 to 31, offset 0 to 4095. */
int hw_ops_enc_guard(uint8_t *out, bool unguard, const hw_ops_guard *g);
/* RELEASE_INSIDE (reuse false) or REUSE_INSIDE, with GUARD's limits. */
int hw_ops_enc_inside(uint8_t *out, bool reuse, const hw_ops_guard *g);
/* The ops without arguments: NOP, SCAVENGE_ALL, VALIDATE, STATS, VERIFY,
 * FREE_ALL; -1 for any other code. */
int hw_ops_enc_plain(uint8_t *out, uint8_t code);

/* ---- malloc target (malloc_fuzzer) ------------------------------------------ */

/* The malloc layer's op table (O2: append only; numbers never reused),
 * made into the enum, the names, the handler table of malloc_ops.c and its
 * generator as HW_HEAP_OPS is. Each row: X(NAME, code, "name", weight),
 * weight per thousand of the generator's ops. Sizes are size(a & 7, b)
 * (hw_ops_malloc_size), alignments align(c) (hw_ops_malloc_align), objects
 * live object c % live unless said (fuzz/FORMAT.md has the whole table):
 *   MALLOC          hw_malloc(size)
 *   CALLOC          hw_calloc(nmemb, size): nmemb = c & 0xffff, or with
 *                   a & 0x80 SIZE_MAX - (c & 0xffff) (overflows)
 *   REALLOC         hw_realloc(object (c), size); a & 0x80: NULL
 *   REALLOCARRAY    hw_reallocarray(object (c & 0xffff), nmemb, size):
 *                   nmemb = c >> 16, a & 0x40: SIZE_MAX - (c >> 16);
 *                   a & 0x80: NULL
 *   MEMALIGN, ALIGNED_ALLOC, POSIX_MEMALIGN   (align(c), size)
 *   VALLOC          hw_valloc(size); a & 0x80: hw_pvalloc(size)
 *   INJECT          as HW_OP_INJECT: the (1 + (b & 0xff))th platform call
 *                   of kind a & 7 (7: any) fails with ENOMEM
 *   FREE, USABLE_SIZE   of the object
 *   TRIM            hw_malloc_trim(0), then the spans counted exactly
 *   CHECK           every object's contents, the heap validated, the
 *                   simulator checked
 *   FREE_ALL        every live object freed, oldest first
 *   REMOTE          another thread frees b & 15 objects from c & 0xffff
 *                   on, allocates (b >> 4) & 15 of size(a & 7, c >> 16),
 *                   and exits; its objects become the caller's
 *   MISUSE          kind a & 7 (HW_MISUSE_*), then checked: one report,
 *                   nothing changed
 *   FREE_WRONG_SIZE the object by hw_free_sized with its request + 1 +
 *                   b % 15, or (a & 1) by hw_free_aligned_sized with an
 *                   alignment that does not divide it: one report,
 *                   nothing changed */
#define HW_MALLOC_OPS(X)                              \
	X(NOP, 0x00, "nop", 0)                        \
	X(MALLOC, 0x01, "malloc", 260)                \
	X(CALLOC, 0x02, "calloc", 50)                 \
	X(REALLOC, 0x03, "realloc", 110)              \
	X(REALLOCARRAY, 0x04, "reallocarray", 20)     \
	X(MEMALIGN, 0x05, "memalign", 25)             \
	X(ALIGNED_ALLOC, 0x06, "aligned_alloc", 20)   \
	X(POSIX_MEMALIGN, 0x07, "posix_memalign", 20) \
	X(VALLOC, 0x08, "valloc", 10)                 \
	X(INJECT, 0x09, "inject", 20)                 \
	X(FREE, 0x0a, "free", 360)                    \
	X(USABLE_SIZE, 0x0b, "usable_size", 20)       \
	X(TRIM, 0x0c, "trim", 10)                     \
	X(CHECK, 0x0d, "check", 5)                    \
	X(FREE_ALL, 0x0e, "free_all", 3)              \
	X(REMOTE, 0x0f, "remote", 12)                 \
	X(MISUSE, 0x10, "misuse", 15)                 \
	X(UAF_WRITE, 0x11, "uaf_write", 8)            \
	X(NEW, 0x12, "new", 40)                       \
	X(DELETE_WRONG, 0x13, "delete_wrong", 6)      \
	X(FREE_WRONG_SIZE, 0x14, "free_wrong_size", 4)

enum {
#define HW_MOPS_ENUM_(name, code, str, weight) HW_MOP_##name = code,
	HW_MALLOC_OPS(HW_MOPS_ENUM_)
#undef HW_MOPS_ENUM_
		HW_MOP_COUNT_
};

/* Kinds of HW_MOP_MISUSE (a & 7); the layer continues after a report
 * (abort_on_error=0), and each must make exactly one. */
enum {
	HW_MISUSE_DOUBLE_FREE = 0,      /* free of freed ring slot c & 15 */
	HW_MISUSE_INTERIOR = 1,         /* free of object + 1 + b % 15 */
	HW_MISUSE_FOREIGN = 2,          /* free of a stack address */
	HW_MISUSE_REALLOC_FREED = 3,    /* realloc(ring slot c & 15, size(0, b)): NULL, EINVAL */
	HW_MISUSE_USABLE_FREED = 4,     /* malloc_usable_size(ring slot c & 15): 0 */
	HW_MISUSE_OVERFLOW_FREE = 5,    /* a byte past the object's end, then free */
	HW_MISUSE_OVERFLOW_REALLOC = 6, /* the same, then realloc to size(0, b) */
	HW_MISUSE_FREE_NULL = 7,        /* hw_free(NULL): no report, errno kept */
};

/* The malloc target's header (record 0; O4: all zero is the default). */
typedef struct hw_ops_malloc_config {
	size_t os_page_size;      /* simulated OS page: 4, 16 or 64 KiB */
	size_t huge_page_size;    /* 0, 2 MiB, 256 KiB or 1 MiB */
	bool released_reads_zero; /* else junk on reuse */
	bool use_needs_call;
	bool ignore_hints;
	bool deep_every_op;      /* heap validated after every op */
	int fill_on_alloc;       /* a byte, or -1: off */
	int fill_on_free;        /* a byte, or -1: off */
	size_t memory_limit;     /* the memory_limit option: 0 or 4 MiB to 252 MiB in 4 MiB steps */
	unsigned retain_percent; /* the retain_percent option: 0 (default) or 10 to 150 by 10 */
	/* 0: no debug mode; else debug=1 with this quarantine_bytes: 64 KiB
	 * to 960 KiB in 64 KiB steps. */
	size_t quarantine_bytes;
	bool guard; /* guarded objects (guard=all, small budgets) */
} hw_ops_malloc_config;

void hw_ops_malloc_config_decode(const uint8_t *data, size_t size, hw_ops_malloc_config *out);

/* Request sizes, by kind (a & 7) and b:
 *   0  b & 0x3f               (0 to 63 bytes)
 *   1  b & 0x3ff              (to 1023)
 *   2  b & 0x3fff             (to 16383)
 *   3  b                      (to 65535)
 *   4  near a size class edge: 2^e + 2^e / 8 * j + d, with e = 4 + (b & 15)
 *      (clamped to 16), j = (b >> 4) & 7, d = ((b >> 7) & 15) - 8, at least 0
 *   5  near a page edge: 8 KiB * (b & 0x7f) + ((b >> 7) & 63) - 32, at
 *      least 0 (to 1 MiB)
 *   6  4 KiB + (b & 0x3ff) * 4 KiB - ((b >> 10) & 63)   (to 4 MiB)
 *   7  edges (b & 7): 0, 1, 64 KiB, 64 KiB + 1, SIZE_MAX / 4 (the largest
 *      request the header allows), SIZE_MAX / 4 + 1, 1 TiB, SIZE_MAX */
size_t hw_ops_malloc_size(uint8_t a, uint16_t b);
/* align(c): c & 0x80000000: raw c & 0x3fffffff, or with c & 0x40000000
 * SIZE_MAX - (c & 0x3fffffff); else 1 << (c & 63). */
size_t hw_ops_malloc_align(uint32_t c);

const char *hw_ops_malloc_name(uint8_t code);

/* Encoders (O5). A size is written in the first kind (0..7) that carries it
 * exactly; -1 when none does. */
int hw_ops_malloc_config_encode(const hw_ops_malloc_config *cfg, uint8_t *out);
int hw_ops_enc_malloc(uint8_t *out, size_t n);
int hw_ops_enc_calloc(uint8_t *out, size_t nmemb, size_t size);
/* object < 0: a NULL pointer. */
int hw_ops_enc_realloc(uint8_t *out, long object, size_t n);
int hw_ops_enc_reallocarray(uint8_t *out, long object, size_t nmemb, size_t size);
/* code: HW_MOP_MEMALIGN, HW_MOP_ALIGNED_ALLOC or HW_MOP_POSIX_MEMALIGN. */
int hw_ops_enc_aligned(uint8_t *out, uint8_t code, size_t align, size_t n);
int hw_ops_enc_valloc(uint8_t *out, bool pvalloc, size_t n);
/* kind: an hw_sys_kind or HW_OPS_INJECT_ANY; nth: 1 to 256. */
int hw_ops_enc_malloc_inject(uint8_t *out, unsigned kind, uint64_t nth);
/* FREE and USABLE_SIZE of an object; TRIM, CHECK, FREE_ALL, NOP (object
 * ignored); -1 for any other code. */
int hw_ops_enc_malloc_plain(uint8_t *out, uint8_t code, uint32_t object);
/* frees: 0 to 15, from object first; allocs: 0 to 15 of n bytes. */
int hw_ops_enc_remote(uint8_t *out, unsigned frees, uint16_t first, unsigned allocs, size_t n);
/* kind HW_MISUSE_*; object: the live object or ring slot; n: the realloc
 * size of the realloc kinds (size kind 0); arg: INTERIOR's b. */
int hw_ops_enc_misuse(uint8_t *out, unsigned kind, uint32_t object, uint16_t arg);
/* operator new (array: new[]) of n bytes. */
int hw_ops_enc_new(uint8_t *out, bool array, size_t n);
/* A delete of object by the wrong form (sized false), or by its form with
 * a size past its request by 1 + extra % 15 (sized true). */
int hw_ops_enc_delete_wrong(uint8_t *out, uint32_t object, bool sized, uint16_t extra);
/* A sized free of object with a size past its request by 1 + extra % 15
 * (aligned false), or an aligned one with an alignment that does not
 * divide it (aligned true). */
int hw_ops_enc_free_wrong_size(uint8_t *out, uint32_t object, bool aligned, uint16_t extra);

/* ---- platform target (platform_fuzzer) ----------------------------------- */

/* Ranges are picked inside a known region (b >> 10 names a slot of the
 * target's region table, modulo the live count) by hw_ops_platform_range,
 * clamped to the region, or deliberately past its ends when a asks. */
enum {
	HW_POP_NOP = 0x00,
	HW_POP_RESERVE = 0x01, /* reserve 1 + (b & 63) pages, hint by a & 0x40, a & 0x20 */
	HW_POP_MAP = 0x02,
	HW_POP_USE = 0x03,
	HW_POP_UNUSE = 0x04,
	HW_POP_FAULT = 0x05,
	HW_POP_RELEASE = 0x06,
	HW_POP_ALLOC = 0x07,  /* alloc 1 + (b & 63) pages */
	HW_POP_INJECT = 0x08, /* as HW_OP_INJECT */
	HW_POP_PROBE = 0x09,  /* probe page (c & 0xffff) % region pages */
	HW_POP_CHECK = 0x0a,  /* hw_sim_check, every page state, contents */
	HW_POP_WRITE = 0x0b,  /* restamp the Ready pages of a range */
	HW_POP_UNFAULT = 0x0c,
	HW_POP_SEAL = 0x0d,
	HW_POP_UNSEAL = 0x0e,
	HW_POP_COUNT_
};

/* Range of a platform op inside a region of `pages` OS pages, in OS pages
 * relative to the region start: off = min(b & 0x3ff, pages - 1), len =
 * min(1 + (c & 0x3ff), pages - off); a & 0x20 extends it past the end by
 * 1 + ((c >> 10) & 7) pages, a & 0x10 starts it 1 + ((c >> 13) & 7) pages
 * before the region (off may become negative). */
void hw_ops_platform_range(const hw_op *op, size_t pages, long *off, size_t *len);

const char *hw_ops_platform_name(uint8_t code);

/* ---- pagebits target (pagebits_fuzzer) ------------------------------------ */

enum {
	HW_BOP_NOP = 0x00,
	HW_BOP_SET = 0x01,         /* set [i, i+n) of map a & 3 */
	HW_BOP_CLEAR = 0x02,       /* clear [i, i+n) */
	HW_BOP_FILL = 0x03,        /* word (b & 7) of map a & 3 = mix(c) */
	HW_BOP_COUNT = 0x04,       /* count/test of [i, i+n) */
	HW_BOP_FIND_RUN = 0x05,    /* find_clear_run(n, from) */
	HW_BOP_FIND_BELOW = 0x06,  /* find_set_below(i) */
	HW_BOP_FIND_FROM = 0x07,   /* find_set_from(i) */
	HW_BOP_SUMMARIZE = 0x08,   /* summarize map a & 3 */
	HW_BOP_MERGE = 0x09,       /* merge summaries of the four maps */
	HW_BOP_MERGE_SMALL = 0x0a, /* merge of 1 + (a & 7) small children */
	HW_BOP_AFTER_CLEAR = 0x0b, /* clear [i, i+n), summary from the old one */
	HW_BOP_AFTER_SET = 0x0c,   /* set a clear [i, i+n), summary from the old */
	HW_BOP_CHILD = 0x0d,       /* change map a & 3 of four; parent from the change */
	HW_BOP_COUNT_
};

/* Page range of a pagebits op: i = b & 511, n clamped to [0, 512 - i];
 * n = c & 1023 with a & 0x80 giving n = 512 - i (to the end). */
void hw_ops_bits_range(const hw_op *op, unsigned *i, unsigned *n);

const char *hw_ops_bits_name(uint8_t code);

#endif

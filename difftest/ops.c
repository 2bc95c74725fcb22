/* ops.c: decoding of the op-stream format (ops.h, fuzz/FORMAT.md).
 *
 * Owns: the header bit assignments and every argument decoder, so each byte
 * of an input means the same thing in every target; and the encoders, their
 * inverses (O5), with which seeds and tests write inputs by name.
 *
 * Invariants: O1-O5 of ops.h. In particular no decoder here depends on any
 * state outside the record it is given, so a stored input decodes the same
 * way whatever ran before it.
 *
 * Locking: none.
 */
#include "ops.h"

#include <string.h>

size_t hw_ops_count(size_t size)
{
	size_t records = size / HW_OPS_RECORD;
	if (records <= 1)
		return 0;
	records -= 1;
	return records < HW_OPS_MAX_RECORDS ? records : HW_OPS_MAX_RECORDS;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

hw_op hw_ops_get(const uint8_t *data, size_t i)
{
	const uint8_t *r = data + (i + 1) * HW_OPS_RECORD;
	hw_op op = {
		.code = (uint8_t)(r[0] & HW_OPS_OPCODE_MASK),
		.a = r[1],
		.b = le16(r + 2),
		.c = le32(r + 4),
	};
	return op;
}

void hw_ops_put(uint8_t *out, uint8_t op, uint8_t a, uint16_t b, uint32_t c)
{
	out[0] = op;
	out[1] = a;
	out[2] = (uint8_t)b;
	out[3] = (uint8_t)(b >> 8);
	for (int k = 0; k < 4; k++)
		out[4 + k] = (uint8_t)(c >> (8 * k));
}

/* Header (record 0), see fuzz/FORMAT.md:
 *   byte 0  bits 0-1 heap page: 8K 4K 16K 64K
 *           bits 2-3 simulated OS page: 4K 16K 64K 4K
 *           bits 4-5 simulated huge page: none 2M 256K 1M
 *           bit 6    fault_on_free
 *           bit 7    ignore_hints
 *   byte 1  bits 0-1 arena pages: 512 1024 2048 512
 *           bit 2    released pages read as junk (released_reads_zero off)
 *           bit 3    use_needs_call
 *           bits 4-7 retain_percent / 10 (0 = the heap's default)
 *   b       initial memory limit in 64 KiB units (0 = none)
 *   c       bits 0-3 max arenas (0 = 8); bit 4 deep checks after every
 *           op; the rest reserved */
void hw_ops_config_decode(const uint8_t *data, size_t size, hw_ops_config *out)
{
	static const size_t heap_page[4] = {8 << 10, 4 << 10, 16 << 10, 64 << 10};
	static const size_t os_page[4] = {4 << 10, 16 << 10, 64 << 10, 4 << 10};
	static const size_t huge[4] = {0, 2 << 20, 256 << 10, 1 << 20};
	static const size_t arena[4] = {512, 1024, 2048, 512};
	uint8_t r[HW_OPS_RECORD] = {0};
	if (size >= HW_OPS_RECORD)
		memcpy(r, data, HW_OPS_RECORD);
	memset(out, 0, sizeof *out);
	out->page_size = heap_page[r[0] & 3];
	out->os_page_size = os_page[(r[0] >> 2) & 3];
	out->huge_page_size = huge[(r[0] >> 4) & 3];
	out->fault_on_free = (r[0] >> 6) & 1;
	out->ignore_hints = (r[0] >> 7) & 1;
	out->arena_pages = arena[r[1] & 3];
	out->released_reads_zero = !((r[1] >> 2) & 1);
	out->use_needs_call = (r[1] >> 3) & 1;
	out->retain_percent = (unsigned)(r[1] >> 4) * 10;
	out->memory_limit = hw_ops_limit_bytes(le16(r + 2));
	unsigned arenas = le32(r + 4) & 0xf;
	out->max_arenas = arenas ? arenas : 8;
	out->deep_every_op = (le32(r + 4) >> 4) & 1;
}

/* Size classes (a & 7) keep most requests small, as real heaps see them:
 * 0-3 tiny (1-4 pages), 4-5 small (1-32), 6 medium (1-512), 7 large
 * (1-4096, runs across arenas). */
size_t hw_ops_alloc_pages(const hw_op *op)
{
	static const uint16_t mask[8] = {3, 3, 3, 3, 31, 31, 511, 4095};
	return 1 + (size_t)(op->b & mask[op->a & 7]);
}

/* 4 KiB << min((a >> 3) & 15, 12), up to 16 MiB; bit 7 asks instead for a
 * tiny alignment (1 << ((a >> 3) & 7) bytes), which the heap must treat as
 * its page size. */
size_t hw_ops_align(const hw_op *op)
{
	unsigned shift = (op->a >> 3) & 15;
	if (op->a & 0x80)
		return (size_t)1 << (shift & 7);
	return (size_t)4096 << (shift > 12 ? 12 : shift);
}

size_t hw_ops_grow_pages(const hw_op *op) { return 1 + (size_t)(op->b & 0xfff); }

size_t hw_ops_limit_bytes(uint16_t b) { return (size_t)b << 16; }

uint64_t hw_ops_inject_nth(const hw_op *op) { return 1 + (uint64_t)(op->b & 0xff); }

unsigned hw_ops_inject_mask(const hw_op *op)
{
	unsigned kind = op->a & 7;
	return kind == 7 ? 0u : 1u << kind;
}

unsigned hw_ops_bg_times(const hw_op *op) { return 1 + (op->a & 3u); }

void hw_ops_aim_decode(const hw_op *op, hw_ops_aim *out)
{
	out->from_freed = (op->a & 2) != 0;
	out->chunk_edge = (op->a & 1) != 0;
	out->index = op->c;
	out->how = op->b & 3u;
	out->extra = 1 + ((op->b >> 2) & 7u);
}

void hw_ops_guard_decode(const hw_op *op, hw_ops_guard *out)
{
	out->index = op->b;
	out->npages = op->a & 0x1fu;
	out->from_end = (op->a & 0x20) != 0;
	out->offset = op->c & 0xfffu;
}

static const char *const heap_names[HW_OP_HEAP_COUNT_] = {
#define HW_OPS_NAME_(name, code, str, changes, weight) [code] = str,
	HW_HEAP_OPS(HW_OPS_NAME_)
#undef HW_OPS_NAME_
};

const char *hw_ops_heap_name(uint8_t code)
{
	return code < HW_OP_HEAP_COUNT_ ? heap_names[code] : "unassigned";
}

/* ---- encoders (O5) ---- */

/* Index of v in table[0 .. n), the first when it appears twice; -1 when
 * absent. */
static int code_of(const size_t *table, int n, size_t v)
{
	for (int k = 0; k < n; k++)
		if (table[k] == v)
			return k;
	return -1;
}

int hw_ops_config_encode(const hw_ops_config *cfg, uint8_t *out)
{
	static const size_t heap_page[4] = {8 << 10, 4 << 10, 16 << 10, 64 << 10};
	static const size_t os_page[4] = {4 << 10, 16 << 10, 64 << 10, 4 << 10};
	static const size_t huge[4] = {0, 2 << 20, 256 << 10, 1 << 20};
	static const size_t arena[4] = {512, 1024, 2048, 512};
	int pg = code_of(heap_page, 4, cfg->page_size);
	int os = code_of(os_page, 4, cfg->os_page_size);
	int hp = code_of(huge, 4, cfg->huge_page_size);
	int ar = code_of(arena, 4, cfg->arena_pages);
	unsigned retain = cfg->retain_percent / 10;
	if (pg < 0 || os < 0 || hp < 0 || ar < 0 || cfg->retain_percent % 10 != 0 || retain > 15 ||
	    cfg->memory_limit % ((size_t)1 << 16) != 0 ||
	    cfg->memory_limit >> 16 > UINT16_MAX || cfg->max_arenas < 1 || cfg->max_arenas > 15)
		return -1;
	uint8_t b0 = (uint8_t)(pg | os << 2 | hp << 4 | cfg->fault_on_free << 6 |
			       cfg->ignore_hints << 7);
	uint8_t b1 = (uint8_t)(ar | !cfg->released_reads_zero << 2 | cfg->use_needs_call << 3 |
			       retain << 4);
	uint32_t c = (cfg->max_arenas == 8 ? 0u : (uint32_t)cfg->max_arenas) |
		     (uint32_t)cfg->deep_every_op << 4;
	hw_ops_put(out, b0, b1, (uint16_t)(cfg->memory_limit >> 16), c);
	return 0;
}

static const uint16_t class_mask[8] = {3, 3, 3, 3, 31, 31, 511, 4095};

static bool class_holds(hw_ops_size_class cls, size_t npages)
{
	return (cls == HW_OPS_TINY || cls == HW_OPS_SMALL || cls == HW_OPS_MEDIUM ||
		cls == HW_OPS_LARGE) &&
	       npages >= 1 && npages - 1 <= class_mask[cls];
}

int hw_ops_enc_alloc_in(uint8_t *out, hw_ops_size_class cls, size_t npages)
{
	if (!class_holds(cls, npages))
		return -1;
	hw_ops_put(out, HW_OP_ALLOC, (uint8_t)cls, (uint16_t)(npages - 1), 0);
	return 0;
}

int hw_ops_enc_alloc(uint8_t *out, size_t npages)
{
	static const hw_ops_size_class order[4] = {HW_OPS_TINY, HW_OPS_SMALL, HW_OPS_MEDIUM,
						   HW_OPS_LARGE};
	for (int k = 0; k < 4; k++)
		if (class_holds(order[k], npages))
			return hw_ops_enc_alloc_in(out, order[k], npages);
	return -1;
}

int hw_ops_enc_alloc_aligned(uint8_t *out, hw_ops_size_class cls, size_t npages, size_t align)
{
	if (!class_holds(cls, npages) || align == 0 || (align & (align - 1)) != 0)
		return -1;
	unsigned shift = (unsigned)__builtin_ctzll(align);
	uint8_t a;
	if (align < 4096 && shift <= 7)
		a = (uint8_t)(0x80 | shift << 3);
	else if (align >= 4096 && shift - 12 <= 12)
		a = (uint8_t)((shift - 12) << 3);
	else
		return -1;
	hw_ops_put(out, HW_OP_ALLOC_ALIGNED, (uint8_t)(a | cls), (uint16_t)(npages - 1), 0);
	return 0;
}

void hw_ops_enc_free(uint8_t *out, uint16_t index) { hw_ops_put(out, HW_OP_FREE, 0, index, 0); }

void hw_ops_enc_scavenge(uint8_t *out, uint32_t bytes)
{
	hw_ops_put(out, HW_OP_SCAVENGE, 0, 0, bytes);
}

int hw_ops_enc_grow(uint8_t *out, size_t npages)
{
	if (npages < 1 || npages > 0x1000)
		return -1;
	hw_ops_put(out, HW_OP_GROW, 0, (uint16_t)(npages - 1), 0);
	return 0;
}

int hw_ops_enc_set_limit(uint8_t *out, size_t bytes)
{
	if (bytes % ((size_t)1 << 16) != 0 || bytes >> 16 > UINT16_MAX)
		return -1;
	hw_ops_put(out, HW_OP_SET_LIMIT, 0, (uint16_t)(bytes >> 16), 0);
	return 0;
}

int hw_ops_enc_bg_step(uint8_t *out, unsigned times)
{
	if (times < 1 || times > 4)
		return -1;
	hw_ops_put(out, HW_OP_BG_STEP, (uint8_t)(times - 1), 0, 0);
	return 0;
}

int hw_ops_enc_inject(uint8_t *out, unsigned kind, uint64_t nth)
{
	if (kind > HW_OPS_INJECT_ANY || nth < 1 || nth > 256)
		return -1;
	hw_ops_put(out, HW_OP_INJECT, (uint8_t)kind, (uint16_t)(nth - 1), 0);
	return 0;
}

int hw_ops_enc_touch_stale(uint8_t *out, unsigned slot, uint16_t page)
{
	if (slot > 15)
		return -1;
	hw_ops_put(out, HW_OP_TOUCH_STALE, (uint8_t)slot, page, 0);
	return 0;
}

int hw_ops_enc_invalid_free(uint8_t *out, unsigned kind, uint16_t arg, uint32_t object)
{
	if (kind > HW_BADFREE_PAST_END)
		return -1;
	hw_ops_put(out, HW_OP_INVALID_FREE, (uint8_t)kind, arg, object);
	return 0;
}

int hw_ops_enc_aimed_free(uint8_t *out, const hw_ops_aim *aim)
{
	if (aim->how > HW_AIM_TO_NEXT || aim->extra < 1 || aim->extra > 8)
		return -1;
	uint8_t a = (uint8_t)(aim->chunk_edge | aim->from_freed << 1);
	uint16_t b = (uint16_t)(aim->how | (aim->extra - 1) << 2);
	hw_ops_put(out, HW_OP_AIMED_FREE, a, b, aim->index);
	return 0;
}

/* One record of the guard-shaped ops (GUARD, UNGUARD, RELEASE_INSIDE,
 * REUSE_INSIDE). */
static int enc_hole(uint8_t *out, uint8_t code, const hw_ops_guard *g)
{
	if (g->npages > 0x1f || g->offset > 0xfff)
		return -1;
	uint8_t a = (uint8_t)(g->npages | (g->from_end ? 0x20u : 0u));
	hw_ops_put(out, code, a, g->index, g->offset);
	return 0;
}

int hw_ops_enc_guard(uint8_t *out, bool unguard, const hw_ops_guard *g)
{
	return enc_hole(out, unguard ? HW_OP_UNGUARD : HW_OP_GUARD, g);
}

int hw_ops_enc_inside(uint8_t *out, bool reuse, const hw_ops_guard *g)
{
	return enc_hole(out, reuse ? HW_OP_REUSE_INSIDE : HW_OP_RELEASE_INSIDE, g);
}

int hw_ops_enc_resize(uint8_t *out, unsigned kind, uint16_t index, uint32_t c)
{
	if (kind > HW_RESIZE_TO_NEXT || c > 0xfff || (kind < HW_RESIZE_TO && c > 0x3f))
		return -1;
	hw_ops_put(out, HW_OP_RESIZE, (uint8_t)kind, index, c);
	return 0;
}

int hw_ops_enc_plain(uint8_t *out, uint8_t code)
{
	switch (code) {
	case HW_OP_NOP:
	case HW_OP_SCAVENGE_ALL:
	case HW_OP_VALIDATE:
	case HW_OP_STATS:
	case HW_OP_VERIFY:
	case HW_OP_FREE_ALL:
		hw_ops_put(out, code, 0, 0, 0);
		return 0;
	default:
		return -1;
	}
}

/* ---- malloc target ---- */

/* Header (record 0), see fuzz/FORMAT.md:
 *   byte 0  bits 0-1 simulated OS page: 4K 16K 64K 4K
 *           bits 2-3 simulated huge page: none 2M 256K 1M
 *           bit 4    released pages read as junk
 *           bit 5    use_needs_call
 *           bit 6    ignore_hints
 *           bit 7    the heap validated after every op
 *   byte 1  bit 0    fill_on_alloc (the byte: b & 0xff)
 *           bit 1    fill_on_free (the byte: b >> 8)
 *           bits 2-7 memory_limit in 4 MiB units (0 = none)
 *   b       the fill bytes (0 when their bit is clear)
 *   c       bits 0-3 retain_percent / 10 (0 = the default); bit 4 guarded
 *           objects; the rest reserved */
static const size_t malloc_os_page[4] = {4 << 10, 16 << 10, 64 << 10, 4 << 10};
static const size_t malloc_huge[4] = {0, 2 << 20, 256 << 10, 1 << 20};

void hw_ops_malloc_config_decode(const uint8_t *data, size_t size, hw_ops_malloc_config *out)
{
	uint8_t r[HW_OPS_RECORD] = {0};
	if (size >= HW_OPS_RECORD)
		memcpy(r, data, HW_OPS_RECORD);
	memset(out, 0, sizeof *out);
	uint16_t b = le16(r + 2);
	out->os_page_size = malloc_os_page[r[0] & 3];
	out->huge_page_size = malloc_huge[(r[0] >> 2) & 3];
	out->released_reads_zero = !((r[0] >> 4) & 1);
	out->use_needs_call = (r[0] >> 5) & 1;
	out->ignore_hints = (r[0] >> 6) & 1;
	out->deep_every_op = (r[0] >> 7) & 1;
	out->fill_on_alloc = (r[1] & 1) ? (int)(b & 0xff) : -1;
	out->fill_on_free = (r[1] & 2) ? (int)(b >> 8) : -1;
	out->memory_limit = (size_t)(r[1] >> 2) << 22;
	out->retain_percent = (le32(r + 4) & 0xf) * 10;
	out->quarantine_bytes = (size_t)((le32(r + 4) >> 8) & 0xf) << 16;
	out->guard = (le32(r + 4) >> 4) & 1;
}

int hw_ops_malloc_config_encode(const hw_ops_malloc_config *cfg, uint8_t *out)
{
	int os = code_of(malloc_os_page, 4, cfg->os_page_size);
	int hp = code_of(malloc_huge, 4, cfg->huge_page_size);
	if (os < 0 || hp < 0 || cfg->fill_on_alloc < -1 || cfg->fill_on_alloc > 255 ||
	    cfg->fill_on_free < -1 || cfg->fill_on_free > 255 ||
	    cfg->memory_limit % ((size_t)1 << 22) != 0 || cfg->memory_limit >> 22 > 63 ||
	    cfg->retain_percent % 10 != 0 || cfg->retain_percent / 10 > 15 ||
	    cfg->quarantine_bytes % ((size_t)1 << 16) != 0 || cfg->quarantine_bytes >> 16 > 15)
		return -1;
	uint8_t b0 = (uint8_t)(os | hp << 2 | !cfg->released_reads_zero << 4 |
			       cfg->use_needs_call << 5 | cfg->ignore_hints << 6 |
			       cfg->deep_every_op << 7);
	uint8_t b1 = (uint8_t)((cfg->fill_on_alloc >= 0) | (cfg->fill_on_free >= 0) << 1 |
			       (cfg->memory_limit >> 22) << 2);
	uint16_t b = (uint16_t)((cfg->fill_on_alloc >= 0 ? cfg->fill_on_alloc : 0) |
				(cfg->fill_on_free >= 0 ? cfg->fill_on_free : 0) << 8);
	hw_ops_put(out, b0, b1, b,
		   (uint32_t)(cfg->retain_percent / 10 | (uint32_t)cfg->guard << 4 |
			      (cfg->quarantine_bytes >> 16) << 8));
	return 0;
}

/* Kind 4: a size class edge, 2^e + 2^e / 8 * j + d (d from -8 to 7). */
static size_t class_edge(uint16_t b)
{
	unsigned e = 4 + (b & 15);
	if (e > 16)
		e = 16;
	size_t base = (size_t)1 << e;
	long v = (long)(base + base / 8 * ((b >> 4) & 7u)) + (long)((b >> 7) & 15u) - 8;
	return v > 0 ? (size_t)v : 0;
}

size_t hw_ops_malloc_size(uint8_t a, uint16_t b)
{
	static const size_t edges[8] = {
		0,
		1,
		65536,
		65537,
		SIZE_MAX / 4,
		SIZE_MAX / 4 + 1,
		(size_t)1 << 40,
		SIZE_MAX,
	};
	long v;
	switch (a & 7) {
	case 0:
		return b & 0x3fu;
	case 1:
		return b & 0x3ffu;
	case 2:
		return b & 0x3fffu;
	case 3:
		return b;
	case 4:
		return class_edge(b);
	case 5:
		v = 8192L * (b & 0x7f) + (long)((b >> 7) & 63u) - 32;
		return v > 0 ? (size_t)v : 0;
	case 6:
		return 4096 + (size_t)(b & 0x3ff) * 4096 - ((b >> 10) & 63u);
	default:
		return edges[b & 7];
	}
}

size_t hw_ops_malloc_align(uint32_t c)
{
	if (!(c & 0x80000000u))
		return (size_t)1 << (c & 63);
	size_t raw = c & 0x3fffffffu;
	return (c & 0x40000000u) ? SIZE_MAX - raw : raw;
}

static const char *const malloc_names[HW_MOP_COUNT_] = {
#define HW_MOPS_NAME_(name, code, str, weight) [code] = str,
	HW_MALLOC_OPS(HW_MOPS_NAME_)
#undef HW_MOPS_NAME_
};

const char *hw_ops_malloc_name(uint8_t code)
{
	return code < HW_MOP_COUNT_ ? malloc_names[code] : "unassigned";
}

/* The first size kind and b that decode to n exactly (O5); false when none
 * does. b's bits no decoder of that kind reads stay 0. */
static bool size_code(size_t n, uint8_t *kind, uint16_t *b)
{
	static const uint16_t masks[4] = {0x3f, 0x3ff, 0x3fff, 0xffff};
	for (uint8_t k = 0; k < 4; k++) {
		if (n <= masks[k]) {
			*kind = k;
			*b = (uint16_t)n;
			return true;
		}
	}
	for (uint8_t k = 4; k < 8; k++) {
		/* Kinds 4-7 read at most these bits of b. */
		static const uint16_t used[8] = {0, 0, 0, 0, 0x7ff, 0x1fff, 0xffff, 7};
		for (uint32_t v = 0; v <= used[k]; v++) {
			if ((v & used[k]) != v || hw_ops_malloc_size(k, (uint16_t)v) != n)
				continue;
			*kind = k;
			*b = (uint16_t)v;
			return true;
		}
	}
	return false;
}

int hw_ops_enc_malloc(uint8_t *out, size_t n)
{
	uint8_t k;
	uint16_t b;
	if (!size_code(n, &k, &b))
		return -1;
	hw_ops_put(out, HW_MOP_MALLOC, k, b, 0);
	return 0;
}

/* nmemb as a 16-bit field and its overflow flag: v, or SIZE_MAX - v. */
static bool count_code(size_t nmemb, uint16_t *v, bool *high)
{
	if (nmemb <= 0xffff) {
		*v = (uint16_t)nmemb;
		*high = false;
		return true;
	}
	if (nmemb >= SIZE_MAX - 0xffff) {
		*v = (uint16_t)(SIZE_MAX - nmemb);
		*high = true;
		return true;
	}
	return false;
}

int hw_ops_enc_calloc(uint8_t *out, size_t nmemb, size_t size)
{
	uint8_t k;
	uint16_t b, v;
	bool high;
	if (!size_code(size, &k, &b) || !count_code(nmemb, &v, &high))
		return -1;
	hw_ops_put(out, HW_MOP_CALLOC, (uint8_t)(k | high << 7), b, v);
	return 0;
}

int hw_ops_enc_realloc(uint8_t *out, long object, size_t n)
{
	uint8_t k;
	uint16_t b;
	/* Not `object > (long)UINT32_MAX`: long is 32 bits on Windows. */
	if (!size_code(n, &k, &b) || (object > 0 && (uint64_t)object >> 32 != 0))
		return -1;
	hw_ops_put(out, HW_MOP_REALLOC, (uint8_t)(k | (object < 0) << 7), b,
		   object < 0 ? 0 : (uint32_t)object);
	return 0;
}

int hw_ops_enc_reallocarray(uint8_t *out, long object, size_t nmemb, size_t size)
{
	uint8_t k;
	uint16_t b, v;
	bool high;
	if (!size_code(size, &k, &b) || !count_code(nmemb, &v, &high) || object > 0xffff)
		return -1;
	uint32_t c = (uint32_t)v << 16 | (object < 0 ? 0 : (uint32_t)object);
	hw_ops_put(out, HW_MOP_REALLOCARRAY, (uint8_t)(k | high << 6 | (object < 0) << 7), b, c);
	return 0;
}

int hw_ops_enc_aligned(uint8_t *out, uint8_t code, size_t align, size_t n)
{
	uint8_t k;
	uint16_t b;
	uint32_t c;
	if ((code != HW_MOP_MEMALIGN && code != HW_MOP_ALIGNED_ALLOC &&
	     code != HW_MOP_POSIX_MEMALIGN) ||
	    !size_code(n, &k, &b))
		return -1;
	if (align != 0 && (align & (align - 1)) == 0)
		c = (uint32_t)__builtin_ctzll(align);
	else if (align <= 0x3fffffff)
		c = 0x80000000u | (uint32_t)align;
	else if (align >= SIZE_MAX - 0x3fffffff)
		c = 0xc0000000u | (uint32_t)(SIZE_MAX - align);
	else
		return -1;
	hw_ops_put(out, code, k, b, c);
	return 0;
}

int hw_ops_enc_valloc(uint8_t *out, bool pvalloc, size_t n)
{
	uint8_t k;
	uint16_t b;
	if (!size_code(n, &k, &b))
		return -1;
	hw_ops_put(out, HW_MOP_VALLOC, (uint8_t)(k | pvalloc << 7), b, 0);
	return 0;
}

int hw_ops_enc_malloc_inject(uint8_t *out, unsigned kind, uint64_t nth)
{
	if (hw_ops_enc_inject(out, kind, nth) != 0)
		return -1;
	out[0] = HW_MOP_INJECT;
	return 0;
}

int hw_ops_enc_malloc_plain(uint8_t *out, uint8_t code, uint32_t object)
{
	switch (code) {
	case HW_MOP_FREE:
	case HW_MOP_USABLE_SIZE:
		hw_ops_put(out, code, 0, 0, object);
		return 0;
	case HW_MOP_NOP:
	case HW_MOP_TRIM:
	case HW_MOP_CHECK:
	case HW_MOP_FREE_ALL:
		hw_ops_put(out, code, 0, 0, 0);
		return 0;
	default:
		return -1;
	}
}

int hw_ops_enc_remote(uint8_t *out, unsigned frees, uint16_t first, unsigned allocs, size_t n)
{
	uint8_t k;
	uint16_t b;
	if (frees > 15 || allocs > 15 || !size_code(n, &k, &b))
		return -1;
	hw_ops_put(out, HW_MOP_REMOTE, k, (uint16_t)(frees | allocs << 4),
		   (uint32_t)b << 16 | first);
	return 0;
}

int hw_ops_enc_misuse(uint8_t *out, unsigned kind, uint32_t object, uint16_t arg)
{
	if (kind > HW_MISUSE_FREE_NULL)
		return -1;
	hw_ops_put(out, HW_MOP_MISUSE, (uint8_t)kind, arg, object);
	return 0;
}

int hw_ops_enc_new(uint8_t *out, bool array, size_t n)
{
	uint8_t k;
	uint16_t b;
	if (!size_code(n, &k, &b))
		return -1;
	hw_ops_put(out, HW_MOP_NEW, k, b, array);
	return 0;
}

int hw_ops_enc_delete_wrong(uint8_t *out, uint32_t object, bool sized, uint16_t extra)
{
	hw_ops_put(out, HW_MOP_DELETE_WRONG, sized, extra, object);
	return 0;
}

int hw_ops_enc_free_wrong_size(uint8_t *out, uint32_t object, bool aligned, uint16_t extra)
{
	hw_ops_put(out, HW_MOP_FREE_WRONG_SIZE, aligned, extra, object);
	return 0;
}

void hw_ops_platform_range(const hw_op *op, size_t pages, long *off, size_t *len)
{
	size_t o = op->b & 0x3ff;
	if (o > pages - 1)
		o = pages - 1;
	size_t n = 1 + (op->c & 0x3ff);
	if (n > pages - o)
		n = pages - o;
	long start = (long)o;
	if (op->a & 0x20)
		n += 1 + ((op->c >> 10) & 7);
	if (op->a & 0x10) {
		size_t before = 1 + ((op->c >> 13) & 7);
		start -= (long)before;
		n += before;
	}
	*off = start;
	*len = n;
}

static const char *const platform_names[HW_POP_COUNT_] = {
	"nop",
	"reserve",
	"map",
	"use",
	"unuse",
	"fault",
	"release",
	"alloc",
	"inject",
	"probe",
	"check",
	"write",
	"unfault",
	"seal",
	"unseal",
};

const char *hw_ops_platform_name(uint8_t code)
{
	return code < HW_POP_COUNT_ ? platform_names[code] : "unassigned";
}

void hw_ops_bits_range(const hw_op *op, unsigned *i, unsigned *n)
{
	unsigned start = op->b & 511;
	unsigned len = (op->a & 0x80) ? 512 - start : (unsigned)(op->c & 1023);
	if (len > 512 - start)
		len = 512 - start;
	*i = start;
	*n = len;
}

static const char *const bits_names[HW_BOP_COUNT_] = {
	"nop",
	"set",
	"clear",
	"fill",
	"count",
	"find_run",
	"find_below",
	"find_from",
	"summarize",
	"merge",
	"merge_small",
	"after_clear",
	"after_set",
	"child_changed",
};

const char *hw_ops_bits_name(uint8_t code)
{
	return code < HW_BOP_COUNT_ ? bits_names[code] : "unassigned";
}

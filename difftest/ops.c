/* ops.c: decoding of the op-stream format (ops.h, fuzz/FORMAT.md).
 *
 * Owns: the header bit assignments and every argument decoder, so each byte
 * of an input means the same thing in every target.
 *
 * Invariants: O1-O4 of ops.h. In particular no decoder here depends on any
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

static const char *const heap_names[HW_OP_HEAP_COUNT_] = {
#define HW_OPS_NAME_(name, code, str, changes, weight) [code] = str,
	HW_HEAP_OPS(HW_OPS_NAME_)
#undef HW_OPS_NAME_
};

const char *hw_ops_heap_name(uint8_t code)
{
	return code < HW_OP_HEAP_COUNT_ ? heap_names[code] : "unassigned";
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

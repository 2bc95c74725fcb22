/* difftest_selftest.c: the harness checked on its own: the decoder's
 * stability rules, the model's policy on hand-built heaps with known
 * answers, and the driver failing when a heap is changed behind the model's
 * back (a harness that cannot fail proves nothing).
 *
 * Owns: nothing shared; every test builds what it uses.
 * Invariants: each test makes at least one check (tests/check.h C1).
 * Locking: single-threaded.
 */
#include "check.h"
#include "driver.h"
#include "heap_internal.h"
#include "inspect.h"
#include "model.h"
#include "ops.h"
#include "platform.h"
#include "track.h"

#include <stdint.h>
#include <string.h>

/* ---- decoder ---- */

static void decoder_counts_whole_records(void)
{
	EXPECT(hw_ops_count(0) == 0);
	EXPECT(hw_ops_count(7) == 0);
	EXPECT(hw_ops_count(8) == 0, "a header alone has no ops");
	EXPECT(hw_ops_count(15) == 0, "a partial record is ignored");
	EXPECT(hw_ops_count(16) == 1);
	EXPECT(hw_ops_count(8 * 3 + 5) == 2);
	EXPECT(hw_ops_count((size_t)8 * 100000) == HW_OPS_MAX_RECORDS, "records are capped");
}

static void decoder_fields_and_defaults(void)
{
	uint8_t in[16];
	hw_ops_put(in, 0, 0, 0, 0);
	hw_ops_put(in + 8, 0xc3, 0x12, 0x3456, 0x789abcdeu);
	hw_op op = hw_ops_get(in, 0);
	EXPECT(op.code == 0x03, "the two high bits are not part of the opcode");
	EXPECT(op.a == 0x12 && op.b == 0x3456 && op.c == 0x789abcdeu);
	EXPECT(in[10] == 0x56 && in[11] == 0x34 && in[12] == 0xde, "little endian");

	hw_ops_config c;
	hw_ops_config_decode(in, 3, &c);
	EXPECT(c.page_size == 8192 && c.os_page_size == 4096 && c.huge_page_size == 0);
	EXPECT(c.arena_pages == 512 && c.max_arenas == 8 && c.memory_limit == 0);
	EXPECT(c.released_reads_zero && !c.fault_on_free && !c.ignore_hints && !c.use_needs_call);
	uint8_t h[8];
	hw_ops_put(h, 0xff, 0xff, 2, 0xfffffff3u);
	hw_ops_config_decode(h, 8, &c);
	EXPECT(c.page_size == 65536 && c.os_page_size == 4096 && c.huge_page_size == (1u << 20));
	EXPECT(c.fault_on_free && c.ignore_hints && !c.released_reads_zero && c.use_needs_call);
	EXPECT(c.arena_pages == 512 && c.retain_percent == 150 && c.memory_limit == 2 * 65536);
	EXPECT(c.max_arenas == 3, "max arenas from c's low bits");
}

static void decoder_arguments_clamp(void)
{
	hw_op op = {.code = HW_OP_ALLOC, .a = 3, .b = 0xffff};
	EXPECT(hw_ops_alloc_pages(&op) == 4);
	op.a = 7;
	EXPECT(hw_ops_alloc_pages(&op) == 4096);
	op.a = 0x78;
	EXPECT(hw_ops_align(&op) == (size_t)16 << 20, "alignment clamps at 16 MiB");
	op.a = 0x80 | (3 << 3);
	EXPECT(hw_ops_align(&op) == 8, "tiny alignments stay tiny");
	op.a = 7;
	EXPECT(hw_ops_inject_mask(&op) == 0, "kind 7 = any call");
	op.a = 2;
	op.b = 0xff05;
	EXPECT(hw_ops_inject_mask(&op) == 1u << 2 && hw_ops_inject_nth(&op) == 6);
	long off;
	size_t len;
	hw_op pop = {.code = HW_POP_MAP, .a = 0x30, .b = 1000, .c = 5};
	hw_ops_platform_range(&pop, 10, &off, &len);
	EXPECT(off == 8 && len == 1 + 1 + 1, "clamped to the last page, one page each side");
}

/* ---- encoder (O5) ---- */

/* Decodes record r (written by an encoder) the way a target reads it. */
static hw_op decode_one(const uint8_t *r)
{
	uint8_t in[16] = {0};
	memcpy(in + 8, r, 8);
	return hw_ops_get(in, 0);
}

static void encoder_inverts_the_decoder(void)
{
	static const hw_ops_size_class classes[4] = {HW_OPS_TINY, HW_OPS_SMALL, HW_OPS_MEDIUM,
						     HW_OPS_LARGE};
	uint8_t r[8];
	hw_op op;
	size_t bad = 0;
	/* Sizes: the smallest class by default, any class that holds them. */
	for (size_t n = 1; n <= 4096; n++) {
		if (hw_ops_enc_alloc(r, n) != 0 || (op = decode_one(r)).code != HW_OP_ALLOC ||
		    hw_ops_alloc_pages(&op) != n || (n > 4 && (op.a & 7) < 4) ||
		    (n > 32 && (op.a & 7) < 6) || (n > 512 && (op.a & 7) != 7))
			bad = bad ? bad : n;
		for (int k = 0; k < 4; k++) {
			size_t max = (size_t)1 + (k == 0 ? 3 : k == 1 ? 31
						       : k == 2       ? 511
								      : 4095);
			int rc = hw_ops_enc_alloc_in(r, classes[k], n);
			if (n > max ? rc != -1
				    : rc != 0 ||
					      hw_ops_alloc_pages((op = decode_one(r), &op)) != n ||
					      (op.a & 7) != classes[k])
				bad = bad ? bad : n;
		}
	}
	EXPECT(bad == 0, "alloc of %zu pages does not decode back", bad);
	EXPECT(hw_ops_enc_alloc(r, 0) == -1 && hw_ops_enc_alloc(r, 4097) == -1);
	/* Alignments: every power of two the format has, and none other. */
	for (unsigned sh = 0; sh < 30; sh++) {
		size_t align = (size_t)1 << sh;
		bool carried = sh <= 7 || (sh >= 12 && sh <= 24);
		int rc = hw_ops_enc_alloc_aligned(r, HW_OPS_SMALL, 9, align);
		op = decode_one(r);
		EXPECT(carried ? rc == 0 && op.code == HW_OP_ALLOC_ALIGNED &&
					 hw_ops_align(&op) == align && hw_ops_alloc_pages(&op) == 9
			       : rc == -1,
		       "alignment %zu", align);
	}
	EXPECT(hw_ops_enc_alloc_aligned(r, HW_OPS_TINY, 1, 3 << 12) == -1, "not a power of two");
	for (uint32_t i = 0; i < 70000; i += 997) {
		hw_ops_enc_free(r, (uint16_t)i);
		op = decode_one(r);
		EXPECT(op.code == HW_OP_FREE && op.b == (uint16_t)i && op.a == 0 && op.c == 0);
	}
	for (uint64_t bytes = 1; bytes <= UINT32_MAX; bytes = bytes * 3 + 1) {
		hw_ops_enc_scavenge(r, (uint32_t)bytes);
		op = decode_one(r);
		EXPECT(op.code == HW_OP_SCAVENGE && op.c == bytes);
	}
	bad = 0;
	for (size_t n = 0; n <= 4097; n++) {
		int rc = hw_ops_enc_grow(r, n);
		if (n == 0 || n > 4096
			    ? rc != -1
			    : rc != 0 || hw_ops_grow_pages((op = decode_one(r), &op)) != n)
			bad = bad ? bad : n + 1;
	}
	EXPECT(bad == 0, "grow of %zu pages", bad - 1);
	for (size_t u = 0; u <= 0x10000; u += 0x111) {
		size_t bytes = u << 16;
		int rc = hw_ops_enc_set_limit(r, bytes);
		op = decode_one(r);
		EXPECT(u > 0xffff ? rc == -1 : rc == 0 && hw_ops_limit_bytes(op.b) == bytes,
		       "limit %zu", bytes);
	}
	EXPECT(hw_ops_enc_set_limit(r, 65537) == -1, "not a multiple of 64 KiB");
	for (unsigned t = 0; t <= 5; t++) {
		int rc = hw_ops_enc_bg_step(r, t);
		op = decode_one(r);
		EXPECT(t < 1 || t > 4 ? rc == -1 : rc == 0 && hw_ops_bg_times(&op) == t);
	}
	for (unsigned kind = 0; kind <= 8; kind++) {
		for (uint64_t nth = 0; nth <= 257; nth += 1 + nth / 4) {
			int rc = hw_ops_enc_inject(r, kind, nth);
			op = decode_one(r);
			unsigned mask = kind == HW_OPS_INJECT_ANY ? 0 : 1u << kind;
			EXPECT(kind > 7 || nth < 1 || nth > 256
				       ? rc == -1
				       : rc == 0 && hw_ops_inject_mask(&op) == mask &&
						 hw_ops_inject_nth(&op) == nth,
			       "inject kind %u nth %llu", kind, (unsigned long long)nth);
		}
	}
	for (unsigned slot = 0; slot <= 16; slot++) {
		int rc = hw_ops_enc_touch_stale(r, slot, (uint16_t)(slot * 4001));
		op = decode_one(r);
		EXPECT(slot > 15
			       ? rc == -1
			       : rc == 0 && (op.a & 15) == slot && op.b == (uint16_t)(slot * 4001));
	}
	for (unsigned kind = 0; kind <= 8; kind++) {
		int rc = hw_ops_enc_invalid_free(r, kind, (uint16_t)(0x8000 | kind), 77 * kind);
		op = decode_one(r);
		EXPECT(kind > HW_BADFREE_PAST_END
			       ? rc == -1
			       : rc == 0 && (op.a & 7) == kind && op.b == (0x8000 | kind) &&
					 op.c == 77 * kind);
	}
	for (unsigned v = 0; v < 2 * 2 * 5 * 10; v++) {
		hw_ops_aim aim = {.from_freed = v & 1,
				  .chunk_edge = (v >> 1) & 1,
				  .index = v * 0x01010101u,
				  .how = (v >> 2) % 5,
				  .extra = v / 20};
		hw_ops_aim back;
		int rc = hw_ops_enc_aimed_free(r, &aim);
		op = decode_one(r);
		hw_ops_aim_decode(&op, &back);
		EXPECT(aim.how > 3 || aim.extra < 1 || aim.extra > 8
			       ? rc == -1
			       : rc == 0 && op.code == HW_OP_AIMED_FREE &&
					 back.from_freed == aim.from_freed &&
					 back.chunk_edge == aim.chunk_edge &&
					 back.index == aim.index && back.how == aim.how &&
					 back.extra == aim.extra,
		       "aimed free %u", v);
	}
	for (unsigned v = 0; v < 2 * 2 * 2 * 34; v++) {
		unsigned w = v / 2; /* v & 1: the guard ops, else the inside ones */
		hw_ops_guard g = {.index = (uint16_t)(w * 997),
				  .npages = w / 4,
				  .from_end = (w >> 1) & 1,
				  .offset = w & 1 ? 0xfff + (w / 4 == 33) : w * 31};
		hw_ops_guard back;
		int rc = v & 1 ? hw_ops_enc_guard(r, w & 1, &g) : hw_ops_enc_inside(r, w & 1, &g);
		uint8_t code = v & 1   ? (w & 1 ? HW_OP_UNGUARD : HW_OP_GUARD)
			       : w & 1 ? HW_OP_REUSE_INSIDE
				       : HW_OP_RELEASE_INSIDE;
		op = decode_one(r);
		hw_ops_guard_decode(&op, &back);
		EXPECT(g.npages > 31 || g.offset > 0xfff
			       ? rc == -1
			       : rc == 0 && op.code == code && back.index == g.index &&
					 back.npages == g.npages && back.from_end == g.from_end &&
					 back.offset == g.offset,
		       "guard/inside %u", v);
	}
	for (unsigned kind = 0; kind <= 4; kind++) {
		for (uint32_t c = 0; c <= 0x1000; c += 0x3f) {
			int rc = hw_ops_enc_resize(r, kind, (uint16_t)(kind * 1000), c);
			op = decode_one(r);
			bool fits = kind <= HW_RESIZE_TO_NEXT && c <= 0xfff &&
				    (kind >= HW_RESIZE_TO || c <= 0x3f);
			EXPECT(fits ? rc == 0 && op.code == HW_OP_RESIZE && (op.a & 3) == kind &&
					       op.b == kind * 1000 && op.c == c
				    : rc == -1,
			       "resize kind %u c %u", kind, (unsigned)c);
		}
	}
	for (unsigned code = 0; code < 64; code++) {
		bool plain = code == HW_OP_NOP || code == HW_OP_SCAVENGE_ALL ||
			     code == HW_OP_VALIDATE || code == HW_OP_STATS ||
			     code == HW_OP_VERIFY || code == HW_OP_FREE_ALL;
		int rc = hw_ops_enc_plain(r, (uint8_t)code);
		EXPECT(plain ? rc == 0 && decode_one(r).code == code : rc == -1, "op %u", code);
	}
}

static void config_encoder_inverts_the_decoder(void)
{
	static const size_t pages[] = {4096, 8192, 16384, 65536};
	static const size_t huge[] = {0, 256 << 10, 1 << 20, 2 << 20};
	static const size_t arenas[] = {512, 1024, 2048};
	size_t bad = 0, tried = 0;
	for (unsigned v = 0; v < 4 * 3 * 4 * 3 * 32; v++) {
		hw_ops_config c, back;
		hw_ops_config_decode(NULL, 0, &c);
		c.page_size = pages[v % 4];
		c.os_page_size = pages[(v / 4) % 3] == 8192 ? 65536 : pages[(v / 4) % 3];
		c.huge_page_size = huge[(v / 12) % 4];
		c.arena_pages = arenas[(v / 48) % 3];
		unsigned f = v / 144;
		c.fault_on_free = f & 1;
		c.ignore_hints = (f >> 1) & 1;
		c.released_reads_zero = (f >> 2) & 1;
		c.use_needs_call = (f >> 3) & 1;
		c.deep_every_op = (f >> 4) & 1;
		c.retain_percent = (v % 16) * 10;
		c.memory_limit = (size_t)(v * 37 % 65536) << 16;
		c.max_arenas = 1 + v % 15;
		uint8_t r[8];
		tried++;
		if (hw_ops_config_encode(&c, r) != 0) {
			bad = bad ? bad : v + 1;
			continue;
		}
		hw_ops_config_decode(r, sizeof r, &back);
		if (memcmp(&c, &back, sizeof c) != 0)
			bad = bad ? bad : v + 1;
	}
	EXPECT(bad == 0, "configuration %zu of %zu does not decode back", bad - 1, tried);
	uint8_t r[8];
	hw_ops_config c;
	hw_ops_config_decode(NULL, 0, &c);
	EXPECT(hw_ops_config_encode(&c, r) == 0 && memcmp(r, "\0\0\0\0\0\0\0\0", 8) == 0,
	       "the default configuration is the all-zero header (O4)");
	c.page_size = 32768;
	EXPECT(hw_ops_config_encode(&c, r) == -1, "a page size the header cannot name");
	hw_ops_config_decode(NULL, 0, &c);
	c.retain_percent = 25;
	EXPECT(hw_ops_config_encode(&c, r) == -1, "retain in tens only");
	hw_ops_config_decode(NULL, 0, &c);
	c.max_arenas = 16;
	EXPECT(hw_ops_config_encode(&c, r) == -1, "at most 15 arenas");
}

/* O5 for the malloc target's encoders: what each writes decodes to the
 * values it was given (ops.h, fuzz/FORMAT.md). */
static size_t enc_size(const uint8_t *r)
{
	hw_op op = decode_one(r);
	return hw_ops_malloc_size(op.a, op.b);
}

static void malloc_encoders_invert_the_decoders(void)
{
	uint8_t r[8];
	hw_op op;
	size_t bad = 0;
	for (size_t n = 0; n <= 65535; n++)
		if (hw_ops_enc_malloc(r, n) != 0 || decode_one(r).code != HW_MOP_MALLOC ||
		    enc_size(r) != n)
			bad = bad ? bad : n + 1;
	EXPECT(bad == 0, "size %zu", bad - 1);
	static const size_t sizes[] = {65536, 65537, 73728 - 32, 73728 + 31, 3 << 20,
				       (4 << 20) - 63, SIZE_MAX / 4, SIZE_MAX / 4 + 1,
				       (size_t)1 << 40, SIZE_MAX};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
		EXPECT(hw_ops_enc_malloc(r, sizes[k]) == 0 && enc_size(r) == sizes[k], "size %zu",
		       sizes[k]);
	EXPECT(hw_ops_enc_malloc(r, 70001) == -1, "a size no kind carries");
	static const size_t counts[] = {0, 1, 16, 65535, SIZE_MAX - 65535, SIZE_MAX};
	for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
		EXPECT(hw_ops_enc_calloc(r, counts[k], 3000) == 0 &&
			       (op = decode_one(r)).code == HW_MOP_CALLOC && enc_size(r) == 3000 &&
			       (op.a & 0x80 ? SIZE_MAX - (op.c & 0xffff) : op.c & 0xffff) ==
				       counts[k],
		       "calloc count %zu", counts[k]);
		EXPECT(hw_ops_enc_reallocarray(r, 9, counts[k], 40) == 0 &&
			       (op = decode_one(r)).code == HW_MOP_REALLOCARRAY &&
			       enc_size(r) == 40 && (op.c & 0xffff) == 9 && !(op.a & 0x80) &&
			       (op.a & 0x40 ? SIZE_MAX - (op.c >> 16) : op.c >> 16) == counts[k],
		       "reallocarray count %zu", counts[k]);
	}
	EXPECT(hw_ops_enc_calloc(r, 65536, 1) == -1, "a count no field carries");
	EXPECT(hw_ops_enc_reallocarray(r, -1, 2, 8) == 0 && (decode_one(r).a & 0x80),
	       "a NULL pointer");
	EXPECT(hw_ops_enc_realloc(r, -1, 100) == 0 && (op = decode_one(r)).code == HW_MOP_REALLOC &&
	       (op.a & 0x80) && op.c == 0 && enc_size(r) == 100);
	EXPECT(hw_ops_enc_realloc(r, 123456, 0) == 0 && !((op = decode_one(r)).a & 0x80) &&
	       op.c == 123456 && enc_size(r) == 0);
	static const size_t aligns[] = {0, 1, 3, 8, 24, 4096, 1 << 20, (size_t)1 << 63,
					0x3fffffff, SIZE_MAX, SIZE_MAX - 0x3fffffff};
	static const uint8_t aligned[] = {HW_MOP_MEMALIGN, HW_MOP_ALIGNED_ALLOC,
					  HW_MOP_POSIX_MEMALIGN};
	for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++)
		for (size_t j = 0; j < 3; j++)
			EXPECT(hw_ops_enc_aligned(r, aligned[j], aligns[k], 77) == 0 &&
				       (op = decode_one(r)).code == aligned[j] &&
				       hw_ops_malloc_align(op.c) == aligns[k] && enc_size(r) == 77,
			       "alignment %zu", aligns[k]);
	EXPECT(hw_ops_enc_aligned(r, HW_MOP_MEMALIGN, 0x40000001, 1) == -1, "not carried");
	EXPECT(hw_ops_enc_aligned(r, HW_MOP_MALLOC, 64, 1) == -1, "not an aligned op");
	EXPECT(hw_ops_enc_valloc(r, true, 5000) == 0 &&
	       (op = decode_one(r)).code == HW_MOP_VALLOC &&
	       (op.a & 0x80) && enc_size(r) == 5000);
	EXPECT(hw_ops_enc_malloc_inject(r, 3, 200) == 0 &&
	       (op = decode_one(r)).code == HW_MOP_INJECT && hw_ops_inject_nth(&op) == 200 &&
	       hw_ops_inject_mask(&op) == 1u << 3);
	EXPECT(hw_ops_enc_malloc_inject(r, 8, 1) == -1 &&
	       hw_ops_enc_malloc_inject(r, 0, 257) == -1);
	EXPECT(hw_ops_enc_remote(r, 15, 700, 4, 12345) == 0 &&
	       (op = decode_one(r)).code == HW_MOP_REMOTE && (op.b & 15) == 15 &&
	       ((op.b >> 4) & 15) == 4 && (op.c & 0xffff) == 700 &&
	       hw_ops_malloc_size(op.a, (uint16_t)(op.c >> 16)) == 12345);
	EXPECT(hw_ops_enc_remote(r, 16, 0, 0, 1) == -1);
	for (unsigned kind = 0; kind <= HW_MISUSE_FREE_NULL; kind++)
		EXPECT(hw_ops_enc_misuse(r, kind, 5 * kind, (uint16_t)kind) == 0 &&
		       (op = decode_one(r)).code == HW_MOP_MISUSE && op.a == kind &&
		       op.c == 5 * kind && op.b == kind);
	EXPECT(hw_ops_enc_misuse(r, 8, 0, 0) == -1);
	for (unsigned code = 0; code < 64; code++) {
		bool plain = code == HW_MOP_NOP || code == HW_MOP_TRIM || code == HW_MOP_CHECK ||
			     code == HW_MOP_FREE_ALL || code == HW_MOP_FREE ||
			     code == HW_MOP_USABLE_SIZE;
		int rc = hw_ops_enc_malloc_plain(r, (uint8_t)code, 9);
		EXPECT(plain ? rc == 0 && decode_one(r).code == code : rc == -1, "op %u", code);
	}
	EXPECT(strcmp(hw_ops_malloc_name(HW_MOP_REMOTE), "remote") == 0 &&
	       strcmp(hw_ops_malloc_name(0x3f), "unassigned") == 0);
}

static void malloc_config_encoder_inverts_the_decoder(void)
{
	static const size_t pages[] = {4096, 16384, 65536};
	static const size_t huge[] = {0, 256 << 10, 1 << 20, 2 << 20};
	size_t bad = 0, tried = 0;
	for (unsigned v = 0; v < 3 * 4 * 16 * 4; v++) {
		hw_ops_malloc_config c, back;
		hw_ops_malloc_config_decode(NULL, 0, &c);
		c.os_page_size = pages[v % 3];
		c.huge_page_size = huge[(v / 3) % 4];
		unsigned f = v / 12;
		c.released_reads_zero = f & 1;
		c.use_needs_call = (f >> 1) & 1;
		c.ignore_hints = (f >> 2) & 1;
		c.deep_every_op = (f >> 3) & 1;
		c.fill_on_alloc = (v / 192) & 1 ? (int)(v % 256) : -1;
		c.fill_on_free = (v / 192) & 2 ? 0 : -1;
		c.memory_limit = (size_t)(v % 64) << 22;
		c.retain_percent = (v % 16) * 10;
		uint8_t r[8];
		tried++;
		if (hw_ops_malloc_config_encode(&c, r) != 0) {
			bad = bad ? bad : v + 1;
			continue;
		}
		hw_ops_malloc_config_decode(r, sizeof r, &back);
		if (memcmp(&c, &back, sizeof c) != 0)
			bad = bad ? bad : v + 1;
	}
	EXPECT(bad == 0, "configuration %zu of %zu does not decode back", bad - 1, tried);
	uint8_t r[8];
	hw_ops_malloc_config c;
	hw_ops_malloc_config_decode(NULL, 0, &c);
	EXPECT(c.os_page_size == 4096 && c.released_reads_zero && c.fill_on_alloc == -1 &&
	       c.fill_on_free == -1 && c.memory_limit == 0);
	EXPECT(hw_ops_malloc_config_encode(&c, r) == 0 && memcmp(r, "\0\0\0\0\0\0\0\0", 8) == 0,
	       "the default configuration is the all-zero header (O4)");
	c.memory_limit = 5 << 20;
	EXPECT(hw_ops_malloc_config_encode(&c, r) == -1, "a limit in 4 MiB steps only");
	hw_ops_malloc_config_decode(NULL, 0, &c);
	c.fill_on_free = 256;
	EXPECT(hw_ops_malloc_config_encode(&c, r) == -1, "a fill is a byte");
}

/* ---- model ---- */

#define BASE ((uintptr_t)1 << 32)
#define P 4096u

static void model_first_fit_and_alignment(void)
{
	hw_model m;
	REQUIRE(hw_model_init(&m, P, 1, 0, true) == 0);
	REQUIRE(hw_model_add_arena(&m, BASE, 512 * P) == 0);
	EXPECT(hw_model_add_arena(&m, BASE + 100 * P, 512 * P) != 0, "overlap refused");
	EXPECT(hw_model_fit(&m, 513, P) == SIZE_MAX);
	size_t a = hw_model_fit(&m, 3, P);
	EXPECT(a == 0);
	hw_model_obj *o = hw_model_alloc(&m, a, 3);
	EXPECT(o->zeroed, "released pages read as zero");
	EXPECT(m.inuse_pages == 3 && m.released_pages == 509);
	/* Aligned: the lowest run of n + 3 pages starts at page 3, rounded up
	 * to 16 KiB: page 4. */
	EXPECT(hw_model_fit(&m, 2, 4 * P) == 4);
	/* A second, touching arena extends runs across the boundary. */
	REQUIRE(hw_model_add_arena(&m, BASE + 512 * P, 512 * P) == 0);
	EXPECT(hw_model_fit(&m, 1000, P) == 3);
	/* A scattered arena below: lowest address first. */
	REQUIRE(hw_model_add_arena(&m, BASE - 2048 * P, 512 * P) == 0);
	EXPECT(hw_model_addr(&m, hw_model_fit(&m, 1, P)) == BASE - 2048 * P);
	EXPECT(hw_model_fit(&m, 600, P) == 512 + 3, "no run crosses the gap");
	char msg[128];
	EXPECT(hw_model_check(&m, msg, sizeof msg) == 0, "%s", msg);
	hw_model_fini(&m);
}

static void model_units_and_scavenge_order(void)
{
	hw_model m;
	/* 4 KiB pages, 16 KiB units, 64 KiB huge pages. */
	REQUIRE(hw_model_init(&m, P, 4, 16, true) == 0);
	REQUIRE(hw_model_add_arena(&m, BASE, 512 * P) == 0);
	hw_model_obj *o = hw_model_alloc(&m, 0, 1);
	EXPECT(m.released_pages == 508, "the whole unit of page 0 became Ready");
	EXPECT(m.page[3] == HW_MP_READY);
	uint32_t id = o->id;
	hw_model_alloc(&m, 20, 10); /* units 5..7: pages 20..31 Ready */
	EXPECT(m.released_pages == 512 - 4 - 12);
	hw_model_free(&m, hw_model_find_live(&m, BASE + 20 * P, 10), false);
	/* Ready free pages: 1..3 (unit 0 shares page 0), 20..31 (block 1). */
	size_t r = hw_model_scavenge(&m, 1);
	EXPECT(r == 4 * P, "less than a huge page asked: one unit, the highest (28..31)");
	EXPECT(m.njournal == 1 && m.journal[0].first == 28 && m.journal[0].npages == 4);
	r = hw_model_scavenge(&m, 16 * P);
	EXPECT(r == 8 * P, "a huge page asked: pass 1 releases the rest of block 16..31");
	EXPECT(m.njournal == 1 && m.journal[0].first == 20 && m.journal[0].npages == 8);
	r = hw_model_scavenge(&m, SIZE_MAX);
	EXPECT(r == 0, "unit 0 holds a live page: nothing else to release");
	EXPECT(m.page[0] == HW_MP_USED + id);
	char msg[128];
	EXPECT(hw_model_check(&m, msg, sizeof msg) == 0, "%s", msg);
	hw_model_fini(&m);
}

static bool fake_released;
static size_t fake_limit;
static hw_model *fake_model;

/* The "heap" released the first fake_limit journal pages, in order. */
static bool fake_is_released(void *ctx, uintptr_t a)
{
	(void)ctx;
	size_t seen = 0;
	for (size_t e = 0; e < fake_model->njournal; e++) {
		const hw_model_span *sp = &fake_model->journal[e];
		for (size_t i = sp->first; i < sp->first + sp->npages; i++, seen++)
			if (hw_model_addr(fake_model, i) == a)
				return fake_released ? seen < fake_limit : seen >= fake_limit;
	}
	return false;
}

static void model_settle_accepts_only_prefixes(void)
{
	hw_model m;
	REQUIRE(hw_model_init(&m, P, 1, 0, true) == 0);
	REQUIRE(hw_model_add_arena(&m, BASE, 512 * P) == 0);
	hw_model_alloc(&m, 0, 8);
	hw_model_free(&m, 0, false);
	fake_model = &m;
	EXPECT(hw_model_scavenge(&m, SIZE_MAX) == 8 * P);
	fake_released = true;
	fake_limit = 3; /* released the top three units */
	size_t got = hw_model_scavenge_settle(&m, fake_is_released, NULL);
	EXPECT(got == 3 * P, "a prefix is accepted");
	EXPECT(m.released_pages == 504 + 3);
	EXPECT(hw_model_scavenge(&m, SIZE_MAX) == 5 * P);
	fake_released = false; /* the heap released everything but the first */
	fake_limit = 1;
	size_t before = m.released_pages;
	EXPECT(hw_model_scavenge_settle(&m, fake_is_released, NULL) == SIZE_MAX,
	       "a hole at the start of the order is not a prefix");
	EXPECT(m.released_pages == before, "a rejected settle changes nothing");
	hw_model_fini(&m);
}

/* ---- the driver must fail ---- */

static char failure[640];
static void record(const char *what) { snprintf(failure, sizeof failure, "%s", what); }

typedef enum sabotage { FREE_BEHIND,
			SCRIBBLE,
			SCAVENGE_BEHIND,
			ALLOC_BEHIND } sabotage;

typedef struct plot {
	sabotage kind;
	size_t at;
} plot;

/* First run head of the heap, found through the inspection view. */
static void *first_head(hw_heap *h, size_t *npages)
{
	void *base;
	size_t size, P_ = hw_heap_page_size(h);
	hw_heap_arena_get(h, 0, &base, &size);
	for (size_t off = 0; off < size; off += P_) {
		bool head;
		if (hw_heap_page_kind(h, (char *)base + off, &head) == HW_PAGE_INUSE && head) {
			size_t n = 1;
			bool h2;
			while (off + n * P_ < size &&
			       hw_heap_page_kind(h, (char *)base + off + n * P_, &h2) ==
				       HW_PAGE_INUSE &&
			       !h2)
				n++;
			*npages = n;
			return (char *)base + off;
		}
	}
	return NULL;
}

static void saboteur(void *ctx, hw_heap *h, size_t op_index)
{
	const plot *pl = ctx;
	if (op_index != pl->at)
		return;
	size_t n = 0;
	void *p = first_head(h, &n);
	switch (pl->kind) {
	case FREE_BEHIND:
		if (p)
			hw_heap_free(h, p, n);
		break;
	case SCRIBBLE:
		if (p)
			((volatile char *)p)[hw_heap_page_size(h) + 3] ^= 0x5a; /* page 1 */
		break;
	case SCAVENGE_BEHIND:
		hw_heap_scavenge(h, SIZE_MAX);
		break;
	case ALLOC_BEHIND:
		hw_heap_alloc(h, 1);
		break;
	}
}

static int run_with(const plot *pl)
{
	uint8_t in[8 * 8];
	hw_ops_put(in, 0, 0, 0, 0);
	hw_ops_put(in + 8, HW_OP_ALLOC, 4, 4, 0);  /* 5 pages */
	hw_ops_put(in + 16, HW_OP_ALLOC, 0, 1, 0); /* 2 pages */
	hw_ops_put(in + 24, HW_OP_FREE, 0, 1, 0);  /* the 2 pages: Ready, free */
	hw_ops_put(in + 32, HW_OP_NOP, 0, 0, 0);
	hw_ops_put(in + 40, HW_OP_VERIFY, 0, 0, 0);
	hw_ops_put(in + 48, HW_OP_NOP, 0, 0, 0);
	hw_ops_put(in + 56, HW_OP_FREE, 0, 0, 0);
	hw_driver_options opt = {.backend = HW_DRIVER_SIM,
				 .trace = 0,
				 .after_op = pl ? saboteur : NULL,
				 .ctx = (void *)pl};
	failure[0] = '\0';
	hw_driver_set_fail_hook(record);
	int rc = hw_driver_run(in, sizeof in, &opt);
	hw_driver_set_fail_hook(NULL);
	return rc;
}

static void driver_passes_an_honest_heap(void)
{
	EXPECT(run_with(NULL) == 0, "%s", failure);
}

static void driver_catches_a_free_behind_its_back(void)
{
	plot pl = {FREE_BEHIND, 3};
	EXPECT(run_with(&pl) == -1);
	EXPECT(strstr(failure, "stats.inuse") != NULL, "got: %s", failure);
}

static void driver_catches_a_scribble(void)
{
	plot pl = {SCRIBBLE, 3};
	EXPECT(run_with(&pl) == -1);
	EXPECT(strstr(failure, "contents of p1") != NULL, "got: %s", failure);
}

static void driver_catches_a_scavenge_behind_its_back(void)
{
	plot pl = {SCAVENGE_BEHIND, 2};
	EXPECT(run_with(&pl) == -1);
	EXPECT(strstr(failure, "stats.") != NULL, "got: %s", failure);
}

static void driver_catches_an_alloc_behind_its_back(void)
{
	plot pl = {ALLOC_BEHIND, 0};
	EXPECT(run_with(&pl) == -1);
	EXPECT(strstr(failure, "stats.") != NULL, "got: %s", failure);
}

/* Moves the heap's bookkeeping of p (2 pages at the arena's page 0) to pages
 * 4-5, which are free and Ready like pages 0-1: counts, summaries, platform
 * states and every invariant still hold, and stats do not change, so only a
 * page-by-page comparison can see that the run moved. */
static void move_run(void *ctx, hw_heap *h, size_t op_index)
{
	if (op_index != *(const size_t *)ctx)
		return;
	void *base;
	size_t size;
	hw_heap_arena_get(h, 0, &base, &size);
	hw_chunk *c = hw_heap_present_chunk(h, (uintptr_t)base);
	size_t ci = ((uintptr_t)base - h->base) / h->chunk_bytes;
	hw_bits_clear(c->alloc, 0, 2);
	hw_bits_clear(c->head, 0, 1);
	hw_bits_set(c->alloc, 4, 2);
	hw_bits_set(c->head, 4, 1);
	hw_tree_update(h, ci * HW_BITS_PAGES, HW_BITS_PAGES, HW_TREE_RESCAN);
	/* And the memory tools' view of it (track.h K1-K3), as the heap would
	 * have left it. */
	hw_track_free(base, 2 * h->page_size);
	hw_track_alloc((char *)base + 4 * h->page_size, 2 * h->page_size, false);
}

/* Moved by the op that allocated p: the comparison of the pages that op
 * changed sees it. Moved after a nop (which changes no page): the next deep
 * check (a validate op) sees it. Without either, the run would end with a
 * failed free of p instead. */
static void driver_catches_a_run_moved_in_the_bitmaps(void)
{
	uint8_t in[6 * 8];
	hw_ops_put(in, 0, 0, 0, 0);
	hw_ops_put(in + 8, HW_OP_ALLOC, 4, 7, 0);  /* 8 pages at page 0 */
	hw_ops_put(in + 16, HW_OP_FREE, 0, 0, 0);  /* pages 0-7 free and Ready */
	hw_ops_put(in + 24, HW_OP_ALLOC, 0, 1, 0); /* op 2: 2 pages at page 0 */
	hw_ops_put(in + 32, HW_OP_NOP, 0, 0, 0);   /* op 3 */
	hw_ops_put(in + 40, HW_OP_VALIDATE, 0, 0, 0);
	static const struct {
		size_t at, len;
	} cases[] = {{SIZE_MAX, sizeof in}, {2, 4 * 8}, {3, sizeof in}};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		size_t at = cases[k].at;
		hw_driver_options opt = {.backend = HW_DRIVER_SIM,
					 .trace = 0,
					 .after_op = move_run,
					 .ctx = &at};
		failure[0] = '\0';
		hw_driver_set_fail_hook(record);
		int rc = hw_driver_run(in, cases[k].len, &opt);
		hw_driver_set_fail_hook(NULL);
		if (at == SIZE_MAX) {
			EXPECT(rc == 0, "%s", failure);
			continue;
		}
		EXPECT(rc == -1, "the run moved after op %zu was not seen", at);
		EXPECT(strstr(failure,
			      "is free-ready in the heap, in-use (run head) in the model") != NULL,
		       "moved after op %zu, got: %s", at, failure);
	}
}

/* Swaps the platform states of two pages behind the heap's back: a free
 * Ready page becomes Prepared, a released (Prepared) one Ready. The heap's
 * bitmaps, every stat and count and the Ready bytes stay as they were. */
static void swap_states(void *ctx, hw_heap *h, size_t op_index)
{
	(void)ctx;
	if (op_index != 2)
		return;
	void *base;
	size_t size;
	hw_heap_arena_get(h, 0, &base, &size);
	/* The backend directly, so the platform's call counts stay too. */
	hw_platform *pf = hw_heap_platform(h);
	size_t P_ = hw_heap_page_size(h);
	pf->ops->unuse(pf, base, P_);
	REQUIRE(pf->ops->use(pf, (char *)base + 8 * P_, P_) == 0);
}

static void driver_catches_platform_states_swapped(void)
{
	uint8_t in[5 * 8];
	hw_ops_put(in, 0, 0, 0, 0);
	hw_ops_put(in + 8, HW_OP_ALLOC, 4, 7, 0); /* 8 pages at page 0 */
	hw_ops_put(in + 16, HW_OP_FREE, 0, 0, 0); /* pages 0-7 free and Ready */
	hw_ops_put(in + 24, HW_OP_NOP, 0, 0, 0);  /* op 2: the swap */
	hw_ops_put(in + 32, HW_OP_VALIDATE, 0, 0, 0);
	hw_driver_options opt = {.backend = HW_DRIVER_SIM, .trace = 0, .after_op = swap_states};
	failure[0] = '\0';
	hw_driver_set_fail_hook(record);
	int rc = hw_driver_run(in, sizeof in, &opt);
	hw_driver_set_fail_hook(NULL);
	EXPECT(rc == -1 &&
		       strstr(failure, "(free-ready) is in platform state 2, expected 3") != NULL,
	       "got: %s", failure);
}

/* Breaks a leaf summary of the heap's first chunk after op `at` and mends it
 * after the next op: only hw_heap_validate sees it, and only if it runs in
 * between. */
typedef struct glitch {
	size_t at;
} glitch;

static void summary_glitch(void *ctx, hw_heap *h, size_t op_index)
{
	const glitch *g = ctx;
	if (op_index != g->at && op_index != g->at + 1)
		return;
	void *base;
	size_t size;
	hw_heap_arena_get(h, 0, &base, &size);
	size_t ci = ((uintptr_t)base - h->base) / h->chunk_bytes;
	h->tree.level[0][ci].max ^= 1;
}

static int run_glitched(const uint8_t *in, size_t len, size_t at)
{
	glitch g = {at};
	hw_driver_options opt = {
		.backend = HW_DRIVER_SIM, .trace = 0, .after_op = summary_glitch, .ctx = &g};
	failure[0] = '\0';
	hw_driver_set_fail_hook(record);
	int rc = hw_driver_run(in, len, &opt);
	hw_driver_set_fail_hook(NULL);
	return rc;
}

/* The validator runs after the first op of an input in which the platform
 * refused a call (the heap must be consistent after any failure), and with
 * the header's deep-check bit after every eighth op that calls the heap. */
static void driver_validates_when_it_must(void)
{
	uint8_t in[12 * 8];
	hw_ops_put(in, 0, 0, 0, 0);
	hw_ops_put(in + 8, HW_OP_ALLOC, 0, 0, 0);   /* op 0: grows */
	hw_ops_put(in + 16, HW_OP_INJECT, 2, 0, 0); /* op 1: the next use fails */
	hw_ops_put(in + 24, HW_OP_ALLOC, 0, 0, 0);  /* op 2: refused */
	for (size_t i = 3; i < 11; i++)
		hw_ops_put(in + 8 * (i + 1), HW_OP_NOP, 0, 0, 0);
	EXPECT(run_glitched(in, sizeof in, 2) == -1 && strstr(failure, "invariant I8") != NULL,
	       "a summary broken at the refused op: %s", failure);
	EXPECT(run_glitched(in, sizeof in, 4) == 0, "mended before any validation: %s", failure);
	EXPECT(run_glitched(in, sizeof in, 10) == -1 && strstr(failure, "invariant I8") != NULL,
	       "broken at the last op: the final check sees it: %s", failure);

	/* Deep-check bit: ops 0-7 call the heap; the validator runs after
	 * op 7 (the eighth), not after op 3. Ops 1-7 scavenge, which leaves
	 * the summaries alone: an op that updates the glitched leaf would
	 * carry the glitch into its new value (leaves are updated from their
	 * old value), and HW_DEBUG=2 builds assert against that. */
	uint8_t deep[10 * 8];
	hw_ops_put(deep, 0, 0, 0, 0x10);
	hw_ops_put(deep + 8, HW_OP_ALLOC, 0, 0, 0);
	for (size_t i = 1; i < 8; i++)
		hw_ops_put(deep + 8 * (i + 1), HW_OP_SCAVENGE_ALL, 0, 0, 0);
	hw_ops_put(deep + 72, HW_OP_NOP, 0, 0, 0);
	EXPECT(run_glitched(deep, sizeof deep, 7) == -1 && strstr(failure, "invariant I8") != NULL,
	       "broken at the eighth heap op: %s", failure);
	EXPECT(run_glitched(deep, sizeof deep, 3) == 0, "mended before the eighth: %s", failure);
}

static void keep_stats(void *ctx, hw_heap *h, size_t op_index)
{
	(void)op_index;
	hw_heap_stats_get(h, ctx);
}

static void unassigned_opcodes_change_nothing(void)
{
	/* The same stream with unassigned records spliced in must end in the
	 * same heap: compare the stats after the last op of each. */
	hw_heap_stats end[2];
	uint8_t a[8 * 40], b[8 * 80];
	uint64_t seed = 42;
	hw_ops_put(a, 0, 0, 0, 0);
	hw_driver_generate(&seed, 39, a + 8);
	memcpy(b, a, 8);
	size_t nb = 1;
	for (size_t i = 1; i < 40; i++) {
		memcpy(b + 8 * nb++, a + 8 * i, 8);
		hw_ops_put(b + 8 * nb++, (uint8_t)(0x30 + (i & 15) + (i & 3) * 0x40), (uint8_t)i,
			   (uint16_t)i, (uint32_t)i);
	}
	for (int k = 0; k < 2; k++) {
		memset(&end[k], 0, sizeof end[k]);
		hw_driver_options opt = {.backend = HW_DRIVER_SIM,
					 .trace = 0,
					 .after_op = keep_stats,
					 .ctx = &end[k]};
		EXPECT(hw_driver_run(k ? b : a, k ? 8 * nb : sizeof a, &opt) == 0);
	}
	EXPECT(end[0].allocs > 0, "the stream did something");
	EXPECT(memcmp(&end[0], &end[1], sizeof end[0]) == 0, "the spliced stream ended elsewhere");
}

HW_TEST_MAIN(T(decoder_counts_whole_records), T(decoder_fields_and_defaults),
	     T(decoder_arguments_clamp), T(encoder_inverts_the_decoder),
	     T(config_encoder_inverts_the_decoder), T(malloc_encoders_invert_the_decoders),
	     T(malloc_config_encoder_inverts_the_decoder), T(model_first_fit_and_alignment),
	     T(model_units_and_scavenge_order), T(model_settle_accepts_only_prefixes),
	     T(driver_passes_an_honest_heap), T(driver_catches_a_free_behind_its_back),
	     T(driver_catches_a_scribble), T(driver_catches_a_scavenge_behind_its_back),
	     T(driver_catches_an_alloc_behind_its_back),
	     T(driver_catches_a_run_moved_in_the_bitmaps),
	     T(driver_catches_platform_states_swapped), T(driver_validates_when_it_must),
	     T(unassigned_opcodes_change_nothing))

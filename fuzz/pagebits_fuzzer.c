/* pagebits_fuzzer.c: src/pagebits.h against naive bit-by-bit twins.
 *
 * Owns: four 512-page maps driven by the pagebits op table (difftest/ops.h),
 * and the naive versions of every pagebits function: each reads one bit at
 * a time and follows the words of the contract in pagebits.h literally.
 *
 * Invariants:
 *   G1. After every op each fast function's answer equals its naive twin's
 *       on the same bits, and every summary satisfies B1.
 *   G2. Merging the summaries of consecutive ranges equals summarizing the
 *       concatenated ranges (B2), for whole 512-page maps, for arbitrary
 *       child sizes, and for two levels of merging (the summary tree).
 *   Header (record 0): byte 0 bits 0-1 pick the initial fill of the maps
 *   (clear, set, random from c, sparse random from c).
 *
 * Locking: none.
 */
#include "fuzz.h"

#include "harness.h"
#include "ops.h"
#include "pagebits.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NMAPS 4
#define CAT_BITS (NMAPS * HW_BITS_PAGES)

static const char *op_name = "setup";
static size_t op_index;

static void fail(const char *fmt, ...) HW_PRINTF(1, 2) HW_NORETURN;
static void fail(const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	hw_harness_banner("pagebits", what, "    at op #%zu (%s)\n", op_index, op_name);
	abort();
}

/* ---- naive twins: one bit at a time ---- */

static bool bit(const uint64_t *w, unsigned i) { return (w[i / 64] >> (i % 64)) & 1; }

static void naive_put(uint64_t *w, unsigned i, bool v)
{
	if (v)
		w[i / 64] |= 1ull << (i % 64);
	else
		w[i / 64] &= ~(1ull << (i % 64));
}

static unsigned naive_count(const uint64_t *w, unsigned i, unsigned n)
{
	unsigned c = 0;
	for (unsigned k = i; k < i + n; k++)
		c += bit(w, k);
	return c;
}

static unsigned naive_find_clear_run(const uint64_t *w, unsigned n, unsigned from)
{
	for (unsigned i = from; i + n <= HW_BITS_PAGES; i++)
		if (naive_count(w, i, n) == 0)
			return i;
	return HW_BITS_NONE;
}

static unsigned naive_find_set_below(const uint64_t *w, unsigned below)
{
	for (unsigned i = below < HW_BITS_PAGES ? below : HW_BITS_PAGES; i-- > 0;)
		if (bit(w, i))
			return i;
	return HW_BITS_NONE;
}

static unsigned naive_find_set_from(const uint64_t *w, unsigned from)
{
	for (unsigned i = from; i < HW_BITS_PAGES; i++)
		if (bit(w, i))
			return i;
	return HW_BITS_NONE;
}

/* Summary of bits [0, len) of a bit string (set = not free), by walking. */
static hw_sum naive_summary(const uint64_t *w, unsigned len)
{
	hw_sum s = {0, 0, 0};
	unsigned i = 0;
	while (i < len && !bit(w, i))
		i++;
	s.start = i;
	unsigned run = 0;
	for (unsigned k = 0; k < len; k++) {
		run = bit(w, k) ? 0 : run + 1;
		if (run > s.max)
			s.max = run;
	}
	s.end = run;
	return s;
}

/* Copies bits [from, from + len) of src into dst starting at bit 0. */
static void extract(uint64_t *dst, const uint64_t *src, unsigned from, unsigned len)
{
	memset(dst, 0, (len + 63) / 64 * sizeof *dst);
	for (unsigned k = 0; k < len; k++)
		naive_put(dst, k, bit(src, from + k));
}

static void check_b1(hw_sum s, uint32_t len, const char *what)
{
	bool full = s.start == len, ok = s.start <= len && s.end <= len && s.max <= len &&
					 s.max >= s.start && s.max >= s.end &&
					 full == (s.max == len) && full == (s.end == len);
	if (!ok)
		fail("%s: summary {%u, %u, %u} of %u pages breaks B1", what, s.start, s.max, s.end,
		     len);
}

static void expect_sum(hw_sum got, hw_sum want, const char *what)
{
	if (got.start != want.start || got.max != want.max || got.end != want.end)
		fail("%s: {%u, %u, %u}, naive {%u, %u, %u}", what, got.start, got.max, got.end,
		     want.start, want.max, want.end);
}

static void expect_u(unsigned got, unsigned want, const char *what, unsigned arg1,
		     unsigned arg2)
{
	if (got != want)
		fail("%s(%u, %u) = %u, naive %u", what, arg1, arg2, got, want);
}

/* ---- merges ---- */

/* B2 over k children of cp pages taken from the concatenated maps, merged
 * once (levels == 1) or in pairs and then again (levels == 2). */
static void check_merge(const uint64_t *cat, unsigned k, unsigned cp, unsigned levels)
{
	hw_sum child[16], pair[8];
	uint64_t tmp[CAT_BITS / 64];
	for (unsigned i = 0; i < k; i++) {
		extract(tmp, cat, i * cp, cp);
		child[i] = naive_summary(tmp, cp);
	}
	extract(tmp, cat, 0, k * cp);
	hw_sum want = naive_summary(tmp, k * cp);
	hw_sum got;
	if (levels == 1) {
		got = hw_sum_merge(child, k, cp);
	} else {
		/* Pairs (the last one may be a single child padded as full:
		 * the tree treats absent children as full only at its edge, so
		 * use an even k here). */
		unsigned np = k / 2;
		for (unsigned i = 0; i < np; i++) {
			pair[i] = hw_sum_merge(child + 2 * i, 2, cp);
			check_b1(pair[i], 2 * cp, "pair merge");
		}
		got = hw_sum_merge(pair, np, 2 * cp);
	}
	check_b1(got, k * cp, "merge");
	char what[96];
	snprintf(what, sizeof what, "hw_sum_merge of %u children of %u pages (%u levels)", k, cp,
		 levels);
	expect_sum(got, want, what);
}

/* ---- the target ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t maps[NMAPS][HW_BITS_WORDS];
	uint8_t h0 = size >= HW_OPS_RECORD ? data[0] : 0;
	uint32_t seed = 0;
	if (size >= HW_OPS_RECORD)
		memcpy(&seed, data + 4, sizeof seed);
	for (unsigned m = 0; m < NMAPS; m++) {
		for (unsigned k = 0; k < HW_BITS_WORDS; k++) {
			uint64_t r = hw_harness_mix64(seed + m * HW_BITS_WORDS + k);
			switch (h0 & 3) {
			case 0:
				maps[m][k] = 0;
				break;
			case 1:
				maps[m][k] = ~0ull;
				break;
			case 2:
				maps[m][k] = r;
				break;
			default:
				maps[m][k] = r & hw_harness_mix64(r) & hw_harness_mix64(~r);
				break;
			}
		}
	}
	op_name = "setup";
	size_t nops = hw_ops_count(size);
	for (size_t i = 0; i < nops; i++) {
		hw_op op = hw_ops_get(data, i);
		op_index = i;
		op_name = hw_ops_bits_name(op.code);
		uint64_t *w = maps[op.a & 3];
		unsigned at, n;
		hw_ops_bits_range(&op, &at, &n);
		switch (op.code) {
		case HW_BOP_SET:
		case HW_BOP_CLEAR: {
			uint64_t want[HW_BITS_WORDS];
			memcpy(want, w, sizeof want);
			for (unsigned k = at; k < at + n; k++)
				naive_put(want, k, op.code == HW_BOP_SET);
			if (op.code == HW_BOP_SET)
				hw_bits_set(w, at, n);
			else
				hw_bits_clear(w, at, n);
			if (memcmp(want, w, sizeof want) != 0)
				fail("%s(%u, %u) changed the wrong bits", op_name, at, n);
			break;
		}
		case HW_BOP_FILL:
			w[op.b & 7] = hw_harness_mix64(op.c);
			break;
		case HW_BOP_COUNT:
			expect_u(hw_bits_count(w, at, n), naive_count(w, at, n), "hw_bits_count",
				 at, n);
			expect_u(hw_bits_test(w, at), bit(w, at), "hw_bits_test", at, 0);
			expect_u(hw_bits_any(w, at, n), naive_count(w, at, n) > 0, "hw_bits_any",
				 at, n);
			expect_u(hw_bits_all(w, at, n), naive_count(w, at, n) == n, "hw_bits_all",
				 at, n);
			break;
		case HW_BOP_FIND_RUN: {
			/* n in 1..512, from in 0..512 (the contract's domain). */
			unsigned len = 1 + (op.c & 511), from = op.b % (HW_BITS_PAGES + 1);
			expect_u(hw_bits_find_clear_run(w, len, from),
				 naive_find_clear_run(w, len, from), "hw_bits_find_clear_run", len,
				 from);
			break;
		}
		case HW_BOP_FIND_BELOW: {
			unsigned below = op.b % (HW_BITS_PAGES + 2);
			expect_u(hw_bits_find_set_below(w, below), naive_find_set_below(w, below),
				 "hw_bits_find_set_below", below, 0);
			break;
		}
		case HW_BOP_FIND_FROM: {
			unsigned from = op.b % (HW_BITS_PAGES + 2);
			expect_u(hw_bits_find_set_from(w, from), naive_find_set_from(w, from),
				 "hw_bits_find_set_from", from, 0);
			break;
		}
		case HW_BOP_SUMMARIZE: {
			hw_sum s = hw_bits_summarize(w);
			check_b1(s, HW_BITS_PAGES, "hw_bits_summarize");
			expect_sum(s, naive_summary(w, HW_BITS_PAGES), "hw_bits_summarize");
			break;
		}
		case HW_BOP_MERGE: {
			/* The four maps as consecutive chunks, summarized by the
			 * fast path: the summary tree's leaf level. */
			hw_sum child[NMAPS];
			unsigned k = 1 + (op.a & 3);
			for (unsigned m = 0; m < k; m++)
				child[m] = hw_bits_summarize(maps[m]);
			uint64_t cat[CAT_BITS / 64];
			memcpy(cat, maps, sizeof cat);
			hw_sum got = hw_sum_merge(child, k, HW_BITS_PAGES);
			check_b1(got, k * HW_BITS_PAGES, "hw_sum_merge of maps");
			expect_sum(got, naive_summary(cat, k * HW_BITS_PAGES),
				   "hw_sum_merge of maps");
			break;
		}
		case HW_BOP_MERGE_SMALL: {
			uint64_t cat[CAT_BITS / 64];
			memcpy(cat, maps, sizeof cat);
			unsigned k = 1 + (op.a & 15), cp = 1 + (op.b & 255);
			if (k * cp > CAT_BITS)
				k = CAT_BITS / cp;
			unsigned levels = (op.a & 0x80) && k >= 2 ? 2 : 1;
			if (levels == 2)
				k &= ~1u;
			check_merge(cat, k, cp, levels);
			break;
		}
		case HW_BOP_AFTER_CLEAR:
		case HW_BOP_AFTER_SET: {
			/* The leaf updates of the free and allocation paths:
			 * the old summary plus the changed map give the new
			 * summary (B3). after_set needs a wholly clear range. */
			if (n == 0)
				break;
			bool set = op.code == HW_BOP_AFTER_SET;
			if (set)
				for (unsigned k = at; k < at + n; k++)
					naive_put(w, k, false);
			hw_sum old = naive_summary(w, HW_BITS_PAGES);
			for (unsigned k = at; k < at + n; k++)
				naive_put(w, k, set);
			hw_sum got = set ? hw_sum_after_set(old, w, at, n)
					 : hw_sum_after_clear(old, w, at, n);
			char what[64];
			snprintf(what, sizeof what, "%s(%u, %u)", op_name, at, n);
			expect_sum(got, naive_summary(w, HW_BITS_PAGES), what);
			break;
		}
		case HW_BOP_CHILD: {
			/* The tree's inner update: a parent over the four maps,
			 * one of them changed, the parent from the change and the
			 * neighbours' edges when B4 says that is enough; checked
			 * against the naive summary of the concatenated maps. */
			hw_sum kids[NMAPS], parent;
			unsigned m = op.a & 3;
			for (unsigned j = 0; j < NMAPS; j++)
				kids[j] = naive_summary(maps[j], HW_BITS_PAGES);
			parent = hw_sum_merge(kids, NMAPS, HW_BITS_PAGES);
			hw_sum was = kids[m];
			for (unsigned k = at; k < at + n; k++)
				naive_put(w, k, (op.a & 0x40) != 0);
			kids[m] = naive_summary(w, HW_BITS_PAGES);
			if (hw_sum_child_changed(&parent, kids, NMAPS, m, was, HW_BITS_PAGES)) {
				uint64_t cat[CAT_BITS / 64];
				memcpy(cat, maps, sizeof cat);
				expect_sum(parent, naive_summary(cat, CAT_BITS),
					   "hw_sum_child_changed");
			}
			break;
		}
		default:
			break; /* unassigned: nothing */
		}
	}
	return 0;
}

/* make_seeds.c: writes the hand-made seed inputs of corpus/<target>/seed/.
 *
 * Owns: the definition of every committed seed, built record by record with
 * the decoder's own encoder (difftest/ops.h), so a seed says in code which
 * ops it exercises and the committed bytes can be regenerated at will.
 *
 * Usage: hw_make_seeds CORPUS_DIR            (re)writes the seed files
 *        hw_make_seeds --check CORPUS_DIR    exits 1 when a committed seed
 *                                            differs from what this writes
 *        hw_make_seeds --random DIR N        writes N pseudo-random heap
 *                                            inputs of 1 to 511 ops (up to
 *                                            4 KiB) into DIR, fixed seed: a
 *                                            benchmark set for execs/s
 *
 * Invariants:
 *   W1. Output depends on nothing but this file: the same seeds, byte for
 *       byte, on every machine.
 *   W2. Every op of each target's table appears in at least one seed of
 *       that target, and every header choice in at least one heap seed.
 *
 * Locking: none.
 */
#include "driver.h"
#include "ops.h"
#include "platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seed {
	uint8_t buf[8 * 512];
	size_t len;
} seed;

static void hdr(seed *s, uint8_t b0, uint8_t b1, uint16_t limit64k, uint32_t c)
{
	s->len = 0;
	hw_ops_put(s->buf, b0, b1, limit64k, c);
	s->len = HW_OPS_RECORD;
}

static void rec(seed *s, uint8_t op, uint8_t a, uint16_t b, uint32_t c)
{
	if (s->len + HW_OPS_RECORD > sizeof s->buf)
		abort();
	hw_ops_put(s->buf + s->len, op, a, b, c);
	s->len += HW_OPS_RECORD;
}

static int check_mode;
static int mismatches;

static void emit(const char *dir, const char *target, const char *name, const seed *s)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s/seed/%s", dir, target, name);
	if (check_mode) {
		FILE *f = fopen(path, "rb");
		uint8_t old[sizeof s->buf + 1];
		size_t n = f ? fread(old, 1, sizeof old, f) : 0;
		if (f)
			fclose(f);
		if (!f || n != s->len || memcmp(old, s->buf, n) != 0) {
			fprintf(stderr, "seed %s differs from the generator's output\n", path);
			mismatches++;
		}
		return;
	}
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* cls: 0 tiny (1-4 pages), 1 small (1-32), 2 medium (1-512), 3 large
 * (1-4096): the size-class codes 0, 4, 6 and 7 of a & 7. */
static uint8_t class_code(unsigned cls)
{
	static const uint8_t code[4] = {0, 4, 6, 7};
	return code[cls & 3];
}

static void alloc(seed *s, unsigned cls, uint16_t b) { rec(s, HW_OP_ALLOC, class_code(cls), b, 0); }

/* Alignment 4 KiB << shift. */
static void aligned(seed *s, unsigned cls, unsigned shift, uint16_t b)
{
	rec(s, HW_OP_ALLOC_ALIGNED, (uint8_t)(class_code(cls) | (shift << 3)), b, 0);
}

static void heap_seeds(const char *dir, const char *t)
{
	seed s;

	/* Default config: allocation, free, first fit, reuse, verify. */
	hdr(&s, 0, 0, 0, 0);
	alloc(&s, 0, 0);
	alloc(&s, 1, 7);
	alloc(&s, 2, 100);
	alloc(&s, 0, 3);
	rec(&s, HW_OP_FREE, 0, 1, 0);
	alloc(&s, 0, 2);
	rec(&s, HW_OP_VERIFY, 0, 0, 0);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	alloc(&s, 1, 20);
	rec(&s, HW_OP_VALIDATE, 0, 0, 0);
	rec(&s, HW_OP_STATS, 0, 0, 0);
	emit(dir, t, "alloc-free", &s);

	/* Alignments from below a page to 16 MiB, zeroed runs. */
	hdr(&s, 1, 0, 0, 0);
	alloc(&s, 0, 0);
	aligned(&s, 0, 0, 1);
	aligned(&s, 1, 4, 5);
	aligned(&s, 0, 8, 0);
	rec(&s, HW_OP_ALLOC_ALIGNED, 0x80 | (3 << 3), 2, 0); /* 8-byte alignment */
	aligned(&s, 2, 12, 40);
	rec(&s, HW_OP_FREE, 0, 2, 0);
	aligned(&s, 1, 3, 3);
	rec(&s, HW_OP_VERIFY, 0, 0, 0);
	emit(dir, t, "aligned", &s);

	/* Scavenging: explicit amounts, everything, then reuse of released
	 * pages (zeroed). */
	hdr(&s, 0, 0, 0, 0);
	alloc(&s, 2, 63);
	alloc(&s, 2, 31);
	alloc(&s, 1, 9);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_SCAVENGE, 0, 0, 3 * 8192);
	rec(&s, HW_OP_SCAVENGE, 0, 0, 1);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_SCAVENGE_ALL, 0, 0, 0);
	aligned(&s, 2, 0, 20);
	rec(&s, HW_OP_SCAVENGE, 0, 0, 0);
	rec(&s, HW_OP_VALIDATE, 0, 0, 0);
	emit(dir, t, "scavenge", &s);

	/* Huge pages (2 MiB over 4 KiB heap pages): pass 1 of the scavenger. */
	hdr(&s, 0x01 | 0x10, 0x01, 0, 0);
	alloc(&s, 2, 511);
	alloc(&s, 2, 300);
	alloc(&s, 0, 0);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_SCAVENGE, 0, 0, 4096);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_SCAVENGE, 0, 0, 100000);
	rec(&s, HW_OP_SCAVENGE_ALL, 0, 0, 0);
	alloc(&s, 1, 10);
	emit(dir, t, "huge-pages", &s);

	/* 256 KiB and 1 MiB huge pages over 16 KiB OS pages. */
	hdr(&s, 0x02 | 0x04 | 0x20, 0, 0, 0);
	alloc(&s, 2, 200);
	alloc(&s, 1, 3);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_SCAVENGE_ALL, 0, 0, 0);
	emit(dir, t, "huge-256k", &s);
	hdr(&s, 0x02 | 0x04 | 0x30, 0, 0, 0);
	alloc(&s, 2, 200);
	alloc(&s, 1, 3);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_BG_STEP, 3, 0, 0);
	emit(dir, t, "huge-1m", &s);

	/* A memory limit from the header, then changed: limit scavenges on the
	 * allocation path, limit_exceeded when nothing is left to release. */
	hdr(&s, 0, 0, 8, 0); /* 512 KiB */
	alloc(&s, 1, 31);
	alloc(&s, 1, 31);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	alloc(&s, 0, 0);
	alloc(&s, 2, 100);
	rec(&s, HW_OP_SET_LIMIT, 0, 4, 0);
	rec(&s, HW_OP_SET_LIMIT, 0, 0, 0);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_SET_LIMIT, 0, 1, 0);
	alloc(&s, 1, 5);
	emit(dir, t, "memory-limit", &s);

	/* The background scavenger's goal, with retain 30%. */
	hdr(&s, 0, 0x30, 0, 0);
	alloc(&s, 2, 255);
	alloc(&s, 1, 31);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_BG_STEP, 3, 0, 0);
	rec(&s, HW_OP_BG_STEP, 0, 0, 0);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_BG_STEP, 2, 0, 0);
	emit(dir, t, "bg-scavenger", &s);

	/* Explicit grows, contiguous and (ignore_hints) scattered arenas,
	 * and a run larger than an arena. */
	hdr(&s, 0, 0x01, 0, 0);
	rec(&s, HW_OP_GROW, 0, 10, 0);
	rec(&s, HW_OP_GROW, 0, 1500, 0);
	alloc(&s, 3, 2000);
	alloc(&s, 2, 511);
	rec(&s, HW_OP_STATS, 0, 0, 0);
	emit(dir, t, "grow", &s);
	hdr(&s, 0x80 | 0x01, 0x00, 0, 0);
	alloc(&s, 2, 400);
	alloc(&s, 2, 400);
	alloc(&s, 3, 1000);
	rec(&s, HW_OP_GROW, 0, 100, 0);
	rec(&s, HW_OP_FREE, 0, 1, 0);
	alloc(&s, 2, 450);
	rec(&s, HW_OP_VALIDATE, 0, 0, 0);
	emit(dir, t, "scattered-arenas", &s);

	/* Failure injection of each kind, then any kind. */
	hdr(&s, 0, 0, 0, 0);
	for (uint8_t k = 0; k < 8; k++) {
		rec(&s, HW_OP_INJECT, k, 0, 0);
		alloc(&s, 3, (uint16_t)(600 + 500 * k));
		rec(&s, HW_OP_GROW, 0, 300, 0);
	}
	/* use again, on the reuse path this time (no grow). */
	rec(&s, HW_OP_INJECT, HW_SYS_USE, 0, 0);
	alloc(&s, 1, 3);
	alloc(&s, 1, 3);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_INJECT, 2, 0, 0);
	rec(&s, HW_OP_SCAVENGE_ALL, 0, 0, 0);
	alloc(&s, 1, 20);
	emit(dir, t, "inject", &s);

	/* fault_on_free with 16 KiB pages: freed runs trap, and refused
	 * faults (injected) leave them Ready. */
	hdr(&s, 0x40 | 0x02, 0, 0, 0);
	alloc(&s, 1, 7);
	alloc(&s, 0, 1);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_TOUCH_STALE, 0, 3, 0);
	rec(&s, HW_OP_INJECT, 4, 0, 0);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_TOUCH_STALE, 1, 0, 0);
	alloc(&s, 1, 7);
	rec(&s, HW_OP_TOUCH_STALE, 0, 1, 0);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_INJECT, 4, 0, 0);
	rec(&s, HW_OP_SCAVENGE_ALL, 0, 0, 0);
	rec(&s, HW_OP_SCAVENGE_ALL, 0, 0, 0);
	emit(dir, t, "fault-on-free", &s);

	/* fault_on_free with a heap page below the OS page: create refuses. */
	hdr(&s, 0x40 | 0x01 | 0x04, 0, 0, 0);
	alloc(&s, 0, 0);
	emit(dir, t, "fault-on-free-refused", &s);

	/* Invalid frees of every kind, and a stale read without faults. */
	hdr(&s, 0, 0, 0, 0);
	alloc(&s, 1, 5);
	alloc(&s, 0, 0);
	rec(&s, HW_OP_FREE, 0, 1, 0);
	for (uint8_t k = 0; k < 8; k++)
		rec(&s, HW_OP_INVALID_FREE, k, (uint16_t)(k * 3), 0);
	rec(&s, HW_OP_INVALID_FREE, HW_BADFREE_WRONG_SIZE, 0x8001, 0);
	rec(&s, HW_OP_INVALID_FREE, HW_BADFREE_OUTSIDE, 1, 0);
	rec(&s, HW_OP_INVALID_FREE, HW_BADFREE_OUTSIDE, 2, 0);
	rec(&s, HW_OP_INVALID_FREE, HW_BADFREE_OUTSIDE, 3, 0);
	rec(&s, HW_OP_TOUCH_STALE, 0, 0, 0);
	rec(&s, HW_OP_STATS, 0, 0, 0);
	emit(dir, t, "invalid-free", &s);

	/* 4 KiB heap pages on 64 KiB OS pages: released state in units of 16. */
	hdr(&s, 0x01 | 0x08, 0, 0, 0);
	alloc(&s, 0, 0);
	alloc(&s, 1, 20);
	alloc(&s, 0, 2);
	rec(&s, HW_OP_FREE, 0, 1, 0);
	rec(&s, HW_OP_SCAVENGE_ALL, 0, 0, 0);
	alloc(&s, 0, 1);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_SCAVENGE, 0, 0, 65536);
	rec(&s, HW_OP_TOUCH_STALE, 0, 2, 0);
	emit(dir, t, "small-pages-big-units", &s);

	/* Released pages read as junk, and Prepared->Ready is a real call. */
	hdr(&s, 0, 0x04 | 0x08, 0, 0);
	alloc(&s, 1, 9);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_SCAVENGE_ALL, 0, 0, 0);
	aligned(&s, 1, 0, 9);
	rec(&s, HW_OP_VERIFY, 0, 0, 0);
	emit(dir, t, "junk-released", &s);

	/* 64 KiB heap pages, 2048-page arenas, 2 arenas at most. */
	hdr(&s, 0x03, 0x02, 0, 2);
	alloc(&s, 2, 255);
	alloc(&s, 3, 255);
	alloc(&s, 1, 1);
	rec(&s, HW_OP_FREE_ALL, 0, 0, 0);
	rec(&s, HW_OP_SCAVENGE_ALL, 0, 0, 0);
	emit(dir, t, "big-pages", &s);

	/* Many objects, all freed at once: coalescing back to one run. */
	hdr(&s, 0, 0, 0, 0);
	for (uint16_t i = 0; i < 40; i++)
		alloc(&s, (i % 3), (uint16_t)(i * 7));
	rec(&s, HW_OP_FREE, 0, 5, 0);
	rec(&s, HW_OP_FREE, 0, 17, 0);
	rec(&s, HW_OP_FREE_ALL, 0, 0, 0);
	alloc(&s, 3, 900);
	rec(&s, HW_OP_VALIDATE, 0, 0, 0);
	emit(dir, t, "free-all", &s);

	/* Unassigned opcodes do nothing; a trailing partial record is
	 * ignored. */
	hdr(&s, 0, 0, 0, 0);
	alloc(&s, 0, 1);
	rec(&s, 0x3f, 1, 2, 3);
	rec(&s, 0x3e | 0xc0, 0, 0, 0);
	rec(&s, HW_OP_FREE | 0x80, 0, 0, 0);
	rec(&s, HW_OP_NOP, 0xff, 0xffff, 0xffffffffu);
	s.buf[s.len++] = HW_OP_ALLOC;
	s.buf[s.len++] = 3;
	emit(dir, t, "unassigned-ops", &s);

	/* Deep checks after every op (header c bit 4). */
	hdr(&s, 0x01, 0, 0, 0x10);
	alloc(&s, 1, 12);
	alloc(&s, 2, 80);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	rec(&s, HW_OP_SCAVENGE, 0, 0, 20000);
	aligned(&s, 1, 3, 4);
	rec(&s, HW_OP_BG_STEP, 1, 0, 0);
	emit(dir, t, "deep-checks", &s);

	/* Wrong-size frees aimed at the next run: an object ending on a
	 * chunk boundary with a run right after it; counts that cover both
	 * runs exactly, reach into the second, pass the first's end, and stop
	 * at the second's start (a valid free); then a stale run's. */
	hdr(&s, 0, 0, 0, 0);
	alloc(&s, 0, 3);
	alloc(&s, 2, 507);
	alloc(&s, 1, 9);
	alloc(&s, 0, 1);
	rec(&s, HW_OP_FREE, 0, 0, 0);
	for (uint16_t b = 0; b < 4; b++)
		rec(&s, HW_OP_AIMED_FREE, 1, (uint16_t)(b | 4), 0);
	rec(&s, HW_OP_AIMED_FREE, 2, 0, 0);
	rec(&s, HW_OP_VALIDATE, 0, 0, 0);
	emit(dir, t, "aimed-free", &s);

	/* Shorter than a header: the default configuration and no ops. */
	s.len = 1;
	s.buf[0] = 0xff;
	emit(dir, t, "short", &s);
}

static void platform_seeds(const char *dir)
{
	const char *t = "platform_fuzzer";
	seed s;

	/* The legal path through every state: reserve, map, use, unuse, use,
	 * fault, map, use, release; then alloc and release. */
	hdr(&s, 0, 0, 0, 0);
	rec(&s, HW_POP_RESERVE, 0, 15, 0);
	rec(&s, HW_POP_MAP, 0, 0, 15);
	rec(&s, HW_POP_USE, 0, 2, 5);
	rec(&s, HW_POP_WRITE, 0, 0, 15);
	rec(&s, HW_POP_UNUSE, 0, 3, 1);
	rec(&s, HW_POP_USE, 0, 3, 1);
	rec(&s, HW_POP_FAULT, 0, 2, 5);
	rec(&s, HW_POP_PROBE, 1, 0, 3);
	rec(&s, HW_POP_MAP, 0, 2, 5);
	rec(&s, HW_POP_USE, 0, 2, 5);
	rec(&s, HW_POP_PROBE, 1, 0, 3);
	rec(&s, HW_POP_RELEASE, 0, 0, 7);
	rec(&s, HW_POP_ALLOC, 0, 3, 0);
	rec(&s, HW_POP_PROBE, 0, 1 << 10, 1);
	rec(&s, HW_POP_CHECK, 0, 0, 0);
	emit(dir, t, "legal-path", &s);

	/* Illegal calls: use of Reserved, map of Ready, unuse of Prepared,
	 * ranges past a region's ends, release of None. */
	hdr(&s, 0, 0, 0, 0);
	rec(&s, HW_POP_RESERVE, 0, 7, 0);
	rec(&s, HW_POP_USE, 0, 0, 3);
	rec(&s, HW_POP_MAP, 0, 0, 3);
	rec(&s, HW_POP_UNUSE, 0, 0, 3);
	rec(&s, HW_POP_USE, 0, 0, 3);
	rec(&s, HW_POP_MAP, 0, 0, 3);
	rec(&s, HW_POP_MAP, 0x20, 4, 0);
	rec(&s, HW_POP_FAULT, 0x10, 0, 0);
	rec(&s, HW_POP_RELEASE, 0x30, 0, 7);
	rec(&s, HW_POP_RELEASE, 0, 0, 7);
	rec(&s, HW_POP_RELEASE, 0, 0, 7);
	rec(&s, HW_POP_PROBE, 0, 0, 2);
	rec(&s, HW_POP_CHECK, 0, 0, 0);
	emit(dir, t, "illegal", &s);

	/* Injected failures of each kind and of any kind. */
	hdr(&s, 0, 0, 0, 0);
	for (uint8_t k = 0; k < 8; k++) {
		rec(&s, HW_POP_INJECT, k, 0, 0);
		rec(&s, HW_POP_RESERVE, 0, 3, 0);
		rec(&s, HW_POP_MAP, 0, 0, 3);
		rec(&s, HW_POP_USE, 0, 0, 3);
		rec(&s, HW_POP_UNUSE, 0, 0, 3);
		rec(&s, HW_POP_FAULT, 0, 0, 3);
		rec(&s, HW_POP_ALLOC, 0, 1, 0);
	}
	rec(&s, HW_POP_INJECT, 7, 3, 0);
	rec(&s, HW_POP_RESERVE, 0, 1, 0);
	rec(&s, HW_POP_RESERVE, 0, 1, 0);
	rec(&s, HW_POP_RESERVE, 0, 1, 0);
	rec(&s, HW_POP_RESERVE, 0, 1, 0);
	emit(dir, t, "inject", &s);

	/* Hints: above and below a region; then the same with ignore_hints,
	 * with 64 KiB pages and junk on reuse. */
	hdr(&s, 0, 0, 0, 0);
	rec(&s, HW_POP_RESERVE, 0, 3, 0);
	rec(&s, HW_POP_RESERVE, 0x40, 3, 0);
	rec(&s, HW_POP_RESERVE, 0xc0, 1, 1);
	rec(&s, HW_POP_RELEASE, 0, 1 << 10, 3);
	rec(&s, HW_POP_RESERVE, 0x40, 1, 0);
	rec(&s, HW_POP_CHECK, 0, 0, 0);
	emit(dir, t, "hints", &s);

	/* Hints at the backing's edges: a range ending exactly at its top and
	 * one starting at its bottom must land there; ranges one page across
	 * either edge cannot, and land inside. */
	hdr(&s, 0, 0, 0, 0);
	rec(&s, HW_POP_RESERVE, 0xa0, 5, 0);
	rec(&s, HW_POP_RESERVE, 0x20, 2, 0);
	rec(&s, HW_POP_RELEASE, 0, 1 << 10, 0);
	rec(&s, HW_POP_RELEASE, 0, 1 << 10, 1);
	rec(&s, HW_POP_RESERVE, 0xa0, 0x40 | 3, 0);
	rec(&s, HW_POP_RESERVE, 0x20, 0x40 | 3, 0);
	rec(&s, HW_POP_RESERVE, 0xa0, 63, 0);
	rec(&s, HW_POP_CHECK, 0, 0, 0);
	emit(dir, t, "hint-edges", &s);
	hdr(&s, 0x80 | 0x08, 0x04, 0, 0);
	rec(&s, HW_POP_RESERVE, 0, 3, 0);
	rec(&s, HW_POP_RESERVE, 0x40, 3, 0);
	rec(&s, HW_POP_MAP, 0, 0, 3);
	rec(&s, HW_POP_USE, 0, 0, 3);
	rec(&s, HW_POP_UNUSE, 0, 1, 1);
	rec(&s, HW_POP_USE, 0, 1, 1);
	rec(&s, HW_POP_CHECK, 0, 0, 0);
	emit(dir, t, "ignore-hints-junk", &s);

	/* ignore_hints: a reservation may land on its hint by chance, but
	 * never next to an owned page. */
	hdr(&s, 0x80 | 0x04, 0, 0, 0);
	rec(&s, HW_POP_RESERVE, 0, 23, 0);
	rec(&s, HW_POP_RELEASE, 0, 0, 0);
	rec(&s, HW_POP_RESERVE, 0xc0, 0, 0);
	rec(&s, HW_POP_RESERVE, 0x40, 2, 1);
	rec(&s, HW_POP_CHECK, 0, 0, 0);
	emit(dir, t, "ignore-hints-apart", &s);

	/* 16 KiB pages with a huge page; unassigned ops. */
	hdr(&s, 0x04 | 0x20, 0x08, 0, 0);
	rec(&s, HW_POP_ALLOC, 0, 16, 0);
	rec(&s, HW_POP_FAULT, 0, 4, 4);
	rec(&s, HW_POP_PROBE, 0, 0, 5);
	rec(&s, 0x3f, 0, 0, 0);
	rec(&s, HW_POP_MAP, 0, 4, 4);
	rec(&s, HW_POP_USE, 0, 4, 4);
	rec(&s, HW_POP_CHECK, 0, 0, 0);
	emit(dir, t, "alloc-fault", &s);
}

static void bits_seeds(const char *dir)
{
	const char *t = "pagebits_fuzzer";
	seed s;
	for (uint8_t fill = 0; fill < 4; fill++) {
		hdr(&s, fill, 0, 0, 0x1234u + fill);
		rec(&s, HW_BOP_SET, 0, 10, 100);
		rec(&s, HW_BOP_CLEAR, 0, 60, 10);
		rec(&s, HW_BOP_SET, 0x81, 500, 0);
		rec(&s, HW_BOP_FILL, 2, 3, 77);
		rec(&s, HW_BOP_COUNT, 0, 5, 300);
		rec(&s, HW_BOP_COUNT, 1, 63, 2);
		rec(&s, HW_BOP_FIND_RUN, 0, 0, 5);
		rec(&s, HW_BOP_FIND_RUN, 1, 100, 511);
		rec(&s, HW_BOP_FIND_BELOW, 0, 512, 0);
		rec(&s, HW_BOP_FIND_BELOW, 2, 64, 0);
		rec(&s, HW_BOP_FIND_FROM, 0, 0, 0);
		rec(&s, HW_BOP_FIND_FROM, 3, 511, 0);
		rec(&s, HW_BOP_SUMMARIZE, 0, 0, 0);
		rec(&s, HW_BOP_SUMMARIZE, 1, 0, 0);
		rec(&s, HW_BOP_MERGE, 3, 0, 0);
		rec(&s, HW_BOP_MERGE_SMALL, 7, 63, 0);
		rec(&s, HW_BOP_MERGE_SMALL, 0x80 | 15, 100, 0);
		rec(&s, HW_BOP_MERGE_SMALL, 0x80 | 3, 255, 0);
		char name[32];
		snprintf(name, sizeof name, "ops-fill%u", fill);
		emit(dir, t, name, &s);
	}
	/* Word edges: runs that start and end on 64-bit boundaries. */
	hdr(&s, 0, 0, 0, 0);
	rec(&s, HW_BOP_SET, 0, 64, 64);
	rec(&s, HW_BOP_SET, 0, 191, 1);
	rec(&s, HW_BOP_FIND_RUN, 0, 0, 63);
	rec(&s, HW_BOP_FIND_RUN, 0, 0, 64);
	rec(&s, HW_BOP_FIND_RUN, 0, 128, 320);
	rec(&s, HW_BOP_FIND_BELOW, 0, 128, 0);
	rec(&s, HW_BOP_FIND_BELOW, 0, 513, 0);
	rec(&s, HW_BOP_SUMMARIZE, 0, 0, 0);
	rec(&s, HW_BOP_MERGE, 1, 0, 0);
	emit(dir, t, "word-edges", &s);
	/* Leaf updates (B3) on a sparse random map: runs that join or split
	 * at the map's ends, inside a word, across words, and the longest
	 * run split so that the update must rescan. */
	hdr(&s, 3, 0, 0, 0x5eed);
	rec(&s, HW_BOP_AFTER_CLEAR, 0, 0, 3);
	rec(&s, HW_BOP_AFTER_CLEAR, 0, 509, 3);
	rec(&s, HW_BOP_AFTER_CLEAR, 0, 70, 5);
	rec(&s, HW_BOP_AFTER_CLEAR, 0, 60, 80);
	rec(&s, HW_BOP_AFTER_SET, 0, 0, 1);
	rec(&s, HW_BOP_AFTER_SET, 0, 511, 1);
	rec(&s, HW_BOP_AFTER_SET, 0, 100, 10);
	rec(&s, HW_BOP_AFTER_SET, 0, 60, 40);
	rec(&s, HW_BOP_AFTER_CLEAR, 0x80, 0, 0);
	rec(&s, HW_BOP_AFTER_SET, 0, 200, 100);
	rec(&s, HW_BOP_AFTER_CLEAR, 0, 250, 1);
	emit(dir, t, "leaf-updates", &s);
	/* Inner updates (B4): interior changes that grow or shrink a child's
	 * longest run, and changes that reach a child's first or last page. */
	hdr(&s, 3, 0, 0, 0xc41d);
	rec(&s, HW_BOP_CHILD, 1, 200, 3);
	rec(&s, HW_BOP_CHILD, 1, 100, 60);
	rec(&s, HW_BOP_CHILD, 0x41, 150, 40);
	rec(&s, HW_BOP_CHILD, 0x42, 300, 2);
	rec(&s, HW_BOP_CHILD, 2, 0, 10);
	rec(&s, HW_BOP_CHILD, 3, 500, 12);
	rec(&s, HW_BOP_CHILD, 0x80, 0, 0);
	rec(&s, HW_BOP_CHILD, 0x40, 250, 5);
	emit(dir, t, "inner-updates", &s);
}

/* Random inputs with the difftest's generator and a random header from
 * the seeds' configurations; lengths spread evenly on a log scale. */
static int random_inputs(const char *dir, unsigned n)
{
	static const uint8_t headers[][2] = {
		{0x00, 0x00},
		{0x01 | 0x10, 0x00},
		{0x01 | 0x08, 0x00},
		{0x02 | 0x40, 0x00},
		{0x04, 0x04 | 0x08},
		{0x80, 0x01},
		{0x03 | 0x30, 0x00},
		{0x00, 0x30},
	};
	static uint8_t buf[HW_OPS_RECORD * 512];
	uint64_t rng = 0xbe4c4;
	for (unsigned i = 0; i < n; i++) {
		size_t nops = (size_t)1 << (i % 9);
		nops += i % nops;
		if (nops > 511)
			nops = 511;
		const uint8_t *h = headers[i % (sizeof headers / sizeof headers[0])];
		hw_ops_put(buf, h[0], h[1], 0, 0);
		hw_driver_generate(&rng, nops, buf + HW_OPS_RECORD);
		char path[1024];
		snprintf(path, sizeof path, "%s/random-%05u", dir, i);
		FILE *f = fopen(path, "wb");
		size_t len = HW_OPS_RECORD * (nops + 1);
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
			fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--random") == 0)
		return random_inputs(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0)
			check_mode = 1;
		else
			dir = argv[i];
	}
	if (dir == NULL) {
		fprintf(stderr, "usage: hw_make_seeds [--check] CORPUS_DIR\n");
		return 2;
	}
	heap_seeds(dir, "heap_sim_fuzzer");
	heap_seeds(dir, "heap_os_fuzzer");
	platform_seeds(dir);
	bits_seeds(dir);
	if (check_mode) {
		if (mismatches)
			fprintf(stderr, "%d seeds differ: regenerate with hw_make_seeds %s\n",
				mismatches, dir);
		else
			printf("all seeds match the generator\n");
	}
	return mismatches ? 1 : 0;
}

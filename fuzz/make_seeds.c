/* make_seeds.c: writes the hand-made seed inputs of corpus/<target>/seed/.
 *
 * Owns: the definition of every committed seed, built record by record with
 * the decoder's own encoders (difftest/ops.h O5), so a heap seed names its
 * configuration and every op's arguments (pages, bytes, alignments, kinds)
 * and the committed bytes can be regenerated at will. Raw records remain
 * only where a seed writes what no encoder would: unassigned opcodes and
 * ignored bits, and the platform and pagebits ops.
 *
 * Usage: hw_make_seeds CORPUS_DIR            (re)writes the seed files
 *        hw_make_seeds --check CORPUS_DIR    exits 1 when a committed seed
 *                                            differs from what this writes
 *        hw_make_seeds --random DIR N        writes N pseudo-random heap
 *                                            inputs of 1 to 511 ops (up to
 *                                            4 KiB) into DIR, fixed seed: a
 *                                            benchmark set for execs/s
 *        hw_make_seeds --random-malloc DIR N the same for malloc_fuzzer
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
#include "malloc_driver.h"
#include "ops.h"
#include "platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct seed {
	uint8_t buf[8 * 512];
	size_t len;
} seed;

/* The next record of s. */
static uint8_t *next(seed *s)
{
	if (s->len + HW_OPS_RECORD > sizeof s->buf)
		abort();
	uint8_t *r = s->buf + s->len;
	s->len += HW_OPS_RECORD;
	return r;
}

/* An encoder refused a value its record cannot carry (ops.h O5): a seed
 * asks for something the format does not have. */
static void ok(int rc)
{
	if (rc != 0) {
		fprintf(stderr, "hw_make_seeds: a seed asks for a value its record cannot carry\n");
		abort();
	}
}

/* A raw record, for the seeds that write what no encoder would: unassigned
 * opcodes, reserved bits, platform and pagebits ops. */
static void rec(seed *s, uint8_t op, uint8_t a, uint16_t b, uint32_t c)
{
	hw_ops_put(next(s), op, a, b, c);
}

/* ---- heap records, by name ---- */

/* The default configuration (an all-zero header, O4), to change by field. */
static hw_ops_config defaults(void)
{
	hw_ops_config c;
	hw_ops_config_decode(NULL, 0, &c);
	return c;
}

/* Starts a seed with its header. */
static void config(seed *s, hw_ops_config c)
{
	s->len = 0;
	ok(hw_ops_config_encode(&c, next(s)));
}

static void alloc(seed *s, size_t npages) { ok(hw_ops_enc_alloc(next(s), npages)); }

static void alloc_in(seed *s, hw_ops_size_class cls, size_t npages)
{
	ok(hw_ops_enc_alloc_in(next(s), cls, npages));
}

/* An alloc record whose b also sets bits above its class's mask, which the
 * decoder ignores (O3): pages(cls, b) = 1 + (b & mask). Two seeds were
 * written this way; they stay byte for byte as committed. */
static void alloc_raw_b(seed *s, hw_ops_size_class cls, uint16_t b)
{
	rec(s, HW_OP_ALLOC, (uint8_t)cls, b, 0);
}

static void aligned(seed *s, hw_ops_size_class cls, size_t npages, size_t align)
{
	ok(hw_ops_enc_alloc_aligned(next(s), cls, npages, align));
}

static void free_obj(seed *s, uint16_t index) { hw_ops_enc_free(next(s), index); }
static void scavenge(seed *s, uint32_t bytes) { hw_ops_enc_scavenge(next(s), bytes); }
static void plain(seed *s, uint8_t code) { ok(hw_ops_enc_plain(next(s), code)); }
static void grow(seed *s, size_t npages) { ok(hw_ops_enc_grow(next(s), npages)); }
static void set_limit(seed *s, size_t bytes) { ok(hw_ops_enc_set_limit(next(s), bytes)); }
static void bg_step(seed *s, unsigned times) { ok(hw_ops_enc_bg_step(next(s), times)); }

static void inject(seed *s, unsigned kind, uint64_t nth)
{
	ok(hw_ops_enc_inject(next(s), kind, nth));
}

static void touch_stale(seed *s, unsigned slot, uint16_t page)
{
	ok(hw_ops_enc_touch_stale(next(s), slot, page));
}

static void invalid_free(seed *s, unsigned kind, uint16_t arg, uint32_t object)
{
	ok(hw_ops_enc_invalid_free(next(s), kind, arg, object));
}

static void aimed_free(seed *s, hw_ops_aim aim) { ok(hw_ops_enc_aimed_free(next(s), &aim)); }
static void resize(seed *s, unsigned kind, uint16_t index, uint32_t c)
{
	ok(hw_ops_enc_resize(next(s), kind, index, c));
}
static void guard(seed *s, bool unguard, hw_ops_guard g)
{
	ok(hw_ops_enc_guard(next(s), unguard, &g));
}
static void inside(seed *s, bool reuse, hw_ops_guard g)
{
	ok(hw_ops_enc_inside(next(s), reuse, &g));
}

/* Record 0 of a pagebits input: the maps' initial fill (byte 0 bits 0-1:
 * clear, set, random, sparse random) and the random seed (c). */
static void bits_header(seed *s, uint8_t fill, uint32_t random_seed)
{
	s->len = 0;
	rec(s, fill, 0, 0, random_seed);
}

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

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

static void heap_seeds(const char *dir, const char *t)
{
	seed s;
	hw_ops_config c;

	/* Default config: allocation, free, first fit, reuse, verify. */
	config(&s, defaults());
	alloc(&s, 1);
	alloc(&s, 8);
	alloc(&s, 101);
	alloc(&s, 4);
	free_obj(&s, 1);
	alloc(&s, 3);
	plain(&s, HW_OP_VERIFY);
	free_obj(&s, 0);
	free_obj(&s, 0);
	alloc(&s, 21);
	plain(&s, HW_OP_VALIDATE);
	plain(&s, HW_OP_STATS);
	emit(dir, t, "alloc-free", &s);

	/* Alignments from below a page to 16 MiB, zeroed runs. */
	c = defaults();
	c.page_size = 4 * KiB;
	config(&s, c);
	alloc(&s, 1);
	aligned(&s, HW_OPS_TINY, 2, 4 * KiB);
	aligned(&s, HW_OPS_SMALL, 6, 64 * KiB);
	aligned(&s, HW_OPS_TINY, 1, 1 * MiB);
	aligned(&s, HW_OPS_TINY, 3, 8); /* below a page: the page size */
	aligned(&s, HW_OPS_MEDIUM, 41, 16 * MiB);
	free_obj(&s, 2);
	aligned(&s, HW_OPS_SMALL, 4, 32 * KiB);
	plain(&s, HW_OP_VERIFY);
	emit(dir, t, "aligned", &s);

	/* Scavenging: explicit amounts, everything, then reuse of released
	 * pages (zeroed). */
	config(&s, defaults());
	alloc(&s, 64);
	alloc_in(&s, HW_OPS_MEDIUM, 32);
	alloc(&s, 10);
	free_obj(&s, 0);
	scavenge(&s, 3 * 8192);
	scavenge(&s, 1);
	free_obj(&s, 0);
	plain(&s, HW_OP_SCAVENGE_ALL);
	aligned(&s, HW_OPS_MEDIUM, 21, 4 * KiB);
	scavenge(&s, 0);
	plain(&s, HW_OP_VALIDATE);
	emit(dir, t, "scavenge", &s);

	/* Huge pages (2 MiB over 4 KiB heap pages): pass 1 of the scavenger. */
	c = defaults();
	c.page_size = 4 * KiB;
	c.huge_page_size = 2 * MiB;
	c.arena_pages = 1024;
	config(&s, c);
	alloc(&s, 512);
	alloc(&s, 301);
	alloc(&s, 1);
	free_obj(&s, 0);
	scavenge(&s, 4096);
	free_obj(&s, 0);
	scavenge(&s, 100000);
	plain(&s, HW_OP_SCAVENGE_ALL);
	alloc(&s, 11);
	emit(dir, t, "huge-pages", &s);

	/* 256 KiB and 1 MiB huge pages over 16 KiB OS pages. */
	c = defaults();
	c.page_size = 16 * KiB;
	c.os_page_size = 16 * KiB;
	c.huge_page_size = 256 * KiB;
	config(&s, c);
	alloc(&s, 201);
	alloc_in(&s, HW_OPS_SMALL, 4);
	free_obj(&s, 0);
	plain(&s, HW_OP_SCAVENGE_ALL);
	emit(dir, t, "huge-256k", &s);
	c.huge_page_size = 1 * MiB;
	config(&s, c);
	alloc(&s, 201);
	alloc_in(&s, HW_OPS_SMALL, 4);
	free_obj(&s, 0);
	bg_step(&s, 4);
	emit(dir, t, "huge-1m", &s);

	/* A memory limit from the header, then changed: limit scavenges on the
	 * allocation path, limit_exceeded when nothing is left to release. */
	c = defaults();
	c.memory_limit = 512 * KiB;
	config(&s, c);
	alloc(&s, 32);
	alloc(&s, 32);
	free_obj(&s, 0);
	alloc(&s, 1);
	alloc(&s, 101);
	set_limit(&s, 256 * KiB);
	set_limit(&s, 0);
	free_obj(&s, 0);
	set_limit(&s, 64 * KiB);
	alloc(&s, 6);
	emit(dir, t, "memory-limit", &s);

	/* The background scavenger's goal, with retain 30%. */
	c = defaults();
	c.retain_percent = 30;
	config(&s, c);
	alloc(&s, 256);
	alloc(&s, 32);
	free_obj(&s, 0);
	bg_step(&s, 4);
	bg_step(&s, 1);
	free_obj(&s, 0);
	bg_step(&s, 3);
	emit(dir, t, "bg-scavenger", &s);

	/* Explicit grows, contiguous and (ignore_hints) scattered arenas,
	 * and a run larger than an arena. */
	c = defaults();
	c.arena_pages = 1024;
	config(&s, c);
	grow(&s, 11);
	grow(&s, 1501);
	alloc(&s, 2001);
	alloc(&s, 512);
	plain(&s, HW_OP_STATS);
	emit(dir, t, "grow", &s);
	c = defaults();
	c.page_size = 4 * KiB;
	c.ignore_hints = true;
	config(&s, c);
	alloc(&s, 401);
	alloc(&s, 401);
	alloc(&s, 1001);
	grow(&s, 101);
	free_obj(&s, 1);
	alloc(&s, 451);
	plain(&s, HW_OP_VALIDATE);
	emit(dir, t, "scattered-arenas", &s);

	/* Failure injection of each kind, then any kind. */
	config(&s, defaults());
	for (unsigned k = 0; k <= HW_OPS_INJECT_ANY; k++) {
		inject(&s, k, 1);
		alloc_raw_b(&s, HW_OPS_LARGE, (uint16_t)(600 + 500 * k));
		grow(&s, 301);
	}
	/* use again, on the reuse path this time (no grow). */
	inject(&s, HW_SYS_USE, 1);
	alloc_in(&s, HW_OPS_SMALL, 4);
	alloc_in(&s, HW_OPS_SMALL, 4);
	free_obj(&s, 0);
	inject(&s, HW_SYS_USE, 1);
	plain(&s, HW_OP_SCAVENGE_ALL);
	alloc(&s, 21);
	emit(dir, t, "inject", &s);

	/* fault_on_free with 16 KiB pages: freed runs trap, and refused
	 * faults (injected) leave them Ready. */
	c = defaults();
	c.page_size = 16 * KiB;
	c.fault_on_free = true;
	config(&s, c);
	alloc(&s, 8);
	alloc(&s, 2);
	free_obj(&s, 0);
	touch_stale(&s, 0, 3);
	inject(&s, HW_SYS_FAULT, 1);
	free_obj(&s, 0);
	touch_stale(&s, 1, 0);
	alloc(&s, 8);
	touch_stale(&s, 0, 1);
	free_obj(&s, 0);
	inject(&s, HW_SYS_FAULT, 1);
	plain(&s, HW_OP_SCAVENGE_ALL);
	plain(&s, HW_OP_SCAVENGE_ALL);
	emit(dir, t, "fault-on-free", &s);

	/* fault_on_free with a heap page below the OS page: create refuses. */
	c = defaults();
	c.page_size = 4 * KiB;
	c.os_page_size = 16 * KiB;
	c.fault_on_free = true;
	config(&s, c);
	alloc(&s, 1);
	emit(dir, t, "fault-on-free-refused", &s);

	/* Invalid frees of every kind, and a stale read without faults. */
	config(&s, defaults());
	alloc(&s, 6);
	alloc(&s, 1);
	free_obj(&s, 1);
	for (unsigned k = 0; k <= HW_BADFREE_PAST_END; k++)
		invalid_free(&s, k, (uint16_t)(k * 3), 0);
	invalid_free(&s, HW_BADFREE_WRONG_SIZE, 0x8001, 0);
	invalid_free(&s, HW_BADFREE_OUTSIDE, 1, 0);
	invalid_free(&s, HW_BADFREE_OUTSIDE, 2, 0);
	invalid_free(&s, HW_BADFREE_OUTSIDE, 3, 0);
	touch_stale(&s, 0, 0);
	plain(&s, HW_OP_STATS);
	emit(dir, t, "invalid-free", &s);

	/* 4 KiB heap pages on 64 KiB OS pages: released state in units of 16. */
	c = defaults();
	c.page_size = 4 * KiB;
	c.os_page_size = 64 * KiB;
	config(&s, c);
	alloc(&s, 1);
	alloc(&s, 21);
	alloc(&s, 3);
	free_obj(&s, 1);
	plain(&s, HW_OP_SCAVENGE_ALL);
	alloc(&s, 2);
	free_obj(&s, 0);
	scavenge(&s, 65536);
	touch_stale(&s, 0, 2);
	emit(dir, t, "small-pages-big-units", &s);

	/* Released pages read as junk, and Prepared->Ready is a real call. */
	c = defaults();
	c.released_reads_zero = false;
	c.use_needs_call = true;
	config(&s, c);
	alloc(&s, 10);
	free_obj(&s, 0);
	plain(&s, HW_OP_SCAVENGE_ALL);
	aligned(&s, HW_OPS_SMALL, 10, 4 * KiB);
	plain(&s, HW_OP_VERIFY);
	emit(dir, t, "junk-released", &s);

	/* 64 KiB heap pages, 2048-page arenas, 2 arenas at most. */
	c = defaults();
	c.page_size = 64 * KiB;
	c.arena_pages = 2048;
	c.max_arenas = 2;
	config(&s, c);
	alloc(&s, 256);
	alloc_in(&s, HW_OPS_LARGE, 256);
	alloc_in(&s, HW_OPS_SMALL, 2);
	plain(&s, HW_OP_FREE_ALL);
	plain(&s, HW_OP_SCAVENGE_ALL);
	emit(dir, t, "big-pages", &s);

	/* Many objects, all freed at once: coalescing back to one run. */
	config(&s, defaults());
	static const hw_ops_size_class cycle[3] = {HW_OPS_TINY, HW_OPS_SMALL, HW_OPS_MEDIUM};
	for (uint16_t i = 0; i < 40; i++)
		alloc_raw_b(&s, cycle[i % 3], (uint16_t)(i * 7));
	free_obj(&s, 5);
	free_obj(&s, 17);
	plain(&s, HW_OP_FREE_ALL);
	alloc(&s, 901);
	plain(&s, HW_OP_VALIDATE);
	emit(dir, t, "free-all", &s);

	/* Unassigned opcodes do nothing; a trailing partial record is
	 * ignored. */
	config(&s, defaults());
	alloc(&s, 2);
	rec(&s, 0x3f, 1, 2, 3);
	rec(&s, 0x3e | 0xc0, 0, 0, 0);
	rec(&s, HW_OP_FREE | 0x80, 0, 0, 0);
	rec(&s, HW_OP_NOP, 0xff, 0xffff, 0xffffffffu);
	s.buf[s.len++] = HW_OP_ALLOC;
	s.buf[s.len++] = 3;
	emit(dir, t, "unassigned-ops", &s);

	/* Deep checks after every op (header c bit 4). */
	c = defaults();
	c.page_size = 4 * KiB;
	c.deep_every_op = true;
	config(&s, c);
	alloc(&s, 13);
	alloc(&s, 81);
	free_obj(&s, 0);
	scavenge(&s, 20000);
	aligned(&s, HW_OPS_SMALL, 5, 32 * KiB);
	bg_step(&s, 2);
	emit(dir, t, "deep-checks", &s);

	/* Wrong-size frees aimed at the next run: an object ending on a
	 * chunk boundary with a run right after it; counts that cover both
	 * runs exactly, reach into the second, pass the first's end, and stop
	 * at the second's start (a valid free); then a stale run's. */
	config(&s, defaults());
	alloc(&s, 4);
	alloc(&s, 508);
	alloc(&s, 10);
	alloc(&s, 2);
	free_obj(&s, 0);
	for (unsigned how = HW_AIM_THROUGH_NEXT; how <= HW_AIM_TO_NEXT; how++)
		aimed_free(&s, (hw_ops_aim){.chunk_edge = true, .how = how, .extra = 2});
	aimed_free(&s, (hw_ops_aim){.from_freed = true, .how = HW_AIM_THROUGH_NEXT, .extra = 1});
	plain(&s, HW_OP_VALIDATE);
	emit(dir, t, "aimed-free", &s);

	/* Guard pages in live runs (heapward.h hw_heap_guard): the last page
	 * of one object, the first of another, a middle stretch; invalid
	 * ranges (guarded already, a zero count, past the object's end into
	 * its neighbour); unguard and touch; free with guards (their pages
	 * free and Reserved, then reused); stale touches of them. In the
	 * default heap, one that faults freed runs (with a refused fault
	 * between guard pages) and one whose OS page is four heap pages. */
	for (unsigned mode = 0; mode < 3; mode++) {
		c = defaults();
		if (mode == 1)
			c.fault_on_free = true;
		if (mode == 2) {
			c.page_size = 4 * KiB;
			c.os_page_size = 16 * KiB;
		}
		config(&s, c);
		unsigned u = mode == 2 ? 4 : 1;
		alloc(&s, 8 * u);
		alloc(&s, 6 * u);
		alloc(&s, 4 * u);
		guard(&s, false, (hw_ops_guard){.index = 0, .npages = u, .from_end = true});
		guard(&s, false, (hw_ops_guard){.index = 1, .npages = u});
		guard(&s, false, (hw_ops_guard){.index = 2, .npages = 2 * u, .offset = u});
		guard(&s, false, (hw_ops_guard){.index = 0, .npages = u, .from_end = true});
		guard(&s, false, (hw_ops_guard){.index = 1, .npages = 0});
		guard(&s, false, (hw_ops_guard){.index = 0, .npages = 2 * u, .offset = 7 * u});
		if (u > 1)
			guard(&s, false, (hw_ops_guard){.index = 1, .npages = 1, .offset = 3});
		guard(&s, true, (hw_ops_guard){.index = 2, .npages = u, .offset = u});
		guard(&s, true, (hw_ops_guard){.index = 2, .npages = u, .offset = u});
		plain(&s, HW_OP_VERIFY);
		plain(&s, HW_OP_VALIDATE);
		if (mode == 1)
			inject(&s, HW_SYS_FAULT, 1);
		free_obj(&s, 2);
		free_obj(&s, 0);
		touch_stale(&s, 1, (uint16_t)(8 * u - 1));
		touch_stale(&s, 0, (uint16_t)(2 * u));
		alloc(&s, 7 * u);
		guard(&s, false, (hw_ops_guard){.index = 1, .npages = 7 * u});
		plain(&s, HW_OP_VALIDATE);
		plain(&s, HW_OP_FREE_ALL);
		plain(&s, HW_OP_SCAVENGE_ALL);
		alloc(&s, 30 * u);
		plain(&s, HW_OP_VALIDATE);
		emit(dir, t,
		     mode == 0   ? "guard-pages"
		     : mode == 1 ? "guard-fault-on-free"
				 : "guard-units",
		     &s);
	}

	/* Pages released inside live runs (heapward.h hw_heap_release_inside):
	 * a middle stretch, the last unit; invalid ranges (released already,
	 * over a guard page, a zero count, a part unit, into the neighbour,
	 * a reuse of pages never released or only partly, a guard of released
	 * pages); a
	 * refused call (the fault under fault_on_free, the make-Ready of a
	 * reuse); reuse and verify; a shrink that would split a unit and one
	 * that frees released pages; a free with released pages (free
	 * released pages, no call), their reuse by an allocation; stale
	 * touches. In the default heap, one that faults freed runs and one
	 * whose OS page is four heap pages. */
	for (unsigned mode = 0; mode < 3; mode++) {
		c = defaults();
		if (mode == 1)
			c.fault_on_free = true;
		if (mode == 2) {
			c.page_size = 4 * KiB;
			c.os_page_size = 16 * KiB;
		}
		config(&s, c);
		unsigned u = mode == 2 ? 4 : 1;
		alloc(&s, 8 * u);
		alloc(&s, 6 * u);
		inside(&s, false, (hw_ops_guard){.index = 0, .npages = 3 * u, .offset = 2 * u});
		inside(&s, false, (hw_ops_guard){.index = 1, .npages = u, .from_end = true});
		guard(&s, false, (hw_ops_guard){.index = 1, .npages = u});
		inside(&s, false, (hw_ops_guard){.index = 0, .npages = u, .offset = 3 * u});
		inside(&s, false, (hw_ops_guard){.index = 1, .npages = 2 * u});
		inside(&s, false, (hw_ops_guard){.index = 1, .npages = 0});
		inside(&s, false, (hw_ops_guard){.index = 0, .npages = 2 * u, .offset = 7 * u});
		if (u > 1)
			inside(&s, false, (hw_ops_guard){.index = 0, .npages = 1, .offset = 6});
		inside(&s, true, (hw_ops_guard){.index = 0, .npages = u});
		inside(&s, true, (hw_ops_guard){.index = 0, .npages = 2 * u, .offset = 4 * u});
		guard(&s, false, (hw_ops_guard){.index = 0, .npages = u, .offset = 2 * u});
		plain(&s, HW_OP_VERIFY);
		plain(&s, HW_OP_VALIDATE);
		inject(&s, mode == 1 ? HW_SYS_MAP : HW_SYS_USE, 1);
		inside(&s, true, (hw_ops_guard){.index = 0, .npages = u, .offset = 4 * u});
		inside(&s, true, (hw_ops_guard){.index = 0, .npages = u, .offset = 4 * u});
		if (mode == 1) {
			inject(&s, HW_SYS_FAULT, 1);
			inside(&s, false, (hw_ops_guard){.index = 0, .npages = u, .offset = 7 * u});
		}
		plain(&s, HW_OP_VERIFY);
		resize(&s, HW_RESIZE_TO, 0, 2 * u + 1);
		resize(&s, HW_RESIZE_TO, 0, 3 * u);
		free_obj(&s, 1);
		touch_stale(&s, 0, (uint16_t)(6 * u - 1));
		touch_stale(&s, 0, 0);
		plain(&s, HW_OP_VALIDATE);
		alloc(&s, 9 * u);
		plain(&s, HW_OP_VERIFY);
		plain(&s, HW_OP_FREE_ALL);
		plain(&s, HW_OP_VALIDATE);
		emit(dir, t,
		     mode == 0   ? "inside-pages"
		     : mode == 1 ? "inside-fault-on-free"
				 : "inside-units",
		     &s);
	}

	/* An allocation over two released stretches with a free Ready run
	 * between them, whose second make-Ready call is refused: the first
	 * stretch must be released again and every page left as it was; then
	 * the same allocation succeeds. In the default heap (use) and in one
	 * that faults freed runs (map, use; the middle run stays Ready because
	 * its fault is refused). */
	for (unsigned mode = 0; mode < 2; mode++) {
		c = defaults();
		c.fault_on_free = mode == 1;
		config(&s, c);
		alloc(&s, 8);
		alloc(&s, 8);
		alloc(&s, 8);
		alloc(&s, 1);
		free_obj(&s, 2);
		free_obj(&s, 0);
		plain(&s, HW_OP_SCAVENGE_ALL);
		if (mode == 1)
			inject(&s, HW_SYS_FAULT, 1);
		free_obj(&s, 0);
		inject(&s, mode == 1 ? HW_SYS_MAP : HW_SYS_USE, 2);
		alloc(&s, 24);
		plain(&s, HW_OP_VALIDATE);
		alloc(&s, 24);
		plain(&s, HW_OP_VALIDATE);
		emit(dir, t, mode == 0 ? "claim-rollback" : "claim-rollback-faulted", &s);
	}

	/* Runs resized in place: shrunk (with a guard page in the tail),
	 * grown into the freed tail, blocked by the next run, grown through
	 * the free pages after the last object (released: made Ready), shrunk
	 * to nothing (invalid); in the default heap and one that faults freed
	 * runs. */
	for (unsigned mode = 0; mode < 2; mode++) {
		c = defaults();
		c.fault_on_free = mode == 1;
		config(&s, c);
		alloc(&s, 12);
		alloc(&s, 3);
		guard(&s, false, (hw_ops_guard){.index = 0, .npages = 1, .from_end = true});
		resize(&s, HW_RESIZE_SHRINK, 0, 4);
		resize(&s, HW_RESIZE_TO_NEXT, 0, 0);
		resize(&s, HW_RESIZE_GROW, 0, 0);
		resize(&s, HW_RESIZE_TO_NEXT, 1, 0);
		resize(&s, HW_RESIZE_TO, 1, 40);
		resize(&s, HW_RESIZE_SHRINK, 1, 0x3f);
		plain(&s, HW_OP_VERIFY);
		plain(&s, HW_OP_VALIDATE);
		resize(&s, HW_RESIZE_TO, 0, 0);
		plain(&s, HW_OP_FREE_ALL);
		emit(dir, t, mode == 0 ? "resize" : "resize-fault-on-free", &s);
	}

	/* Shorter than a header: the default configuration and no ops. */
	s.len = 1;
	s.buf[0] = 0xff;
	emit(dir, t, "short", &s);
}

static void platform_seeds(const char *dir)
{
	const char *t = "platform_fuzzer";
	seed s;
	hw_ops_config c;

	/* The legal path through every state: reserve, map, use, unuse, use,
	 * fault, map, use, release; then alloc and release. */
	config(&s, defaults());
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

	/* Seal and unseal (P13): Ready pages and a faulted one between them
	 * sealed, probed, refused an unuse, a second seal and a fault,
	 * unsealed (contents kept), the faulted page unfaulted; an injected
	 * seal; a sealed range released. */
	config(&s, defaults());
	rec(&s, HW_POP_ALLOC, 0, 7, 0);
	rec(&s, HW_POP_FAULT, 0, 2, 0);
	rec(&s, HW_POP_SEAL, 0, 0, 4);
	rec(&s, HW_POP_PROBE, 1, 0, 1);
	rec(&s, HW_POP_PROBE, 0, 0, 2);
	rec(&s, HW_POP_UNUSE, 0, 1, 0);
	rec(&s, HW_POP_SEAL, 0, 3, 1);
	rec(&s, HW_POP_FAULT, 0, 0, 0);
	rec(&s, HW_POP_CHECK, 0, 0, 0);
	rec(&s, HW_POP_UNSEAL, 0, 0, 4);
	rec(&s, HW_POP_UNSEAL, 0, 0, 0);
	rec(&s, HW_POP_UNFAULT, 0, 2, 0);
	rec(&s, HW_POP_WRITE, 0, 0, 7);
	rec(&s, HW_POP_INJECT, 7, 0, 0);
	rec(&s, HW_POP_SEAL, 0, 4, 3);
	rec(&s, HW_POP_SEAL, 0, 4, 3);
	rec(&s, HW_POP_PROBE, 1, 0, 5);
	rec(&s, HW_POP_RELEASE, 0, 2, 5);
	rec(&s, HW_POP_CHECK, 0, 0, 0);
	emit(dir, t, "seal", &s);

	/* Illegal calls: use of Reserved, map of Ready, unuse of Prepared,
	 * ranges past a region's ends, release of None. */
	config(&s, defaults());
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
	config(&s, defaults());
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
	config(&s, defaults());
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
	config(&s, defaults());
	rec(&s, HW_POP_RESERVE, 0xa0, 5, 0);
	rec(&s, HW_POP_RESERVE, 0x20, 2, 0);
	rec(&s, HW_POP_RELEASE, 0, 1 << 10, 0);
	rec(&s, HW_POP_RELEASE, 0, 1 << 10, 1);
	rec(&s, HW_POP_RESERVE, 0xa0, 0x40 | 3, 0);
	rec(&s, HW_POP_RESERVE, 0x20, 0x40 | 3, 0);
	rec(&s, HW_POP_RESERVE, 0xa0, 63, 0);
	rec(&s, HW_POP_CHECK, 0, 0, 0);
	emit(dir, t, "hint-edges", &s);
	c = defaults();
	c.ignore_hints = true;
	c.os_page_size = 64 * KiB;
	c.released_reads_zero = false;
	config(&s, c);
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
	c = defaults();
	c.ignore_hints = true;
	c.os_page_size = 16 * KiB;
	config(&s, c);
	rec(&s, HW_POP_RESERVE, 0, 23, 0);
	rec(&s, HW_POP_RELEASE, 0, 0, 0);
	rec(&s, HW_POP_RESERVE, 0xc0, 0, 0);
	rec(&s, HW_POP_RESERVE, 0x40, 2, 1);
	rec(&s, HW_POP_CHECK, 0, 0, 0);
	emit(dir, t, "ignore-hints-apart", &s);

	/* 16 KiB pages with a huge page; unassigned ops. */
	c = defaults();
	c.os_page_size = 16 * KiB;
	c.huge_page_size = 256 * KiB;
	c.use_needs_call = true;
	config(&s, c);
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
		bits_header(&s, fill, 0x1234u + fill);
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
	bits_header(&s, 0, 0);
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
	bits_header(&s, 3, 0x5eed);
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
	bits_header(&s, 3, 0xc41d);
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

/* ---- malloc records, by name ---- */

static hw_ops_malloc_config mdefaults(void)
{
	hw_ops_malloc_config c;
	hw_ops_malloc_config_decode(NULL, 0, &c);
	return c;
}

static void mconfig(seed *s, hw_ops_malloc_config c)
{
	s->len = 0;
	ok(hw_ops_malloc_config_encode(&c, next(s)));
}

static void m_malloc(seed *s, size_t n) { ok(hw_ops_enc_malloc(next(s), n)); }

static void m_calloc(seed *s, size_t nmemb, size_t size)
{
	ok(hw_ops_enc_calloc(next(s), nmemb, size));
}

/* object -1: NULL. */
static void m_realloc(seed *s, long object, size_t n)
{
	ok(hw_ops_enc_realloc(next(s), object, n));
}

static void m_reallocarray(seed *s, long object, size_t nmemb, size_t size)
{
	ok(hw_ops_enc_reallocarray(next(s), object, nmemb, size));
}

static void m_aligned(seed *s, uint8_t code, size_t align, size_t n)
{
	ok(hw_ops_enc_aligned(next(s), code, align, n));
}

static void m_valloc(seed *s, bool pvalloc, size_t n)
{
	ok(hw_ops_enc_valloc(next(s), pvalloc, n));
}

static void m_inject(seed *s, unsigned kind, uint64_t nth)
{
	ok(hw_ops_enc_malloc_inject(next(s), kind, nth));
}

static void m_plain(seed *s, uint8_t code, uint32_t object)
{
	ok(hw_ops_enc_malloc_plain(next(s), code, object));
}

static void m_remote(seed *s, unsigned frees, uint16_t first, unsigned allocs, size_t n)
{
	ok(hw_ops_enc_remote(next(s), frees, first, allocs, n));
}

static void m_misuse(seed *s, unsigned kind, uint32_t object, uint16_t arg)
{
	ok(hw_ops_enc_misuse(next(s), kind, object, arg));
}

static void m_new(seed *s, bool array, size_t n) { ok(hw_ops_enc_new(next(s), array, n)); }

static void m_delete_wrong(seed *s, uint32_t object, bool sized, uint16_t extra)
{
	ok(hw_ops_enc_delete_wrong(next(s), object, sized, extra));
}

static void m_free_wrong_size(seed *s, uint32_t object, bool aligned, uint16_t extra)
{
	ok(hw_ops_enc_free_wrong_size(next(s), object, aligned, extra));
}

/* A write of 0 at b * 257 modulo its extent into quarantined object k
 * (0: the oldest). */
static void m_uaf_write(seed *s, uint32_t k, uint16_t b)
{
	hw_ops_put(next(s), HW_MOP_UAF_WRITE, 0, b, k);
}

static void malloc_seeds(const char *dir)
{
	const char *t = "malloc_fuzzer";
	seed s;
	hw_ops_malloc_config c;

	/* Small objects of many classes, reuse through the cache, usable
	 * sizes, a check, frees. */
	mconfig(&s, mdefaults());
	m_malloc(&s, 0);
	m_malloc(&s, 1);
	m_malloc(&s, 24);
	m_malloc(&s, 100);
	m_malloc(&s, 1000);
	m_malloc(&s, 5000);
	m_plain(&s, HW_MOP_USABLE_SIZE, 2);
	m_plain(&s, HW_MOP_FREE, 1);
	m_malloc(&s, 1);
	m_plain(&s, HW_MOP_FREE, 3);
	m_malloc(&s, 990);
	m_plain(&s, HW_MOP_CHECK, 0);
	m_plain(&s, HW_MOP_FREE, 0);
	m_plain(&s, HW_MOP_USABLE_SIZE, 0);
	emit(dir, t, "alloc-free", &s);

	/* Both sides of class edges (16-byte steps to 256, then 8 per
	 * doubling), the last class and the first large size; trim counts
	 * the spans exactly. */
	mconfig(&s, mdefaults());
	static const size_t edges[] = {16, 17, 256, 257, 288, 289, 1024, 1025, 1152, 4096, 4097,
				       36864, 36865, 65535, 65536, 65537};
	for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++)
		m_malloc(&s, edges[k]);
	m_plain(&s, HW_MOP_TRIM, 0);
	for (uint32_t k = 0; k < 8; k++)
		m_plain(&s, HW_MOP_FREE, 2 * k);
	m_plain(&s, HW_MOP_TRIM, 0);
	emit(dir, t, "class-edges", &s);

	/* Large objects at page edges; realloc in place (at least half the
	 * pages, a whole number of pages too) and moving (growing, or below
	 * half). */
	mconfig(&s, mdefaults());
	m_malloc(&s, 81920);
	m_malloc(&s, 81920 + 1);
	m_malloc(&s, 1 << 20);
	m_realloc(&s, 0, 73728);
	m_realloc(&s, 0, 40961);
	m_realloc(&s, 1, 65540);
	m_realloc(&s, 2, 294912);
	m_realloc(&s, 2, 2 << 20);
	m_realloc(&s, 0, 100);
	m_plain(&s, HW_MOP_CHECK, 0);
	m_plain(&s, HW_MOP_TRIM, 0);
	emit(dir, t, "large", &s);

	/* calloc: small, large on fresh (zero) pages, large on reused ones,
	 * 0 members, and products that overflow. */
	mconfig(&s, mdefaults());
	m_calloc(&s, 10, 24);
	m_calloc(&s, 1, 294912);
	m_plain(&s, HW_MOP_FREE, 1);
	m_malloc(&s, 50000);
	m_plain(&s, HW_MOP_FREE, 1);
	m_calloc(&s, 3, 98304);
	m_calloc(&s, 0, 77);
	m_calloc(&s, SIZE_MAX, 2);
	m_calloc(&s, SIZE_MAX - 7, 65536);
	emit(dir, t, "calloc", &s);
	/* The same where released pages read junk: calloc must clear them. */
	c = mdefaults();
	c.released_reads_zero = false;
	mconfig(&s, c);
	m_calloc(&s, 1, 294912);
	m_plain(&s, HW_MOP_TRIM, 0);
	m_plain(&s, HW_MOP_FREE, 0);
	m_plain(&s, HW_MOP_TRIM, 0);
	m_calloc(&s, 4, 81920);
	m_calloc(&s, 2, 40);
	emit(dir, t, "calloc-junk", &s);

	/* realloc and reallocarray: NULL, 0 bytes, within a class, across
	 * classes, small to large and back, overflow, sizes that must fail. */
	mconfig(&s, mdefaults());
	m_realloc(&s, -1, 40);
	m_realloc(&s, 0, 48);
	m_realloc(&s, 0, 49);
	m_realloc(&s, 0, 73729);
	m_realloc(&s, 0, 500);
	m_reallocarray(&s, -1, 10, 30);
	m_reallocarray(&s, 1, 20, 30);
	m_reallocarray(&s, 1, SIZE_MAX, 16);
	m_realloc(&s, 0, SIZE_MAX / 4 + 1);
	m_realloc(&s, 0, (size_t)1 << 40);
	m_realloc(&s, 1, 0);
	m_reallocarray(&s, 0, 0, 5);
	emit(dir, t, "realloc", &s);

	/* Alignments: small ones, in classes and beyond a heap page,
	 * memalign's rounding of odd ones, the errors (EINVAL), too large
	 * to fit (ENOMEM), valloc and pvalloc. */
	mconfig(&s, mdefaults());
	m_aligned(&s, HW_MOP_MEMALIGN, 64, 10);
	m_aligned(&s, HW_MOP_MEMALIGN, 24, 100);
	m_aligned(&s, HW_MOP_MEMALIGN, 0, 5);
	m_aligned(&s, HW_MOP_MEMALIGN, 8192, 3000);
	m_aligned(&s, HW_MOP_MEMALIGN, 65536, 100);
	m_aligned(&s, HW_MOP_MEMALIGN, SIZE_MAX, 1);
	m_aligned(&s, HW_MOP_ALIGNED_ALLOC, 4, 7);
	m_aligned(&s, HW_MOP_ALIGNED_ALLOC, 2048, 2048);
	m_aligned(&s, HW_MOP_ALIGNED_ALLOC, 3, 16);
	m_aligned(&s, HW_MOP_ALIGNED_ALLOC, 1 << 20, 73729);
	m_aligned(&s, HW_MOP_POSIX_MEMALIGN, 8, 1);
	m_aligned(&s, HW_MOP_POSIX_MEMALIGN, 4, 1);
	m_aligned(&s, HW_MOP_POSIX_MEMALIGN, 24, 1);
	m_aligned(&s, HW_MOP_POSIX_MEMALIGN, 32768, 40000);
	m_aligned(&s, HW_MOP_POSIX_MEMALIGN, (size_t)1 << 40, 1);
	m_valloc(&s, false, 100);
	m_valloc(&s, true, 0);
	m_valloc(&s, true, 5000);
	m_realloc(&s, 0, 200);
	m_plain(&s, HW_MOP_CHECK, 0);
	emit(dir, t, "aligned", &s);

	/* Requests the header says fail: above SIZE_MAX / 4, beyond the
	 * heap's window. */
	mconfig(&s, mdefaults());
	m_malloc(&s, SIZE_MAX / 4);
	m_malloc(&s, SIZE_MAX / 4 + 1);
	m_malloc(&s, (size_t)1 << 40);
	m_malloc(&s, SIZE_MAX);
	m_valloc(&s, true, SIZE_MAX);
	m_malloc(&s, 65536);
	emit(dir, t, "too-large", &s);

	/* Injected failures: the layer's own start, then each kind of call
	 * on the paths that make them (a new span, a large run, a new
	 * arena, the metadata). */
	mconfig(&s, mdefaults());
	m_inject(&s, HW_OPS_INJECT_ANY, 1);
	m_malloc(&s, 10);
	m_malloc(&s, 10);
	m_inject(&s, HW_SYS_USE, 1);
	m_malloc(&s, 2000);
	m_inject(&s, HW_SYS_USE, 1);
	m_malloc(&s, 98304);
	m_inject(&s, HW_SYS_RESERVE, 1);
	m_malloc(&s, 3 << 20);
	m_malloc(&s, 3 << 20);
	m_inject(&s, HW_SYS_MAP, 1);
	m_malloc(&s, 3 << 20);
	m_inject(&s, HW_SYS_ALLOC, 1);
	m_calloc(&s, 1000, 30);
	m_inject(&s, HW_OPS_INJECT_ANY, 2);
	m_realloc(&s, 0, 196608);
	m_plain(&s, HW_MOP_CHECK, 0);
	emit(dir, t, "inject", &s);

	/* Other threads free what this one made and make objects it frees. */
	mconfig(&s, mdefaults());
	for (int k = 0; k < 12; k++)
		m_malloc(&s, 40);
	m_malloc(&s, 98304);
	m_remote(&s, 6, 0, 3, 40);
	m_remote(&s, 0, 0, 4, 7000);
	m_remote(&s, 15, 0, 0, 0);
	m_inject(&s, HW_SYS_ALLOC, 1);
	m_remote(&s, 1, 0, 2, 64);
	m_plain(&s, HW_MOP_TRIM, 0);
	m_plain(&s, HW_MOP_FREE_ALL, 0);
	m_plain(&s, HW_MOP_TRIM, 0);
	emit(dir, t, "remote", &s);

	/* Objects of operator new and new[] (their kind in the state entry,
	 * MC8), small, large and at a slot's end, freed by their own
	 * deletes, sized and not, after realloc in place (which keeps the
	 * kind) and moved (which makes a malloc-family object); each form of
	 * wrong delete once. */
	mconfig(&s, mdefaults());
	m_new(&s, false, 24);
	m_new(&s, true, 1000);
	m_new(&s, false, 98309);
	m_new(&s, true, 4096);
	m_malloc(&s, 48);
	m_delete_wrong(&s, 0, false, 0);
	m_delete_wrong(&s, 1, false, 0);
	m_delete_wrong(&s, 1, true, 3);
	m_delete_wrong(&s, 2, true, 14);
	m_delete_wrong(&s, 4, false, 0);
	m_realloc(&s, 1, 1008);
	m_realloc(&s, 0, 5000);
	m_plain(&s, HW_MOP_USABLE_SIZE, 3);
	m_plain(&s, HW_MOP_FREE, 0);
	m_plain(&s, HW_MOP_FREE, 1);
	for (int k = 0; k < 40; k++)
		m_new(&s, k & 1, 16 + (size_t)k * 24);
	m_plain(&s, HW_MOP_CHECK, 0);
	m_plain(&s, HW_MOP_FREE_ALL, 0);
	m_plain(&s, HW_MOP_TRIM, 0);
	emit(dir, t, "kinds", &s);

	/* C23's sized frees (kind.c KD5): small, large, calloc'd, aligned
	 * and realloc'd objects freed with their size (FREE picks the call by
	 * id), and each wrong form once, new's object included. */
	mconfig(&s, mdefaults());
	m_malloc(&s, 24);
	m_calloc(&s, 3, 40);
	m_malloc(&s, 98309);
	m_new(&s, false, 64);
	m_free_wrong_size(&s, 0, false, 0);
	m_free_wrong_size(&s, 1, true, 0);
	m_free_wrong_size(&s, 2, false, 14);
	m_free_wrong_size(&s, 2, true, 0);
	m_free_wrong_size(&s, 3, false, 1);
	for (int k = 0; k < 24; k++) {
		if (k % 3 == 0)
			m_malloc(&s, 8 + (size_t)k * 700);
		else if (k % 3 == 1)
			m_calloc(&s, (size_t)k, 100);
		else
			m_aligned(&s, HW_MOP_ALIGNED_ALLOC, (size_t)64 << (k % 8), (size_t)k * 333);
	}
	m_realloc(&s, 5, 73718);
	m_realloc(&s, 6, 10);
	for (int k = 0; k < 30; k++)
		m_plain(&s, HW_MOP_FREE, (uint32_t)k * 7);
	m_plain(&s, HW_MOP_CHECK, 0);
	m_plain(&s, HW_MOP_FREE_ALL, 0);
	m_plain(&s, HW_MOP_TRIM, 0);
	emit(dir, t, "sized-frees", &s);

	/* Each misuse: one report, and the layer goes on. */
	mconfig(&s, mdefaults());
	m_misuse(&s, HW_MISUSE_FOREIGN, 0, 0);
	m_malloc(&s, 100);
	m_malloc(&s, 98309);
	m_malloc(&s, 30);
	m_plain(&s, HW_MOP_FREE, 2);
	m_misuse(&s, HW_MISUSE_DOUBLE_FREE, 0, 0);
	m_misuse(&s, HW_MISUSE_INTERIOR, 0, 7);
	m_misuse(&s, HW_MISUSE_INTERIOR, 1, 3);
	m_misuse(&s, HW_MISUSE_REALLOC_FREED, 0, 20);
	m_misuse(&s, HW_MISUSE_USABLE_FREED, 0, 0);
	m_misuse(&s, HW_MISUSE_OVERFLOW_FREE, 1, 0);
	m_malloc(&s, 50);
	m_misuse(&s, HW_MISUSE_OVERFLOW_REALLOC, 0, 60);
	m_misuse(&s, HW_MISUSE_OVERFLOW_REALLOC, 0, 60);
	m_misuse(&s, HW_MISUSE_FREE_NULL, 0, 0);
	emit(dir, t, "misuse", &s);

	/* The debug mode's quarantine (192 KiB): writes after free into a
	 * small and a large quarantined object, one found when newer frees
	 * push it out, one at the end; a double free of each while held. */
	c = mdefaults();
	c.quarantine_bytes = 3 << 16;
	mconfig(&s, c);
	for (int k = 0; k < 6; k++)
		m_malloc(&s, 40);
	m_malloc(&s, 73700);
	m_plain(&s, HW_MOP_FREE, 0);
	m_uaf_write(&s, 0, 3);
	m_misuse(&s, HW_MISUSE_DOUBLE_FREE, 0, 0);
	m_plain(&s, HW_MOP_FREE, 5);
	m_uaf_write(&s, 1, 1000);
	m_misuse(&s, HW_MISUSE_DOUBLE_FREE, 0, 0);
	m_misuse(&s, HW_MISUSE_USABLE_FREED, 0, 0);
	for (int k = 0; k < 8; k++)
		m_malloc(&s, 30000);
	for (int k = 0; k < 8; k++)
		m_plain(&s, HW_MOP_FREE, 4);
	m_plain(&s, HW_MOP_TRIM, 0);
	m_malloc(&s, 100);
	m_plain(&s, HW_MOP_FREE, 4);
	m_uaf_write(&s, 7, 77);
	m_plain(&s, HW_MOP_FREE_ALL, 0);
	emit(dir, t, "quarantine", &s);

	/* Guarded objects (guard=all, budgets of 48 objects and 8 MiB, a
	 * quarantine of 960 KiB): the quarantine, misuse on quarantined and
	 * guarded objects, aligned and large ones, realloc (always a move),
	 * then the budget's fallback. */
	c = mdefaults();
	c.guard = true;
	c.quarantine_bytes = 15 << 16;
	mconfig(&s, c);
	m_malloc(&s, 13);
	m_malloc(&s, 0);
	m_malloc(&s, 4096);
	m_malloc(&s, 98309);
	m_calloc(&s, 10, 100);
	m_aligned(&s, HW_MOP_POSIX_MEMALIGN, 8192, 100);
	m_aligned(&s, HW_MOP_MEMALIGN, 64, 30);
	m_valloc(&s, true, 5000);
	m_realloc(&s, 0, 100);
	m_realloc(&s, 2, 10);
	m_plain(&s, HW_MOP_FREE, 1);
	m_misuse(&s, HW_MISUSE_DOUBLE_FREE, 0, 0);
	m_misuse(&s, HW_MISUSE_REALLOC_FREED, 0, 20);
	m_misuse(&s, HW_MISUSE_USABLE_FREED, 0, 0);
	m_misuse(&s, HW_MISUSE_INTERIOR, 2, 5);
	m_malloc(&s, 29);
	m_misuse(&s, HW_MISUSE_OVERFLOW_FREE, 8, 0);
	m_malloc(&s, 50);
	m_misuse(&s, HW_MISUSE_OVERFLOW_REALLOC, 8, 60);
	m_remote(&s, 2, 0, 3, 40);
	for (int k = 0; k < 60; k++)
		m_malloc(&s, 24 + 8 * (size_t)k);
	m_plain(&s, HW_MOP_CHECK, 0);
	m_plain(&s, HW_MOP_FREE_ALL, 0);
	m_plain(&s, HW_MOP_TRIM, 0);
	emit(dir, t, "guarded", &s);

	/* Guarded runs through a quarantine of 64 KiB (16 one-page objects)
	 * back into use (sealed, unsealed in stretches, guard.c GD10), of
	 * other sizes on the same runs (GD11's pattern), with a refused call
	 * among them, then trimmed. */
	c = mdefaults();
	c.guard = true;
	c.quarantine_bytes = 1 << 16;
	mconfig(&s, c);
	for (int k = 0; k < 90; k++) {
		if (k == 50)
			m_inject(&s, 7, 3);
		m_malloc(&s, 16 + (size_t)(k * 37 % 300));
		m_plain(&s, HW_MOP_FREE, 0);
	}
	m_plain(&s, HW_MOP_CHECK, 0);
	m_plain(&s, HW_MOP_TRIM, 0);
	emit(dir, t, "guarded-reuse", &s);

	/* Fills, a memory limit and a retain goal from the header. */
	c = mdefaults();
	c.fill_on_alloc = 0xa5;
	c.fill_on_free = 0xdd;
	c.memory_limit = 8 << 20;
	c.retain_percent = 50;
	mconfig(&s, c);
	m_malloc(&s, 300);
	m_malloc(&s, 3 << 20);
	m_calloc(&s, 1, 2 << 20);
	m_plain(&s, HW_MOP_FREE, 1);
	m_malloc(&s, 3 << 20);
	m_realloc(&s, 0, 5000);
	m_calloc(&s, 7, 9);
	m_plain(&s, HW_MOP_FREE_ALL, 0);
	m_plain(&s, HW_MOP_TRIM, 0);
	emit(dir, t, "fills-limit", &s);

	/* 64 KiB OS pages with 2 MiB huge pages, commits that are calls,
	 * scattered arenas, the heap validated after every op. */
	c = mdefaults();
	c.os_page_size = 64 * KiB;
	c.huge_page_size = 2 * MiB;
	c.use_needs_call = true;
	c.ignore_hints = true;
	c.deep_every_op = true;
	mconfig(&s, c);
	m_malloc(&s, 10);
	m_malloc(&s, 3 << 20);
	m_malloc(&s, 3 << 20);
	m_plain(&s, HW_MOP_FREE, 1);
	m_malloc(&s, 73729);
	m_plain(&s, HW_MOP_TRIM, 0);
	emit(dir, t, "big-pages", &s);
	c = mdefaults();
	c.os_page_size = 16 * KiB;
	c.huge_page_size = 256 * KiB;
	mconfig(&s, c);
	m_malloc(&s, 1000);
	m_malloc(&s, 598016);
	m_plain(&s, HW_MOP_FREE, 1);
	m_plain(&s, HW_MOP_TRIM, 0);
	emit(dir, t, "16k-pages", &s);
	c.os_page_size = 4 * KiB;
	c.huge_page_size = 1 * MiB;
	mconfig(&s, c);
	m_malloc(&s, 901120);
	m_plain(&s, HW_MOP_FREE, 0);
	m_plain(&s, HW_MOP_TRIM, 0);
	emit(dir, t, "huge-1m", &s);

	/* Unassigned opcodes and ignored bits change nothing (O2). */
	mconfig(&s, mdefaults());
	m_malloc(&s, 64);
	rec(&s, 0x3f, 1, 2, 3);
	rec(&s, 0x11, 0xff, 0xffff, 0xffffffffu);
	rec(&s, 0xc0 | HW_MOP_MALLOC, 0, 32, 0);
	m_plain(&s, HW_MOP_NOP, 0);
	m_plain(&s, HW_MOP_FREE_ALL, 0);
	emit(dir, t, "unassigned-ops", &s);
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

/* The same for malloc_fuzzer: its generator, under the seeds' headers. */
static int random_malloc_inputs(const char *dir, unsigned n)
{
	static const uint8_t headers[][2] = {
		{0x00, 0x00},
		{0x10, 0x00},
		{0x02 | 0x04, 0x03},
		{0x01 | 0x20 | 0x40, 0x08},
	};
	static uint8_t buf[HW_OPS_RECORD * 512];
	uint64_t rng = 0x6d616c6c;
	for (unsigned i = 0; i < n; i++) {
		size_t nops = (size_t)1 << (i % 9);
		nops += i % nops;
		if (nops > 511)
			nops = 511;
		const uint8_t *h = headers[i % (sizeof headers / sizeof headers[0])];
		hw_ops_put(buf, h[0], h[1], h[1] & 3 ? 0xdda5 : 0, 0);
		hw_malloc_driver_generate(&rng, nops, buf + HW_OPS_RECORD);
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

static int usage(void)
{
	fprintf(stderr, "usage: hw_make_seeds [--check] CORPUS_DIR\n"
			"       hw_make_seeds --random DIR N | --random-malloc DIR N\n"
			"  (N: how many random inputs, 1 to 1000000)\n");
	return 2;
}

/* N of --random and --random-malloc, or 0 when it is not 1 to 1000000. */
static unsigned count_of(const char *s)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || n < 1 || n > 1000000)
		return 0;
	return (unsigned)n;
}

int main(int argc, char **argv)
{
	bool random = argc > 1 && (strcmp(argv[1], "--random") == 0 ||
				   strcmp(argv[1], "--random-malloc") == 0);
	if (random) {
		unsigned n = argc == 4 ? count_of(argv[3]) : 0;
		if (n == 0)
			return usage();
		return strcmp(argv[1], "--random") == 0 ? random_inputs(argv[2], n)
							: random_malloc_inputs(argv[2], n);
	}
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0)
			check_mode = 1;
		else if (argv[i][0] == '-' || dir)
			return usage();
		else
			dir = argv[i];
	}
	if (dir == NULL)
		return usage();
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "hw_make_seeds: %s is not a directory\n", dir);
		return 2;
	}
	heap_seeds(dir, "heap_sim_fuzzer");
	heap_seeds(dir, "heap_os_fuzzer");
	platform_seeds(dir);
	bits_seeds(dir);
	malloc_seeds(dir);
	if (check_mode) {
		if (mismatches)
			fprintf(stderr, "%d seeds differ: regenerate with hw_make_seeds %s\n",
				mismatches, dir);
		else
			printf("all seeds match the generator\n");
	}
	return mismatches ? 1 : 0;
}

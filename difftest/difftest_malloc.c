/* difftest_malloc.c: the malloc layer's differential driver on its own and
 * on generated inputs: the model's policy on known answers, the driver
 * failing when the layer is changed behind the model's back, pseudo-random
 * op streams over several configurations (fixed seeds), and the injection
 * sweep: one input run again and again, failing its 1st, 2nd, ... platform
 * call (the layer's lazy start included) until a run makes no more calls
 * than that, each run checked in full (heapward.h: every failure returns
 * NULL with errno ENOMEM and breaks nothing).
 *
 * The sweep runs over the committed seeds too (corpus/malloc_fuzzer/seed).
 *
 * Owns: nothing shared; every test builds what it uses. A failing random
 * stream is written to difftest-malloc-failure-<config>-<stream>.bin, a
 * malloc_fuzzer input that reproduces it.
 *
 * Invariants: each test makes at least one check (tests/check.h C1);
 * deterministic (fixed seeds).
 * Locking: single-threaded (the driver's REMOTE op joins its thread).
 */
#include "check.h"
#include "harness.h"
#include "malloc_driver.h"
#include "malloc_internal.h"
#include "malloc_model.h"
#include "ops.h"

#include <dirent.h>
#include <stdint.h>
#include <string.h>

static char failure[640];
static void record(const char *what) { snprintf(failure, sizeof failure, "%s", what); }

/* Runs in with the fail hook recording; the driver's verdict. */
static int run(const uint8_t *in, size_t len, const hw_malloc_driver_options *opt)
{
	failure[0] = 0;
	hw_harness_set_fail_hook(record);
	int rc = hw_malloc_driver_run(in, len, opt);
	hw_harness_set_fail_hook(NULL);
	return rc;
}

/* ---- the model's policy (MM2) against heapward.h's words ---- */

static void model_classes(void)
{
	EXPECT(hw_mm_class_size(0) == 16 && hw_mm_class_size(15) == 256);
	EXPECT(hw_mm_class_size(16) == 288, "the first of 8 per doubling: 256 + 32");
	EXPECT(hw_mm_class_size(31) == 1024 && hw_mm_class_size(32) == 1088,
	       "8 per doubling to 1 KiB, then 16: 1024 + 64");
	EXPECT(hw_mm_class_size(127) == 65536, "the last class is 64 KiB");
	EXPECT(hw_mm_class_of(0) == 0 && hw_mm_class_of(16) == 0 && hw_mm_class_of(17) == 1);
	EXPECT(hw_mm_class_of(257) == 16 && hw_mm_class_of(1025) == 32 &&
	       hw_mm_class_of(65536) == 127);
	for (size_t n = 128; n <= HW_MM_SMALL_MAX; n++) {
		size_t slot = hw_mm_class_size(hw_mm_class_of(n));
		size_t bound = n > 1024 ? 16 : 8;
		if ((slot - n) * bound >= slot) {
			EXPECT(false, "%zu bytes waste %zu of a %zu-byte slot", n, slot - n, slot);
			break;
		}
	}
	EXPECT(hw_mm_span_pages(0) == 1, "8 slots of 16 bytes fit a page");
	EXPECT(hw_mm_span_pages(79) == 8, "64 KiB, one slot");
	EXPECT(hw_mm_place(100, 16) == hw_mm_class_of(100));
	EXPECT(hw_mm_place(100, 64) == hw_mm_class_of(128), "the first class that is a multiple");
	EXPECT(hw_mm_place(10, 16384) == HW_MM_LARGE, "no class aligns beyond a heap page");
	EXPECT(hw_mm_place(65537, 16) == HW_MM_LARGE && hw_mm_large_pages(65537) == 9);
	hw_mm_obj small = {.n = 100, .cls = hw_mm_class_of(100)};
	EXPECT(hw_mm_realloc_in_place(&small, 112, 0) && !hw_mm_realloc_in_place(&small, 113, 9));
	hw_mm_obj large = {.n = 800000, .cls = HW_MM_LARGE, .pages = hw_mm_large_pages(800000)};
	EXPECT(hw_mm_realloc_in_place(&large, 300000, 0), "a shrink stays");
	EXPECT(!hw_mm_realloc_in_place(&large, 60000, 0), "small moves");
	EXPECT(!hw_mm_realloc_in_place(&large, 900000, 11), "more pages than are free after it");
	EXPECT(hw_mm_realloc_in_place(&large, 900000, 12), "grows into 12 free pages");
}

/* ---- the driver must be able to fail ---- */

typedef enum plot { HONEST,
		    SCRIBBLE,
		    LEAK_LARGE,
		    FREE_BEHIND,
		    EXTRA_SPAN } plot;

static void saboteur(void *ctx, const hw_mm *m, size_t op_index)
{
	plot p = *(const plot *)ctx;
	if (op_index != 3)
		return;
	switch (p) {
	case SCRIBBLE:
		((unsigned char *)m->live[0].addr)[m->live[0].n - 1] ^= 1;
		break;
	case LEAK_LARGE:
		(void)hw_malloc(100000);
		break;
	case FREE_BEHIND:
		hw_free((void *)m->live[0].addr);
		break;
	case EXTRA_SPAN:
		/* A small object the model never sees: caught by the census
		 * after the TRIM op, or at the end. */
		(void)hw_malloc(4000);
		break;
	default:
		break;
	}
}

static int run_plot(plot p)
{
	uint8_t in[8 * 7];
	hw_ops_malloc_config c;
	hw_ops_malloc_config_decode(NULL, 0, &c);
	EXPECT(hw_ops_malloc_config_encode(&c, in) == 0);
	EXPECT(hw_ops_enc_malloc(in + 8, 300) == 0);
	EXPECT(hw_ops_enc_malloc(in + 16, 5000) == 0);
	EXPECT(hw_ops_enc_calloc(in + 24, 3, 100) == 0);
	EXPECT(hw_ops_enc_malloc(in + 32, 73728) == 0);
	EXPECT(hw_ops_enc_malloc_plain(in + 40, HW_MOP_TRIM, 0) == 0);
	EXPECT(hw_ops_enc_malloc_plain(in + 48, HW_MOP_CHECK, 0) == 0);
	hw_malloc_driver_options opt = {.trace = 0, .after_op = saboteur, .ctx = &p};
	return run(in, sizeof in, &opt);
}

static void driver_passes_an_honest_layer(void)
{
	EXPECT(run_plot(HONEST) == 0, "%s", failure);
}

static void driver_catches_a_scribble(void)
{
	EXPECT(run_plot(SCRIBBLE) != 0 && strstr(failure, "contents"), "%s", failure);
}

static void driver_catches_a_large_object_behind_its_back(void)
{
	EXPECT(run_plot(LEAK_LARGE) != 0 && strstr(failure, "large_objects"), "%s", failure);
}

static void driver_catches_a_free_behind_its_back(void)
{
	EXPECT(run_plot(FREE_BEHIND) != 0, "a freed object was taken as live");
}

static void driver_catches_a_span_behind_its_back(void)
{
	EXPECT(run_plot(EXTRA_SPAN) != 0 && strstr(failure, "small_spans"), "%s", failure);
}

/* ---- pseudo-random streams ---- */

typedef struct config {
	const char *name;
	hw_ops_malloc_config c;
	unsigned streams;
} config;

static const config configs[] = {
	{"default",
	 {.os_page_size = 4096,
	  .released_reads_zero = true,
	  .fill_on_alloc = -1,
	  .fill_on_free = -1},
	 6},
	{"16k-huge2m-junk",
	 {.os_page_size = 16384,
	  .huge_page_size = 2 << 20,
	  .released_reads_zero = false,
	  .fill_on_alloc = -1,
	  .fill_on_free = -1},
	 3},
	{"64k-fills-limit",
	 {.os_page_size = 65536,
	  .released_reads_zero = true,
	  .fill_on_alloc = 0xa5,
	  .fill_on_free = 0xdd,
	  .memory_limit = 8 << 20},
	 3},
	{"4k-scattered-usecall-retain50",
	 {.os_page_size = 4096,
	  .huge_page_size = 256 << 10,
	  .released_reads_zero = true,
	  .use_needs_call = true,
	  .ignore_hints = true,
	  .fill_on_alloc = -1,
	  .fill_on_free = -1,
	  .retain_percent = 50},
	 3},
	/* The debug mode's quarantine, small enough that objects leave it. */
	{"quarantine-256k",
	 {.os_page_size = 4096,
	  .released_reads_zero = true,
	  .fill_on_alloc = -1,
	  .fill_on_free = 0x11,
	  .quarantine_bytes = 256 << 10},
	 3},
	{"4k-guarded",
	 {.os_page_size = 4096,
	  .released_reads_zero = true,
	  .fill_on_alloc = -1,
	  .fill_on_free = -1,
	  .guard = true,
	  .quarantine_bytes = 256 << 10},
	 3},
	{"64k-guarded-fills",
	 {.os_page_size = 65536,
	  .released_reads_zero = false,
	  .fill_on_alloc = 0x5a,
	  .fill_on_free = 0xdd,
	  .guard = true},
	 2},
};

static unsigned stream_ops = 2000;

static void random_streams(void)
{
	static uint8_t buf[8 * (HW_OPS_MAX_RECORDS + 1)];
	uint64_t seed = 0x6d616c6c6f63ull;
	for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
		const config *cf = &configs[k];
		REQUIRE(hw_ops_malloc_config_encode(&cf->c, buf) == 0, "%s", cf->name);
		for (unsigned s = 0; s < cf->streams; s++) {
			hw_malloc_driver_generate(&seed, stream_ops, buf + 8);
			size_t len = 8 * ((size_t)stream_ops + 1);
			hw_malloc_driver_options opt = {.trace = 0};
			int rc = run(buf, len, &opt);
			EXPECT(rc == 0, "%s stream %u: %s", cf->name, s, failure);
			if (rc != 0) {
				char path[256];
				snprintf(path, sizeof path, "difftest-malloc-failure-%s-%u.bin",
					 cf->name, s);
				FILE *f = fopen(path, "wb");
				if (f) {
					fwrite(buf, 1, len, f);
					fclose(f);
				}
				return;
			}
		}
	}
}

/* ---- the injection sweep ---- */

/* Every platform call that can fail (P7 of platform.h: not unuse or
 * release) of a run that does a bit of everything, refused in turn. */
static void every_platform_call_fails_cleanly(void)
{
	uint8_t in[8 * 24];
	hw_ops_malloc_config c;
	hw_ops_malloc_config_decode(NULL, 0, &c);
	REQUIRE(hw_ops_malloc_config_encode(&c, in) == 0);
	uint8_t *r = in + 8;
	EXPECT(hw_ops_enc_malloc(r, 24) == 0);
	EXPECT(hw_ops_enc_calloc(r += 8, 10, 1000) == 0);
	EXPECT(hw_ops_enc_malloc(r += 8, 196608) == 0);
	EXPECT(hw_ops_enc_aligned(r += 8, HW_MOP_POSIX_MEMALIGN, 65536, 3000) == 0);
	EXPECT(hw_ops_enc_aligned(r += 8, HW_MOP_MEMALIGN, 1024, 700) == 0);
	EXPECT(hw_ops_enc_realloc(r += 8, 0, 5000) == 0);
	EXPECT(hw_ops_enc_realloc(r += 8, 2, 1 << 20) == 0);
	EXPECT(hw_ops_enc_valloc(r += 8, true, 9000) == 0);
	EXPECT(hw_ops_enc_remote(r += 8, 2, 1, 3, 40) == 0);
	EXPECT(hw_ops_enc_malloc(r += 8, 60000) == 0);
	EXPECT(hw_ops_enc_malloc_plain(r += 8, HW_MOP_FREE, 0) == 0);
	EXPECT(hw_ops_enc_malloc_plain(r += 8, HW_MOP_TRIM, 0) == 0);
	EXPECT(hw_ops_enc_calloc(r += 8, 1, 3 << 20) == 0);
	EXPECT(hw_ops_enc_reallocarray(r += 8, 1, 100, 700) == 0);
	EXPECT(hw_ops_enc_malloc(r += 8, 16) == 0);
	EXPECT(hw_ops_enc_misuse(r += 8, HW_MISUSE_DOUBLE_FREE, 0, 0) == 0);
	EXPECT(hw_ops_enc_misuse(r += 8, HW_MISUSE_OVERFLOW_REALLOC, 1, 40) == 0);
	EXPECT(hw_ops_enc_malloc_plain(r += 8, HW_MOP_FREE_ALL, 0) == 0);
	EXPECT(hw_ops_enc_malloc(r += 8, 100) == 0);
	EXPECT(hw_ops_enc_malloc_plain(r += 8, HW_MOP_CHECK, 0) == 0);
	EXPECT(hw_ops_enc_malloc_plain(r += 8, HW_MOP_TRIM, 0) == 0);
	EXPECT(hw_ops_enc_malloc(r += 8, 3 << 20) == 0);
	EXPECT(hw_ops_enc_malloc_plain(r += 8, HW_MOP_FREE, 0) == 0);
	hw_malloc_driver_result res = {0};
	hw_malloc_driver_options opt = {.trace = 0, .result = &res};
	REQUIRE(run(in, sizeof in, &opt) == 0, "without injection: %s", failure);
	uint64_t calls = res.can_fail;
	EXPECT(res.failures == 0 && calls > 20, "the run makes %llu platform calls that can fail",
	       (unsigned long long)calls);
	for (uint64_t nth = 1; nth <= calls + 1; nth++) {
		opt.inject_at = nth;
		int rc = run(in, sizeof in, &opt);
		EXPECT(rc == 0, "call %llu refused: %s", (unsigned long long)nth, failure);
		if (rc != 0)
			return;
		/* The nth call is the same in every run up to it, so it is
		 * refused; past the last one nothing is. */
		EXPECT(res.failures == (nth <= calls), "call %llu: %llu refused",
		       (unsigned long long)nth, (unsigned long long)res.failures);
	}
	printf("injection sweep: each of %llu platform calls refused in turn\n",
	       (unsigned long long)calls);
}

/* The sweep over every seed of corpus/malloc_fuzzer/seed: each platform
 * call that can fail, refused in turn, every run checked in full. A seed
 * with INJECT ops of its own re-arms the injection, so only those without
 * are held to exactly one refusal per run. */
static bool has_inject(const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < hw_ops_count(len); i++)
		if (hw_ops_get(in, i).code == HW_MOP_INJECT)
			return true;
	return false;
}

static void every_call_of_every_seed_fails_cleanly(void)
{
	const char *dir = HW_SOURCE_DIR "/corpus/malloc_fuzzer/seed";
	DIR *dp = opendir(dir);
	REQUIRE(dp != NULL, "cannot open %s", dir);
	static uint8_t in[HW_OPS_RECORD * (HW_OPS_MAX_RECORDS + 1)];
	unsigned seeds = 0;
	uint64_t runs = 0;
	struct dirent *e;
	/* One thread reads the directory; readdir_r is deprecated. */
	// cppcheck-suppress readdirCalled
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		size_t len = fread(in, 1, sizeof in, f);
		fclose(f);
		seeds++;
		bool exact = !has_inject(in, len);
		hw_malloc_driver_result res = {0};
		hw_malloc_driver_options opt = {.trace = 0, .result = &res};
		EXPECT(run(in, len, &opt) == 0, "%s: %s", e->d_name, failure);
		uint64_t calls = res.can_fail;
		for (uint64_t nth = 1; nth <= calls; nth++, runs++) {
			opt.inject_at = nth;
			int rc = run(in, len, &opt);
			EXPECT(rc == 0, "%s, call %llu refused: %s", e->d_name,
			       (unsigned long long)nth, failure);
			EXPECT(!exact || res.failures == 1, "%s, call %llu: %llu refused",
			       e->d_name, (unsigned long long)nth,
			       (unsigned long long)res.failures);
			if (rc != 0)
				break;
		}
	}
	closedir(dp);
	EXPECT(seeds >= 10, "%u seeds in %s", seeds, dir);
	printf("injection sweep: %llu runs over %u seeds, each refusing one platform call\n",
	       (unsigned long long)runs, seeds);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
		stream_ops = 300;
		argc--;
		argv++;
	}
	static const hw_test tests[] = {
		T(model_classes),
		T(driver_passes_an_honest_layer),
		T(driver_catches_a_scribble),
		T(driver_catches_a_large_object_behind_its_back),
		T(driver_catches_a_free_behind_its_back),
		T(driver_catches_a_span_behind_its_back),
		T(random_streams),
		T(every_platform_call_fails_cleanly),
		T(every_call_of_every_seed_fails_cleanly),
	};
	int rc = hw_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
	hw_malloc_driver_drop_platform();
	return rc;
}

/* options_test.c: the HEAPWARD_OPTIONS parser (src/malloc/options.h), the
 * environment reader under it (platform/env.h) and docs/options.md.
 *
 * Owns: hand-written expectations for every key and type, the defaults,
 * separators and whitespace, empty and NULL input, duplicates, unknown keys,
 * the exact text of each kind of warning, overflow, very long input and odd
 * bytes; the help output; the round trip; and the check that docs/options.md
 * holds exactly the table the code has (`options_test --doc` prints it).
 *
 * Invariants:
 *   OT1. Expected values and warning lines are written out here by hand,
 *        never computed with the functions under test.
 *   OT2. Every test starts from hw_options_defaults in a struct filled with
 *        junk first, so a field the parser forgets to set shows.
 *
 * Locking: single-threaded.
 */
#include "check.h"
#include "env.h"
#include "options.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define MAXW 16

/* The warnings of one parse, kept for comparison. */
typedef struct seen {
	unsigned n;
	char line[MAXW][HW_OPTIONS_LINE_MAX];
	size_t longest;
} seen;

/* Keeps each warning as the line the library prints. */
static void collect(void *arg, const char *problem, const char *consequence)
{
	seen *s = arg;
	char line[2 * HW_OPTIONS_LINE_MAX];
	size_t n = hw_options_warning_line(line, sizeof line, problem, consequence);
	if (n > s->longest)
		s->longest = n;
	if (s->n < MAXW)
		snprintf(s->line[s->n], sizeof s->line[0], "%.*s", HW_OPTIONS_LINE_MAX - 1, line);
	s->n++;
}

static hw_options fresh(void)
{
	hw_options o;
	memset(&o, 0xa5, sizeof o);
	hw_options_defaults(&o);
	return o;
}

/* Parses s onto the defaults; the warnings land in *w. */
static hw_options parse(const char *s, seen *w)
{
	hw_options o = fresh();
	memset(w, 0, sizeof *w);
	unsigned n = hw_options_parse(s, &o, collect, w);
	EXPECT(n == w->n, "returned %u warnings, the callback saw %u", n, w->n);
	return o;
}

/* Parses s and expects no warning. */
static hw_options parse_clean(const char *s)
{
	seen w;
	hw_options o = parse(s, &w);
	EXPECT(w.n == 0, "'%s': %u warnings, first: %s", s, w.n, w.line[0]);
	return o;
}

static bool same_options(const hw_options *a, const hw_options *b)
{
	return memcmp(a, b, sizeof *a) == 0;
}

/* Parses s, expects exactly one warning, equal to want, and nothing
 * changed. */
static void expect_warning(const char *s, const char *want)
{
	seen w;
	hw_options o = parse(s, &w), d = fresh();
	EXPECT(w.n == 1, "'%s': %u warnings", s, w.n);
	EXPECT(strcmp(w.line[0], want) == 0, "'%s':\n  got  %s\n  want %s", s, w.line[0], want);
	EXPECT(same_options(&o, &d), "'%s' changed a field", s);
}

#define P "heapward: HEAPWARD_OPTIONS: "

static void test_defaults(void)
{
	hw_options o = fresh();
	EXPECT(o.fill_on_alloc == HW_OPTIONS_OFF);
	EXPECT(o.fill_on_free == HW_OPTIONS_OFF);
	EXPECT(o.abort_on_error == true);
	EXPECT(o.alloc_dealloc_mismatch == true);
	EXPECT(o.free_size_mismatch == true);
	EXPECT(o.stats_at_exit == false);
	EXPECT(o.memory_limit == 0);
	EXPECT(o.scavenger == true);
	EXPECT(o.retain_percent == 10);
	EXPECT(o.scavenger_cpu_percent == 1);
	EXPECT(o.arenas == 0);
	EXPECT(o.help == false);
	EXPECT(o.verbosity == 0);
	EXPECT(o.guard == HW_OPT_GUARD_NONE && o.guard_sample == 0);
	EXPECT(o.guard_min == 0 && o.guard_max == 0);
	EXPECT(o.guard_side == HW_SIDE_RIGHT);
	EXPECT(o.guard_align == 16);
	EXPECT(o.guard_budget_bytes == (size_t)1 << 30);
	EXPECT(o.guard_budget_count == 32768);
	EXPECT(o.guard_regions == true);
	EXPECT(o.quarantine_bytes == (size_t)256 << 20);
	EXPECT(o.seed == 0);
	EXPECT(o.log_path[0] == '\0');
	EXPECT(o.detect_leaks == false);
	EXPECT(o.use_mappings == true);
	EXPECT(o.exitcode == 23);
	EXPECT(o.debug == false);
	EXPECT(o.stack_depth == 30);
	EXPECT(o.fast_unwind_on_malloc == true);
	EXPECT(o.fast_unwind_on_fatal == false);
	EXPECT(o.symbolize == true);
	EXPECT(o.symbolizer_path[0] == '\0');
	/* Every byte is defined, padding included: two fills agree. */
	hw_options a, b;
	memset(&a, 0x00, sizeof a);
	memset(&b, 0xff, sizeof b);
	hw_options_defaults(&a);
	hw_options_defaults(&b);
	EXPECT(same_options(&a, &b), "hw_options_defaults leaves bytes undefined");
	char buf[HW_OPTIONS_FORMAT_MAX];
	hw_options_format(&o, buf, sizeof buf);
	EXPECT(strcmp(buf,
		      "fill_on_alloc=off:fill_on_free=off:abort_on_error=1:"
		      "alloc_dealloc_mismatch=1:free_size_mismatch=1:stats_at_exit=0:"
		      "memory_limit=0:scavenger=1:retain_percent=10:"
		      "scavenger_cpu_percent=1:arenas=0:help=0:verbosity=0:guard=none:guard_min=0:"
		      "guard_max=0:guard_side=right:guard_align=16:guard_budget_bytes=1g:"
		      "guard_budget_count=32768:guard_regions=1:quarantine_bytes=256m:seed=0:log_"
		      "path=:"
		      "detect_leaks=0:leaks=0:suppressions=:use_mappings=1:exitcode=23:debug=0:"
		      "stack_depth=30:"
		      "fast_unwind_on_malloc=1:fast_unwind_on_fatal=0:symbolize=1:"
		      "symbolizer_path=") == 0,
	       "%s", buf);
}

static void test_every_key(void)
{
	hw_options o = parse_clean(
		"fill_on_alloc=0xbe:fill_on_free=7:abort_on_error=0:alloc_dealloc_mismatch=0:"
		"free_size_mismatch=0:stats_at_exit=1:"
		"memory_limit=3m:scavenger=off:retain_percent=250:scavenger_cpu_percent=50:"
		"arenas=3:help=1:verbosity=2:guard=sample:1000:guard_min=1:guard_max=4k:guard_side="
		"left:"
		"guard_align=1:guard_budget_bytes=1g:guard_budget_count=500:guard_regions=0:"
		"quarantine_bytes=0x100000:seed=42:log_path=/tmp/hw log:detect_leaks=yes:"
		"suppressions=/etc/"
		"lsan.supp:use_mappings=no:exitcode=99:debug=on:stack_depth=64:fast_unwind_on_"
		"malloc=0:"
		"fast_unwind_on_fatal=1:symbolize=0:symbolizer_path=/opt/a2l");
	EXPECT(o.fill_on_alloc == 0xbe);
	EXPECT(o.fill_on_free == 7);
	EXPECT(o.abort_on_error == false);
	EXPECT(o.alloc_dealloc_mismatch == false);
	EXPECT(o.free_size_mismatch == false);
	EXPECT(o.stats_at_exit == true);
	EXPECT(o.memory_limit == 3 << 20);
	EXPECT(o.scavenger == false);
	EXPECT(o.retain_percent == 250);
	EXPECT(o.scavenger_cpu_percent == 50);
	EXPECT(o.arenas == 3);
	EXPECT(o.help == true);
	EXPECT(o.verbosity == 2);
	EXPECT(o.guard == HW_OPT_GUARD_SAMPLE && o.guard_sample == 1000);
	EXPECT(o.guard_min == 1);
	EXPECT(o.guard_max == 4096);
	EXPECT(o.guard_side == HW_SIDE_LEFT);
	EXPECT(o.guard_align == 1);
	EXPECT(o.guard_budget_bytes == (size_t)1 << 30);
	EXPECT(o.guard_budget_count == 500);
	EXPECT(o.guard_regions == false);
	EXPECT(o.quarantine_bytes == 0x100000);
	EXPECT(o.seed == 42);
	EXPECT(strcmp(o.log_path, "/tmp/hw log") == 0, "%s", o.log_path);
	EXPECT(o.detect_leaks == true);
	EXPECT(strcmp(o.suppressions, "/etc/lsan.supp") == 0, "%s", o.suppressions);
	EXPECT(o.use_mappings == false);
	EXPECT(o.exitcode == 99);
	EXPECT(o.debug == true);
	EXPECT(o.stack_depth == 64);
	EXPECT(o.fast_unwind_on_malloc == false);
	EXPECT(o.fast_unwind_on_fatal == true);
	EXPECT(o.symbolize == false);
	EXPECT(strcmp(o.symbolizer_path, "/opt/a2l") == 0, "%s", o.symbolizer_path);
	/* leaks is detect_leaks under its other name. */
	EXPECT(parse_clean("leaks=1").detect_leaks == true);
	EXPECT(parse_clean("detect_leaks=1:leaks=0").detect_leaks == false);
	/* The table has exactly these keys, in this order. */
	static const char *const keys[] = {"fill_on_alloc",
					   "fill_on_free",
					   "abort_on_error",
					   "alloc_dealloc_mismatch",
					   "free_size_mismatch",
					   "stats_at_exit",
					   "memory_limit",
					   "scavenger",
					   "retain_percent",
					   "scavenger_cpu_percent",
					   "arenas",
					   "help",
					   "verbosity",
					   "guard",
					   "guard_min",
					   "guard_max",
					   "guard_side",
					   "guard_align",
					   "guard_budget_bytes",
					   "guard_budget_count",
					   "guard_regions",
					   "quarantine_bytes",
					   "seed",
					   "log_path",
					   "detect_leaks",
					   "leaks",
					   "suppressions",
					   "use_mappings",
					   "exitcode",
					   "debug",
					   "stack_depth",
					   "fast_unwind_on_malloc",
					   "fast_unwind_on_fatal",
					   "symbolize",
					   "symbolizer_path"};
	size_t n = sizeof keys / sizeof keys[0];
	REQUIRE(hw_options_count() == n, "%zu keys", hw_options_count());
	for (size_t i = 0; i < n; i++)
		EXPECT(strcmp(hw_options_key(i), keys[i]) == 0, "key %zu is %s", i,
		       hw_options_key(i));
	EXPECT(hw_options_key(n) == NULL);
	EXPECT(hw_options_help_text(n) == NULL);
}

static void test_booleans(void)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	char s[64];
	for (size_t i = 0; i < 4; i++) {
		snprintf(s, sizeof s, "stats_at_exit=%s", yes[i]);
		EXPECT(parse_clean(s).stats_at_exit == true, "%s", s);
		snprintf(s, sizeof s, "abort_on_error=%s", no[i]);
		EXPECT(parse_clean(s).abort_on_error == false, "%s", s);
	}
	static const char *const bad[] = {"True", "2", "ye", "", "onn", "0x1", "01"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		seen w;
		snprintf(s, sizeof s, "stats_at_exit=%s", bad[i]);
		hw_options o = parse(s, &w);
		EXPECT(w.n == 1 && o.stats_at_exit == false, "%s", s);
	}
	expect_warning("help=maybe", P "bad value 'maybe' for help: expected 0, 1, true, false, "
				       "yes, no, on or off (kept 0)");
}

static void test_fill(void)
{
	EXPECT(parse_clean("fill_on_free=0").fill_on_free == 0);
	EXPECT(parse_clean("fill_on_free=255").fill_on_free == 255);
	EXPECT(parse_clean("fill_on_free=0xff").fill_on_free == 255);
	EXPECT(parse_clean("fill_on_free=0XA5").fill_on_free == 0xa5);
	EXPECT(parse_clean("fill_on_free=0x7:fill_on_free=off").fill_on_free == HW_OPTIONS_OFF);
	expect_warning("fill_on_free=x", P "bad value 'x' for fill_on_free: expected a byte 0-255 "
					   "or 0x00-0xff, or off (kept off)");
	expect_warning("fill_on_free=256", P "bad value '256' for fill_on_free: expected a byte "
					     "0-255 or 0x00-0xff, or off (kept off)");
	expect_warning("fill_on_alloc=0x100", P "bad value '0x100' for fill_on_alloc: expected a "
						"byte 0-255 or 0x00-0xff, or off (kept off)");
	expect_warning("fill_on_alloc=-1", P "bad value '-1' for fill_on_alloc: expected a byte "
					     "0-255 or 0x00-0xff, or off (kept off)");
	expect_warning("fill_on_alloc=1k", P "bad value '1k' for fill_on_alloc: expected a byte "
					     "0-255 or 0x00-0xff, or off (kept off)");
	/* The kept value is the one in effect, not the default. */
	seen w;
	hw_options o = parse("fill_on_free=0x5a,fill_on_free=zz", &w);
	EXPECT(o.fill_on_free == 0x5a);
	EXPECT(w.n == 1 && strcmp(w.line[0], P "bad value 'zz' for fill_on_free: expected a byte "
					       "0-255 or 0x00-0xff, or off (kept 0x5a)") == 0,
	       "%s", w.line[0]);
}

static void test_numbers(void)
{
	EXPECT(parse_clean("retain_percent=1").retain_percent == 1);
	EXPECT(parse_clean("retain_percent=10000").retain_percent == 10000);
	EXPECT(parse_clean("retain_percent=0x2710").retain_percent == 10000);
	EXPECT(parse_clean("retain_percent=007").retain_percent == 7);
	expect_warning("retain_percent=0", P "bad value '0' for retain_percent: expected a number "
					     "from 1 to 10000 (kept 10)");
	expect_warning("retain_percent=10001", P "bad value '10001' for retain_percent: expected "
						 "a number from 1 to 10000 (kept 10)");
	expect_warning("scavenger_cpu_percent=101", P "bad value '101' for scavenger_cpu_percent: "
						      "expected a number from 1 to 100 (kept 1)");
	expect_warning("verbosity=3",
		       P "bad value '3' for verbosity: expected a number from 0 to 2 "
			 "(kept 0)");
	expect_warning("exitcode=256",
		       P "bad value '256' for exitcode: expected a number from 0 to "
			 "255 (kept 23)");
	expect_warning("verbosity=+1",
		       P "bad value '+1' for verbosity: expected a number from 0 to "
			 "2 (kept 0)");
	expect_warning("verbosity=1k",
		       P "bad value '1k' for verbosity: expected a number from 0 to "
			 "2 (kept 0)");
	expect_warning("verbosity=0x",
		       P "bad value '0x' for verbosity: expected a number from 0 to "
			 "2 (kept 0)");
	expect_warning("verbosity=", P "bad value '' for verbosity: expected a number from 0 to 2 "
				       "(kept 0)");
	expect_warning("verbosity=1 2", P "bad value '1 2' for verbosity: expected a number from 0 "
					  "to 2 (kept 0)");
	/* Powers of two. */
	EXPECT(parse_clean("guard_align=4096").guard_align == 4096);
	EXPECT(parse_clean("guard_align=0x40").guard_align == 64);
	expect_warning("guard_align=24",
		       P "bad value '24' for guard_align: expected a power of two "
			 "from 1 to 4096 (kept 16)");
	expect_warning("guard_align=8192",
		       P "bad value '8192' for guard_align: expected a power of "
			 "two from 1 to 4096 (kept 16)");
	expect_warning("guard_align=0", P "bad value '0' for guard_align: expected a power of two "
					  "from 1 to 4096 (kept 16)");
	/* 64-bit numbers: the edge, and one past it. */
	EXPECT(parse_clean("seed=18446744073709551615").seed == UINT64_MAX);
	EXPECT(parse_clean("seed=0xffffffffffffffff").seed == UINT64_MAX);
	EXPECT(parse_clean("seed=0x00000000000000000000000000001").seed == 1);
	expect_warning("seed=18446744073709551616", P "bad value '18446744073709551616' for seed: "
						      "expected a number from 0 to "
						      "18446744073709551615 (kept 0)");
	expect_warning("seed=0x10000000000000000", P "bad value '0x10000000000000000' for seed: "
						     "expected a number from 0 to "
						     "18446744073709551615 (kept 0)");
	expect_warning("seed=99999999999999999999", P "bad value '99999999999999999999' for seed: "
						      "expected a number from 0 to "
						      "18446744073709551615 (kept 0)");
	expect_warning("guard_budget_count=1m", P "bad value '1m' for guard_budget_count: expected "
						  "a number from 0 to 18446744073709551615 (kept "
						  "32768)");
}

static void test_sizes(void)
{
	EXPECT(parse_clean("memory_limit=123").memory_limit == 123);
	EXPECT(parse_clean("memory_limit=1k").memory_limit == 1024);
	EXPECT(parse_clean("memory_limit=1K").memory_limit == 1024);
	EXPECT(parse_clean("memory_limit=5m").memory_limit == 5 << 20);
	EXPECT(parse_clean("memory_limit=5M").memory_limit == 5 << 20);
	EXPECT(parse_clean("memory_limit=3g").memory_limit == (size_t)3 << 30);
	EXPECT(parse_clean("memory_limit=3G").memory_limit == (size_t)3 << 30);
	EXPECT(parse_clean("memory_limit=0x10k").memory_limit == 16 << 10);
	EXPECT(parse_clean("memory_limit=0k").memory_limit == 0);
	EXPECT(parse_clean("memory_limit=17179869183g").memory_limit == (size_t)17179869183 << 30);
	EXPECT(parse_clean("memory_limit=18446744073709551615").memory_limit == SIZE_MAX);
	static const char *const bad[] = {
		"memory_limit=1kb", "memory_limit=1t", "memory_limit=k", "memory_limit=1 k",
		"memory_limit=17179869184g", "memory_limit=18014398509481984k",
		"memory_limit=0x40000000000000k", "memory_limit=-1", "memory_limit=1.5m",
		"memory_limit=18446744073709551616"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		seen w;
		hw_options o = parse(bad[i], &w);
		EXPECT(w.n == 1 && o.memory_limit == 0, "%s: %u warnings", bad[i], w.n);
	}
	expect_warning("memory_limit=17179869184g", P
		       "bad value '17179869184g' for memory_limit: expected a byte count from 0 to "
		       "18446744073709551615 (decimal or 0x hex, suffix k, m or g) (kept 0)");
	expect_warning("quarantine_bytes=lots",
		       P "bad value 'lots' for quarantine_bytes: expected a byte count from 0 to "
			 "18446744073709551615 (decimal or 0x hex, suffix k, m or g) (kept 256m)");
}

static void test_enums_and_guard(void)
{
	EXPECT(parse_clean("guard_side=right").guard_side == HW_SIDE_RIGHT);
	EXPECT(parse_clean("guard_side=left").guard_side == HW_SIDE_LEFT);
	EXPECT(parse_clean("guard_side=random").guard_side == HW_SIDE_RANDOM);
	expect_warning("guard_side=up", P "bad value 'up' for guard_side: expected right, left or "
					  "random (kept right)");
	expect_warning("guard_side=Left", P "bad value 'Left' for guard_side: expected right, left "
					    "or random (kept right)");
	hw_options o = parse_clean("guard=all");
	EXPECT(o.guard == HW_OPT_GUARD_ALL && o.guard_sample == 0);
	o = parse_clean("guard=sample:1");
	EXPECT(o.guard == HW_OPT_GUARD_SAMPLE && o.guard_sample == 1);
	o = parse_clean("guard=sample:4294967295");
	EXPECT(o.guard == HW_OPT_GUARD_SAMPLE && o.guard_sample == UINT32_MAX);
	o = parse_clean("guard=sample:0x10,guard=sample:7");
	EXPECT(o.guard == HW_OPT_GUARD_SAMPLE && o.guard_sample == 7);
	o = parse_clean("guard=sample:7:guard=none");
	EXPECT(o.guard == HW_OPT_GUARD_NONE && o.guard_sample == 0);
	static const char *const bad[] = {"guard=sample:0", "guard=sample:", "guard=sample",
					  "guard=sample:4294967296", "guard=sample:1k",
					  "guard=some", "guard=ALL"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		seen w;
		o = parse(bad[i], &w);
		EXPECT(w.n == 1 && o.guard == HW_OPT_GUARD_NONE, "%s: %u warnings", bad[i], w.n);
	}
	expect_warning("guard=sample:0", P "bad value 'sample:0' for guard: expected none, all or "
					   "sample:N with N from 1 to 4294967295 (kept none)");
	/* "sample" alone then ':' and a key: the ':' separates. */
	seen w;
	o = parse("guard=sample:verbosity=1", &w);
	EXPECT(w.n == 1 && o.verbosity == 1 && o.guard == HW_OPT_GUARD_NONE, "%u", w.n);
	EXPECT(strcmp(w.line[0], P "bad value 'sample' for guard: expected none, all or sample:N "
				   "with N from 1 to 4294967295 (kept none)") == 0,
	       "%s", w.line[0]);
}

static void test_paths(void)
{
	hw_options o = parse_clean("log_path=/var/log/hw");
	EXPECT(strcmp(o.log_path, "/var/log/hw") == 0);
	/* Inner whitespace, '=' and ':' before a digit stay in the value. */
	o = parse_clean("log_path= /a b=c:8 ,verbosity=1");
	EXPECT(strcmp(o.log_path, "/a b=c:8") == 0, "%s", o.log_path);
	EXPECT(o.verbosity == 1);
	/* Empty: back to standard error; the rest of the array is zeroed. */
	o = parse_clean("log_path=/a/longer/one:log_path=/b");
	EXPECT(strcmp(o.log_path, "/b") == 0);
	for (size_t i = 2; i < sizeof o.log_path; i++)
		EXPECT(o.log_path[i] == 0, "byte %zu", i);
	o = parse_clean("log_path=/b:log_path=");
	EXPECT(o.log_path[0] == '\0');
	/* The longest value fits; one more byte is a bad value. */
	char s[300];
	memcpy(s, "log_path=", 9);
	memset(s + 9, 'p', HW_OPTIONS_VALUE_MAX);
	s[9 + HW_OPTIONS_VALUE_MAX] = '\0';
	o = parse_clean(s);
	EXPECT(strlen(o.log_path) == HW_OPTIONS_VALUE_MAX);
	memset(s + 9, 'q', HW_OPTIONS_VALUE_MAX + 1);
	s[10 + HW_OPTIONS_VALUE_MAX] = '\0';
	char want[HW_OPTIONS_LINE_MAX] = P "bad value '";
	size_t wl = strlen(want);
	memset(want + wl, 'q', HW_OPTIONS_QUOTE_MAX);
	want[wl + HW_OPTIONS_QUOTE_MAX] = '\0';
	strcat(want, "...' for log_path: expected a path of at most 255 bytes, or empty (kept "
		     "'')");
	expect_warning(s, want);
	/* The kept path is quoted like the bad value. */
	seen w;
	char two[400];
	snprintf(two, sizeof two, "log_path=it's\\:%s", s);
	o = parse(two, &w);
	EXPECT(strcmp(o.log_path, "it's\\") == 0);
	EXPECT(w.n == 1 && strstr(w.line[0], "(kept 'it\\'s\\\\')") != NULL, "%s", w.line[0]);
}

static void test_separators_and_space(void)
{
	hw_options want = fresh();
	want.verbosity = 1;
	want.seed = 5;
	want.stats_at_exit = true;
	static const char *const same[] = {
		"verbosity=1:seed=5:stats_at_exit=1",
		"verbosity=1,seed=5,stats_at_exit=1",
		"verbosity=1:seed=5,stats_at_exit=1",
		":,verbosity=1::seed=5,,stats_at_exit=1:,",
		" verbosity = 1 : seed=5\t,\r\nstats_at_exit=\t1\n",
		"  \t:  ,verbosity=1:seed=5:stats_at_exit=1 ",
		"verbosity=0:verbosity=1:seed=5:stats_at_exit=1",
	};
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		hw_options o = parse_clean(same[i]);
		EXPECT(same_options(&o, &want), "'%s'", same[i]);
	}
	/* ':' before a digit belongs to the value. */
	expect_warning("verbosity=1:2", P "bad value '1:2' for verbosity: expected a number from 0 "
					  "to 2 (kept 0)");
	/* Other control bytes are not whitespace. */
	expect_warning("verbosity=1\v",
		       P "bad value '1\\x0b' for verbosity: expected a number from "
			 "0 to 2 (kept 0)");
	/* Empty and NULL: nothing. */
	hw_options d = fresh();
	hw_options o = parse_clean("");
	EXPECT(same_options(&o, &d));
	o = parse_clean(" \t\r\n:,:, ");
	EXPECT(same_options(&o, &d));
	o = fresh();
	EXPECT(hw_options_parse(NULL, &o, collect, NULL) == 0);
	EXPECT(same_options(&o, &d));
	/* No callback: warnings are still counted. */
	EXPECT(hw_options_parse("nope=1:verbosity=9:x", &o, NULL, NULL) == 3);
	EXPECT(same_options(&o, &d));
}

static void test_duplicates(void)
{
	EXPECT(parse_clean("verbosity=1:verbosity=2").verbosity == 2);
	EXPECT(parse_clean("verbosity=2:verbosity=0").verbosity == 0);
	seen w;
	hw_options o = parse("memory_limit=1m:memory_limit=oops", &w);
	EXPECT(o.memory_limit == 1 << 20 && w.n == 1);
	EXPECT(strcmp(w.line[0],
		      P "bad value 'oops' for memory_limit: expected a byte count from 0 "
			"to 18446744073709551615 (decimal or 0x hex, suffix k, m or g) "
			"(kept 1m)") == 0,
	       "%s", w.line[0]);
}

static void test_unknown_and_malformed(void)
{
	expect_warning("foo=1", P "unknown key 'foo' (ignored)");
	expect_warning("Verbosity=1", P "unknown key 'Verbosity' (ignored)");
	expect_warning("=1", P "unknown key '' (ignored)");
	expect_warning("verbosity", P "'verbosity' is not key=value (ignored)");
	expect_warning("  help  ", P "'help' is not key=value (ignored)");
	expect_warning("verbose=1", P "unknown key 'verbose' (ignored)");
	expect_warning("fill_on_free =\t", P "bad value '' for fill_on_free: expected a byte 0-255 "
					     "or 0x00-0xff, or off (kept off)");
	/* One warning per bad pair, in order, the good pairs applied. */
	seen w;
	hw_options o = parse("a=1:verbosity=1:b:seed=x:c=2:help=1", &w);
	EXPECT(o.verbosity == 1 && o.help == true && o.seed == 0);
	REQUIRE(w.n == 4, "%u warnings", w.n);
	EXPECT(strcmp(w.line[0], P "unknown key 'a' (ignored)") == 0, "%s", w.line[0]);
	EXPECT(strcmp(w.line[1], P "'b' is not key=value (ignored)") == 0, "%s", w.line[1]);
	EXPECT(strcmp(w.line[2], P "bad value 'x' for seed: expected a number from 0 to "
				   "18446744073709551615 (kept 0)") == 0,
	       "%s", w.line[2]);
	EXPECT(strcmp(w.line[3], P "unknown key 'c' (ignored)") == 0, "%s", w.line[3]);
}

static void test_odd_bytes(void)
{
	expect_warning("f\x01o\xff=1", P "unknown key 'f\\x01o\\xff' (ignored)");
	expect_warning("it's\\=1", P "unknown key 'it\\'s\\\\' (ignored)");
	expect_warning("\x1b[31m", P "'\\x1b[31m' is not key=value (ignored)");
	expect_warning("seed=\x80", P "bad value '\\x80' for seed: expected a number from 0 to "
				      "18446744073709551615 (kept 0)");
	hw_options o = parse_clean("log_path=\x01\xfe");
	EXPECT(strcmp(o.log_path, "\x01\xfe") == 0);
	/* A quote is cut after HW_OPTIONS_QUOTE_MAX source bytes. */
	char key[HW_OPTIONS_QUOTE_MAX + 8];
	memset(key, '\x7f', HW_OPTIONS_QUOTE_MAX + 1);
	memcpy(key + HW_OPTIONS_QUOTE_MAX + 1, "=1", 3);
	seen w;
	parse(key, &w);
	char want[HW_OPTIONS_LINE_MAX] = P "unknown key '";
	for (int i = 0; i < HW_OPTIONS_QUOTE_MAX; i++)
		strcat(want, "\\x7f");
	strcat(want, "...' (ignored)");
	EXPECT(w.n == 1 && strcmp(w.line[0], want) == 0, "%s", w.line[0]);
}

/* Very long inputs of each shape: bounded lines, the right count. The work
 * is linear (OP2): a quadratic walk over 4 MiB would not end before the
 * test's timeout. */
static void test_long_input(void)
{
	const size_t n = 4u << 20;
	char *s = malloc(n + 1);
	REQUIRE(s != NULL);
	static const char *const unit[] = {"verbosity=1:", "x", "=", "0", ":", "a=b,", "\x01",
					   "guard=sample:1", " "};
	/* 4 MiB of "verbosity=1:" ends in "verb", which is not key=value. */
	static const unsigned warnings[] = {1, 1, 1, 1, 0, 1u << 20, 1, 1, 0};
	for (size_t u = 0; u < sizeof unit / sizeof unit[0]; u++) {
		size_t ul = strlen(unit[u]);
		for (size_t i = 0; i < n; i++)
			s[i] = unit[u][i % ul];
		s[n] = '\0';
		seen w;
		hw_options o = fresh();
		memset(&w, 0, sizeof w);
		unsigned k = hw_options_parse(s, &o, collect, &w);
		EXPECT(k == w.n);
		EXPECT(k == warnings[u], "unit '%s': %u warnings", unit[u], k);
		EXPECT(w.longest < HW_OPTIONS_LINE_MAX - 1, "a line of %zu bytes", w.longest);
		if (u == 0)
			EXPECT(o.verbosity == 1);
	}
	/* One pair of 4 MiB (a key, then a value). */
	memset(s, 'k', n);
	s[n] = '\0';
	s[n / 2] = '=';
	seen w;
	parse(s, &w);
	EXPECT(w.n == 1 && strstr(w.line[0], "unknown key 'kkkk") != NULL, "%s", w.line[0]);
	memcpy(s, "seed=", 5);
	s[n / 2] = 'k';
	memset(s + 5, '1', n - 5);
	parse(s, &w);
	EXPECT(w.n == 1 && strstr(w.line[0], "bad value '1111") != NULL, "%s", w.line[0]);
	memcpy(s, "seed=", 5);
	memset(s + 5, '0', n - 6);
	parse(s, &w);
	EXPECT(w.n == 1, "a 4 MiB value is longer than the maximum");
	free(s);
}

/* Every struct the parser makes, and the defaults, survive format+parse. */
static void test_round_trip(void)
{
	static const char *const inputs[] = {
		"",
		("fill_on_alloc=0:fill_on_free=0xff:memory_limit=1025:guard=sample:3:"
		 "log_path=/p a=b:9"),
		"guard=all:guard_max=0x3ff:seed=18446744073709551615:quarantine_bytes=7g",
		"log_path=\x01\x7f\xff:guard_side=random:memory_limit=1048575",
	};
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		hw_options a = parse_clean(inputs[i]);
		char buf[HW_OPTIONS_FORMAT_MAX];
		size_t n = hw_options_format(&a, buf, sizeof buf);
		EXPECT(n > 0 && n == strlen(buf));
		hw_options b = parse_clean(buf);
		EXPECT(same_options(&a, &b), "'%s' -> '%s'", inputs[i], buf);
	}
	/* Too small a buffer: 0 and "". */
	hw_options d = fresh();
	char small[32] = "junk";
	EXPECT(hw_options_format(&d, small, sizeof small) == 0 && small[0] == '\0');
	/* The longest struct fits HW_OPTIONS_FORMAT_MAX. */
	char s[700] = "memory_limit=18446744073709551615:guard_min=18446744073709551615:"
		      "guard_max=18446744073709551615:guard_budget_bytes=18446744073709551615:"
		      "quarantine_bytes=18446744073709551615:guard=sample:4294967295:"
		      "guard_budget_count=18446744073709551615:seed=18446744073709551615:log_path=";
	size_t l = strlen(s);
	memset(s + l, 'z', HW_OPTIONS_VALUE_MAX);
	s[l + HW_OPTIONS_VALUE_MAX] = '\0';
	hw_options big = parse_clean(s);
	char buf[HW_OPTIONS_FORMAT_MAX];
	EXPECT(hw_options_format(&big, buf, sizeof buf) > 0);
}

typedef struct sink {
	char buf[32768];
	size_t n;
	unsigned calls;
	bool bad_line;
} sink;

static void to_sink(void *arg, const char *b, size_t n)
{
	sink *k = arg;
	k->calls++;
	if (n == 0 || n >= HW_OPTIONS_LINE_MAX || b[n - 1] != '\n' ||
	    memchr(b, '\n', n) != b + n - 1)
		k->bad_line = true;
	if (k->n + n < sizeof k->buf) {
		memcpy(k->buf + k->n, b, n);
		k->n += n;
		k->buf[k->n] = '\0';
	}
}

static void test_help(void)
{
	hw_options o = parse_clean("verbosity=2:log_path=/tmp/x");
	sink k = {.n = 0};
	hw_options_help(&o, to_sink, &k);
	EXPECT(k.calls == 1 + hw_options_count(), "%u lines", k.calls);
	EXPECT(!k.bad_line, "a help line is not one whole line");
	EXPECT(strncmp(k.buf, "heapward: HEAPWARD_OPTIONS=key=value", 36) == 0);
	EXPECT(strstr(k.buf, "\n  verbosity=2 ") != NULL);
	EXPECT(strstr(k.buf, "\n  log_path='/tmp/x' ") != NULL);
	EXPECT(strstr(k.buf, "[a number from 0 to 2; default 0]\n") != NULL);
	EXPECT(strstr(k.buf, "\n  fill_on_alloc=off ") != NULL);
	EXPECT(strstr(k.buf, "\n  guard_budget_bytes=1g ") != NULL);
	for (size_t i = 0; i < hw_options_count(); i++) {
		char want[64];
		snprintf(want, sizeof want, "\n  %s=", hw_options_key(i));
		EXPECT(strstr(k.buf, want) != NULL, "help lacks %s", hw_options_key(i));
	}
}

/* The docs/options.md table, as the code has it. */
static size_t doc_table(char *buf, size_t len)
{
	hw_options d = fresh();
	size_t n = 0;
	n += (size_t)snprintf(buf + n, len - n,
			      "<!-- options table: begin (`options_test --doc` prints it; "
			      "options_test checks it) -->\n"
			      "| key | default | accepts | what it does |\n"
			      "|---|---|---|---|\n");
	for (size_t i = 0; i < hw_options_count() && n < len; i++) {
		char def[HW_OPTIONS_VALUE_MAX + 1], what[256];
		hw_options_value(&d, i, def, sizeof def);
		hw_options_describe(i, what, sizeof what);
		n += (size_t)snprintf(buf + n, len - n, "| `%s` | %s%s%s | %s | %s |\n",
				      hw_options_key(i), def[0] ? "`" : "(empty)", def,
				      def[0] ? "`" : "", what, hw_options_help_text(i));
	}
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, "<!-- options table: end -->\n");
	return n;
}

static void test_doc_table(void)
{
	static char want[16384], doc[65536];
	size_t wn = doc_table(want, sizeof want);
	REQUIRE(wn < sizeof want);
	FILE *f = fopen(HW_SOURCE_DIR "/docs/options.md", "rb");
	REQUIRE(f != NULL, "cannot open docs/options.md");
	size_t dn = fread(doc, 1, sizeof doc - 1, f);
	fclose(f);
	doc[dn] = '\0';
	const char *begin = strstr(doc, "<!-- options table: begin");
	const char *end = strstr(doc, "<!-- options table: end -->\n");
	REQUIRE(begin != NULL && end != NULL && end > begin,
		"docs/options.md has no options table markers");
	end += strlen("<!-- options table: end -->\n");
	size_t n = (size_t)(end - begin);
	if (n == wn && memcmp(begin, want, n) == 0) {
		EXPECT(true);
		return;
	}
	/* Name the first line that differs. */
	const char *a = begin, *b = want;
	while (*a == *b && a < end)
		a++, b++;
	while (a > begin && a[-1] != '\n')
		a--, b--;
	EXPECT(false, "docs/options.md's table differs from the option table at:\n  doc:  %.*s\n"
		      "  code: %.*s\n  (regenerate it with `options_test --doc`)",
	       (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
}

/* fuzz/options_fuzzer.dict names every key, with its '=': a key the
 * dictionary lacks is one the fuzzer must find byte by byte. */
static void test_fuzz_dictionary(void)
{
	static char dict[16384];
	FILE *f = fopen(HW_SOURCE_DIR "/fuzz/options_fuzzer.dict", "rb");
	REQUIRE(f != NULL, "cannot open fuzz/options_fuzzer.dict");
	size_t dn = fread(dict, 1, sizeof dict - 1, f);
	fclose(f);
	dict[dn] = '\0';
	for (size_t i = 0; i < hw_options_count(); i++) {
		char want[96];
		snprintf(want, sizeof want, "\"%s=\"\n", hw_options_key(i));
		EXPECT(strstr(dict, want) != NULL, "fuzz/options_fuzzer.dict lacks %s", want);
	}
}

static void test_env(void)
{
	EXPECT(hw_env_available());
	REQUIRE(setenv("HW_OPTIONS_TEST_VAR", "a=b:c", 1) == 0);
	const char *v = hw_env_get("HW_OPTIONS_TEST_VAR");
	EXPECT(v != NULL && strcmp(v, "a=b:c") == 0);
	EXPECT(hw_env_get("HW_OPTIONS_TEST_VA") == NULL, "a prefix matched");
	EXPECT(hw_env_get("HW_OPTIONS_TEST_VARS") == NULL);
	EXPECT(hw_env_get("HW_OPTIONS_TEST_VAR=a") == NULL, "a name with '=' matched");
	EXPECT(hw_env_get("") == NULL);
	REQUIRE(setenv("HW_OPTIONS_TEST_EMPTY", "", 1) == 0);
	v = hw_env_get("HW_OPTIONS_TEST_EMPTY");
	EXPECT(v != NULL && v[0] == '\0');
	/* Before libc sets the environment up: NULL, and said so. */
	char **saved = environ;
	environ = NULL;
	v = hw_env_get("HW_OPTIONS_TEST_VAR");
	bool avail = hw_env_available();
	environ = saved;
	EXPECT(v == NULL && !avail);
	/* hw_options_load reads HEAPWARD_OPTIONS. */
	REQUIRE(setenv("HEAPWARD_OPTIONS", "verbosity=2:bogus=1", 1) == 0);
	hw_options o = fresh();
	seen w = {.n = 0};
	EXPECT(hw_options_load(&o, collect, &w) == 1);
	EXPECT(o.verbosity == 2);
	EXPECT(strcmp(w.line[0], P "unknown key 'bogus' (ignored)") == 0, "%s", w.line[0]);
	unsetenv("HEAPWARD_OPTIONS");
	o = fresh();
	EXPECT(hw_options_load(&o, collect, &w) == 0);
}

/* The console callbacks write whole lines to fd 2. */
static void test_console(void)
{
	char path[] = "/tmp/hw_options_test_XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	REQUIRE(saved >= 0 && dup2(fd, 2) == 2);
	hw_options_warn_console(NULL, "unknown key 'x'", "ignored");
	hw_options_write_console(NULL, "ab\n", 3);
	dup2(saved, 2);
	close(saved);
	char buf[256] = "";
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	EXPECT(n > 0);
	EXPECT(strcmp(buf, P "unknown key 'x' (ignored)\nab\n") == 0, "%s", buf);
}

static const hw_test tests[] = {
	T(test_defaults),
	T(test_every_key),
	T(test_booleans),
	T(test_fill),
	T(test_numbers),
	T(test_sizes),
	T(test_enums_and_guard),
	T(test_paths),
	T(test_separators_and_space),
	T(test_duplicates),
	T(test_unknown_and_malformed),
	T(test_odd_bytes),
	T(test_long_input),
	T(test_round_trip),
	T(test_help),
	T(test_doc_table),
	T(test_fuzz_dictionary),
	T(test_env),
	T(test_console),
};

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--doc") == 0) {
		static char buf[16384];
		size_t n = doc_table(buf, sizeof buf);
		fwrite(buf, 1, n, stdout);
		return n < sizeof buf ? 0 : 1;
	}
	return hw_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
}

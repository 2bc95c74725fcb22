/* options_fuzzer.c: the HEAPWARD_OPTIONS parser against a second parser
 * written the simple way.
 *
 * Owns: the reference parser (copy the string, cut it at the separators,
 * trim each piece, split at '=', look the key up in a table of its own and
 * parse the value with the C library), and the checks of one input. The
 * input is the options string itself: its bytes up to the first NUL (a
 * NUL-terminated copy of exactly that size, so a read past the end is
 * caught), so every corpus file reads as the string it tests.
 *
 * Invariants (each input):
 *   OF1. hw_options_parse and the reference, from the same defaults, leave
 *        byte-identical structs and count the same warnings; the first
 *        MAXW warnings are of the same kind (unknown key, not key=value, bad
 *        value for key K), in the same order.
 *   OF2. Every warning line is NUL-terminated, shorter than
 *        HW_OPTIONS_LINE_MAX - 1 (never cut), printable ASCII only, and
 *        starts with "heapward: HEAPWARD_OPTIONS: " (options.h OP3).
 *   OF3. Round trip (OP5): hw_options_format of the parsed struct fits
 *        HW_OPTIONS_FORMAT_MAX and parses back, with no warning, to the
 *        same bytes.
 *   OF4. With help set, hw_options_help writes whole lines, each shorter
 *        than HW_OPTIONS_LINE_MAX, one per option after the header.
 *   OF5. The reference's keys are the table's keys, in the table's order
 *        (checked once, in LLVMFuzzerInitialize), so the two cannot drift.
 *   A failed check prints a sanitizer-style report and aborts.
 *
 * The reference is written from docs/options.md's grammar, not from
 * options.c, and uses different means (strtoull, strspn, a copy cut in
 * place), so a shared mistake is unlikely.
 *
 * Locking: none.
 */
#include "fuzz.h"
#include "harness.h"

#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXW 64
#define PREFIX "heapward: HEAPWARD_OPTIONS: "

#define fail(...) hw_harness_failf("options", __VA_ARGS__)

/* ---- the reference ---- */

enum rtype { R_BOOL,
	     R_FILL,
	     R_UINT,
	     R_POW2,
	     R_SIZE,
	     R_U64,
	     R_SIDE,
	     R_GUARD,
	     R_PATH };

typedef struct ropt {
	const char *key;
	enum rtype type;
	size_t off;
	unsigned long long min, max;
} ropt;

#define F(f) offsetof(hw_options, f)
static const ropt ref[] = {
	{"fill_on_alloc", R_FILL, F(fill_on_alloc), 0, 255},
	{"fill_on_free", R_FILL, F(fill_on_free), 0, 255},
	{"abort_on_error", R_BOOL, F(abort_on_error), 0, 1},
	{"alloc_dealloc_mismatch", R_BOOL, F(alloc_dealloc_mismatch), 0, 1},
	{"free_size_mismatch", R_BOOL, F(free_size_mismatch), 0, 1},
	{"stats_at_exit", R_BOOL, F(stats_at_exit), 0, 1},
	{"memory_limit", R_SIZE, F(memory_limit), 0, SIZE_MAX},
	{"scavenger", R_BOOL, F(scavenger), 0, 1},
	{"retain_percent", R_UINT, F(retain_percent), 1, 10000},
	{"scavenger_cpu_percent", R_UINT, F(scavenger_cpu_percent), 1, 100},
	{"arenas", R_UINT, F(arenas), 0, 64},
	{"help", R_BOOL, F(help), 0, 1},
	{"verbosity", R_UINT, F(verbosity), 0, 2},
	{"guard", R_GUARD, F(guard), 1, UINT32_MAX},
	{"guard_min", R_SIZE, F(guard_min), 0, SIZE_MAX},
	{"guard_max", R_SIZE, F(guard_max), 0, SIZE_MAX},
	{"guard_side", R_SIDE, F(guard_side), 0, 2},
	{"guard_align", R_POW2, F(guard_align), 1, 4096},
	{"guard_budget_bytes", R_SIZE, F(guard_budget_bytes), 0, SIZE_MAX},
	{"guard_budget_count", R_U64, F(guard_budget_count), 0, UINT64_MAX},
	{"guard_regions", R_BOOL, F(guard_regions), 0, 1},
	{"quarantine_bytes", R_SIZE, F(quarantine_bytes), 0, SIZE_MAX},
	{"seed", R_U64, F(seed), 0, UINT64_MAX},
	{"log_path", R_PATH, F(log_path), 0, 0},
	{"detect_leaks", R_BOOL, F(detect_leaks), 0, 1},
	{"leaks", R_BOOL, F(detect_leaks), 0, 1},
	{"suppressions", R_PATH, F(suppressions), 0, 0},
	{"use_mappings", R_BOOL, F(use_mappings), 0, 1},
	{"exitcode", R_UINT, F(exitcode), 0, 255},
	{"debug", R_BOOL, F(debug), 0, 1},
	{"stack_depth", R_UINT, F(stack_depth), 0, 64},
	{"fast_unwind_on_malloc", R_BOOL, F(fast_unwind_on_malloc), 0, 1},
	{"fast_unwind_on_fatal", R_BOOL, F(fast_unwind_on_fatal), 0, 1},
	{"symbolize", R_BOOL, F(symbolize), 0, 1},
	{"symbolizer_path", R_PATH, F(symbolizer_path), 0, 0},
};
#define NREF (sizeof ref / sizeof ref[0])

/* What one warning was about: 'u' unknown key, 'n' not key=value, 'b' bad
 * value (for ref[key]). */
typedef struct rwarn {
	char kind;
	size_t key;
} rwarn;

typedef struct rresult {
	unsigned n;
	rwarn w[MAXW];
} rresult;

static void note(rresult *r, char kind, size_t key)
{
	if (r->n < MAXW)
		r->w[r->n] = (rwarn){kind, key};
	r->n++;
}

/* v as a number: "0x"/"0X" and hex digits, or decimal digits, then (sized)
 * one of kKmMgG; strtoull does the arithmetic, ERANGE is an overflow. */
static bool ref_number(const char *v, bool sized, unsigned long long *out)
{
	char body[HW_OPTIONS_VALUE_MAX + 1];
	size_t n = strlen(v);
	unsigned shift = 0;
	if (sized && n > 0 && strchr("kKmMgG", v[n - 1]) != NULL) {
		char s = (char)tolower((unsigned char)v[n - 1]);
		shift = s == 'k' ? 10 : s == 'm' ? 20
						 : 30;
		n--;
	}
	memcpy(body, v, n);
	body[n] = '\0';
	int base = 10;
	const char *digits = body;
	if (n > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
		base = 16;
		digits = body + 2;
	}
	size_t dn = strlen(digits);
	if (dn == 0 ||
	    strspn(digits, base == 16 ? "0123456789abcdefABCDEF" : "0123456789") != dn)
		return false;
	errno = 0;
	unsigned long long x = strtoull(digits, NULL, base);
	if (errno == ERANGE)
		return false;
	if (shift != 0 && __builtin_mul_overflow(x, 1ull << shift, &x))
		return false;
	*out = x;
	return true;
}

static bool in(const char *v, const char *const *words)
{
	for (; *words != NULL; words++)
		if (strcmp(v, *words) == 0)
			return true;
	return false;
}

/* Applies value v of option r to o; false when v is bad (o unchanged). */
static bool ref_value(hw_options *o, const ropt *r, const char *v)
{
	static const char *const yes[] = {"1", "true", "yes", "on", NULL};
	static const char *const no[] = {"0", "false", "no", "off", NULL};
	static const char *const sides[] = {"right", "left", "random", NULL};
	char *f = (char *)o + r->off;
	unsigned long long x;
	if (strlen(v) > HW_OPTIONS_VALUE_MAX)
		return false;
	switch (r->type) {
	case R_BOOL:
		if (!in(v, yes) && !in(v, no))
			return false;
		*(bool *)f = in(v, yes);
		return true;
	case R_FILL:
		if (strcmp(v, "off") == 0) {
			*(int *)f = HW_OPTIONS_OFF;
			return true;
		}
		if (!ref_number(v, false, &x) || x > 255)
			return false;
		*(int *)f = (int)x;
		return true;
	case R_UINT:
	case R_POW2:
		if (!ref_number(v, false, &x) || x < r->min || x > r->max)
			return false;
		if (r->type == R_POW2 && __builtin_popcountll(x) != 1)
			return false;
		*(unsigned *)f = (unsigned)x;
		return true;
	case R_SIZE:
		if (!ref_number(v, true, &x) || x > r->max)
			return false;
		*(size_t *)f = (size_t)x;
		return true;
	case R_U64:
		if (!ref_number(v, false, &x))
			return false;
		*(uint64_t *)f = x;
		return true;
	case R_SIDE:
		for (int i = 0; sides[i] != NULL; i++) {
			if (strcmp(v, sides[i]) == 0) {
				*(int *)f = i;
				return true;
			}
		}
		return false;
	case R_GUARD:
		if (strcmp(v, "none") == 0 || strcmp(v, "all") == 0) {
			o->guard = v[0] == 'a' ? HW_OPT_GUARD_ALL : HW_OPT_GUARD_NONE;
			o->guard_sample = 0;
			return true;
		}
		if (strncmp(v, "sample:", 7) != 0 || !ref_number(v + 7, false, &x) ||
		    x < r->min || x > r->max)
			return false;
		o->guard = HW_OPT_GUARD_SAMPLE;
		o->guard_sample = (unsigned)x;
		return true;
	case R_PATH:
		memset(f, 0, sizeof o->log_path);
		strcpy(f, v);
		return true;
	}
	return false;
}

static const char *const space = " \t\r\n";

/* Trims space from both ends of s, in place; returns the new start. */
static char *trim(char *s)
{
	s += strspn(s, space);
	size_t n = strlen(s);
	while (n > 0 && strchr(space, s[n - 1]) != NULL)
		s[--n] = '\0';
	return s;
}

static void ref_pair(char *piece, hw_options *o, rresult *r)
{
	piece = trim(piece);
	if (*piece == '\0')
		return;
	char *eq = strchr(piece, '=');
	if (eq == NULL) {
		note(r, 'n', 0);
		return;
	}
	*eq = '\0';
	char *key = trim(piece), *v = trim(eq + 1);
	for (size_t i = 0; i < NREF; i++) {
		if (strcmp(key, ref[i].key) == 0) {
			if (!ref_value(o, &ref[i], v))
				note(r, 'b', i);
			return;
		}
	}
	note(r, 'u', 0);
}

/* Copies s, marks every separator (',', or ':' not before a digit, judged
 * on the original) as a cut, then parses the pieces in order. */
static void ref_parse(const char *s, hw_options *o, rresult *r)
{
	size_t n = strlen(s);
	char *copy = malloc(n + 1);
	bool *cut = calloc(n + 1, sizeof *cut);
	if (copy == NULL || cut == NULL)
		fail("out of memory");
	memcpy(copy, s, n + 1);
	for (size_t i = 0; i < n; i++)
		cut[i] = s[i] == ',' || (s[i] == ':' && !isdigit((unsigned char)s[i + 1]));
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || cut[i]) {
			copy[i] = '\0';
			ref_pair(copy + start, o, r);
			start = i + 1;
		}
	}
	free(cut);
	free(copy);
}

/* ---- the checks ---- */

typedef struct lines {
	unsigned n;
	char kind[MAXW];
	char text[MAXW][HW_OPTIONS_LINE_MAX];
} lines;

/* OF2, and the line kept for OF1. */
static void on_warning(void *arg, const char *problem, const char *consequence)
{
	lines *l = arg;
	if (strcmp(consequence, "ignored") != 0 && strncmp(consequence, "kept ", 5) != 0)
		fail("warning %u's consequence is '%.80s'", l->n, consequence);
	/* Twice the promised bound, so that a line too long shows as such. */
	char line[2 * HW_OPTIONS_LINE_MAX];
	size_t n = hw_options_warning_line(line, sizeof line, problem, consequence);
	if (n >= HW_OPTIONS_LINE_MAX - 1)
		fail("warning %u is %zu bytes: %.80s", l->n, n, line);
	if (strncmp(line, PREFIX, strlen(PREFIX)) != 0)
		fail("warning %u lacks the prefix: %s", l->n, line);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			fail("warning %u has byte 0x%02x at %zu", l->n, (unsigned char)line[i], i);
	if (l->n < MAXW)
		memcpy(l->text[l->n], line, n + 1);
	l->n++;
}

/* The end of a quote that starts at q (just after its opening '): the
 * first ' that no backslash escapes. */
static const char *quote_end(const char *q)
{
	while (*q != '\0' && *q != '\'')
		q += q[0] == '\\' && q[1] != '\0' ? 2 : 1;
	return q;
}

/* Whether warning line t is of reference warning w's kind (and names its
 * key right after the quoted value). */
static bool same_kind(const char *t, const rwarn *w)
{
	const char *rest = t + strlen(PREFIX);
	char want[128];
	switch (w->kind) {
	case 'u':
		return strncmp(rest, "unknown key '", 13) == 0 &&
		       strcmp(quote_end(rest + 13), "' (ignored)") == 0;
	case 'n':
		return rest[0] == '\'' &&
		       strcmp(quote_end(rest + 1), "' is not key=value (ignored)") == 0;
	default:
		snprintf(want, sizeof want, "' for %s: expected ", ref[w->key].key);
		return strncmp(rest, "bad value '", 11) == 0 &&
		       strncmp(quote_end(rest + 11), want, strlen(want)) == 0;
	}
}

typedef struct help_sink {
	unsigned lines;
} help_sink;

static void on_help(void *arg, const char *buf, size_t n)
{
	help_sink *h = arg;
	if (n == 0 || n >= HW_OPTIONS_LINE_MAX || buf[n - 1] != '\n' ||
	    memchr(buf, '\n', n) != buf + n - 1)
		fail("help line %u is not one whole line of at most %d bytes", h->lines,
		     HW_OPTIONS_LINE_MAX - 1);
	h->lines++;
}

static hw_options defaults;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	memset(&defaults, 0, sizeof defaults);
	hw_options_defaults(&defaults);
	/* OF5. */
	if (hw_options_count() != NREF)
		fail("the table has %zu keys, the reference %zu", hw_options_count(), NREF);
	for (size_t i = 0; i < NREF; i++)
		if (strcmp(hw_options_key(i), ref[i].key) != 0)
			fail("key %zu is %s in the table, %s in the reference", i,
			     hw_options_key(i), ref[i].key);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = strnlen((const char *)data, size);
	char *s = malloc(n + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, n);
	s[n] = '\0';

	/* OF1, OF2. */
	/* Copies made with memcpy: padding bytes included, for memcmp. */
	hw_options got, want, again;
	memcpy(&got, &defaults, sizeof got);
	memcpy(&want, &defaults, sizeof want);
	static lines seen;
	seen.n = 0;
	unsigned count = hw_options_parse(s, &got, on_warning, &seen);
	rresult r = {0};
	ref_parse(s, &want, &r);
	if (count != seen.n)
		fail("hw_options_parse returned %u, its callback saw %u lines", count, seen.n);
	if (count != r.n)
		fail("%u warnings, the reference %u (first: %.200s)", count, r.n,
		     seen.n ? seen.text[0] : "none");
	for (unsigned i = 0; i < count && i < MAXW; i++)
		if (!same_kind(seen.text[i], &r.w[i]))
			fail("warning %u is '%s', the reference's is %c for %s", i, seen.text[i],
			     r.w[i].kind, r.w[i].kind == 'b' ? ref[r.w[i].key].key : "-");
	if (memcmp(&got, &want, sizeof got) != 0) {
		for (size_t i = 0; i < hw_options_count(); i++) {
			char a[HW_OPTIONS_VALUE_MAX + 1], b[HW_OPTIONS_VALUE_MAX + 1];
			hw_options_value(&got, i, a, sizeof a);
			hw_options_value(&want, i, b, sizeof b);
			if (strcmp(a, b) != 0)
				fail("%s is '%.80s', the reference's '%.80s'", hw_options_key(i), a,
				     b);
		}
		fail("the structs differ in bytes no value shows");
	}

	/* OF3. */
	static char text[HW_OPTIONS_FORMAT_MAX];
	size_t tn = hw_options_format(&got, text, sizeof text);
	if (tn == 0 || tn != strlen(text))
		fail("hw_options_format gave %zu bytes", tn);
	memcpy(&again, &defaults, sizeof again);
	seen.n = 0;
	if (hw_options_parse(text, &again, on_warning, &seen) != 0)
		fail("the round trip warns: %s", seen.text[0]);
	if (memcmp(&again, &got, sizeof got) != 0)
		fail("the round trip of '%.300s' changed the options", text);

	/* OF4. */
	if (got.help) {
		help_sink h = {0};
		hw_options_help(&got, on_help, &h);
		if (h.lines != 1 + hw_options_count())
			fail("help wrote %u lines", h.lines);
	}
	free(s);
	return 0;
}

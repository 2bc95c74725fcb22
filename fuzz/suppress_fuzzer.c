/* suppress_fuzzer.c: the leak suppressions' parser and template match
 * (src/malloc/suppress.h) against a second parser and a second match
 * written another way.
 *
 * Owns: the reference parser (the file's text cut into lines with memchr,
 * each trimmed with strspn-style loops and classified), the reference match
 * (a dynamic-programming table over the template and the string, with the
 * anchors turned into '*'s: a different algorithm from suppress.c's
 * leftmost pieces), and the checks of one input. The input is the
 * suppressions file's text, every byte of it (NUL and '\r' included).
 *
 * Invariants (each input):
 *   SF1. hw_supp_parse and the reference give the same rules (bytes and
 *        lengths, in order, counts zero) and the same warnings: as many,
 *        at the same line numbers.
 *   SF2. Every warning line is shorter than HW_SUPP_LINE_MAX - 1 (never
 *        cut), printable ASCII only, and starts with "heapward:
 *        suppressions file <name>, line N: " (suppress.h SU2).
 *   SF3. For the first SF_RULES rules of at most SF_LEN bytes, and each of
 *        the input's first SF_STRINGS lines (cut at SF_LEN bytes and at a
 *        NUL) and each rule's own text: hw_supp_match equals the
 *        reference.
 *   A failed check prints a sanitizer-style report and aborts.
 *
 * Locking: none.
 */
#include "fuzz.h"
#include "harness.h"

#include "suppress.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXR 256
#define MAXW 64
#define SF_RULES 16
#define SF_STRINGS 16
#define SF_LEN 128
#define NAME "fuzz.supp"

#define fail(...) hw_harness_failf("suppress", __VA_ARGS__)

/* ---- the reference parser ---- */

typedef struct ref_rule {
	size_t at, len; /* the template, as an offset into the input */
} ref_rule;

typedef struct ref_result {
	ref_rule r[MAXR];
	size_t nr;
	size_t warn_line[MAXW];
	size_t nw;
} ref_result;

static bool is_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r'; }

static void ref_warn(ref_result *out, size_t line)
{
	if (out->nw < MAXW)
		out->warn_line[out->nw] = line;
	out->nw++;
}

static void ref_parse(const char *text, size_t len, size_t max, ref_result *out)
{
	size_t line = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		line++;
		const char *a = p, *b = e;
		p = nl ? nl + 1 : end;
		while (a < b && is_blank((unsigned char)*a))
			a++;
		while (b > a && is_blank((unsigned char)b[-1]))
			b--;
		if (a == b || *a == '#')
			continue;
		if (b - a < 5 || strncmp(a, "leak:", 5) != 0) {
			ref_warn(out, line);
			continue;
		}
		a += 5;
		while (a < b && is_blank((unsigned char)*a))
			a++;
		if (a == b || out->nr == max) {
			ref_warn(out, line);
			continue;
		}
		out->r[out->nr].at = (size_t)(a - text);
		out->r[out->nr].len = (size_t)(b - a);
		out->nr++;
	}
}

/* ---- the reference match ---- */

/* Whether the glob g[0, gn) ('*' any run, every other byte itself) matches
 * all of s[0, sn): the table of which suffixes match, filled from the
 * ends. */
static bool dp_glob(const char *g, size_t gn, const char *s, size_t sn)
{
	static bool m[SF_LEN + 3][SF_LEN + 1];
	for (size_t i = gn + 1; i-- > 0;)
		for (size_t j = sn + 1; j-- > 0;) {
			if (i == gn)
				m[i][j] = j == sn;
			else if (g[i] == '*')
				m[i][j] = m[i + 1][j] || (j < sn && m[i][j + 1]);
			else
				m[i][j] = j < sn && g[i] == s[j] && m[i + 1][j + 1];
		}
	return m[0][0];
}

static bool ref_match(const char *t, size_t n, const char *s)
{
	size_t sn = strlen(s);
	if (sn == 0)
		return false;
	char g[SF_LEN + 3];
	size_t k = 0;
	if (n > 0 && t[0] == '^')
		t++, n--;
	else
		g[k++] = '*';
	bool end = n > 0 && t[n - 1] == '$';
	memcpy(g + k, t, end ? n - 1 : n);
	k += end ? n - 1 : n;
	if (!end)
		g[k++] = '*';
	return dp_glob(g, k, s, sn);
}

/* ---- the checks ---- */

typedef struct warns {
	size_t n;
	char text[MAXW][HW_SUPP_LINE_MAX];
} warns;

static void on_warning(void *arg, const char *line)
{
	warns *w = arg;
	size_t n = strlen(line);
	if (n >= HW_SUPP_LINE_MAX - 1)
		fail("a warning of %zu bytes: it may have been cut", n);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
			fail("warning byte %zu is 0x%02x: %.200s", i, (unsigned char)line[i], line);
	if (w->n < MAXW)
		memcpy(w->text[w->n], line, n + 1);
	w->n++;
}

/* Line number of warning text (SF2's prefix), or 0 when it has none. */
static size_t line_of(const char *text)
{
	static const char head[] = "heapward: suppressions file " NAME ", line ";
	if (strncmp(text, head, sizeof head - 1) != 0)
		return 0;
	char *end;
	unsigned long long v = strtoull(text + sizeof head - 1, &end, 10);
	return strncmp(end, ": ", 2) == 0 ? (size_t)v : 0;
}

static void check_match(const hw_supp_rule *r, const char *s)
{
	bool got = hw_supp_match(r->templ, r->len, s), want = ref_match(r->templ, r->len, s);
	if (got != want)
		fail("template '%.*s' on '%s': %d, the reference %d", (int)r->len, r->templ, s, got,
		     want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: a read past the end is caught. */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	static hw_supp_rule got[MAXR];
	static warns w;
	static ref_result want;
	w.n = 0;
	memset(&want, 0, sizeof want);
	/* A small maximum sometimes, so "too many rules" is reached. */
	size_t max = size % 7 == 0 ? 2 : MAXR;
	size_t n = hw_supp_parse(text, size, NAME, got, max, on_warning, &w);
	ref_parse(text, size, max, &want);

	/* SF1. */
	if (n != want.nr)
		fail("%zu rules, the reference %zu", n, want.nr);
	for (size_t i = 0; i < n; i++)
		if (got[i].templ != text + want.r[i].at || got[i].len != want.r[i].len ||
		    got[i].count || got[i].bytes)
			fail("rule %zu is %zu bytes at offset %zd, the reference's %zu at %zu", i,
			     got[i].len, got[i].templ - text, want.r[i].len, want.r[i].at);
	if (w.n != want.nw)
		fail("%zu warnings, the reference %zu (first: %.200s)", w.n, want.nw,
		     w.n ? w.text[0] : "none");
	/* SF2. */
	for (size_t i = 0; i < w.n && i < MAXW; i++)
		if (line_of(w.text[i]) != want.warn_line[i])
			fail("warning %zu is '%.200s', the reference's is for line %zu", i,
			     w.text[i], want.warn_line[i]);

	/* SF3. */
	char strings[SF_STRINGS][SF_LEN + 1];
	size_t ns = 0;
	for (size_t at = 0; at < size && ns < SF_STRINGS; ns++) {
		const char *nl = memchr(text + at, '\n', size - at);
		size_t len = (nl ? (size_t)(nl - text) : size) - at;
		size_t k = strnlen(text + at, len < SF_LEN ? len : SF_LEN);
		memcpy(strings[ns], text + at, k);
		strings[ns][k] = '\0';
		at += len + 1;
	}
	for (size_t i = 0; i < n && i < SF_RULES; i++) {
		if (got[i].len > SF_LEN)
			continue;
		for (size_t j = 0; j < ns; j++)
			check_match(&got[i], strings[j]);
		char own[SF_LEN + 1];
		size_t k = strnlen(got[i].templ, got[i].len);
		memcpy(own, got[i].templ, k);
		own[k] = '\0';
		check_match(&got[i], own);
	}
	free(text);
	return 0;
}

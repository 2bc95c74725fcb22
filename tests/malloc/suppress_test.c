/* suppress_test.c: the leak suppressions' parser and template match
 * (src/malloc/suppress.h).
 *
 * Owns: hand-written cases for the match (pieces, anchors, empty strings,
 * odd bytes), an exhaustive comparison of the match with a second one
 * written here independently (every template and string over a small
 * alphabet), the parser's rules and warnings, line by line, and the file's
 * life in the layer (debug_suppress.c: loaded at start, given back at the
 * layer's reset).
 *
 * Invariants:
 *   SX1. The reference match (ref_match) shares no code with the one under
 *        test: it is the textbook recursive glob, on NUL-terminated copies,
 *        with the anchors turned into its own terms (an unanchored
 *        template is "*t*").
 *   SX2. Expected rules and warning lines are written out by hand.
 *
 * Locking: single-threaded.
 */
#include "check.h"
#include "debug.h"
#include "heapward.h"
#include "sim.h"
#include "suppress.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool match(const char *t, const char *s) { return hw_supp_match(t, strlen(t), s); }

static void test_match_cases(void)
{
	/* A template occurs anywhere in the string. */
	EXPECT(match("alloc", "my_alloc_fn"));
	EXPECT(match("my_alloc_fn", "my_alloc_fn"));
	EXPECT(!match("allocs", "my_alloc_fn"));
	EXPECT(!match("x", "my_alloc_fn"));
	/* '*' matches any run, none included. */
	EXPECT(match("my*fn", "my_alloc_fn"));
	EXPECT(match("my*_*fn", "my_alloc_fn"));
	EXPECT(match("alloc*", "alloc"));
	EXPECT(match("*", "anything"));
	EXPECT(match("**", "a"));
	EXPECT(!match("fn*my", "my_alloc_fn"));
	/* Pieces in order, not overlapping. */
	EXPECT(!match("aa*aa", "aaa"));
	EXPECT(match("aa*aa", "aaaa"));
	/* ^ anchors at the start, $ at the end. */
	EXPECT(match("^my", "my_alloc_fn"));
	EXPECT(!match("^alloc", "my_alloc_fn"));
	EXPECT(match("fn$", "my_alloc_fn"));
	EXPECT(!match("alloc$", "my_alloc_fn"));
	EXPECT(match("^my_alloc_fn$", "my_alloc_fn"));
	EXPECT(!match("^my_alloc$", "my_alloc_fn"));
	EXPECT(!match("^my_alloc_fn$", "xmy_alloc_fn"));
	EXPECT(match("^my*fn$", "my_alloc_fn"));
	EXPECT(!match("^my*alloc$", "my_alloc_fn"));
	/* The end anchor takes the last occurrence, after the other pieces. */
	EXPECT(match("foo$", "foofoo"));
	EXPECT(match("^foo*foo$", "foofoo"));
	EXPECT(!match("^foo*foo$", "foo"));
	EXPECT(match("a*b$", "abab"));
	/* Anchors alone, and anchors as plain bytes elsewhere. */
	EXPECT(match("^", "x"));
	EXPECT(match("$", "x"));
	EXPECT(match("^$", "") == false);
	EXPECT(match("a^b", "xa^by"));
	EXPECT(match("a$b", "a$b"));
	/* An empty string (an unnamed frame) matches nothing. */
	EXPECT(!match("*", ""));
	EXPECT(!match("x", ""));
	/* Other bytes are themselves, C++ names and paths included. */
	EXPECT(match("std::vector<int*>::push_back",
		     "std::vector<int, std::allocator<int> >::push_back"));
	EXPECT(match("libfoo.so", "/usr/lib/x86_64-linux-gnu/libfoo.so.1"));
	EXPECT(match("/third_party/", "/src/third_party/zlib/inflate.c"));
	EXPECT(hw_supp_match("a\0b", 3, "a") == false);
	EXPECT(hw_supp_match("\xff", 1, "x\xffy"));
}

/* SX1: the textbook recursive glob: whole t against whole s. */
static bool glob(const char *t, const char *s)
{
	if (!*t)
		return !*s;
	if (*t == '*')
		return glob(t + 1, s) || (*s && glob(t, s + 1));
	return *s && *s == *t && glob(t + 1, s + 1);
}

static bool ref_match(const char *t, const char *s)
{
	if (!*s)
		return false;
	char g[64];
	size_t n = strlen(t), k = 0;
	bool start = n && t[0] == '^';
	if (start)
		t++, n--;
	bool end = n && t[n - 1] == '$';
	if (end)
		n--;
	if (!start)
		g[k++] = '*';
	memcpy(g + k, t, n);
	k += n;
	if (!end)
		g[k++] = '*';
	g[k] = '\0';
	return glob(g, s);
}

/* Every string over alphabet of length 0 to max, in turn. */
static bool next_string(char *s, size_t max, const char *alphabet)
{
	size_t n = strlen(s), a = strlen(alphabet);
	for (size_t i = n; i-- > 0;) {
		const char *c = strchr(alphabet, s[i]);
		if ((size_t)(c - alphabet) + 1 < a) {
			s[i] = c[1];
			for (size_t j = i + 1; j < n; j++)
				s[j] = alphabet[0];
			return true;
		}
	}
	if (n == max)
		return false;
	for (size_t j = 0; j <= n; j++)
		s[j] = alphabet[0];
	s[n + 1] = '\0';
	return true;
}

static void test_match_exhaustive(void)
{
	/* Templates of up to 5 bytes over {a, b, *, ^, $} (anchors inside are
	 * plain bytes) against strings of up to 5 over {a, b, ^, $}. */
	char t[8] = "", s[8];
	size_t pairs = 0, yes = 0, bad = 0;
	do {
		s[0] = '\0';
		do {
			bool want = ref_match(t, s), got = match(t, s);
			pairs++;
			yes += want;
			if (want != got && bad++ < 5)
				EXPECT(false, "template '%s' on '%s': %d, reference %d", t, s, got,
				       want);
		} while (next_string(s, 5, "ab^$"));
	} while (next_string(t, 5, "ab*^$"));
	EXPECT(bad == 0, "%zu of %zu pairs differ", bad, pairs);
	/* Both answers occur often: the comparison means something. */
	EXPECT(yes > pairs / 20 && yes < pairs - pairs / 20, "%zu of %zu match", yes, pairs);
}

typedef struct seen {
	unsigned n;
	char line[8][HW_SUPP_LINE_MAX];
	size_t longest;
} seen;

static void collect(void *arg, const char *line)
{
	seen *w = arg;
	size_t n = strlen(line);
	if (n > w->longest)
		w->longest = n;
	if (w->n < 8)
		strcpy(w->line[w->n], line);
	w->n++;
}

static bool rule_is(const hw_supp_rule *r, const char *templ)
{
	return r->len == strlen(templ) && memcmp(r->templ, templ, r->len) == 0 && r->count == 0 &&
	       r->bytes == 0;
}

static void test_parse(void)
{
	static const char text[] = "# known leaks\n"
				   "\n"
				   "leak:libfontconfig.so\n"
				   "   leak:  ^g_type_register_*$  \r\n"
				   "\t\n"
				   "  # indented comment\n"
				   "leak\n"
				   "interceptor_via_fun:foo\n"
				   "leak:\n"
				   "leak:   \n"
				   "Leak:x\n"
				   "leak:last_without_newline";
	hw_supp_rule r[8];
	seen w = {0};
	size_t n = hw_supp_parse(text, sizeof text - 1, "/etc/s.supp", r, 8, collect, &w);
	REQUIRE(n == 3, "%zu rules", n);
	EXPECT(rule_is(&r[0], "libfontconfig.so"));
	EXPECT(rule_is(&r[1], "^g_type_register_*$"));
	EXPECT(rule_is(&r[2], "last_without_newline"));
	REQUIRE(w.n == 5, "%u warnings", w.n);
	EXPECT(strcmp(w.line[0], "heapward: suppressions file /etc/s.supp, line 7: not a "
				 "leak:<template> rule: 'leak' (ignored)") == 0,
	       "%s", w.line[0]);
	EXPECT(strcmp(w.line[1], "heapward: suppressions file /etc/s.supp, line 8: not a "
				 "leak:<template> rule: 'interceptor_via_fun:foo' (ignored)") == 0,
	       "%s", w.line[1]);
	EXPECT(strcmp(w.line[2], "heapward: suppressions file /etc/s.supp, line 9: an empty "
				 "template would suppress every leak: 'leak:' (ignored)") == 0,
	       "%s", w.line[2]);
	EXPECT(strstr(w.line[3], "line 10: an empty template") != NULL, "%s", w.line[3]);
	EXPECT(strstr(w.line[4], "line 11: not a leak:<template> rule: 'Leak:x'") != NULL, "%s",
	       w.line[4]);
	/* No warning callback: the same rules. */
	EXPECT(hw_supp_parse(text, sizeof text - 1, "f", r, 8, NULL, NULL) == 3);
	/* Empty text, and only blanks and comments. */
	EXPECT(hw_supp_parse("", 0, "f", r, 8, collect, &w) == 0);
	EXPECT(hw_supp_parse("\n\n  #x\n", 7, "f", r, 8, collect, &w) == 0 && w.n == 5);
}

static void test_parse_limits(void)
{
	/* Past max rules: one warning per rule left out. */
	static const char text[] = "leak:a\nleak:b\nleak:c\nleak:d\n";
	hw_supp_rule r[2];
	seen w = {0};
	EXPECT(hw_supp_parse(text, sizeof text - 1, "f", r, 2, collect, &w) == 2);
	EXPECT(rule_is(&r[0], "a") && rule_is(&r[1], "b"));
	EXPECT(w.n == 2 && strstr(w.line[0], "line 3: too many rules: 'leak:c'") != NULL, "%u %s",
	       w.n, w.line[0]);
	/* A long line with odd bytes: quoted, escaped and cut. */
	char line[1000];
	memset(line, 'x', sizeof line);
	line[0] = '\x01';
	line[1] = '\'';
	seen v = {0};
	EXPECT(hw_supp_parse(line, sizeof line, "a name", r, 2, collect, &v) == 0);
	EXPECT(v.n == 1 && v.longest < HW_SUPP_LINE_MAX - 1, "%u %zu", v.n, v.longest);
	EXPECT(strstr(v.line[0], "line 1: not a leak:<template> rule: '\\x01\\'xxx") != NULL &&
		       strstr(v.line[0], "xxx...' (ignored)") != NULL,
	       "%s", v.line[0]);
	/* The longest warning: a long name and a line of bytes that escape to
	 * four each (a NUL, a byte over 0x7e) is whole, and ends as it must. */
	char name[HW_SUPP_NAME_MAX + 2], zeros[100] = {0};
	memset(name, '\x80', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	seen z = {0};
	EXPECT(hw_supp_parse(zeros, sizeof zeros, name, r, 2, collect, &z) == 0);
	static const char tail[] = "\\x00...' (ignored)";
	size_t zn = strlen(z.line[0]);
	EXPECT(z.n == 1 && zn < HW_SUPP_LINE_MAX - 1 &&
		       strcmp(z.line[0] + zn - (sizeof tail - 1), tail) == 0,
	       "%u %zu %s", z.n, zn, z.line[0]);
	EXPECT(strstr(z.line[0], "\\x80...") != NULL, "%s", z.line[0]);
	/* A NUL inside the text is a byte like any other. */
	static const char nul[] = "leak:a\0b\nleak:c";
	EXPECT(hw_supp_parse(nul, sizeof nul - 1, "f", r, 2, NULL, NULL) == 2);
	EXPECT(r[0].len == 3 && memcmp(r[0].templ, "a\0b", 3) == 0);
}

/* The file's memory is the platform's while the layer runs, and goes back
 * with the layer (debug_suppress.c SS2; malloc.c MA8). */
static void test_layer_reset_gives_it_back(void)
{
	FILE *f = fopen("hw_suppress_test.supp", "w");
	REQUIRE(f != NULL);
	fputs("leak:one\nleak:two\n", f);
	fclose(f);
	hw_sim_config sc = {.backing_bytes = (size_t)64 << 20, .released_reads_zero = true};
	hw_platform *pf = hw_platform_sim_create(&sc);
	REQUIRE(pf != NULL);
	mc_start_config c = {.platform = pf,
			     .options = "debug=1:scavenger=0:suppressions=hw_suppress_test.supp",
			     .arena_size = (size_t)4 << 20,
			     .address_space = (size_t)1 << 30};
	hw_mc_reset(&c);
	hw_free(hw_malloc(1));
	hw_supp_rule *r;
	EXPECT(hw_mc_suppress_rules(&r) == 2 && rule_is(&r[1], "two"));
	hw_mc_reset(NULL);
	EXPECT(pf->owned == 0, "the layer left %zu bytes", pf->owned);
	EXPECT(hw_mc_suppress_rules(&r) == 0);
	hw_platform_destroy(pf);
	remove("hw_suppress_test.supp");
}

static const hw_test tests[] = {
	T(test_match_cases),
	T(test_match_exhaustive),
	T(test_parse),
	T(test_parse_limits),
	T(test_layer_reset_gives_it_back),
};

int main(int argc, char **argv)
{
	return hw_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
}

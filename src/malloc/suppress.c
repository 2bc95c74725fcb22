/* suppress.c: the suppressions file's parser and the template match.
 *
 * Owns: hw_supp_parse and hw_supp_match (suppress.h, SU1-SU3). How they
 * hold here:
 *   - The parser walks the text once, line by line; a rule keeps a pointer
 *     into the text and its length, trimmed. Warnings are formatted into a
 *     stack buffer of HW_SUPP_LINE_MAX bytes, with the file's name and the
 *     line escaped and cut (hw_report_quote), which keeps the longest one
 *     below the buffer (suppress.h says how it is sized).
 *   - The match cuts the template at its '*' into pieces and finds them in
 *     the string in order, each at its leftmost place after the one before
 *     (the leftmost place leaves the most room for the rest, so no other
 *     choice can succeed where it fails); with '^' the first piece must
 *     start the string, with '$' the last must end it.
 *
 * Locking: none (suppress.h).
 */
#include "suppress.h"

#include "base.h"

#include <string.h>

_Static_assert(HW_SUPP_LINE_MAX <= HW_REPORT_LINE_MAX, "a warning fits hw_report_line");

/* ---- the match ---- */

/* Whether s[0, n) equals p[0, n); s has at least n bytes. */
static bool same(const char *s, const char *p, size_t n)
{
	return n == 0 || memcmp(s, p, n) == 0;
}

/* Where p[0, n) first occurs in s[from, slen), as an offset; slen + 1 when
 * it does not. */
static size_t find(const char *s, size_t slen, size_t from, const char *p, size_t n)
{
	for (size_t i = from; i + n <= slen; i++)
		if (same(s + i, p, n))
			return i;
	return slen + 1;
}

bool hw_supp_match(const char *t, size_t len, const char *s)
{
	if (!s[0])
		return false;
	bool start = len > 0 && t[0] == '^';
	if (start)
		t++, len--;
	bool end = len > 0 && t[len - 1] == '$';
	if (end)
		len--;
	size_t slen = strlen(s), pos = 0;
	for (size_t i = 0;;) {
		size_t j = i;
		while (j < len && t[j] != '*')
			j++;
		const char *piece = t + i;
		size_t n = j - i;
		bool first = i == 0, last = j == len;
		if (last && end) {
			/* The last piece ends the string, after the pieces before
			 * it (and is the string itself when it is also the first,
			 * anchored at the start). */
			if (slen - pos < n || (first && start && slen != n))
				return false;
			return same(s + slen - n, piece, n);
		}
		if (first && start) {
			if (slen < n || !same(s, piece, n))
				return false;
			pos = n;
		} else {
			size_t at = find(s, slen, pos, piece, n);
			if (at > slen)
				return false;
			pos = at + n;
		}
		if (last)
			return true;
		i = j + 1;
	}
}

/* ---- the parser ---- */

static bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static void warn_line(hw_supp_warn_fn warn, void *arg, const char *name, size_t no,
		      const char *what, const char *line, size_t n)
{
	if (!warn)
		return;
	char q[HW_REPORT_QUOTE_BUF(HW_SUPP_QUOTE_MAX)];
	char file[HW_REPORT_QUOTE_BUF(HW_SUPP_NAME_MAX)];
	char out[HW_SUPP_LINE_MAX];
	hw_report_quote(line, n, HW_SUPP_QUOTE_MAX, q);
	hw_report_quote(name, strlen(name), HW_SUPP_NAME_MAX, file);
	hw_report_format(out, sizeof out,
			 "heapward: suppressions file %s, line %zu: %s: '%s' (ignored)", file, no,
			 what, q);
	warn(arg, out);
}

size_t hw_supp_parse(const char *text, size_t len, const char *name, hw_supp_rule *rules,
		     size_t max, hw_supp_warn_fn warn, void *arg)
{
	static const char kind[] = "leak:";
	const size_t kn = sizeof kind - 1;
	size_t count = 0, no = 0;
	for (size_t at = 0; at < len;) {
		size_t eol = at;
		while (eol < len && text[eol] != '\n')
			eol++;
		const char *line = text + at;
		size_t n = eol - at;
		at = eol + 1;
		no++;
		while (n > 0 && blank(line[0]))
			line++, n--;
		while (n > 0 && blank(line[n - 1]))
			n--;
		if (n == 0 || line[0] == '#')
			continue;
		if (n < kn || memcmp(line, kind, kn) != 0) {
			warn_line(warn, arg, name, no, "not a leak:<template> rule", line, n);
			continue;
		}
		const char *t = line + kn;
		size_t tn = n - kn;
		while (tn > 0 && blank(t[0]))
			t++, tn--;
		if (tn == 0) {
			warn_line(warn, arg, name, no,
				  "an empty template would suppress every leak", line, n);
			continue;
		}
		if (count == max) {
			warn_line(warn, arg, name, no, "too many rules", line, n);
			continue;
		}
		rules[count++] = (hw_supp_rule){t, tn, 0, 0};
	}
	return count;
}

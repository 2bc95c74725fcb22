/* suppress.h: leak suppressions, in LeakSanitizer's file format, so that a
 * test harness can accept the leaks it knows of (a library's, a runtime's)
 * and still fail on new ones.
 *
 * Owns: parsing a suppressions file's text into rules, and matching a
 * rule's template against a string (a frame's function, source file or
 * module). debug_report.c applies the rules to the leak report; debug.c
 * reads the file (the `suppressions` option).
 *
 * The format (docs/debug-mode.md says the same, for users):
 *   - One rule per line, "leak:<template>". Space and tab around the rule
 *     and around the template are ignored; so are blank lines and lines
 *     whose first other byte is '#'. Lines end at '\n' ("\r\n" too).
 *   - A template matches a string when it occurs in it: '*' matches any run
 *     of bytes (none included), a '^' first anchors it at the string's
 *     start and a '$' last at its end; every other byte matches itself.
 *     An empty string (a frame the symbolizer did not name) matches
 *     nothing.
 *
 * Invariants:
 *   SU1. Pure: no allocation, no OS call, no global state. Rules point into
 *        the caller's text, which must outlive them.
 *   SU2. Every line that is not blank, a comment or a rule with a non-empty
 *        template ("leak:" alone would match every leak) gets exactly one
 *        warning naming its line number, and is ignored; so does every rule
 *        past the caller's maximum. A warning quotes the file's name (at
 *        most HW_SUPP_NAME_MAX bytes of it) and at most HW_SUPP_QUOTE_MAX
 *        bytes of the line, both escaped (hw_report_quote: printable ASCII
 *        only), and is shorter than HW_SUPP_LINE_MAX whatever the bytes.
 *   SU3. hw_supp_match is total and linear in the template's length times
 *        the string's: no recursion, any bytes in either.
 *
 * Locking: none; every function works on caller storage.
 */
#ifndef HW_MALLOC_SUPPRESS_H
#define HW_MALLOC_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>

#define HW_SUPP_NAME_MAX 255
#define HW_SUPP_QUOTE_MAX 60
/* The fixed text (51 bytes), a line number (20 digits), the longest reason
 * (43), and both quotes, each byte escaped to at most 4, with "...". */
#define HW_SUPP_LINE_MAX (160 + 4 * (HW_SUPP_NAME_MAX + HW_SUPP_QUOTE_MAX) + 8)

/* One rule: its template (not NUL-terminated) and what it suppressed. */
typedef struct hw_supp_rule {
	const char *templ;
	size_t len;
	size_t count, bytes; /* leaked objects and bytes it suppressed */
} hw_supp_rule;

/* Receives one warning line (SU2), without a newline. */
typedef void (*hw_supp_warn_fn)(void *arg, const char *line);

/* The rules of text[0, len), at most max into rules (counts zero); returns
 * how many. name is the file's name, for the warnings; warn may be NULL. */
size_t hw_supp_parse(const char *text, size_t len, const char *name, hw_supp_rule *rules,
		     size_t max, hw_supp_warn_fn warn, void *arg);

/* Whether the template templ[0, len) matches the NUL-terminated s. */
bool hw_supp_match(const char *templ, size_t len, const char *s);

#endif

/* debug_suppress.c: the leak suppressions in effect (the `suppressions`
 * option), read once when the debug mode starts.
 *
 * Owns: the file's text and its rules (suppress.h parses them), both in
 * memory from the platform; hw_mc_suppress_load/reset/rule/rules.
 * debug_report.c applies them to the leak report.
 *
 * Invariants:
 *   SS1. A file that cannot be read (missing, unreadable, a directory, over
 *        SS_FILE_MAX bytes) gets one warning saying so and suppresses
 *        nothing: every leak is still reported. Each bad line gets its own
 *        warning (suppress.h SU2); the good ones apply.
 *   SS2. Loaded at most once per start of the layer, before any leak check
 *        can run (hw_mc_debug_start), and given back only by
 *        hw_mc_suppress_reset (the layer's reset, malloc.c MA8: the
 *        platform gets every byte back); a child of fork keeps them. The
 *        rules' counts change only in the leak report, under its lock.
 *
 * Locking: none of its own (SS2).
 */
#include "debug.h"

#include "file.h"
#include "suppress.h"

#include <errno.h>

#define SS_FILE_MAX ((size_t)1 << 20)

static char *text;          /* SS_FILE_MAX bytes from the platform */
static hw_supp_rule *rules; /* rules_bytes from the platform */
static size_t nrules, rules_bytes;

/* Why rc stopped the read, in words (buf: for an errno without them). */
static const char *why(int rc, char *buf, size_t len)
{
	switch (rc) {
	case ENOENT:
		return "no such file";
	case EACCES:
		return "permission denied";
	case EISDIR:
		return "it is a directory";
	case EFBIG:
		return "it is larger than 1 MiB";
	case ENOMEM:
		return "out of memory";
	default:
		hw_report_format(buf, len, "errno %d", rc);
		return buf;
	}
}

static void warn(void *arg, const char *line)
{
	(void)arg;
	hw_report_line(line);
}

/* Reads path into text and parses it; 0, or why not (an errno value). */
static int load(const char *path)
{
	void *t, *r;
	if (hw_sys_alloc(hw_mc_g.pf, SS_FILE_MAX, &t) != 0)
		return ENOMEM;
	size_t len;
	int rc = hw_file_read(path, t, SS_FILE_MAX, &len);
	if (rc != 0) {
		hw_sys_release(hw_mc_g.pf, t, SS_FILE_MAX);
		return rc;
	}
	/* At most one rule per line. */
	size_t lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += ((const char *)t)[i] == '\n';
	size_t bytes = hw_align_up(lines * sizeof *rules, hw_mc_g.pf->caps.page_size);
	if (hw_sys_alloc(hw_mc_g.pf, bytes, &r) != 0) {
		hw_sys_release(hw_mc_g.pf, t, SS_FILE_MAX);
		return ENOMEM;
	}
	text = t;
	rules = r;
	rules_bytes = bytes;
	nrules = hw_supp_parse(text, len, path, rules, lines, warn, NULL);
	return 0;
}

void hw_mc_suppress_load(const char *path)
{
	if (text || !path[0])
		return;
	int rc = load(path);
	if (rc != 0) {
		char buf[32];
		hw_report_write("heapward: cannot read suppressions file %s: %s (no leak is "
				"suppressed)\n",
				path, why(rc, buf, sizeof buf));
	}
}

void hw_mc_suppress_reset(void)
{
	if (!text)
		return;
	hw_sys_release(hw_mc_g.pf, rules, rules_bytes);
	hw_sys_release(hw_mc_g.pf, text, SS_FILE_MAX);
	text = NULL;
	rules = NULL;
	nrules = rules_bytes = 0;
}

size_t hw_mc_suppress_rules(hw_supp_rule **out)
{
	*out = rules;
	return nrules;
}

int hw_mc_suppress_rule(const char *module, const char *function, const char *file)
{
	for (size_t i = 0; i < nrules; i++) {
		const hw_supp_rule *r = &rules[i];
		if ((module && hw_supp_match(r->templ, r->len, module)) ||
		    (function && hw_supp_match(r->templ, r->len, function)) ||
		    (file && hw_supp_match(r->templ, r->len, file)))
			return (int)i;
	}
	return -1;
}

/* options.h: HEAPWARD_OPTIONS, the malloc layer's one configuration string.
 *
 * Owns: hw_options (every setting, with fixed-size storage only), its
 * defaults, the parser, and the read-only view of the option table that
 * drives parsing, help=1 and docs/options.md (tests/malloc/options_test.c
 * checks that the document lists exactly the table's keys and defaults).
 *
 * The grammar (docs/options.md says the same, for users):
 *   - A string of pairs `key=value` separated by ',' or ':'. A ':' that is
 *     immediately followed by a digit 0-9 does not separate: it belongs to
 *     the value (`guard=sample:100:seed=7` is two pairs; no key starts with a
 *     digit).
 *   - Space, tab, CR and LF before and after a key and before and after a
 *     value are ignored; inside a value they are kept. Empty pairs (two
 *     separators in a row, a separator at either end, only whitespace) are
 *     skipped without a warning.
 *   - A pair is split at its first '='. Keys are matched exactly
 *     (lower case). A value is at most HW_OPTIONS_VALUE_MAX bytes.
 *   - Numbers are decimal or 0x/0X hex, no sign; byte counts take an optional
 *     suffix k, m or g (K, M, G: the same), KiB, MiB and GiB. A value that
 *     does not fit its type (overflow included) is a bad value.
 *   - Booleans are 0, 1, true, false, yes, no, on, off (lower case).
 *   - The last valid pair for a key wins. An unknown key, a pair without
 *     '=' or a bad value makes one warning line and changes nothing: the
 *     field keeps the value it had (its default unless an earlier pair set
 *     it).
 *
 * Invariants:
 *   OP1. hw_options_parse is a pure function of (s, *out): no allocation, no
 *        stdio, no global state, no OS call; its only output besides *out is
 *        the warning callback. It never reads past the NUL of s.
 *   OP2. Work is linear in strlen(s), of any length: each byte is looked at
 *        a bounded number of times, whatever the input.
 *   OP3. Exactly one warning per unknown key, pair without '=' and bad
 *        value; its problem names the key and quotes the offending text
 *        (escaped: printable ASCII only, at most HW_OPTIONS_QUOTE_MAX source
 *        bytes then "..."), its consequence is "ignored" or "kept <value>",
 *        and both are printable ASCII. Their line (hw_options_warning_line)
 *        is shorter than HW_OPTIONS_LINE_MAX and starts with
 *        "heapward: HEAPWARD_OPTIONS: ".
 *   OP4. A field changes only when a pair for its key has a valid value;
 *        then it holds exactly that value (a path field: the value then
 *        zero bytes to its end).
 *   OP5. hw_options_format writes a string that hw_options_parse turns back
 *        into an equal hw_options with no warning (round trip), and
 *        hw_options_value writes each value in the form the parser accepts.
 *
 * Locking: none; every function works on caller storage or read-only data.
 */
#ifndef HW_MALLOC_OPTIONS_H
#define HW_MALLOC_OPTIONS_H

#include "base.h"

/* The longest value the parser accepts, in bytes; a longer one is a bad
 * value. Also the longest path a path option holds. */
#define HW_OPTIONS_VALUE_MAX 255
/* A warning or help line, NUL included, is shorter than this. */
#define HW_OPTIONS_LINE_MAX 512
/* A warning quotes at most this many bytes of a key or value. */
#define HW_OPTIONS_QUOTE_MAX 40
/* hw_options_format never needs more than this, NUL included. */
#define HW_OPTIONS_FORMAT_MAX 2048
/* A fill option's "off". */
#define HW_OPTIONS_OFF (-1)

enum hw_options_guard { HW_OPT_GUARD_NONE,
			HW_OPT_GUARD_ALL,
			HW_OPT_GUARD_SAMPLE };
enum hw_options_side { HW_SIDE_RIGHT,
		       HW_SIDE_LEFT,
		       HW_SIDE_RANDOM };

/* Every setting; docs/options.md says what each one does. Set the defaults
 * with hw_options_defaults before parsing. */
typedef struct hw_options {
	int fill_on_alloc; /* HW_OPTIONS_OFF or a byte 0-255 */
	int fill_on_free;  /* HW_OPTIONS_OFF or a byte 0-255 */
	bool abort_on_error;
	bool alloc_dealloc_mismatch;
	bool free_size_mismatch;
	bool stats_at_exit;
	size_t memory_limit; /* bytes, 0 = none */
	bool scavenger;
	unsigned retain_percent;
	unsigned scavenger_cpu_percent;
	unsigned arenas; /* 0 = one per processor */
	bool help;
	unsigned verbosity;
	/* Debug mode (issue 13). */
	int guard;             /* enum hw_options_guard */
	unsigned guard_sample; /* N of guard=sample:N, else 0 */
	size_t guard_min;
	size_t guard_max; /* 0 = no maximum */
	int guard_side;   /* enum hw_options_side */
	unsigned guard_align;
	size_t guard_budget_bytes;
	uint64_t guard_budget_count;
	bool guard_regions; /* the kernel's guard regions where it has them */
	size_t quarantine_bytes;
	uint64_t seed;                               /* 0 = from the clock at start-up */
	char log_path[HW_OPTIONS_VALUE_MAX + 1];     /* "" = stderr */
	bool detect_leaks;                           /* also the key "leaks" */
	char suppressions[HW_OPTIONS_VALUE_MAX + 1]; /* "" = none */
	bool use_mappings;                           /* the program's own mappings are leak roots */
	unsigned exitcode;
	bool debug;                 /* stacks and sanitizer-layout reports */
	unsigned stack_depth;       /* frames recorded per stack */
	bool fast_unwind_on_malloc; /* allocation and free stacks by frame pointers */
	bool fast_unwind_on_fatal;  /* a fault's stack by frame pointers */
	bool symbolize;
	char symbolizer_path[HW_OPTIONS_VALUE_MAX + 1]; /* "" = search PATH */
} hw_options;

/* Receives one warning (OP3) in two parts: the problem ("unknown key 'x'")
 * and what the parser did about it ("ignored", "kept 0"). A caller that
 * prints the library's line passes both to hw_options_warning_line; one
 * with a context of its own (the launcher's command line) prints only the
 * problem. arg is the caller's. */
typedef void (*hw_options_warn_fn)(void *arg, const char *problem, const char *consequence);
/* Receives n bytes of output (help), whole lines ending in '\n'. */
typedef void (*hw_options_write_fn)(void *arg, const char *buf, size_t n);

/* Every field to its default. */
void hw_options_defaults(hw_options *out);

/* Applies the pairs of s, in order, to *out (OP1-OP4). s may be NULL (no
 * pairs); warn may be NULL (warnings are only counted). Returns the number
 * of warnings. */
unsigned hw_options_parse(const char *s, hw_options *out, hw_options_warn_fn warn, void *arg);

/* Parses HEAPWARD_OPTIONS from the process environment onto *out (which the
 * caller has set, usually to the defaults), without allocating: see
 * platform/env.h for when the environment can be read. Returns the number
 * of warnings. */
unsigned hw_options_load(hw_options *out, hw_options_warn_fn warn, void *arg);

/* Writes the library's warning line for (problem, consequence) into
 * buf[0..len), NUL-terminated and cut to fit: "heapward: HEAPWARD_OPTIONS:
 * <problem> (<consequence>)". Returns its length. For the parser's own
 * parts and a buffer of HW_OPTIONS_LINE_MAX, nothing is cut (OP3). */
size_t hw_options_warning_line(char *buf, size_t len, const char *problem,
			       const char *consequence);

/* A warn callback that writes the warning's line and a newline to the
 * process's error output (hw_console_write), in one write. */
void hw_options_warn_console(void *arg, const char *problem, const char *consequence);
/* A write callback that writes to the process's error output. */
void hw_options_write_console(void *arg, const char *buf, size_t n);

/* The option table, read-only, in its documented order: i from 0 to
 * hw_options_count() - 1. */
size_t hw_options_count(void);
const char *hw_options_key(size_t i);
/* One sentence on what the option does. */
const char *hw_options_help_text(size_t i);
/* What the option accepts ("a number from 1 to 100"), the words every bad
 * value warning for it uses; NUL-terminated, truncated to len. */
size_t hw_options_describe(size_t i, char *buf, size_t len);
/* Option i's value in o, in the form the parser accepts (OP5). */
size_t hw_options_value(const hw_options *o, size_t i, char *buf, size_t len);
/* Every option of o as one HEAPWARD_OPTIONS string, "key=value:..." (OP5);
 * returns the length, or 0 when len is too small (buf is then ""). */
size_t hw_options_format(const hw_options *o, char *buf, size_t len);
/* help=1: a header line, then one line per option with its value in o,
 * what it accepts, its default and what it does. */
void hw_options_help(const hw_options *o, hw_options_write_fn write, void *arg);

#endif

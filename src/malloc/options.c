/* options.c: the HEAPWARD_OPTIONS parser and the option table behind it.
 *
 * Owns: the option table (key, type, range, default, one sentence of help:
 * the one source for parsing, help=1 and docs/options.md), the parser, the
 * value formatter (the inverse of the parser) and the help output.
 *
 * Invariants: OP1-OP5 of options.h. How they hold here:
 *   - The parser walks the string once, cutting it into pairs at the
 *     separators (OP2); each pair is trimmed, split at its first '=', its
 *     key looked up among a fixed number of keys (a compare stops at the
 *     shorter string) and its value, once known to be at most
 *     HW_OPTIONS_VALUE_MAX bytes, parsed by the key's type.
 *   - Warnings are formatted with hw_report_format into a stack buffer of
 *     HW_OPTIONS_LINE_MAX bytes; quoted text is escaped and cut at
 *     HW_OPTIONS_QUOTE_MAX bytes, which keeps the longest warning well below
 *     the buffer (OP3; the fuzz target checks nothing is ever cut).
 *   - A value is parsed completely before its field is written (OP4).
 *
 * Locking: none (options.h).
 */
#include "options.h"

#include "base.h"
#include "env.h"

#include <stddef.h>
#include <string.h>

/* What a key takes, and how its field is stored. */
enum kind {
	K_BOOL,  /* bool */
	K_FILL,  /* int: HW_OPTIONS_OFF or 0-255 */
	K_UINT,  /* unsigned, min to max */
	K_POW2,  /* unsigned, a power of two from min to max */
	K_SIZE,  /* size_t, a byte count with an optional k/m/g suffix */
	K_U64,   /* uint64_t, min to max */
	K_ENUM,  /* int, an index into words */
	K_GUARD, /* int guard and unsigned guard_sample (the next field) */
	K_PATH,  /* char[HW_OPTIONS_VALUE_MAX + 1] */
};

typedef struct opt {
	const char *key;
	enum kind kind;
	size_t off; /* of the field in hw_options */
	uint64_t min, max, def;
	const char *const *words; /* K_ENUM: the names, by value */
	const char *help;
} opt;

/* The offset of field f, which must have type T (a compile error if not). */
#define AT(f, T) (offsetof(hw_options, f) + 0 * sizeof(_Generic(((hw_options *)0)->f, T : 1)))
/* K_FILL's default "off". */
#define DEF_OFF UINT64_MAX
#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)

static const char *const sides[] = {"right", "left", "random", NULL};

/* clang-format off */
static const opt table[] = {
	{"fill_on_alloc", K_FILL, AT(fill_on_alloc, int), 0, 255, DEF_OFF, NULL,
	 "Fill each new object with this byte (calloc's memory stays zero)."},
	{"fill_on_free", K_FILL, AT(fill_on_free, int), 0, 255, DEF_OFF, NULL,
	 "Fill each freed object with this byte."},
	{"abort_on_error", K_BOOL, AT(abort_on_error, bool), 0, 1, 1, NULL,
	 "On a heap error (double or invalid free, damaged canary): 1 reports and aborts, "
	 "0 reports and continues."},
	{"alloc_dealloc_mismatch", K_BOOL, AT(alloc_dealloc_mismatch, bool), 0, 1, 1, NULL,
	 "Report an object from malloc freed by an operator delete, or one from an operator "
	 "new freed by free or realloc (0: accept them, for a library that carries its own C++ "
	 "runtime, whose operator new calls malloc and whose operator delete calls free: "
	 "rust-lld's libLLVM does). Mismatches among the C++ forms are reported either way."},
	{"free_size_mismatch", K_BOOL, AT(free_size_mismatch, bool), 0, 1, 1, NULL,
	 "Report a free_sized or free_aligned_sized (C23) whose size is not the one allocated, "
	 "or whose alignment is not a power of two dividing the address (0: free as free does; "
	 "the object's family is still checked)."},
	{"stats_at_exit", K_BOOL, AT(stats_at_exit, bool), 0, 1, 0, NULL,
	 "Print the heap's statistics when the process exits."},
	{"memory_limit", K_SIZE, AT(memory_limit, size_t), 0, SIZE_MAX, 0, NULL,
	 "Soft cap on resident heap bytes (0: none): above it the heap returns free memory "
	 "to the OS before it grows."},
	{"scavenger", K_BOOL, AT(scavenger, bool), 0, 1, 1, NULL,
	 "Run the background scavenger, which returns free memory to the OS (a "
	 "single-threaded program gets it with its second thread, or once 32 MiB "
	 "of free memory wait for it, and loses it after a second idle)."},
	{"retain_percent", K_UINT, AT(retain_percent, unsigned), 1, 10000, 10, NULL,
	 "The scavengers' goal: resident bytes at most the bytes in use plus this percentage "
	 "of them."},
	{"scavenger_cpu_percent", K_UINT, AT(scavenger_cpu_percent, unsigned), 1, 100, 1, NULL,
	 "The background scavenger's CPU budget, in percent of one core."},
	{"arenas", K_UINT, AT(arenas, unsigned), 0, 64, 0, NULL,
	 "Sets of span lists; a thread refills its cache from the set of the processor it "
	 "runs on, for objects up to 1 KiB (larger ones share the first set) (0: one per "
	 "processor, at most 64)."},
	{"help", K_BOOL, AT(help, bool), 0, 1, 0, NULL,
	 "Print this table, with the values in effect, at start-up."},
	{"verbosity", K_UINT, AT(verbosity, unsigned), 0, 2, 0, NULL,
	 "0: warnings and errors only; 1: also the options in effect at start-up; 2: also "
	 "debug messages."},
	{"guard", K_GUARD, AT(guard, int), 0, UINT32_MAX, HW_OPT_GUARD_NONE, NULL,
	 "Which allocations get pages of their own against a guard page: none, all, or about "
	 "1 in N (sample:N); turns debug on."},
	{"guard_min", K_SIZE, AT(guard_min, size_t), 0, SIZE_MAX, 0, NULL,
	 "Guard only allocations of at least this many bytes."},
	{"guard_max", K_SIZE, AT(guard_max, size_t), 0, SIZE_MAX, 0, NULL,
	 "Guard only allocations of at most this many bytes (0: no maximum)."},
	{"guard_side", K_ENUM, AT(guard_side, int), 0, 2, HW_SIDE_RIGHT, sides,
	 "Where the guard page lies: right traps overflows, left underflows, random picks "
	 "one per allocation."},
	{"guard_align", K_POW2, AT(guard_align, unsigned), 1, 4096, 16, NULL,
	 "Alignment of a guarded object (1 puts its end exactly against the guard)."},
	{"guard_budget_bytes", K_SIZE, AT(guard_budget_bytes, size_t), 0, SIZE_MAX, GIB, NULL,
	 "Most bytes of the pages of live guarded objects (guard pages not counted); past it "
	 "allocations are not guarded (one warning)."},
	{"guard_budget_count", K_U64, AT(guard_budget_count, uint64_t), 0, UINT64_MAX, 32768,
	 NULL,
	 "Most live guarded objects; past it allocations are not guarded (one warning). "
	 "Under PROT_NONE guards, at most 7/16 of vm.max_map_count."},
	{"guard_regions", K_BOOL, AT(guard_regions, bool), 0, 1, 1, NULL,
	 "Make guard pages and freed guarded objects trap with the kernel's guard regions "
	 "where it has them (Linux 6.13); 0: with PROT_NONE, as on older kernels."},
	{"quarantine_bytes", K_SIZE, AT(quarantine_bytes, size_t), 0, SIZE_MAX, 256 * MIB, NULL,
	 "In debug mode, most bytes of freed objects held back before reuse, filled with a "
	 "pattern checked when they leave, or faulted (guarded objects: the bytes of their "
	 "pages, guard pages not counted) (0: none)."},
	{"seed", K_U64, AT(seed, uint64_t), 0, UINT64_MAX, 0, NULL,
	 "Seed of guard sampling and guard_side=random (0: from the clock at start-up)."},
	{"log_path", K_PATH, AT(log_path, char *), 0, 0, 0, NULL,
	 "Write reports to the file log_path.PID instead of standard error (empty: "
	 "standard error)."},
	{"detect_leaks", K_BOOL, AT(detect_leaks, bool), 0, 1, 0, NULL,
	 "Report objects no longer reachable at exit (turns debug on)."},
	{"leaks", K_BOOL, AT(detect_leaks, bool), 0, 1, 0, NULL,
	 "The same as detect_leaks."},
	{"suppressions", K_PATH, AT(suppressions, char *), 0, 0, 0, NULL,
	 "A file of leak:<template> lines, LeakSanitizer's format: leaks whose allocation "
	 "stack has a function, source file or module that a template matches are not "
	 "reported (empty: none)."},
	{"use_mappings", K_BOOL, AT(use_mappings, bool), 0, 1, 1, NULL,
	 "The leak check also takes the program's own writable mappings (its own allocators' "
	 "arenas, a JIT's code cache) as roots, as Valgrind does; 0: modules' data, threads' "
	 "stacks, registers and TLS only, as LeakSanitizer."},
	{"exitcode", K_UINT, AT(exitcode, unsigned), 0, 255, 23, NULL,
	 "Exit status of a process that continued past an error or leaked (0: keep the "
	 "program's)."},
	{"debug", K_BOOL, AT(debug, bool), 0, 1, 0, NULL,
	 "Record each object's allocation and free stacks and print reports in the "
	 "sanitizers' layout (every call takes the slow paths)."},
	{"stack_depth", K_UINT, AT(stack_depth, unsigned), 0, 64, 30, NULL,
	 "Frames recorded per stack in debug mode (0: none)."},
	{"fast_unwind_on_malloc", K_BOOL, AT(fast_unwind_on_malloc, bool), 0, 1, 1, NULL,
	 "1: record allocation and free stacks by frame pointers (fast; code built without "
	 "them loses frames); 0: with the unwind tables (every frame, 50 to 80 times "
	 "slower)."},
	{"fast_unwind_on_fatal", K_BOOL, AT(fast_unwind_on_fatal, bool), 0, 1, 0, NULL,
	 "1: walk a fault's stack by frame pointers; 0: with the unwind tables, through "
	 "code built without frame pointers (frame pointers when the tables fail)."},
	{"symbolize", K_BOOL, AT(symbolize, bool), 0, 1, 1, NULL,
	 "Name functions, files and lines in reports (0: module+offset only)."},
	{"symbolizer_path", K_PATH, AT(symbolizer_path, char *), 0, 0, 0, NULL,
	 "The symbolizer to run (empty: llvm-symbolizer, else addr2line, from PATH)."},
};
/* clang-format on */

#define NOPTS (sizeof table / sizeof table[0])

_Static_assert(offsetof(hw_options, guard_sample) > offsetof(hw_options, guard),
	       "guard_sample is the guard option's second field");
_Static_assert(sizeof((hw_options *)0)->log_path == HW_OPTIONS_VALUE_MAX + 1 &&
		       sizeof((hw_options *)0)->suppressions == HW_OPTIONS_VALUE_MAX + 1 &&
		       sizeof((hw_options *)0)->symbolizer_path == HW_OPTIONS_VALUE_MAX + 1,
	       "a path option holds the longest value");

/* ---- fields ---- */

static void *field(hw_options *o, const opt *t) { return (char *)o + t->off; }
static const void *cfield(const hw_options *o, const opt *t) { return (const char *)o + t->off; }

/* A numeric field's value (not K_GUARD's or K_PATH's). */
static uint64_t get_num(const hw_options *o, const opt *t)
{
	const void *f = cfield(o, t);
	switch (t->kind) {
	case K_BOOL:
		return *(const bool *)f;
	case K_UINT:
	case K_POW2:
		return *(const unsigned *)f;
	case K_SIZE:
		return *(const size_t *)f;
	case K_U64:
		return *(const uint64_t *)f;
	default:
		return (uint64_t)(int64_t) * (const int *)f;
	}
}

/* Stores v, already known to fit the field. */
static void set_num(hw_options *o, const opt *t, uint64_t v)
{
	void *f = field(o, t);
	switch (t->kind) {
	case K_BOOL:
		*(bool *)f = v != 0;
		break;
	case K_UINT:
	case K_POW2:
		*(unsigned *)f = (unsigned)v;
		break;
	case K_SIZE:
		*(size_t *)f = (size_t)v;
		break;
	case K_U64:
		*(uint64_t *)f = v;
		break;
	default:
		*(int *)f = (int)v;
		break;
	}
}

static void set_guard(hw_options *o, int mode, unsigned sample)
{
	o->guard = mode;
	o->guard_sample = sample;
}

void hw_options_defaults(hw_options *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < NOPTS; i++) {
		const opt *t = &table[i];
		if (t->kind == K_PATH)
			memset(field(out, t), 0, HW_OPTIONS_VALUE_MAX + 1);
		else if (t->kind == K_GUARD)
			set_guard(out, (int)t->def, 0);
		else if (t->kind == K_FILL && t->def == DEF_OFF)
			*(int *)field(out, t) = HW_OPTIONS_OFF;
		else
			set_num(out, t, t->def);
	}
}

/* ---- parsing ---- */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Whether the byte at p ends a pair: ',' always, ':' unless a digit
 * follows (then it is part of a value such as sample:N). p[1] is read only
 * after p[0] was ':', so never past the NUL. */
static bool ends_pair(const char *p) { return *p == ',' || (*p == ':' && !is_digit(p[1])); }

static bool same(const char *v, size_t n, const char *word)
{
	return strncmp(word, v, n) == 0 && word[n] == '\0';
}

static unsigned suffix_shift(char c)
{
	switch (c) {
	case 'k':
	case 'K':
		return 10;
	case 'm':
	case 'M':
		return 20;
	case 'g':
	case 'G':
		return 30;
	default:
		return 0;
	}
}

/* v[0..n) as a number: decimal, or hex after 0x/0X, then (sized) one
 * optional suffix k, m or g. False on anything else, overflow included. */
static bool parse_number(const char *v, size_t n, bool sized, uint64_t *out)
{
	size_t i = 0;
	uint64_t base = 10, x = 0;
	if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		base = 16;
		i = 2;
	}
	size_t first = i;
	for (; i < n; i++) {
		char c = v[i];
		uint64_t d;
		if (is_digit(c))
			d = (uint64_t)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (uint64_t)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (uint64_t)(c - 'A' + 10);
		else
			break;
		if (x > (UINT64_MAX - d) / base)
			return false;
		x = x * base + d;
	}
	if (i == first)
		return false;
	if (sized && i < n) {
		unsigned shift = suffix_shift(v[i]);
		if (shift == 0 || x > UINT64_MAX >> shift)
			return false;
		x <<= shift;
		i++;
	}
	if (i != n)
		return false;
	*out = x;
	return true;
}

/* Parses v[0..n) (n <= HW_OPTIONS_VALUE_MAX) for t and stores it in o;
 * false, with o unchanged, when the value is bad. */
static bool set_value(hw_options *o, const opt *t, const char *v, size_t n)
{
	uint64_t x;
	switch (t->kind) {
	case K_BOOL:
		if (same(v, n, "1") || same(v, n, "true") || same(v, n, "yes") || same(v, n, "on"))
			x = 1;
		else if (same(v, n, "0") || same(v, n, "false") || same(v, n, "no") ||
			 same(v, n, "off"))
			x = 0;
		else
			return false;
		break;
	case K_FILL:
		if (same(v, n, "off")) {
			*(int *)field(o, t) = HW_OPTIONS_OFF;
			return true;
		}
		if (!parse_number(v, n, false, &x) || x > t->max)
			return false;
		break;
	case K_UINT:
	case K_POW2:
	case K_U64:
	case K_SIZE:
		if (!parse_number(v, n, t->kind == K_SIZE, &x) || x < t->min || x > t->max)
			return false;
		if (t->kind == K_POW2 && (x & (x - 1)) != 0)
			return false;
		break;
	case K_ENUM:
		for (x = 0; t->words[x] != NULL; x++)
			if (same(v, n, t->words[x]))
				break;
		if (t->words[x] == NULL)
			return false;
		break;
	case K_GUARD: {
		static const char sample[] = "sample:";
		const size_t sl = sizeof sample - 1;
		if (same(v, n, "none")) {
			set_guard(o, HW_OPT_GUARD_NONE, 0);
		} else if (same(v, n, "all")) {
			set_guard(o, HW_OPT_GUARD_ALL, 0);
		} else if (n > sl && strncmp(v, sample, sl) == 0 &&
			   parse_number(v + sl, n - sl, false, &x) && x >= 1 && x <= t->max) {
			set_guard(o, HW_OPT_GUARD_SAMPLE, (unsigned)x);
		} else {
			return false;
		}
		return true;
	}
	case K_PATH: {
		char *f = field(o, t);
		memset(f, 0, HW_OPTIONS_VALUE_MAX + 1);
		memcpy(f, v, n);
		return true;
	}
	default:
		return false;
	}
	set_num(o, t, x);
	return true;
}

/* ---- warnings ---- */

#define QUOTE_BUF HW_REPORT_QUOTE_BUF(HW_OPTIONS_QUOTE_MAX)

static void quote(const char *s, size_t n, char *buf)
{
	hw_report_quote(s, n, HW_OPTIONS_QUOTE_MAX, buf);
}

typedef struct warner {
	hw_options_warn_fn fn;
	void *arg;
	unsigned count;
} warner;

#define CONTEXT "heapward: HEAPWARD_OPTIONS: "
/* The longest consequence: "kept " and a displayed value. */
#define CONSEQUENCE_BUF (QUOTE_BUF + 8)

static void warn(warner *w, const char *consequence, const char *fmt, ...) HW_PRINTF(3, 4);
static void warn(warner *w, const char *consequence, const char *fmt, ...)
{
	w->count++;
	if (w->fn == NULL)
		return;
	char problem[HW_OPTIONS_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	hw_report_vformat(problem, sizeof problem, fmt, ap);
	va_end(ap);
	w->fn(w->arg, problem, consequence);
}

size_t hw_options_warning_line(char *buf, size_t len, const char *problem,
			       const char *consequence)
{
	return hw_report_format(buf, len, CONTEXT "%s (%s)", problem, consequence);
}

static size_t value_of(const hw_options *o, const opt *t, char *buf, size_t len);

/* Option t's value in o as a warning or help line shows it: a path quoted
 * and escaped, anything else as the parser reads it. */
static void display(const hw_options *o, const opt *t, char *buf)
{
	if (t->kind == K_PATH) {
		const char *p = cfield(o, t);
		char q[QUOTE_BUF];
		quote(p, strnlen(p, HW_OPTIONS_VALUE_MAX), q);
		hw_report_format(buf, QUOTE_BUF + 2, "'%s'", q);
	} else {
		value_of(o, t, buf, QUOTE_BUF + 2);
	}
}

static size_t describe(const opt *t, char *buf, size_t len);

static void bad_value(warner *w, const hw_options *o, const opt *t, const char *v, size_t n)
{
	char q[QUOTE_BUF], shown[QUOTE_BUF + 2], kept[CONSEQUENCE_BUF], what[160];
	quote(v, n, q);
	display(o, t, shown);
	hw_report_format(kept, sizeof kept, "kept %s", shown);
	describe(t, what, sizeof what);
	warn(w, kept, "bad value '%s' for %s: expected %s", q, t->key, what);
}

/* ---- the parser ---- */

static const opt *find(const char *key, size_t n)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (same(key, n, table[i].key))
			return &table[i];
	return NULL;
}

/* One pair, s[0..n), between separators. */
static void pair(const char *s, size_t n, hw_options *o, warner *w)
{
	while (n > 0 && is_space(s[0])) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	if (n == 0)
		return;
	const char *eq = memchr(s, '=', n);
	char q[QUOTE_BUF];
	if (eq == NULL) {
		quote(s, n, q);
		warn(w, "ignored", "'%s' is not key=value", q);
		return;
	}
	const char *key = s, *v = eq + 1;
	size_t kn = (size_t)(eq - s), vn = n - kn - 1;
	while (kn > 0 && is_space(key[kn - 1]))
		kn--;
	while (vn > 0 && is_space(v[0])) {
		v++;
		vn--;
	}
	const opt *t = find(key, kn);
	if (t == NULL) {
		quote(key, kn, q);
		warn(w, "ignored", "unknown key '%s'", q);
		return;
	}
	if (vn > HW_OPTIONS_VALUE_MAX || !set_value(o, t, v, vn))
		bad_value(w, o, t, v, vn);
}

unsigned hw_options_parse(const char *s, hw_options *out, hw_options_warn_fn fn, void *arg)
{
	HW_CHECK(out != NULL, "hw_options_parse: out is NULL");
	warner w = {fn, arg, 0};
	if (s == NULL)
		return 0;
	const char *p = s;
	while (*p != '\0') {
		const char *start = p;
		while (*p != '\0' && !ends_pair(p))
			p++;
		pair(start, (size_t)(p - start), out, &w);
		if (*p != '\0')
			p++;
	}
	return w.count;
}

unsigned hw_options_load(hw_options *out, hw_options_warn_fn fn, void *arg)
{
	return hw_options_parse(hw_env_get("HEAPWARD_OPTIONS"), out, fn, arg);
}

_Static_assert(HW_OPTIONS_LINE_MAX <= HW_REPORT_LINE_MAX, "a warning fits hw_report_line");

void hw_options_warn_console(void *arg, const char *problem, const char *consequence)
{
	(void)arg;
	char line[HW_OPTIONS_LINE_MAX];
	hw_options_warning_line(line, sizeof line, problem, consequence);
	hw_report_line(line);
}

void hw_options_write_console(void *arg, const char *buf, size_t n) { hw_console_write(buf, n); }

/* ---- the table, read-only ---- */

size_t hw_options_count(void) { return NOPTS; }

const char *hw_options_key(size_t i) { return i < NOPTS ? table[i].key : NULL; }

const char *hw_options_help_text(size_t i) { return i < NOPTS ? table[i].help : NULL; }

static size_t describe(const opt *t, char *buf, size_t len)
{
	unsigned long long lo = t->min, hi = t->max;
	switch (t->kind) {
	case K_BOOL:
		return hw_report_format(buf, len, "0, 1, true, false, yes, no, on or off");
	case K_FILL:
		return hw_report_format(buf, len, "a byte 0-255 or 0x00-0xff, or off");
	case K_UINT:
	case K_U64:
		return hw_report_format(buf, len, "a number from %llu to %llu", lo, hi);
	case K_POW2:
		return hw_report_format(buf, len, "a power of two from %llu to %llu", lo, hi);
	case K_SIZE:
		return hw_report_format(buf, len,
					"a byte count from %llu to %llu (decimal or 0x hex, "
					"suffix k, m or g)",
					lo, hi);
	case K_ENUM: {
		/* "a, b or c" */
		size_t n = 0;
		for (size_t k = 0; t->words[k] != NULL; k++) {
			const char *sep = ", ";
			if (k == 0)
				sep = "";
			else if (t->words[k + 1] == NULL)
				sep = " or ";
			n += hw_report_format(buf + n, len - n, "%s%s", sep, t->words[k]);
		}
		return n;
	}
	case K_GUARD:
		return hw_report_format(buf, len, "none, all or sample:N with N from 1 to %llu",
					hi);
	case K_PATH:
		return hw_report_format(buf, len, "a path of at most %d bytes, or empty",
					HW_OPTIONS_VALUE_MAX);
	}
	return hw_report_format(buf, len, "?");
}

size_t hw_options_describe(size_t i, char *buf, size_t len)
{
	if (i >= NOPTS)
		return hw_report_format(buf, len, "%s", "");
	return describe(&table[i], buf, len);
}

/* Bytes with the largest suffix that divides them exactly. */
static size_t format_size(uint64_t v, char *buf, size_t len)
{
	static const char suffix[] = "gmk";
	for (unsigned k = 0; k < 3; k++) {
		unsigned shift = 30 - 10 * k;
		if (v != 0 && v % (1ull << shift) == 0)
			return hw_report_format(buf, len, "%llu%c",
						(unsigned long long)(v >> shift), suffix[k]);
	}
	return hw_report_format(buf, len, "%llu", (unsigned long long)v);
}

static size_t value_of(const hw_options *o, const opt *t, char *buf, size_t len)
{
	uint64_t v = 0;
	if (t->kind != K_GUARD && t->kind != K_PATH)
		v = get_num(o, t);
	switch (t->kind) {
	case K_FILL:
		if ((int)v == HW_OPTIONS_OFF)
			return hw_report_format(buf, len, "off");
		return hw_report_format(buf, len, "0x%02x", (unsigned)v & 0xff);
	case K_SIZE:
		return format_size(v, buf, len);
	case K_ENUM:
		if (v <= t->max)
			return hw_report_format(buf, len, "%s", t->words[v]);
		return hw_report_format(buf, len, "%llu", (unsigned long long)v);
	case K_GUARD:
		if (o->guard == HW_OPT_GUARD_SAMPLE)
			return hw_report_format(buf, len, "sample:%u", o->guard_sample);
		return hw_report_format(buf, len, "%s",
					o->guard == HW_OPT_GUARD_ALL ? "all" : "none");
	case K_PATH: {
		const char *p = cfield(o, t);
		size_t n = strnlen(p, HW_OPTIONS_VALUE_MAX);
		size_t c = len > 0 ? hw_min(n, len - 1) : 0;
		if (len > 0) {
			memcpy(buf, p, c);
			buf[c] = '\0';
		}
		return c;
	}
	default:
		return hw_report_format(buf, len, "%llu", (unsigned long long)v);
	}
}

size_t hw_options_value(const hw_options *o, size_t i, char *buf, size_t len)
{
	if (i >= NOPTS)
		return hw_report_format(buf, len, "%s", "");
	return value_of(o, &table[i], buf, len);
}

size_t hw_options_format(const hw_options *o, char *buf, size_t len)
{
	size_t pos = 0;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < NOPTS; i++) {
		char v[HW_OPTIONS_VALUE_MAX + 1];
		size_t vn = value_of(o, &table[i], v, sizeof v);
		size_t kn = strlen(table[i].key);
		size_t need = (i > 0) + kn + 1 + vn;
		if (pos + need >= len) {
			buf[0] = '\0';
			return 0;
		}
		if (i > 0)
			buf[pos++] = ':';
		memcpy(buf + pos, table[i].key, kn);
		pos += kn;
		buf[pos++] = '=';
		memcpy(buf + pos, v, vn);
		pos += vn;
	}
	buf[pos] = '\0';
	return pos;
}

/* The column where help's description starts. */
#define HELP_COLUMN 32

void hw_options_help(const hw_options *o, hw_options_write_fn write, void *arg)
{
	char line[HW_OPTIONS_LINE_MAX];
	hw_options defaults;
	hw_options_defaults(&defaults);
	size_t n = hw_report_format(line, sizeof line,
				    "heapward: HEAPWARD_OPTIONS=key=value[:key=value...] (',' also "
				    "separates); key=value in effect, then [accepts; default]:\n");
	write(arg, line, n);
	for (size_t i = 0; i < NOPTS; i++) {
		const opt *t = &table[i];
		char cur[QUOTE_BUF + 2], def[QUOTE_BUF + 2], what[160];
		display(o, t, cur);
		display(&defaults, t, def);
		describe(t, what, sizeof what);
		/* Room for the newline even when the line is cut. */
		n = hw_report_format(line, sizeof line - 1, "  %s=%s", t->key, cur);
		do
			n += hw_report_format(line + n, sizeof line - 1 - n, " ");
		while (n < HELP_COLUMN && n + 2 < sizeof line);
		n += hw_report_format(line + n, sizeof line - 1 - n, "%s [%s; default %s]", t->help,
				      what, def);
		line[n++] = '\n';
		write(arg, line, n);
	}
}

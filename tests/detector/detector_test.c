/* detector_test.c: the fuzzed detector. For each bug class and seed it runs
 * the victim (plant.cc) in a child under the preload library, directly
 * (LD_PRELOAD) or through the `heapward` launcher, with options drawn from
 * the seed; the victim plants one bug on one object of a random sequence
 * of allocations and says what it planted; this program parses the report
 * (report_parse.h) and checks that it names exactly that bug: its kind,
 * the address, the access, the object's bounds and size, the offset and
 * its wording, the allocating and the freeing functions, the function that
 * made the error, and the exit status. A clean sequence must exit 0 with
 * nothing on stderr.
 *
 * Usage: detector_test PLANT LIBRARY LAUNCHER [--class NAME] [--seeds N]
 *                      [--first-seed S] [--seed S] [--break FIELD] [-v]
 *   --seeds N       seeds per class (default 12; HW_DETECTOR_SEEDS overrides
 *                   the default, for a soak)
 *   --first-seed S  the first seed (default 1); seeds S, S+1, ...
 *   --seed S        one seed (the replay of a reported miss)
 *   --break FIELD   spoil one expectation (addr, size, offset, site, kind,
 *                   status) for the classes that check it: then every run
 *                   whose report was checked must be reported as a miss
 *                   (N such runs per class), and the exit status says
 *                   whether each was (the checker's own test)
 * Exit status: 0 when every run was detected as planted (and every clean run
 * was clean), 1 otherwise, 2 for a usage error.
 *
 * Owns: the class table (one entry per class: the options it needs, the
 * victim's class name, what the report must hold), the runs, the checks
 * and the tally.
 *
 * Invariants:
 *   DK1. Every expectation comes from the victim's plant line (the object's
 *        address, size and site, the offset, the deallocation used) or from
 *        the class table; nothing is taken from the report itself.
 *   DK2. A run's options and the way it is started are a function of its
 *        class and seed alone, so `--class C --seed S` replays one run
 *        exactly (the victim's own choices are its seed's: plant.cc PV1).
 *   DK3. Every miss prints the class, the seed, why, the one command that
 *        replays it here and the command that runs the victim alone, then
 *        the run's stdout and stderr.
 *   DK4. A planted error must be the only report: stderr holds nothing the
 *        report grammar does not explain (report_parse.h RR1), one ERROR
 *        line, one SUMMARY line.
 *
 * Locking: none (one thread; the children are waited for one at a time).
 */
#include "child.h"
#include "report_parse.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *plant_path, *library, *launcher, *self;
static char tmpdir[] = "/tmp/hw-detector-XXXXXX";

/* ---- what the victim planted (plant.cc PV3) ---- */

typedef struct plant {
	bool seen;
	char cls[32];
	uintptr_t addr, obj;
	size_t size, k;
	char site[64], drop[64];
	char drop_first[64]; /* a use after free: the free before the use */
	char access[16];     /* a trapping access: READ or WRITE */
	unsigned kind, drop_kind;
	size_t given;       /* sized-delete, free-sized: the size passed */
	size_t given_align; /* free-sized: the alignment passed, when it is the bug */
	bool reused;        /* double-free: not planted (PV3) */
	size_t child_size;
	char child_site[64];
	bool guarded; /* the run guards every object (guard=all; the launcher's default) */
} plant;

/* The value of key in the plant line, copied into buf; false when absent. */
static bool field(const char *line, const char *key, char *buf, size_t len)
{
	char want[40];
	snprintf(want, sizeof want, " %s=", key);
	const char *at = strstr(line, want);
	if (!at)
		return false;
	at += strlen(want);
	size_t n = strcspn(at, " \n");
	snprintf(buf, len, "%.*s", (int)n, at);
	return true;
}

static uintmax_t number(const char *line, const char *key)
{
	char v[64];
	return field(line, key, v, sizeof v) ? strtoumax(v, NULL, 0) : 0;
}

static void read_plant(const char *out, plant *p)
{
	memset(p, 0, sizeof *p);
	const char *line = strstr(out, "plant class=");
	if (!line)
		return;
	p->seen = true;
	field(line, "class", p->cls, sizeof p->cls); /* " class=" after "plant" */
	p->addr = (uintptr_t)number(line, "addr");
	p->obj = (uintptr_t)number(line, "obj");
	p->size = (size_t)number(line, "size");
	p->k = (size_t)number(line, "k");
	p->kind = (unsigned)number(line, "kind");
	p->drop_kind = (unsigned)number(line, "drop_kind");
	p->given = (size_t)number(line, "given");
	p->given_align = (size_t)number(line, "given_align");
	p->reused = number(line, "reused") != 0;
	p->child_size = (size_t)number(line, "child_size");
	field(line, "site", p->site, sizeof p->site);
	field(line, "drop", p->drop, sizeof p->drop);
	field(line, "first", p->drop_first, sizeof p->drop_first);
	field(line, "access", p->access, sizeof p->access);
	field(line, "child_site", p->child_site, sizeof p->child_site);
}

/* ---- one run of the victim ---- */

typedef struct run {
	int pid, signal, status;
	bool via_launcher;
	bool keep_going; /* abort_on_error=0 */
	bool guarded;    /* every object guarded */
	int exitcode;    /* the status a continued error or a leak gives */
	char options[256];
	char out[8192];
	char err[131072];
} run;

/* The scratch directory and the two files a run leaves in it, at any exit. */
static void remove_tmpdir(void)
{
	char path[64];
	snprintf(path, sizeof path, "%s/out", tmpdir);
	unlink(path);
	snprintf(path, sizeof path, "%s/err", tmpdir);
	unlink(path);
	rmdir(tmpdir);
}

/* DK2: splitmix64 over the seed and the class's name. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t run_key(const char *cls, uint64_t seed)
{
	uint64_t h = seed;
	for (const char *c = cls; *c; c++)
		h = mix(h ^ (uint8_t)*c);
	return mix(h);
}

/* ---- the classes ---- */

/* What a class's check reads, for --break. */
enum {
	F_ADDR = 1,
	F_SIZE = 2,
	F_OFFSET = 4,
	F_SITE = 8,
	F_KIND = 16,
	F_STATUS = 32,
};

typedef struct det_class det_class;

typedef struct check {
	char why[4096];
	size_t len;
} check;

static void fail(check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(check *c, const char *fmt, ...)
{
	if (c->len + 2 >= sizeof c->why)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->why + c->len, sizeof c->why - c->len - 1, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->len += (size_t)n < sizeof c->why - c->len - 1 ? (size_t)n
								 : sizeof c->why - c->len - 2;
	c->why[c->len++] = '\n';
	c->why[c->len] = '\0';
}

struct det_class {
	const char *name;    /* the victim's CLASS */
	const char *options; /* HEAPWARD_OPTIONS the class needs */
	bool leak;           /* a leak report at exit (else an error, or nothing) */
	const char *kind;    /* the ERROR line's kind; NULL: no report at all */
	/* The one-line report's start, the address, then oneline_then; for a
	 * guarded object the guarded_ pair when there is one. */
	const char *oneline, *oneline_then;
	const char *guarded_oneline, *guarded_then;
	const char *plant_fn; /* the victim's function the error's stack passes */
	unsigned fields;      /* F_*: what the check reads */
	const char *access;   /* the access line after ERROR; NULL: none */
	bool at_exit;         /* the error's stack is the exit's, not the plant's */
	bool kept;            /* the freed object is quarantined: a reuse is a miss */
	bool trap;            /* the access traps: a fault report, death by SIGSEGV */
	/* The lines after the error's stack: the place and the histories. */
	void (*located)(const plant *p, const rr_report *r, check *c);
};

/* The names the heap gives each kind (kind.c, override_new.cc), by
 * plant.cc's kind numbers. */
static const char *const made_by[] = {"malloc", "operator new", "operator new[]",
				      "operator new(std::align_val_t)",
				      "operator new[](std::align_val_t)"};
static const char *const freed_by[] = {"free",
				       "operator delete",
				       "operator delete[]",
				       "operator delete(std::align_val_t)",
				       "operator delete[](std::align_val_t)",
				       "realloc"};
#define NKINDS (sizeof made_by / sizeof made_by[0])

static bool stack_passes(const rr_stack *s, const char *fn)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->f[i].function, fn) == 0)
			return true;
	return false;
}

/* A history (or the error's stack) that starts at fn, symbolized to a
 * line of plant.cc. */
static void starts_at(const rr_stack *s, const char *what, const char *fn, check *c)
{
	if (!s->present) {
		fail(c, "no %s stack", what);
		return;
	}
	if (s->n == 0 || s->misnumbered)
		fail(c, "the %s stack has %zu frames%s", what, s->n,
		     s->misnumbered ? ", misnumbered" : "");
	else if (strcmp(s->f[0].function, fn) != 0)
		fail(c, "the %s stack starts in '%s', not in %s", what, s->f[0].function, fn);
	else if (!strstr(s->f[0].place, "plant.cc:"))
		fail(c, "the %s stack's first frame is not at a line of plant.cc: %s", what,
		     s->f[0].place);
}

static void region_is(const plant *p, const rr_report *r, const char *relation, size_t offset,
		      check *c)
{
	if (!r->located) {
		fail(c, "no 'is located N bytes ... region [a,b)' line");
		return;
	}
	if (r->loc_address != p->addr)
		fail(c, "located address %#" PRIxPTR ", not %#" PRIxPTR, r->loc_address, p->addr);
	if (strcmp(r->relation, relation) != 0 || r->offset != offset)
		fail(c, "located %zu bytes %s, not %zu bytes %s", r->offset, r->relation, offset,
		     relation);
	if (r->freed || strcmp(r->region_word, "region") != 0)
		fail(c, "not a live region: %s%s", r->freed ? "freed " : "", r->region_word);
	if (r->region_size != p->size || r->lo != p->obj || r->hi != p->obj + p->size)
		fail(c,
		     "the region is %zu bytes [%#" PRIxPTR ",%#" PRIxPTR
		     "), not %zu bytes [%#" PRIxPTR ",%#" PRIxPTR ")",
		     r->region_size, r->lo, r->hi, p->size, p->obj, p->obj + p->size);
}

static void allocated_here(const plant *p, const rr_report *r, bool previously, check *c)
{
	starts_at(&r->allocated_by, "allocation", p->site, c);
	if (r->allocated_by.present && r->previously != previously)
		fail(c, "'%sallocated by' expected", previously ? "previously " : "");
	if (r->allocated_by.present && r->allocated_by.tid != 0)
		fail(c, "allocated by T%u, not T0", r->allocated_by.tid);
}

static void no_history(const rr_report *r, check *c)
{
	if (r->freed_by.present || r->allocated_by.present)
		fail(c, "a history for memory that is no object");
}

static void located_double_free(const plant *p, const rr_report *r, check *c)
{
	if (!r->located) {
		fail(c, "no 'is located 0 bytes inside of a freed ...' line%s",
		     r->freed_memory ? " (the slot's span went back to the heap: 'in freed heap "
				       "memory')"
				     : "");
		return;
	}
	if (r->loc_address != p->addr || r->offset != 0 || strcmp(r->relation, "inside of") != 0 ||
	    !r->freed)
		fail(c,
		     "not '%#" PRIxPTR " is located 0 bytes inside of a freed': "
		     "%#" PRIxPTR " %zu bytes %s%s",
		     p->addr, r->loc_address, r->offset, r->relation, r->freed ? " freed" : "");
	/* A small object: its slot, at least its size; a large one: the region. */
	/* A guarded object is its own: exactly its bytes. */
	bool slot = strcmp(r->region_word, "slot") == 0 && !p->guarded;
	if (r->lo != p->obj || r->hi != r->lo + r->region_size ||
	    (slot ? r->region_size < p->size || r->region_size % 16 != 0
		  : r->region_size != p->size))
		fail(c,
		     "the freed %s is %zu bytes [%#" PRIxPTR ",%#" PRIxPTR "); the object was %zu "
		     "bytes at %#" PRIxPTR,
		     r->region_word, r->region_size, r->lo, r->hi, p->size, p->obj);
	starts_at(&r->freed_by, "free", p->drop, c);
	if (r->freed_by.present && !stack_passes(&r->freed_by, "plant_double_free"))
		fail(c, "the free stack does not pass plant_double_free");
	allocated_here(p, r, true, c);
}

static void located_inside(const plant *p, const rr_report *r, check *c)
{
	region_is(p, r, "inside of", p->k, c);
	if (r->freed_by.present)
		fail(c, "a free stack for a live object");
	allocated_here(p, r, false, c);
}

static void located_stack(const plant *p, const rr_report *r, check *c)
{
	if (r->loc_address != p->addr || strncmp(r->not_heap, "on this thread's stack", 22) != 0)
		fail(c,
		     "not '%#" PRIxPTR " is not heap memory: on this thread's stack': "
		     "%#" PRIxPTR " '%s'",
		     p->addr, r->loc_address, r->not_heap);
	no_history(r, c);
}

static void located_global(const plant *p, const rr_report *r, check *c)
{
	if (r->loc_address != p->addr ||
	    strncmp(r->not_heap, "in a module's writable data, /", 30) != 0 ||
	    !strstr(r->not_heap, "detector_plant"))
		fail(c, "not '%#" PRIxPTR " is not heap memory: in a module's writable data, "
			".../detector_plant': %#" PRIxPTR " '%s'",
		     p->addr, r->loc_address, r->not_heap);
	no_history(r, c);
}

static void located_mismatch(const plant *p, const rr_report *r, check *c)
{
	region_is(p, r, "inside of", 0, c);
	if (p->kind >= NKINDS || p->drop_kind >= sizeof freed_by / sizeof freed_by[0]) {
		fail(c, "the plant line's kinds %u, %u are unknown", p->kind, p->drop_kind);
		return;
	}
	if (strcmp(r->made_by, made_by[p->kind]) != 0 ||
	    strcmp(r->freed_with, freed_by[p->drop_kind]) != 0)
		fail(c, "made by '%s', freed by '%s'; expected '%s' and '%s'", r->made_by,
		     r->freed_with, made_by[p->kind], freed_by[p->drop_kind]);
	allocated_here(p, r, false, c);
}

static void located_sized(const plant *p, const rr_report *r, check *c)
{
	region_is(p, r, "inside of", 0, c);
	if (p->kind == 0 || p->kind >= NKINDS) {
		fail(c, "the plant line's kind %u has no sized delete", p->kind);
		return;
	}
	char want[128];
	snprintf(want, sizeof want, "%s with size %zu", freed_by[p->kind], p->given);
	if (strcmp(r->made_by, made_by[p->kind]) != 0 || strcmp(r->freed_with, want) != 0)
		fail(c, "made by '%s', freed by '%s'; expected '%s' and '%s'", r->made_by,
		     r->freed_with, made_by[p->kind], want);
	allocated_here(p, r, false, c);
}

/* C23's sized free of a malloc-family object, with the wrong size (by
 * free_sized, or free_aligned_sized for an object of an aligned site) or
 * alignment (kind.c KD5). */
static void located_free_sized(const plant *p, const rr_report *r, check *c)
{
	region_is(p, r, "inside of", 0, c);
	char want[128];
	const char *op = strcmp(p->drop, "drop_free_sized") == 0 ? "free_sized"
								 : "free_aligned_sized";
	if (p->given_align)
		snprintf(want, sizeof want, "%s with alignment %zu", op, p->given_align);
	else
		snprintf(want, sizeof want, "%s with size %zu", op, p->given);
	if (p->kind != 0 || strcmp(r->made_by, made_by[0]) != 0 || strcmp(r->freed_with, want) != 0)
		fail(c, "made by '%s', freed by '%s'; expected '%s' and '%s'", r->made_by,
		     r->freed_with, made_by[0], want);
	allocated_here(p, r, false, c);
}

static void located_canary(const plant *p, const rr_report *r, check *c)
{
	region_is(p, r, "after the end of", p->k, c);
	if (r->freed_by.present)
		fail(c, "a free stack for a live object");
	allocated_here(p, r, false, c);
}

/* A write after free found when the object left the quarantine: the
 * freed object, k bytes inside, both histories. */
static void located_uaf(const plant *p, const rr_report *r, check *c)
{
	if (!r->located || r->loc_address != p->addr || strcmp(r->relation, "inside of") != 0 ||
	    r->offset != p->k || !r->freed || strcmp(r->region_word, "region") != 0 ||
	    r->region_size != p->size || r->lo != p->obj || r->hi != p->obj + p->size)
		fail(c,
		     "not '%#" PRIxPTR " is located %zu bytes inside of freed %zu-byte region "
		     "[%#" PRIxPTR ",%#" PRIxPTR ")': %#" PRIxPTR " %zu bytes %s %s%zu-byte %s",
		     p->addr, p->k, p->size, p->obj, p->obj + p->size, r->loc_address, r->offset,
		     r->relation, r->freed ? "freed " : "", r->region_size, r->region_word);
	starts_at(&r->freed_by, "free", p->drop_first, c);
	if (r->freed_by.present && !stack_passes(&r->freed_by, "plant_uaf_write"))
		fail(c, "the free stack does not pass plant_uaf_write");
	allocated_here(p, r, true, c);
}

static void located_underflow(const plant *p, const rr_report *r, check *c)
{
	region_is(p, r, "before the start of", p->k, c);
	if (r->freed_by.present)
		fail(c, "a free stack for a live object");
	allocated_here(p, r, false, c);
}

static void located_after_end(const plant *p, const rr_report *r, check *c)
{
	region_is(p, r, "after the end of", p->k, c);
	allocated_here(p, r, false, c);
}

static void located_before_start(const plant *p, const rr_report *r, check *c)
{
	region_is(p, r, "before the start of", p->k, c);
	allocated_here(p, r, false, c);
}

/* An access to a freed guarded object, k bytes inside it. */
static void located_freed(const plant *p, const rr_report *r, check *c)
{
	if (!r->located || r->loc_address != p->addr || strcmp(r->relation, "inside of") != 0 ||
	    r->offset != p->k || !r->freed || strcmp(r->region_word, "region") != 0 ||
	    r->region_size != p->size || r->lo != p->obj || r->hi != p->obj + p->size)
		fail(c,
		     "not '%#" PRIxPTR " is located %zu bytes inside of a freed %zu-byte region "
		     "[%#" PRIxPTR ",%#" PRIxPTR ")': %#" PRIxPTR " %zu bytes %s %s%zu-byte %s",
		     p->addr, p->k, p->size, p->obj, p->obj + p->size, r->loc_address, r->offset,
		     r->relation, r->freed ? "freed " : "", r->region_size, r->region_word);
	starts_at(&r->freed_by, "free", p->drop_first, c);
	allocated_here(p, r, true, c);
}

/* The table: one entry per class (the classes other work adds are one
 * entry each). */
#define ERRORS (F_ADDR | F_SIZE | F_OFFSET | F_SITE | F_KIND | F_STATUS)

static const det_class classes[] = {
	{.name = "clean", .options = "detect_leaks=1", .fields = F_STATUS},
	{.name = "double-free",
	 .options = "debug=1",
	 .kind = "double-free",
	 .oneline = "heapward: double free of ",
	 .oneline_then = " (a free",
	 .guarded_oneline = "heapward: double free of ",
	 .guarded_then = " (a quarantined ",
	 .plant_fn = "plant_double_free",
	 .kept = true,
	 /* A small object's freed slot is its size class's, which the plant does
	  * not know: its size is checked only to hold the object. */
	 .fields = F_ADDR | F_SITE | F_KIND | F_STATUS,
	 .located = located_double_free},
	{.name = "bad-free-interior",
	 .options = "debug=1",
	 .kind = "bad-free",
	 .oneline = "heapward: invalid free of ",
	 .oneline_then = ": not the start of an object",
	 .plant_fn = "plant_bad_free_inside",
	 .fields = ERRORS,
	 .located = located_inside},
	{.name = "bad-free-misaligned",
	 .options = "debug=1",
	 .kind = "bad-free",
	 .oneline = "heapward: invalid free of ",
	 .oneline_then = ": not the start of an object",
	 .plant_fn = "plant_bad_free_inside",
	 .fields = ERRORS,
	 .located = located_inside},
	{.name = "bad-free-stack",
	 .options = "debug=1",
	 .kind = "bad-free",
	 .oneline = "heapward: invalid free of ",
	 .oneline_then = ": not heap memory: on this thread's stack",
	 .plant_fn = "plant_bad_free_stack",
	 .fields = F_ADDR | F_KIND | F_STATUS,
	 .located = located_stack},
	{.name = "bad-free-global",
	 .options = "debug=1",
	 .kind = "bad-free",
	 .oneline = "heapward: invalid free of ",
	 .oneline_then = ": not heap memory: in a module's writable data",
	 .plant_fn = "plant_bad_free_global",
	 .fields = F_ADDR | F_KIND | F_STATUS,
	 .located = located_global},
	{.name = "mismatch",
	 .options = "debug=1",
	 .kind = "alloc-dealloc-mismatch",
	 .oneline = "heapward: alloc-dealloc mismatch: ",
	 .oneline_then = " (a ",
	 .plant_fn = "plant_mismatch",
	 .fields = F_ADDR | F_SIZE | F_SITE | F_KIND | F_STATUS,
	 .located = located_mismatch},
	{.name = "sized-delete",
	 .options = "debug=1",
	 .kind = "new-delete-type-mismatch",
	 .oneline = "heapward: new-delete size mismatch: ",
	 .oneline_then = " with size ",
	 .plant_fn = "plant_sized_delete",
	 .fields = F_ADDR | F_SIZE | F_SITE | F_KIND | F_STATUS,
	 .located = located_sized},
	{.name = "free-sized",
	 .options = "debug=1",
	 .kind = "free-size-mismatch",
	 .oneline = "heapward: free-size mismatch: ",
	 .oneline_then = " with ",
	 .plant_fn = "plant_free_sized",
	 .fields = F_ADDR | F_SIZE | F_SITE | F_KIND | F_STATUS,
	 .located = located_free_sized},
	{.name = "canary",
	 .options = "debug=1",
	 .kind = "heap-buffer-overflow",
	 .oneline = "heapward: heap buffer overflow: the tail canary of the ",
	 .oneline_then = " (",
	 .guarded_oneline = "heapward: heap buffer overflow: the pattern after the ",
	 .guarded_then = " (",
	 .plant_fn = "plant_canary",
	 .fields = ERRORS,
	 .located = located_canary},
	{.name = "uaf-write-evict",
	 /* Unguarded objects (guard=none): a guarded one traps the write. */
	 .options = "debug=1:guard=none:quarantine_bytes=64m",
	 .kind = "heap-use-after-free",
	 .oneline = "heapward: use after free: the freed ",
	 .oneline_then = " (",
	 .plant_fn = "plant_uaf_write",
	 .fields = ERRORS,
	 .access = "WRITE of unknown size, found when the object left the quarantine, here:",
	 .kept = true,
	 .located = located_uaf},
	{.name = "uaf-write-exit",
	 .options = "debug=1:guard=none",
	 .kind = "heap-use-after-free",
	 .oneline = "heapward: use after free: the freed ",
	 .oneline_then = " (",
	 .fields = ERRORS,
	 .access =
		 "WRITE of unknown size, found when the object left the quarantine at exit, here:",
	 .at_exit = true,
	 .kept = true,
	 .located = located_uaf},
	{.name = "guard-underflow",
	 .options = "debug=1:guard=all",
	 .kind = "heap-buffer-underflow",
	 .oneline = "heapward: heap buffer underflow: the pattern before the ",
	 .oneline_then = " (",
	 .plant_fn = "plant_underflow",
	 .fields = ERRORS,
	 .located = located_underflow},
	{.name = "guard-overflow-trap",
	 .options = "debug=1:guard=all:guard_align=1",
	 .kind = "heap-buffer-overflow",
	 .plant_fn = "plant_touch",
	 .fields = ERRORS,
	 .trap = true,
	 .located = located_after_end},
	{.name = "guard-underflow-trap",
	 .options = "debug=1:guard=all:guard_side=left",
	 .kind = "heap-buffer-underflow",
	 .plant_fn = "plant_touch",
	 .fields = ERRORS,
	 .trap = true,
	 .located = located_before_start},
	{.name = "guard-uaf-trap",
	 .options = "debug=1:guard=all",
	 .kind = "heap-use-after-free",
	 .plant_fn = "plant_touch",
	 .fields = ERRORS,
	 .kept = true,
	 .trap = true,
	 .located = located_freed},
	{.name = "leak-direct",
	 .options = "detect_leaks=1",
	 .leak = true,
	 .kind = "detected memory leaks",
	 .fields = F_SIZE | F_SITE | F_STATUS},
	{.name = "leak-indirect",
	 .options = "detect_leaks=1",
	 .leak = true,
	 .kind = "detected memory leaks",
	 .fields = F_SIZE | F_SITE | F_STATUS},
};
#define NCLASSES (sizeof classes / sizeof classes[0])

typedef struct plant_call {
	const run *r;
	const char *cls, *seedtext;
} plant_call;

static void exec_plant(void *arg)
{
	const plant_call *c = arg;
	setenv("HEAPWARD_OPTIONS", c->r->options, 1);
	alarm(60); /* a hang is a miss too (SIGALRM), never a stuck test */
	if (c->r->via_launcher) {
		unsetenv("LD_PRELOAD");
		execl(launcher, launcher, "run", "--", plant_path, c->seedtext, c->cls,
		      (char *)NULL);
	} else {
		setenv("LD_PRELOAD", library, 1);
		execl(plant_path, plant_path, c->seedtext, c->cls, (char *)NULL);
	}
}

/* Runs the victim for (cls, seed) with the options DK2 draws. */
static bool start(const det_class *cls, uint64_t seed, run *r)
{
	uint64_t key = run_key(cls->name, seed);
	memset(r, 0, sizeof *r);
	r->via_launcher = key & 1;
	r->keep_going = cls->kind && !cls->leak && (key >> 1) % 10 < 3;
	/* The launcher guards every object unless told otherwise (guard=all). */
	r->guarded = strstr(cls->options, "guard=all") ||
		     (r->via_launcher && !strstr(cls->options, "guard="));
	bool own_exitcode = (key >> 5) % 10 < 3;
	r->exitcode = own_exitcode ? 1 + (int)((key >> 9) % 120) : 23;
	/* Half the runs record stacks with the unwind tables, and a third the
	 * fault's by frame pointers (platform/stackwalk.h UW6): the site must
	 * be the same whichever walk found it. */
	bool tables_on_malloc = (key >> 17) % 2 == 0, fp_on_fatal = (key >> 18) % 3 == 0;
	/* A third of the guarded runs have the guards of a kernel without
	 * guard regions (guard_regions=0: PROT_NONE, SEGV_ACCERR), which CI's
	 * kernel would never give them. */
	bool plain_guards = r->guarded && (key >> 19) % 3 == 0;
	snprintf(r->options, sizeof r->options, "%s%s%s%s%s", cls->options,
		 r->keep_going ? ":abort_on_error=0" : "",
		 tables_on_malloc ? ":fast_unwind_on_malloc=0" : "",
		 fp_on_fatal ? ":fast_unwind_on_fatal=1" : "",
		 plain_guards ? ":guard_regions=0" : "");
	if (own_exitcode) {
		size_t n = strlen(r->options);
		snprintf(r->options + n, sizeof r->options - n, ":exitcode=%d", r->exitcode);
	}
	char seedtext[32];
	snprintf(seedtext, sizeof seedtext, "%" PRIu64, seed);
	plant_call c = {r, cls->name, seedtext};
	hw_test_ended end;
	if (!hw_test_exec(exec_plant, &c, tmpdir, &end, r->out, sizeof r->out, r->err,
			  sizeof r->err))
		return false;
	r->pid = end.pid;
	r->signal = end.signal;
	r->status = end.status;
	return true;
}

/* ---- the checks ---- */

static unsigned broken; /* --break: the F_* expectation spoiled */

static void check_status(const det_class *cls, const plant *p, const run *r, const rr_report *rep,
			 check *c)
{
	bool clean = !cls->kind || p->reused;
	if (cls->trap && !clean) {
		/* The fault goes on to the default action, whatever the options. */
		bool died = r->signal == SIGSEGV;
		if (broken & F_STATUS)
			died = !died;
		if (!died)
			fail(c, "exit: signal %d status %d, not SIGSEGV", r->signal, r->status);
		if (rep->aborting)
			fail(c, "==ABORTING after a fault");
		return;
	}
	bool abort_expected = !clean && !cls->leak && !r->keep_going;
	int want = clean ? 0 : r->exitcode;
	if (broken & F_STATUS)
		abort_expected = !abort_expected, want++;
	if (!abort_expected) {
		if (r->signal != 0 || r->status != want)
			fail(c, "exit: signal %d status %d, not status %d", r->signal, r->status,
			     want);
		if (rep->aborting)
			fail(c, "==ABORTING in a run that goes on");
	} else {
		if (r->signal != SIGABRT)
			fail(c, "exit: signal %d status %d, not SIGABRT", r->signal, r->status);
		if (!rep->aborting)
			fail(c, "no ==PID==ABORTING line");
	}
}

static void check_error(const det_class *cls, const plant *p, const run *r, const rr_report *rep,
			check *c)
{
	char addr[32];
	snprintf(addr, sizeof addr, "%#" PRIxPTR, p->addr);
	const char *at = strstr(rep->oneline, addr);
	bool g = p->guarded && cls->guarded_oneline;
	const char *one = g ? cls->guarded_oneline : cls->oneline;
	const char *then = g ? cls->guarded_then : cls->oneline_then;
	if (cls->trap ? rep->onelines != 0
		      : rep->onelines != 1 || strncmp(rep->oneline, one, strlen(one)) != 0 || !at ||
				!strstr(at + strlen(addr), then))
		fail(c, "%u one-line reports; the first is not '%s...%s%s...': '%s'", rep->onelines,
		     one, addr, then, rep->oneline);
	if (strcmp(rep->kind, cls->kind) != 0)
		fail(c, "kind '%s', not '%s'", rep->kind, cls->kind);
	if (rep->address != p->addr || rep->tid != 0)
		fail(c, "ERROR on address %#" PRIxPTR " in T%u, not %#" PRIxPTR " in T0",
		     rep->address, rep->tid, p->addr);
	if (rep->pid != r->pid)
		fail(c, "==%d== is not the child's pid %d", rep->pid, r->pid);
	char access[128];
	if (cls->trap)
		snprintf(access, sizeof access, "%s of unknown size at %s thread T0", p->access,
			 addr);
	else
		snprintf(access, sizeof access, "%s", cls->access ? cls->access : "");
	if (strcmp(rep->access, access) != 0)
		fail(c, "the access line is '%s', not '%s'", rep->access, access);
	char head[96], tail[96];
	snprintf(head, sizeof head, "%s ", cls->kind);
	snprintf(tail, sizeof tail, " in %s", p->drop);
	size_t n = strlen(rep->summary), t = strlen(tail);
	bool summary = rep->summaries == 1 && strncmp(rep->summary, head, strlen(head)) == 0;
	if (cls->at_exit) {
		/* Found at exit: the stack is the exit's, whatever the C library's. */
		if (!rep->error.present || rep->error.n == 0 || !summary)
			fail(c, "no stack of the exit, or SUMMARY is not '%s...': '%s'", cls->kind,
			     rep->summary);
	} else {
		starts_at(&rep->error, "error's", p->drop, c);
		if (!stack_passes(&rep->error, cls->plant_fn))
			fail(c, "the error's stack does not pass %s", cls->plant_fn);
		if (!summary || n < t || strcmp(rep->summary + n - t, tail) != 0)
			fail(c, "SUMMARY is not '%s... %s': '%s'", cls->kind, tail, rep->summary);
	}
	cls->located(p, rep, c);
}

static void check_leak(const plant *p, const rr_report *rep, bool indirect, check *c)
{
	if (rep->onelines != 0)
		fail(c, "a one-line report before the leak report: %s", rep->oneline);
	if (strcmp(rep->kind, "detected memory leaks") != 0)
		fail(c, "kind '%s', not 'detected memory leaks'", rep->kind);
	size_t want = indirect ? 2 : 1;
	if (rep->nleaks != want) {
		fail(c, "%zu leaks reported, not %zu", rep->nleaks, want);
		return;
	}
	const rr_leak *d = &rep->leaks[0];
	if (!d->direct || d->bytes != p->size || d->count != 1)
		fail(c,
		     "the first leak is %s of %zu bytes in %zu objects, not a direct leak of %zu "
		     "bytes in 1",
		     d->direct ? "direct" : "indirect", d->bytes, d->count, p->size);
	starts_at(&d->stack, "direct leak's", p->site, c);
	size_t total = p->size;
	if (indirect) {
		const rr_leak *i = &rep->leaks[1];
		if (i->direct || i->bytes != p->child_size || i->count != 1)
			fail(c,
			     "the second leak is %s of %zu bytes in %zu objects, not an indirect "
			     "leak of %zu bytes in 1",
			     i->direct ? "direct" : "indirect", i->bytes, i->count, p->child_size);
		starts_at(&i->stack, "indirect leak's", p->child_site, c);
		total += p->child_size;
	}
	char sum[96];
	snprintf(sum, sizeof sum, "%zu byte(s) leaked in %zu allocation(s).", total, want);
	if (rep->summaries != 1 || strcmp(rep->summary, sum) != 0)
		fail(c, "SUMMARY is not '%s': '%s'", sum, rep->summary);
}

/* --break: one spoiled expectation (DK1 turned around). */
static void spoil(plant *p, det_class *cls)
{
	if (broken & F_ADDR)
		p->addr += 1;
	if (broken & F_SIZE)
		p->size += 1;
	if (broken & F_OFFSET)
		p->k += 1;
	if (broken & F_SITE)
		snprintf(p->site, sizeof p->site, "site_elsewhere");
	if (broken & F_KIND)
		cls->kind = "spoiled-kind"; /* no kind a report has */
}

typedef struct tally {
	unsigned runs, planted, detected, missed, unplanted;
	unsigned checked, flagged; /* runs that had a report (or a clean class's), those missed */
} tally;

static void replay_hint(const det_class *cls, uint64_t seed, const run *r)
{
	fprintf(stderr, "  replay: %s %s %s %s --class %s --seed %" PRIu64 "\n", self, plant_path,
		library, launcher, cls->name, seed);
	if (r->via_launcher)
		fprintf(stderr, "  victim: HEAPWARD_OPTIONS='%s' %s run -- %s %" PRIu64 " %s\n",
			r->options, launcher, plant_path, seed, cls->name);
	else
		fprintf(stderr, "  victim: HEAPWARD_OPTIONS='%s' LD_PRELOAD=%s %s %" PRIu64 " %s\n",
			r->options, library, plant_path, seed, cls->name);
}

/* One run of (cls, seed): checked, counted, and explained when missed. */
static void one(const det_class *table_cls, uint64_t seed, tally *t, bool verbose)
{
	det_class cls = *table_cls;
	run *r = malloc(sizeof *r);
	if (!r) {
		fprintf(stderr, "detector: out of memory\n");
		exit(2);
	}
	check c = {{0}, 0};
	plant p;
	rr_report *rep = malloc(sizeof *rep);
	t->runs++;
	if (!rep || !start(&cls, seed, r)) {
		fprintf(stderr, "detector: cannot run the victim\n");
		exit(2);
	}
	read_plant(r->out, &p);
	p.guarded = r->guarded;
	spoil(&p, &cls);
	rr_parse(r->err, rep);
	if (!p.seen || strcmp(p.cls, cls.name) != 0)
		fail(&c, "the victim printed no plant line for %s", cls.name);
	if (p.reused && cls.kept)
		fail(&c, "the freed object was handed out again: the quarantine did not keep it");
	bool clean = !cls.kind || p.reused;
	if (clean && cls.kind)
		t->unplanted++;
	else if (cls.kind)
		t->planted++;
	if (clean) {
		if (r->err[0])
			fail(&c, "stderr is not empty");
	} else {
		if (rep->unknown)
			fail(&c, "%u lines on stderr are not the report's, the first: '%s'",
			     rep->unknown, rep->first_unknown);
		if (rep->errors != 1)
			fail(&c, "%u ERROR lines, not 1", rep->errors);
		if (cls.leak)
			check_leak(&p, rep, strcmp(cls.name, "leak-indirect") == 0, &c);
		else
			check_error(&cls, &p, r, rep, &c);
	}
	check_status(&cls, &p, r, rep, &c);
	bool checked = !cls.kind || !clean;
	t->checked += checked;
	t->flagged += checked && c.len != 0;
	if (c.len == 0) {
		if (cls.kind && !clean)
			t->detected++;
		if (verbose)
			printf("ok %s seed %" PRIu64 " (%s%s)\n", cls.name, seed,
			       r->via_launcher ? "launcher, " : "", r->options);
	} else {
		t->missed++;
		if (!broken) {
			fprintf(stderr, "detector: MISS %s seed %" PRIu64 ":\n%s", cls.name, seed,
				c.why);
			replay_hint(&cls, seed, r);
			fprintf(stderr, "  victim's stdout:\n%s  victim's stderr:\n%s\n", r->out,
				r->err);
		} else if (verbose) {
			fprintf(stderr, "spoiled %s seed %" PRIu64 " flagged: %s", cls.name, seed,
				c.why);
		}
	}
	free(rep);
	free(r);
}

static unsigned field_named(const char *s)
{
	static const struct {
		const char *name;
		unsigned f;
	} names[] = {
		{"addr", F_ADDR},
		{"size", F_SIZE},
		{"offset", F_OFFSET},
		{"site", F_SITE},
		{"kind", F_KIND},
		{"status", F_STATUS},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].f;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s PLANT LIBRARY LAUNCHER [--class NAME] [--seeds N] "
				"[--first-seed S] [--seed S] [--break FIELD] [-v]\n",
			argv[0]);
		return 2;
	}
	self = argv[0];
	plant_path = argv[1];
	library = argv[2];
	launcher = argv[3];
	const char *only = NULL;
	const char *env = getenv("HW_DETECTOR_SEEDS");
	uint64_t seeds = env && *env ? strtoull(env, NULL, 0) : 12, first = 1;
	bool verbose = false;
	for (int a = 4; a < argc; a++) {
		bool has = a + 1 < argc;
		if (!strcmp(argv[a], "--class") && has)
			only = argv[++a];
		else if (!strcmp(argv[a], "--seeds") && has && !(env && *env))
			seeds = strtoull(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--seeds") && has)
			a++; /* the soak's count wins */
		else if (!strcmp(argv[a], "--first-seed") && has)
			first = strtoull(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--seed") && has)
			first = strtoull(argv[++a], NULL, 0), seeds = 1;
		else if (!strcmp(argv[a], "--break") && has && field_named(argv[a + 1]))
			broken = field_named(argv[++a]);
		else if (!strcmp(argv[a], "-v"))
			verbose = true;
		else {
			fprintf(stderr, "detector: bad argument '%s'\n", argv[a]);
			return 2;
		}
	}
	bool known = !only;
	for (size_t i = 0; i < NCLASSES; i++)
		known |= only && !strcmp(only, classes[i].name);
	if (!known) {
		fprintf(stderr, "detector: no class '%s'\n", only);
		return 2;
	}
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	atexit(remove_tmpdir);
	unsigned failed = 0, tried = 0;
	printf("%-22s %6s %8s %9s %7s %10s\n", "class", "seeds", "planted", "detected", "missed",
	       "unplanted");
	for (size_t i = 0; i < NCLASSES; i++) {
		const det_class *cls = &classes[i];
		if ((only && strcmp(only, cls->name) != 0) || (broken && !(cls->fields & broken)))
			continue;
		tally t = {0, 0, 0, 0, 0, 0, 0};
		/* Spoiled, the seeds count runs whose report was checked (a
		 * double free whose slot was reused has none), up to ten times
		 * as many seeds. */
		for (uint64_t s = first; broken ? t.checked < seeds && s < first + 10 * seeds
						: s < first + seeds;
		     s++)
			one(cls, s, &t, verbose);
		printf("%-22s %6u %8u %9u %7u %10u\n", cls->name, t.runs,
		       cls->kind ? t.planted : 0, t.detected, t.missed, t.unplanted);
		tried++;
		/* Spoiled, every run whose report was checked must be flagged (and
		 * there must be one); otherwise no run may be. */
		failed += broken ? t.checked == 0 || t.flagged != t.checked : t.missed != 0;
	}
	if (broken && tried == 0) {
		fprintf(stderr, "detector: no class checks the spoiled field\n");
		return 1;
	}
	if (broken)
		printf("spoiled expectation: %s\n",
		       failed ? "some runs were NOT flagged" : "every run was flagged");
	return failed ? 1 : 0;
}

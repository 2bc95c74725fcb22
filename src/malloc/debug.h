/* debug.h: the malloc layer's debug mode: stacks recorded at every
 * allocation and free, reports in the sanitizers' layout, and the leak
 * check at exit.
 *
 * Owns: the mode's configuration (hw_mc_dbg) and the entry points the rest of
 * the layer calls. One concept per file:
 *   debug.c         the mode itself: configuration and start, the hooks the
 *                   allocation and free paths call, thread numbers, the
 *                   ring of freed large objects, the exit status at exit
 *   debug_depot.c   the stack depot: each distinct stack stored once, named
 *                   by a 32-bit id
 *   debug_report.c  the reports: frames, symbolized and trimmed, and the
 *                   error and leak layouts
 *   debug_leak.c    the leak check: roots, marking, grouping
 *   debug_quarantine.c  freed objects held back, filled with a pattern
 *                   checked when they leave (the FIFO: quarantine.c)
 *   debug_fault.c   the fault reports: what a trapping access touched
 *   debug_suppress.c  the leak suppressions in effect (suppress.c parses
 *                   and matches them)
 * docs/debug-mode.md describes the mode for users.
 *
 * How it costs nothing when off: the mode sets hw_mc_slow_only (as the fills
 * do), so the fast paths of hw_malloc and hw_free, which test hw_mc_tls
 * already, send every call to the slow paths, and only those call the
 * hooks. The fast paths have no new instruction.
 *
 * Invariants: MC9 (malloc_internal.h) for the per-object records; the
 * files' own (DM, SK, RP, LK, DF) for the rest.
 *
 * Locking: the depot has one lock (taken only to add a stack), the reports
 * one (a report is printed whole); both are leaves, taken after every
 * other lock of the layer, and held by the fork hooks (malloc.c MA4). The
 * quarantine's lock is a leaf too (quarantine.h), before them in the
 * order.
 */
#ifndef HW_MALLOC_DEBUG_H
#define HW_MALLOC_DEBUG_H

#include "fault.h"
#include "malloc_internal.h"
#include "options.h"
#include "quarantine.h"
#include "suppress.h"

/* The deepest stack recorded (the stack_depth option's maximum). */
#define MC_DEBUG_MAX_DEPTH 64

typedef struct mc_debug {
	int on;                     /* atomic: the mode (debug, or implied by detect_leaks) */
	bool leaks;                 /* the leak check at exit */
	bool use_mappings;          /* the program's mappings are its roots (LK6) */
	bool symbolize;             /* name frames in reports */
	unsigned depth;             /* frames recorded per stack */
	bool tables_on_malloc;      /* stacks by the unwind tables (stackwalk.h UW6) */
	bool tables_on_fatal;       /* a fault's stack by them */
	bool started;               /* hw_mc_debug_start ran (under the init lock) */
	bool trim_at_capture;       /* the layer is a shared object of its own */
	uintptr_t self_lo, self_hi; /* its executable range (module.h MO2) */
	char symbolizer_path[HW_OPTIONS_VALUE_MAX + 1];
} mc_debug;

extern mc_debug hw_mc_dbg;

static inline bool hw_mc_debug_on(void)
{
	return __atomic_load_n(&hw_mc_dbg.on, __ATOMIC_RELAXED) != 0;
}

/* ---- debug.c ---- */

/* Reads the mode's options (under the init lock, from apply_options). */
void hw_mc_debug_configure(const hw_options *o);
/* Starts what the mode needs once the layer's platform exists: the depot,
 * the layer's own module range, the log file (under the init lock). */
void hw_mc_debug_start(const hw_options *o);
/* p is a new object (or one realloc resized in place): its allocation
 * stack and thread (MC9). */
void hw_mc_debug_alloc(void *p);
/* p, slot idx of span s, passed the free's checks and is about to become
 * free: its free stack and thread (MC9); a large one joins the ring of
 * freed large objects. */
void hw_mc_debug_free(void *p, mc_span *s, size_t idx);
/* DM6: returns p, after zeroing the stack below the
 * caller's frame when the leak check is on, so that no copy of p the
 * allocation left there hides a leak. Tail-called by the allocation paths
 * (malloc.c MA10), so its frame replaces theirs. */
void *hw_mc_debug_scrub(void *p);
/* The calling thread's number (T0 for the first thread that allocated). */
unsigned hw_mc_debug_tid(void);
/* The calling thread's stack, without the layer's own frames when it is a
 * shared object of its own (DM2), at most max frames into pc; returns how
 * many. */
size_t hw_mc_debug_stack(uintptr_t *pc, size_t max);
/* The same, at most hw_mc_dbg.depth frames, as a depot id (0 when the depot
 * is off or full, or the depth is 0). */
uint32_t hw_mc_debug_capture(void);

/* A freed large object, as the ring remembers it. */
typedef struct mc_freed_large {
	uintptr_t start;
	size_t size;
	uint32_t alloc_stack, free_stack;
	uint16_t alloc_tid, free_tid;
} mc_freed_large;
/* The most recently freed large object holding address p (its pages); false
 * when the ring has none. */
bool hw_mc_debug_freed_large(uintptr_t p, mc_freed_large *out);

/* The exit-time work (the layer's destructor): the leak check, then the
 * exit status when errors or leaks were found (hw_mc_cfg.exitcode). */
void hw_mc_debug_at_exit(void);

/* DM5: moves the exit-time work from the layer's destructor to the
 * platform's last exit handler (console.h CN5), after every module's
 * destructors. For the interposing library's constructor only: a library
 * loaded at start-up and never unloaded. Where the platform has no such
 * handler, the destructor keeps the work. */
void hw_mc_debug_exit_last(void);

/* DM7: the interposing library sees the program's close and fclose
 * (src/override/closing.c): the copy of standard error waits until the
 * program closes it. For that library's constructor only. */
void hw_mc_debug_watch_stderr(void);

/* hw_mc_reset's part (malloc.c MA8): the mode's memory (depot, ring,
 * quarantine) back to the layer's platform, the mode off and not started. */
void hw_mc_debug_reset(void);

/* Every lock of the mode, in order (fork hooks). */
void hw_mc_debug_lock(void);
void hw_mc_debug_unlock(void);

/* ---- debug_depot.c ---- */

/* Sets the depot up (reserves its address space); false on ENOMEM. */
bool hw_mc_depot_init(hw_platform *pf);
/* hw_mc_reset's part: gives the depot back to its platform; every id is
 * forgotten. */
void hw_mc_depot_reset(void);
/* The id of the stack pc[0..n) (1 <= n <= MC_DEBUG_MAX_DEPTH), added if new;
 * 0 when the depot is not set up or full (counted). */
uint32_t hw_mc_depot_put(const uintptr_t *pc, size_t n);
/* The frames of stack id into *pc; their number, 0 for id 0. */
size_t hw_mc_depot_get(uint32_t id, const uintptr_t **pc);
/* Distinct stacks stored, bytes they take, stacks dropped (depot full). */
void hw_mc_depot_stats(uint64_t *stacks, uint64_t *bytes, uint64_t *dropped);
void hw_mc_depot_lock(void);
void hw_mc_depot_unlock(void);

/* ---- debug_report.c ---- */

/* The sanitizer-layout block after a misuse report's first line (harden.c
 * hw_mc_misuse's arguments; where: the foreign address's description). */
void hw_mc_report_misuse(int what, const char *op, const void *p, const mc_span *s, size_t idx,
			 const void *at, const char *where);
/* The block after a use-after-free report's line (harden.c
 * hw_mc_use_after_free's arguments). */
void hw_mc_report_uaf(const void *at, uintptr_t lo, size_t size, const mc_dbg_obj *rec,
		      bool at_exit);
/* What kind.c's check found wrong in a deallocation. */
typedef enum mc_mismatch {
	MC_MISMATCH_KIND,       /* the wrong family or form (alloc-dealloc-mismatch) */
	MC_MISMATCH_NEW_SIZE,   /* a sized delete's size (new-delete-type-mismatch) */
	MC_MISMATCH_FREE_SIZE,  /* free_sized's or free_aligned_sized's size */
	MC_MISMATCH_FREE_ALIGN, /* free_aligned_sized's alignment (both free-size-mismatch) */
} mc_mismatch;
/* The same after a mismatch (kind.c): p is the live object at slot idx of
 * s, made by `made_by`, wrongly freed by op; value is the size or the
 * alignment op was given, for the kinds that have one. */
void hw_mc_report_mismatch(const void *p, const mc_span *s, size_t idx, mc_mismatch what,
			   size_t value, const char *made_by, const char *op);

/* One line of the leak report: objects allocated from one stack. */
typedef struct mc_leak {
	uint32_t stack;
	bool direct;
	size_t bytes, count;
} mc_leak;
/* Prints the leak report in LeakSanitizer's layout (leaks sorted already),
 * less the groups a suppression matches (debug_report.c RP7); leaks[] is
 * the caller's scratch (the groups it reports end up at its front).
 * unstopped: threads the check could not stop (a warning line). Returns
 * the objects reported (not suppressed). */
size_t hw_mc_report_leaks(mc_leak *leaks, size_t n, size_t unstopped);
/* The line a clean leak check prints when it could not stop unstopped
 * threads (SIZE_MAX: any), since no report's header says it; nothing when
 * unstopped is 0. */
void hw_mc_report_blind(size_t unstopped);

/* The leak suppressions (debug_suppress.c): read the file at path (once;
 * SS1's warnings); give it back (the layer's reset); the rules and their
 * counts; the first rule that module, function or file matches (any of
 * them NULL: not asked), or -1. */
void hw_mc_suppress_load(const char *path);
void hw_mc_suppress_reset(void);
size_t hw_mc_suppress_rules(hw_supp_rule **out);
int hw_mc_suppress_rule(const char *module, const char *function, const char *file);

/* What a fault report says (debug_fault.c fills it, hw_mc_report_fault
 * prints it: debug_report.c RP5). */
typedef struct mc_fault_report {
	const hw_fault *f;
	const char *kind;    /* heap-buffer-overflow, ..., SEGV, stack-overflow */
	bool heap;           /* a heap address: "on address ... at pc" and the access line */
	bool stack_overflow; /* "stack-overflow on address" (not heap) */
	char located[512];   /* hw_mc_report_where's line, or "" */
	bool have_rec;       /* rec holds the object's stacks */
	bool freed;          /* the object is freed: "freed by" comes first */
	mc_dbg_obj rec;
} mc_fault_report;
/* Prints the fault report: banner, ERROR line, access, the faulting
 * context's stack, the located line, the object's history, SUMMARY.
 * Async-signal-safe (RP5). */
void hw_mc_report_fault(const mc_fault_report *r);
/* RP6: "0x... is located N bytes <inside of|after the end of|before the
 * start of> [a freed ]M-byte <noun> [lo,hi)" for addr against [lo, lo +
 * size), into buf; returns its length. */
size_t hw_mc_report_where(char *buf, size_t len, uintptr_t addr, uintptr_t lo, size_t size,
			  bool freed, const char *noun);
void hw_mc_report_lock(void);
void hw_mc_report_unlock(void);

/* ---- debug_quarantine.c ---- */

/* Whether freed objects go to the quarantine (the mode on, quarantine_bytes
 * > 0, its ring made). */
bool hw_mc_quar_on(void);
/* Sets the quarantine up, bounded by max_bytes (under the init lock, from
 * hw_mc_debug_start); nothing when it is set up already or max_bytes is 0. */
void hw_mc_quar_start(size_t max_bytes);
/* Small slot p of s, whose state entry is st (live), passed the free's
 * checks and has its free stack: fills it, marks it free (state 0) and
 * holds it back; false (nothing done) when the quarantine is off. May
 * evict older objects first (DQ2). Keeps errno. */
bool hw_mc_quar_small(void *p, mc_span *s, mc_state *st);
/* The same for large object s (its kind becomes MC_SPAN_QUARANTINED). */
bool hw_mc_quar_large(mc_span *s);
/* Any other freed object into the same quarantine, under the same bound
 * (guarded objects: their owner's entry and eviction function); false
 * when the quarantine is off or e is larger than its bound (the caller
 * then gives the object back at once). Keeps errno. */
bool hw_mc_quar_put(const mc_qentry *e);
/* Every object in the quarantine leaves it, checked (DQ2): _drain for
 * tests and the fuzz targets, _exit for the exit-time check (before the
 * leak check; its reports say "at exit"). */
void hw_mc_quar_drain(void);
void hw_mc_quar_exit(void);
/* Objects held and the bytes they hold of the bound. */
void hw_mc_quar_stats(size_t *count, size_t *bytes);
/* hw_mc_reset's part: forgets the quarantine (its objects died with the
 * heap) and gives its ring back. */
void hw_mc_quar_reset(void);
void hw_mc_quar_lock(void);
void hw_mc_quar_unlock(void);
/* ---- debug_fault.c ---- */

/* Installs the layer's fault classifiers (platform/fault.h) and gives the
 * calling thread its alternate stack (under the init lock, when the mode
 * starts). */
void hw_mc_fault_start(void);
/* The calling thread's first allocation or free in debug mode: its
 * alternate signal stack, given back at its exit (debug_fault.c DF4). */
void hw_mc_fault_thread(void);

/* ---- debug_leak.c ---- */

/* The leak check: reports leaks (LeakSanitizer's layout) and returns the
 * number of leaked objects; 0 with the mode off. */
size_t hw_mc_leak_check(void);

/* 1 when the leak check reads the program's own mappings as roots
 * (debug_leak.c LK6): not in a build under a tool whose own memory, with
 * stale pointers into the heap, is among them (AddressSanitizer's fake
 * stacks and shadow, ThreadSanitizer's shadow, Memcheck's records). */
#define HW_LEAK_SCANS_MAPPINGS (!HW_ASAN && !HW_TSAN && !HW_TRACK_VALGRIND)

/* ---- malloc.c ---- */

/* Takes and releases every lock of the layer, in MC order (the fork hooks'
 * prepare and parent): the leak check holds them while it scans. */
void hw_mc_lock_all(void);
void hw_mc_unlock_all(void);

#endif

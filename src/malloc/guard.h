/* guard.h: guarded objects (debug mode, issue 13): each on pages of its own
 * with a guard page of the page heap against its end (or its start), faulted
 * and quarantined when freed, so a stray access traps at the instruction.
 *
 * Owns: the entry points the allocation and free paths call for guarded
 * objects (guard.c), and what a fault handler may ask about an address in
 * guarded memory (hw_mc_guard_describe). The fault report (debug_fault.c)
 * turns the description into a kind, an offset and stacks; this module says
 * only which object the address belongs to and in what state it is.
 *
 * Locking: see guard.c. hw_mc_guard_describe takes no lock (it runs in a
 * signal handler).
 */
#ifndef HW_MALLOC_GUARD_H
#define HW_MALLOC_GUARD_H

#include "malloc_internal.h"
#include "options.h"

/* guard.c GD7's refill: 32 data pages' worth of runs (32 one-page runs:
 * one populate call where 32 first touches would each take a page fault);
 * at most 16 shapes of them, 2 MiB of memory. */
#define MC_GUARD_READY_PAGES 32

/* One guarded object, as a fault handler sees it. */
typedef struct mc_guard_obj {
	uintptr_t start;        /* the object: [start, start + size) */
	size_t size;            /* its requested bytes */
	uintptr_t run, run_end; /* its pages, guard pages included: [run, run_end) */
	bool freed;             /* freed: its pages are faulted (in the quarantine) */
	bool dbg;               /* the stacks below were recorded (MC9) */
	mc_dbg_obj rec;         /* its allocation (and free) stacks and threads */
	uint8_t kind;           /* MC_KIND_* of the call that made it */
} mc_guard_obj;

/* What guarded memory says about addr: true, with *o filled, when addr lies
 * in the pages of a guarded object (its own pages or its guard pages), live
 * or quarantined; false otherwise. Async-signal-safe: no lock, no malloc, no
 * write; it reads records another thread may be changing (the answer may
 * then mix their states, never fault). */
bool hw_mc_guard_describe(uintptr_t addr, mc_guard_obj *o);

/* Set (release) once the guarded heap exists; then every slow-path
 * allocation asks hw_mc_guard_alloc first. */
extern int hw_mc_guard_enabled;

static inline bool hw_mc_guard_on(void)
{
	return __atomic_load_n(&hw_mc_guard_enabled, __ATOMIC_ACQUIRE) != 0;
}

/* Reads the guard options (under the init lock, from apply_options). */
void hw_mc_guard_configure(const hw_options *o);
/* Creates the guarded heap when the options ask for guards and it does not
 * exist yet (under the init lock, once the layer's platform is set). */
void hw_mc_guard_start(void);
/* A guarded object of n bytes aligned to align (0 or a power of two), when
 * the policy picks this allocation (guard, guard_min/max, sampling) and the
 * budgets and the OS allow it; NULL otherwise (the caller then allocates
 * on the normal path: NULL is never an error). Its bytes are zero when
 * zero is true (calloc: cleared unless known zero, guard.c GD13), else
 * undefined. */
void *hw_mc_guard_alloc(size_t n, size_t align, bool zero);
/* GD9: prints the budget warnings that wait for a report, once; the debug
 * mode's error reports call it first. Async-signal-safe. */
void hw_mc_guard_say_pending(void);
/* The guarded record (MC_SPAN_GUARDED) holding address a, &hw_mc_freed_span
 * for pages of a run that left the quarantine, or NULL: not guarded memory. */
mc_span *hw_mc_guard_span(uintptr_t a);
/* A free (op: "free", "realloc") of p, whose record s (GUARDED) holds it:
 * MA3's checks (interior, double free while quarantined: reported), the
 * pattern (damage reported, the free goes on), then the free stack, the
 * pages faulted and the object into the debug mode's quarantine
 * (hw_mc_quar_put), or its run freed when it cannot enter. */
void hw_mc_guard_free(void *p, mc_span *s, const char *op);
/* The first damaged pattern byte of live guarded object s (NULL: none);
 * with repair, the pattern is written again (realloc reports once, MA3). */
const unsigned char *hw_mc_guard_damage(mc_span *s, bool repair);
/* GD8: live guarded s now holds an object of operator new: zeroes the 8
 * bytes before its start when they are in its data pages. */
void hw_mc_guard_cookie(mc_span *s);
/* GD8, for KD4: the live guarded object with a zero cookie whose array
 * block operator delete[] would free at p (8 or 16 bytes before its
 * start), or NULL. */
mc_span *hw_mc_guard_cookie_owner(uintptr_t p);
/* Calls fn for every live guarded object. The caller holds every lock of
 * the layer (hw_mc_lock_all: the leak check). */
void hw_mc_guard_each(void (*fn)(void *arg, mc_span *s), void *arg);
/* Gives the runs cached for reuse (guard.c GD6) back to the guarded heap,
 * then the guarded map's leaves that name no run (span.c SP9)
 * (hw_malloc_trim). */
void hw_mc_guard_trim(void);
/* The guarded heap (NULL when none): its arenas are not roots. */
hw_heap *hw_mc_guard_heap(void);
/* The counters hw_malloc_stats reports; and, for tests, the sealed runs
 * and their bound (guard.c GD10), the bytes of the cached runs and theirs
 * (GD6). */
typedef struct mc_guard_stats {
	size_t live, live_bytes;
	uint64_t over_budget, refused;
	size_t sealed, seal_max;
	bool sealing;
	size_t cached, cache_max;
} mc_guard_stats;
void hw_mc_guard_stats(mc_guard_stats *out);
/* guard.c's lock (fork hooks, the leak check). */
void hw_mc_guard_lock(void);
void hw_mc_guard_unlock(void);
/* hw_mc_reset's part: destroys the guarded heap, gives its page map back
 * and returns every setting and counter to its initial value. */
void hw_mc_guard_reset(void);

#endif

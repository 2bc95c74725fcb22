/* debug.c: the debug mode (debug.h): its configuration, the hooks on the
 * allocation and free paths, thread numbers, the ring of freed large
 * objects, and what happens at exit.
 *
 * Owns: hw_mc_dbg; hw_mc_debug_configure/start/alloc/free/tid/capture/
 * freed_large/at_exit/lock/unlock. Starting the mode installs the fault
 * reports (debug_fault.c), and the hooks give each thread its alternate
 * signal stack at its first allocation or free.
 *
 * Invariants (MC9 of malloc_internal.h, and):
 *   DM1. The mode is on when the options say debug=1, detect_leaks=1 or
 *        guard other than none (guarded objects' reports want stacks);
 *        it then sets hw_mc_slow_only, so the hooks below are the only code
 *        it adds to a call, and only on the slow paths (debug.h).
 *   DM2. A recorded stack starts at the program's call into the layer:
 *        when the layer is a shared object of its own (libheapward.so,
 *        libheapward-malloc.so), leading frames inside its executable
 *        range are dropped at capture; linked into the program itself, its
 *        frames are recorded and the report drops them by source file
 *        (debug_report.c RP2). Then at most hw_mc_dbg.depth frames are kept.
 *   DM3. Thread numbers are given in the order threads first allocate or
 *        free in debug mode, from 0, and stored in 16 bits (saturating).
 *   DM4. The ring keeps the last DB_RING freed large objects (their bounds,
 *        both stacks and threads), so a double or invalid free of a large
 *        object, whose record is gone with its pages, still names them.
 *        Slots are claimed with an atomic counter; a reader may see a slot
 *        being rewritten (reports only, best effort).
 *   DM5. At exit, every object in the quarantine leaves it, checked
 *        (debug_quarantine.c), then the leak check runs when asked; then,
 *        when the process reported errors and continued (abort_on_error=0)
 *        or leaked, and exitcode is not 0, the process ends with exitcode
 *        (after flushing stdio), as the sanitizers do. "At exit" is the
 *        layer's destructor, which runs after the program's own
 *        destructors and exit handlers; in the interposing library it is
 *        the platform's last exit handler (hw_mc_debug_exit_last), after
 *        every module's destructors too, so that what other libraries'
 *        destructors free is not reported and what they flush (libgfortran
 *        keeps its own output buffers) is not lost when the leaks end the
 *        process.
 *   DM6. With the leak check on, an allocation leaves no copy of the
 *        address it returns in the stack below its caller:
 *        hw_mc_debug_scrub, tail-called last (malloc.c MA10), zeroes
 *        DB_SCRUB_BYTES of it (DB_SCRUB_UNGUARDED_BYTES when no object
 *        is guarded). The scan reads every stack word from a thread's
 *        stack pointer up, and a copy left there by the layer's own frames
 *        lives on in the slots the program's next calls do not write (a
 *        leak followed by exit() went unreported). Copies the program
 *        makes itself are its own, as under LeakSanitizer.
 *   DM7. Reports at exit reach the standard error the program closed in an
 *        exit handler (GNU coreutils' close_stdout does): the mode keeps a
 *        copy of it (console.h CN4) when it starts with no log file. Once
 *        the interposing library says it sees the program's close and
 *        fclose (hw_mc_debug_watch_stderr, from its constructor), the copy
 *        is taken only when standard error is about to close, and a copy
 *        taken before that is closed: a program that keeps standard error
 *        open has no descriptor of the mode's (CPython's test_subprocess
 *        lists a child's descriptors and wants exactly its own).
 *
 * Locking: none here but the depot's and the report's (debug.h); the
 * per-object records are written by the thread that allocates or frees the
 * object, which the program orders (as MC8's kinds).
 */
#include "debug.h"

#include "console.h"
#include "guard.h"
#include "module.h"
#include "stackwalk.h"

#include <string.h>

/* DM6: deeper than an allocation's copies of its address reach below the
 * caller: at -O2, 2272 bytes with guards on, 688 without (the deepest of
 * 14 entry points, tests/override/leak_copies_test.c's cases). The zeroing
 * costs about 50 ns at 4 KiB, so the unguarded path, which has no
 * guard-page system call to hide it behind, zeroes less. */
#define DB_SCRUB_BYTES 4096
#define DB_SCRUB_UNGUARDED_BYTES 1536
#define DB_RING 1024

mc_debug hw_mc_dbg = {.depth = 30, .symbolize = true};

static HW_THREAD_LOCAL unsigned tid_plus1;
static unsigned next_tid; /* atomic */
/* From the platform, not this module's data: the leak check scans every
 * module's data as roots, and a stale start of a freed object there could
 * keep a new object at the same place alive. */
static mc_freed_large *ring;
static uint64_t ring_next; /* atomic */

void hw_mc_debug_configure(const hw_options *o)
{
	bool on = o->debug || o->detect_leaks || o->guard != HW_OPT_GUARD_NONE;
	hw_mc_dbg.leaks = o->detect_leaks;
	hw_mc_dbg.use_mappings = o->use_mappings;
	hw_mc_dbg.symbolize = o->symbolize;
	hw_mc_dbg.depth = hw_min(o->stack_depth, MC_DEBUG_MAX_DEPTH);
	hw_mc_dbg.tables_on_malloc = !o->fast_unwind_on_malloc;
	hw_mc_dbg.tables_on_fatal = !o->fast_unwind_on_fatal;
	memcpy(hw_mc_dbg.symbolizer_path, o->symbolizer_path, sizeof hw_mc_dbg.symbolizer_path);
	if (on)
		hw_mc_slow_only = true;
	__atomic_store_n(&hw_mc_dbg.on, on, __ATOMIC_RELAXED);
}

/* DM7 (atomic): the mode keeps a copy of standard error; the interposing
 * library sees the program close it. */
static bool stderr_kept, stderr_watched;

/* DM7: the copy as the two flags ask for it now. */
static void keep_stderr(void)
{
	if (!__atomic_load_n(&stderr_kept, __ATOMIC_ACQUIRE))
		return;
	if (__atomic_load_n(&stderr_watched, __ATOMIC_ACQUIRE))
		hw_console_keep_at_close();
	else
		hw_console_keep();
}

void hw_mc_debug_watch_stderr(void)
{
	__atomic_store_n(&stderr_watched, true, __ATOMIC_RELEASE);
	keep_stderr();
}

static size_t ring_bytes(void)
{
	return hw_align_up(DB_RING * sizeof *ring, hw_mc_g.pf->caps.page_size);
}

void hw_mc_debug_start(const hw_options *o)
{
	if (o->log_path[0])
		(void)hw_console_log_path(o->log_path);
	if (!hw_mc_debug_on() || hw_mc_dbg.started)
		return;
	/* DM7. With a log file the copy would serve nothing, and a program
	 * that lists its open descriptors (a test suite's check for leaked
	 * ones) would see it. */
	__atomic_store_n(&stderr_kept, !o->log_path[0], __ATOMIC_RELEASE);
	keep_stderr();
	bool is_program;
	hw_module_self(&hw_mc_dbg.self_lo, &hw_mc_dbg.self_hi, &is_program);
	hw_mc_dbg.trim_at_capture = !is_program && hw_mc_dbg.self_lo < hw_mc_dbg.self_hi;
	/* stack_depth=0 records no stack: no depot to reserve. */
	if (hw_mc_dbg.depth)
		(void)hw_mc_depot_init(hw_mc_g.pf);
	void *r;
	if (hw_sys_alloc(hw_mc_g.pf, ring_bytes(), &r) == 0)
		__atomic_store_n(&ring, (mc_freed_large *)r, __ATOMIC_RELEASE);
	hw_mc_quar_start(o->quarantine_bytes);
	hw_mc_fault_start();
	hw_mc_suppress_load(o->suppressions);
	hw_mc_dbg.started = true;
}

unsigned hw_mc_debug_tid(void)
{
	if (!tid_plus1)
		tid_plus1 = __atomic_add_fetch(&next_tid, 1, __ATOMIC_RELAXED);
	return tid_plus1 - 1;
}

static uint16_t tid16(void)
{
	unsigned t = hw_mc_debug_tid();
	return (uint16_t)(t < UINT16_MAX ? t : UINT16_MAX);
}

__attribute__((noinline)) size_t hw_mc_debug_stack(uintptr_t *pc, size_t max)
{
	/* Room for the layer's own frames (DM2) on top of max. */
	uintptr_t all[MC_DEBUG_MAX_DEPTH + 16];
	size_t want = hw_min(max, MC_DEBUG_MAX_DEPTH) + 16, k = 0;
	/* The table walk gives 0 frames where it cannot run (UW6). */
	size_t n = hw_mc_dbg.tables_on_malloc ? hw_unwind_tables_here(all, want) : 0;
	if (n == 0)
		n = hw_unwind_here(all, want);
	if (hw_mc_dbg.trim_at_capture)
		while (k < n && all[k] >= hw_mc_dbg.self_lo && all[k] < hw_mc_dbg.self_hi)
			k++;
	n = hw_min(n - k, max);
	memcpy(pc, all + k, n * sizeof *pc);
	return n;
}

uint32_t hw_mc_debug_capture(void)
{
	uintptr_t pc[MC_DEBUG_MAX_DEPTH];
	if (hw_mc_dbg.depth == 0)
		return 0;
	return hw_mc_depot_put(pc, hw_mc_debug_stack(pc, hw_mc_dbg.depth));
}

/* p's record when p is a live object's start in a span with records. */
static mc_dbg_obj *record_of(void *p)
{
	mc_span *s = mc_span_of((uintptr_t)p);
	if (!s)
		s = hw_mc_guard_span((uintptr_t)p);
	if (!s || !s->dbg)
		return NULL;
	if (s->kind == MC_SPAN_LARGE || s->kind == MC_SPAN_GUARDED)
		return mc_span_dbg(s);
	if (s->kind != MC_SPAN_SMALL)
		return NULL;
	size_t idx = mc_slot_index(s, (uintptr_t)p - s->start);
	return idx < s->nobjs ? &mc_span_dbg(s)[idx] : NULL;
}

void hw_mc_debug_alloc(void *p)
{
	hw_mc_fault_thread();
	mc_dbg_obj *o = record_of(p);
	if (!o)
		return;
	o->alloc_stack = hw_mc_debug_capture();
	o->alloc_tid = tid16();
	o->free_stack = 0;
	o->free_tid = 0;
}

__attribute__((noinline)) void *hw_mc_debug_scrub(void *p)
{
	if (!hw_mc_dbg.leaks)
		return p;
	/* Through a pointer the compiler cannot see through: it may neither
	 * drop the zeroing (a store to memory nothing reads) nor inline it as
	 * a string instruction, which took 55 ns where the C library's
	 * vector memset takes a fraction of that. */
	static void *(*volatile zero)(void *, int, size_t) = memset;
	unsigned char below[DB_SCRUB_BYTES];
	size_t n = hw_mc_guard_on() ? DB_SCRUB_BYTES : DB_SCRUB_UNGUARDED_BYTES;
	zero(below + sizeof below - n, 0, n);
	return p;
}

void hw_mc_debug_free(void *p, mc_span *s, size_t idx)
{
	hw_mc_fault_thread();
	uint32_t id = hw_mc_debug_capture();
	uint16_t tid = tid16();
	mc_dbg_obj *o = s->dbg ? &mc_span_dbg(s)[idx] : NULL;
	if (o) {
		o->free_stack = id;
		o->free_tid = tid;
	}
	mc_freed_large *rg = __atomic_load_n(&ring, __ATOMIC_ACQUIRE);
	if (s->kind != MC_SPAN_LARGE || !rg)
		return;
	uint64_t k = __atomic_fetch_add(&ring_next, 1, __ATOMIC_RELAXED);
	mc_freed_large *r = &rg[k % DB_RING];
	r->start = (uintptr_t)p;
	r->size = s->req;
	r->alloc_stack = o ? o->alloc_stack : 0;
	r->alloc_tid = o ? o->alloc_tid : 0;
	r->free_stack = id;
	r->free_tid = tid;
}

bool hw_mc_debug_freed_large(uintptr_t p, mc_freed_large *out)
{
	const mc_freed_large *rg = __atomic_load_n(&ring, __ATOMIC_ACQUIRE);
	if (!rg)
		return false;
	uint64_t end = __atomic_load_n(&ring_next, __ATOMIC_RELAXED);
	uint64_t n = end < DB_RING ? end : DB_RING;
	for (uint64_t i = 1; i <= n; i++) {
		const mc_freed_large *r = &rg[(end - i) % DB_RING];
		size_t pages = mc_large_pages(r->size);
		if (p >= r->start && p - r->start < pages * MC_PAGE) {
			*out = *r;
			return true;
		}
	}
	return false;
}

void hw_mc_debug_at_exit(void)
{
	hw_mc_quar_exit();
	size_t leaked = hw_mc_dbg.leaks ? hw_mc_leak_check() : 0;
	uint64_t errors = __atomic_load_n(&hw_mc_errors, __ATOMIC_RELAXED);
	if ((leaked || errors) && hw_mc_cfg.exitcode)
		hw_process_exit((int)hw_mc_cfg.exitcode);
}

/* DM5: set by the interposing library's constructor, before any thread. */
static bool exit_deferred;

static void exit_last(void)
{
	if (__atomic_load_n(&hw_mc_ready, __ATOMIC_ACQUIRE))
		hw_mc_debug_at_exit();
}

void hw_mc_debug_exit_last(void) { exit_deferred = hw_process_on_exit_last(exit_last); }

/* DM5. Priority 101, the last: destructors with a lower priority number
 * run later, so this one runs after every other destructor of this module
 * (the statistics lines included) and, as the module's own, after the
 * program's exit handlers. */
__attribute__((destructor(101))) static void debug_exit(void)
{
	if (!exit_deferred)
		exit_last();
}

void hw_mc_debug_reset(void)
{
	hw_mc_quar_reset();
	hw_mc_suppress_reset();
	hw_mc_depot_reset();
	mc_freed_large *rg = __atomic_load_n(&ring, __ATOMIC_ACQUIRE);
	if (rg)
		hw_sys_release(hw_mc_g.pf, rg, ring_bytes());
	__atomic_store_n(&ring, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&ring_next, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&hw_mc_dbg.on, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&stderr_kept, false, __ATOMIC_RELAXED);
	hw_mc_dbg.started = false;
}

void hw_mc_debug_lock(void)
{
	hw_mc_quar_lock();
	hw_mc_report_lock();
	hw_mc_depot_lock();
}

void hw_mc_debug_unlock(void)
{
	hw_mc_depot_unlock();
	hw_mc_report_unlock();
	hw_mc_quar_unlock();
}

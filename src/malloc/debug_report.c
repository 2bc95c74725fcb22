/* debug_report.c: the debug mode's reports, in the layout of the
 * sanitizers, so that people's tools and ClusterFuzz read them.
 *
 * Owns: printing stacks (symbolized at report time, the layer's own frames
 * trimmed), the block that follows each misuse report's first line, and
 * the leak report. An error report reads:
 *
 *   heapward: double free of 0x... (a free 32-byte slot [...))   (HD1's line)
 *   =================================================================
 *   ==PID==ERROR: heapward: double-free on address 0x... in thread T0:
 *       #0 0x... in function file:line:column
 *       ...
 *
 *   0x... is located 0 bytes inside of a freed 32-byte slot [0x..., 0x...)
 *   freed by thread T0 here:
 *       #0 ...
 *
 *   previously allocated by thread T0 here:
 *       #0 ...
 *
 *   SUMMARY: heapward: double-free file:line:column in function
 *   ==PID==ABORTING                                (when it aborts next)
 *
 * and the leak report as LeakSanitizer's:
 *
 *   ==PID==ERROR: heapward: detected memory leaks
 *
 *   Direct leak of N byte(s) in M object(s) allocated from:
 *       #0 ...
 *
 *   Indirect leak of ...
 *
 *   -----------------------------------------------------   (RP7, when a
 *   Suppressions used:                                       rule matched)
 *     count      bytes template
 *         M          N <template>
 *   -----------------------------------------------------
 *
 *   SUMMARY: heapward: N byte(s) leaked in M allocation(s).
 *
 * and a fault report (debug_fault.c classifies, this file prints) as
 * AddressSanitizer's:
 *
 *   ==PID==ERROR: heapward: heap-buffer-overflow on address 0x... at pc 0x... bp 0x... sp 0x...
 *   WRITE of unknown size at 0x... thread T0
 *       #0 0x<pc> in function file:line:column      (the faulting instruction)
 *       ...
 *
 *   0x... is located 3 bytes after the end of 13-byte region [0x...,0x...)
 *   allocated by thread T0 here:                   (with "freed by" first when freed)
 *       #0 ...
 *
 *   SUMMARY: heapward: heap-buffer-overflow file:line:column in function
 *
 * or, for a fault on no heap memory, "SEGV on unknown address 0x... (pc
 * 0x... bp 0x... sp 0x... T0)" (or "stack-overflow on address ...") with
 * the access on a line of its own, the stack and the SUMMARY.
 *
 * Kinds: double-free, bad-free (interior, misaligned, foreign, in freed
 * memory), heap-buffer-overflow (a damaged canary or guarded object's
 * pattern after it, or a fault past an object's end),
 * heap-buffer-underflow (a guarded object's pattern before it, or a fault
 * before its start), heap-use-after-free (a fault on a freed object, or a
 * quarantined object's pattern damaged: the stack after the ERROR line is
 * then where that was found, debug_quarantine.c), heap-wild-access (a
 * fault on the heap's pages on no object), alloc-dealloc-mismatch,
 * new-delete-type-mismatch (a sized delete with the wrong size),
 * free-size-mismatch (free_sized or free_aligned_sized with the wrong size
 * or alignment), SEGV (BUS) and stack-overflow.
 *
 * Invariants:
 *   RP1. A frame is "    #N 0x<pc> in <function> <file>:<line>[:<column>]"
 *        when the symbolizer knows the line, "    #N 0x<pc> in <function>
 *        (<module>+0x<offset>)" when it knows only the function, and
 *        "    #N 0x<pc> (<module>+0x<offset>)" otherwise; an inlined call
 *        gets a frame of its own (same pc), innermost first. The offset is
 *        the file address of the pc (module.h MO3); the symbolizer is asked
 *        about pc - 1, the call instruction, since every recorded pc is a
 *        return address, except a fault's frame #0, the faulting
 *        instruction itself, which is asked about as it is.
 *   RP2. Leading frames of the layer itself are not printed: those in its
 *        own module when it is a shared object (debug.c DM2), and those
 *        whose source file is in this project's src/ or platform/ (the
 *        build's source root, from this file's own path), for a layer
 *        linked into the program. Frame numbers count printed frames.
 *        A fault whose instruction is the layer's own is shown whole,
 *        from that instruction: the layer faulted (a bad pointer given
 *        to it, or its own bug), and a stack starting in the program
 *        would blame the caller's line.
 *   RP3. The SUMMARY line names the first printed frame of the error's own
 *        stack (the call that made the error), as the sanitizers do.
 *   RP4. A report is printed whole, under report_lock; it allocates
 *        nothing (stack buffers, the static symbolizer sessions, the
 *        platform's symbolizer child: symbolize.h SZ1).
 *   RP5. A fault report runs in a signal handler, and the faulting thread
 *        may hold report_lock itself (a fault inside a report) or another
 *        thread may: it waits for the lock at most RP_FAULT_WAIT_MS, then
 *        prints without it (lines of two reports may then interleave,
 *        nothing deadlocks). It uses a symbolizer session of its own,
 *        which fault_owner gives to one faulting thread at a time (the
 *        others wait: the first one's report ends in the process's
 *        death, or returns and lets the next one in); a thread that faults
 *        again while it reports prints nothing more. Async-signal-safe
 *        but for the module lookup (dl_iterate_phdr takes the dynamic
 *        loader's lock: a fault while another thread loads a library waits
 *        for it to finish).
 *   RP6. Where an address lies against an object is said one way
 *        (hw_mc_report_where): "N bytes inside of", "N bytes after the end
 *        of" (N = address - end), "N bytes before the start of" (N = start
 *        - address) "[a freed ]M-byte region [start,end)".
 *   RP7. A leak group is suppressed when a rule of the suppressions file
 *        (debug_suppress.c) matches the module path, function or source
 *        file of one of the frames the report would print for its stack
 *        (RP1, RP2), the first rule in the file's order that does. It is
 *        then neither printed nor counted in the SUMMARY line nor in the
 *        count the check returns (the exit status follows that count); its
 *        objects and bytes go to its rule, and the rules that matched are
 *        listed as LeakSanitizer lists them ("Suppressions used:", count,
 *        bytes, template), before the SUMMARY line, or alone when every
 *        group was suppressed (no ERROR line then).
 *   RP8. A report goes out in few writes, each of whole lines and at most
 *        RP_WRITE_MAX bytes: its lines are held in the session (static,
 *        under report_lock) until the next would not fit, a leak group
 *        begins, or the report ends. Each leak group (its heading and
 *        stack; the report's header goes with the first, its SUMMARY with
 *        the last) that fits is thus one write, which a pipe shared with
 *        other processes (a shell pipeline whose processes exit together,
 *        make -j) never interleaves with theirs, and a leak report to
 *        log_path (one open per write, console.h CN1) takes a write per
 *        group, not per line. The fault report writes each line at once:
 *        a fault inside it ends the process, and what it printed must be
 *        out by then; and when it interrupts a report of its own thread
 *        (RP5), it first writes what that report held.
 *   RP9. A leak report some of whose stacks end after one pc, recorded by
 *        frame pointers (fast_unwind_on_malloc=1, stack_depth above 1),
 *        says why and what to do, on a "HINT:" line before the SUMMARY (the
 *        sanitizers' word for such lines): the frame-pointer walk stops
 *        at the first caller that keeps none, which is most code built
 *        with -O2 (the leaks of gcc's driver and of as, under `heapward
 *        run`, each showed one frame and no more).
 *
 * Locking: report_lock, a leaf of the layer's order (debug.h); fault_owner
 * (RP5), taken only in the fault handler, before report_lock.
 */
#include "debug.h"

#include "console.h"
#include "module.h"
#include "stackwalk.h"
#include "symbolize.h"

#include <string.h>

#define RP_INLINE_MAX 8
#define RP_BANNER "================================================================="
#define RP_FAULT_WAIT_MS 1000
/* RP8: a write to a pipe of at most PIPE_BUF bytes (4096 on Linux) is
 * never interleaved with another process's. */
#define RP_WRITE_MAX 4096

/* A symbolizer session and its answer buffer, and the report's lines not
 * written yet (RP8; the fault report's session keeps none). */
typedef struct rp_session {
	hw_symbolizer sym;
	hw_symbol syms[RP_INLINE_MAX];
	bool direct; /* every line written at once */
	size_t held;
	char text[RP_WRITE_MAX];
} rp_session;

static hw_mutex report_lock = HW_MUTEX_INIT;
static rp_session normal;                      /* under report_lock */
static rp_session faulting = {.direct = true}; /* under fault_owner (RP5) */
/* Atomic: the thread number + 1 of the thread reporting a fault, and of
 * report_lock's holder (RP8), or 0. */
static unsigned fault_owner, normal_owner;

/* RP8: writes the lines ses holds. */
static void flush(rp_session *ses)
{
	if (ses->held)
		hw_console_write(ses->text, ses->held);
	ses->held = 0;
}

/* One or more lines, formatted on the stack; a line cut by the buffer's
 * end still ends with a newline. Held in ses (RP8) unless it is direct. */
static void out(rp_session *ses, const char *fmt, ...) HW_PRINTF(2, 3);
static void out(rp_session *ses, const char *fmt, ...)
{
	char buf[RP_WRITE_MAX];
	va_list ap;
	va_start(ap, fmt);
	size_t n = hw_report_vformat(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n == 0 || buf[n - 1] != '\n')
		buf[n++] = '\n';
	if (ses->direct) {
		hw_console_write(buf, n);
		return;
	}
	if (ses->held + n > sizeof ses->text)
		flush(ses);
	memcpy(ses->text + ses->held, buf, n);
	ses->held += n;
}

/* report_lock for a report of the normal session (RP8's owner). */
static void normal_enter(void)
{
	hw_mutex_lock(&report_lock);
	__atomic_store_n(&normal_owner, hw_mc_debug_tid() + 1, __ATOMIC_RELAXED);
}

static void normal_leave(void)
{
	flush(&normal);
	__atomic_store_n(&normal_owner, 0, __ATOMIC_RELAXED);
	hw_mutex_unlock(&report_lock);
}

void hw_mc_report_lock(void) { hw_mutex_lock(&report_lock); }
void hw_mc_report_unlock(void) { hw_mutex_unlock(&report_lock); }

/* RP2: the source root, "/path/to/heapward/", from this file's path. */
static size_t source_root(const char **root)
{
	static const char self[] = __FILE__;
	static const char tail[] = "src/malloc/debug_report.c";
	size_t n = sizeof self - 1, t = sizeof tail - 1;
	*root = self;
	if (self[0] != '/' || n < t || strcmp(self + n - t, tail) != 0)
		return 0;
	return n - t;
}

static bool own_file(const char *file)
{
	const char *root;
	size_t n = source_root(&root);
	if (n == 0 || strncmp(file, root, n) != 0)
		return false;
	return strncmp(file + n, "src/", 4) == 0 || strncmp(file + n, "platform/", 9) == 0;
}

static bool own_pc(uintptr_t pc)
{
	return hw_mc_dbg.trim_at_capture && pc >= hw_mc_dbg.self_lo && pc < hw_mc_dbg.self_hi;
}

/* Calls fn for each frame of pc[0, n) that a report shows (RP1: an inlined
 * call is a frame of its own; RP2: the layer's leading frames are not), with
 * the frame's module (known: found) and its symbol (NULL when the
 * symbolizer did not answer); stops when fn returns true. exact_first:
 * pc[0] is a faulting instruction, not a return address. */
typedef bool (*frame_fn)(void *arg, uintptr_t pc, const hw_module *m, bool known,
			 const hw_symbol *s);

static void walk_pcs(rp_session *ses, const uintptr_t *pc, size_t n, bool exact_first,
		     frame_fn fn, void *arg)
{
	bool leading = !(exact_first && n > 0 && own_pc(pc[0]));
	for (size_t i = 0; i < n; i++) {
		if (leading && own_pc(pc[i]))
			continue;
		hw_module m;
		bool known = hw_module_find(pc[i], &m);
		/* RP1: a return address; the call is just before it. */
		uintptr_t back = i == 0 && exact_first ? 0 : 1;
		hw_symbol *syms = ses->syms;
		size_t k = known ? hw_symbolize(&ses->sym, m.path, pc[i] - m.bias - back, syms,
						RP_INLINE_MAX)
				 : 0;
		if (k == 0) {
			leading = false;
			if (fn(arg, pc[i], &m, known, NULL))
				return;
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			if (leading && own_file(syms[j].file))
				continue;
			leading = false;
			if (fn(arg, pc[i], &m, known, &syms[j]))
				return;
		}
	}
}

/* The printing state of one stack. */
typedef struct printer {
	rp_session *ses;
	unsigned no;    /* next frame number */
	size_t pcs;     /* the stack's pcs printed (an inlined call shares one) */
	uintptr_t last; /* the pc of frame no - 1 */
	char *summary;  /* when not NULL: receives the first frame's place (RP3) */
	size_t summary_len;
} printer;

static bool frame_line(void *arg, uintptr_t pc, const hw_module *m, bool known,
		       const hw_symbol *s)
{
	printer *pr = arg;
	char where[HW_MODULE_PATH_MAX + 2 * HW_SYMBOL_TEXT_MAX + 64];
	char modoff[HW_MODULE_PATH_MAX + 32];
	if (known)
		hw_report_format(modoff, sizeof modoff, "(%s+0x%llx)", m->path,
				 (unsigned long long)(pc - m->bias));
	else
		hw_report_format(modoff, sizeof modoff, "(<unknown module>)");
	if (s && s->file[0] && s->line) {
		if (s->column)
			hw_report_format(where, sizeof where, "%s:%u:%u", s->file, s->line,
					 s->column);
		else
			hw_report_format(where, sizeof where, "%s:%u", s->file, s->line);
	} else {
		hw_report_format(where, sizeof where, "%s", modoff);
	}
	if (s && s->function[0])
		out(pr->ses, "    #%u 0x%llx in %s %s\n", pr->no, (unsigned long long)pc,
		    s->function, where);
	else
		out(pr->ses, "    #%u 0x%llx %s\n", pr->no, (unsigned long long)pc, modoff);
	if (pr->summary && pr->no == 0) {
		if (s && s->function[0])
			hw_report_format(pr->summary, pr->summary_len, "%s in %s", where,
					 s->function);
		else
			hw_report_format(pr->summary, pr->summary_len, "%s", where);
	}
	if (pr->no == 0 || pc != pr->last)
		pr->pcs++;
	pr->last = pc;
	pr->no++;
	return false;
}

/* Prints pc[0, n) as walk_pcs shows it; summary (when not NULL) receives
 * the first frame's place (RP3). Returns how many of the pcs it printed. */
static size_t print_pcs(rp_session *ses, const uintptr_t *pc, size_t n, bool exact_first,
			char *summary, size_t summary_len)
{
	printer pr = {ses, 0, 0, 0, summary, summary_len};
	walk_pcs(ses, pc, n, exact_first, frame_line, &pr);
	if (pr.no == 0)
		out(ses, "    <empty stack>\n");
	return pr.pcs;
}

static size_t print_stack_id(rp_session *ses, uint32_t id)
{
	const uintptr_t *pc;
	size_t n = hw_mc_depot_get(id, &pc);
	return print_pcs(ses, pc, n, false, NULL, 0);
}

/* One report's frame: banner, ERROR line, lead (a line before the stack,
 * or NULL), the current stack; *summary receives its first frame's
 * place. */
static void begin(const char *kind, const void *addr, const char *lead, char *summary,
		  size_t len)
{
	uintptr_t pc[MC_DEBUG_MAX_DEPTH];
	size_t n = hw_mc_debug_stack(pc, hw_mc_dbg.depth ? hw_mc_dbg.depth : MC_DEBUG_MAX_DEPTH);
	normal_enter();
	hw_symbolizer_open(&normal.sym, hw_mc_dbg.symbolize, hw_mc_dbg.symbolizer_path);
	out(&normal, RP_BANNER "\n");
	out(&normal, "==%d==ERROR: heapward: %s on address %p in thread T%u:\n",
	    hw_process_id(), kind, addr, hw_mc_debug_tid());
	if (lead)
		out(&normal, "%s\n", lead);
	summary[0] = '\0';
	print_pcs(&normal, pc, n, false, summary, len);
	out(&normal, "\n");
}

static void end(const char *kind, const char *summary)
{
	out(&normal, "SUMMARY: heapward: %s%s%s\n", kind, summary[0] ? " " : "", summary);
	if (hw_mc_cfg.abort_on_error)
		out(&normal, "==%d==ABORTING\n", hw_process_id());
	hw_symbolizer_close(&normal.sym);
	normal_leave();
}

/* "freed by" and "(previously) allocated by" for an object's record. */
static void history_in(rp_session *ses, uint32_t alloc_stack, unsigned alloc_tid,
		       uint32_t free_stack, unsigned free_tid, bool freed)
{
	if (freed) {
		out(ses, "freed by thread T%u here:\n", free_tid);
		print_stack_id(ses, free_stack);
		out(ses, "\n");
	}
	out(ses, "%sallocated by thread T%u here:\n", freed ? "previously " : "",
	    alloc_tid);
	print_stack_id(ses, alloc_stack);
	out(ses, "\n");
}

static void history(uint32_t alloc_stack, unsigned alloc_tid, uint32_t free_stack,
		    unsigned free_tid, bool freed)
{
	history_in(&normal, alloc_stack, alloc_tid, free_stack, free_tid, freed);
}

size_t hw_mc_report_where(char *buf, size_t len, uintptr_t addr, uintptr_t lo, size_t size,
			  bool freed, const char *noun)
{
	uintptr_t hi = lo + size;
	const char *rel = addr < lo ? "before the start of" : addr >= hi ? "after the end of"
									 : "inside of";
	size_t off = addr < lo ? (size_t)(lo - addr) : addr >= hi ? (size_t)(addr - hi)
								  : (size_t)(addr - lo);
	return hw_report_format(buf, len, "%p is located %zu bytes %s %s%zu-byte %s [%p,%p)",
				(void *)addr, off, rel, freed ? "a freed " : "", size, noun,
				(void *)lo, (void *)hi);
}

/* RP6's line, printed. */
static void located(uintptr_t addr, uintptr_t lo, size_t size, bool freed, const char *noun)
{
	char line[256];
	hw_mc_report_where(line, sizeof line, addr, lo, size, freed, noun);
	out(&normal, "%s\n", line);
}

/* The object slot idx of s (small or large, live or quarantined): bounds,
 * length (the request when live or large, the slot when free), liveness
 * and record. */
typedef struct object {
	uintptr_t lo;
	size_t len;
	bool live, large;
	const mc_dbg_obj *rec; /* NULL: no record (MC9) */
} object;

static bool object_at(const mc_span *s, size_t idx, object *o)
{
	if (!s || (s->kind != MC_SPAN_SMALL && s->kind != MC_SPAN_LARGE &&
		   s->kind != MC_SPAN_QUARANTINED && s->kind != MC_SPAN_GUARDED))
		return false;
	o->large = s->kind != MC_SPAN_SMALL;
	if (o->large) {
		o->lo = s->start;
		o->len = s->req;
		o->live = s->kind == MC_SPAN_LARGE || (s->kind == MC_SPAN_GUARDED && s->live);
		idx = 0;
	} else {
		if (idx >= s->nobjs)
			return false;
		mc_state st = s->state[idx];
		o->lo = s->start + (uintptr_t)idx * s->size;
		o->live = st != 0;
		o->len = o->live ? mc_state_len(s, st) : s->size;
	}
	o->rec = s->dbg ? &mc_span_dbg(s)[idx] : NULL;
	return true;
}

static void object_history(const object *o)
{
	/* A slot never handed out has a zeroed record: no history to tell
	 * (a free of it is one of a pointer the program never got). */
	if (o->rec && (o->rec->alloc_stack != 0 || o->rec->free_stack != 0))
		history(o->rec->alloc_stack, o->rec->alloc_tid, o->rec->free_stack,
			o->rec->free_tid, !o->live);
	else if (o->rec)
		out(&normal, "\n");
}

/* A freed large object from the ring (debug.c DM4), when it holds p. */
static void freed_large(const void *p)
{
	mc_freed_large f;
	if (!hw_mc_debug_freed_large((uintptr_t)p, &f)) {
		out(&normal,
		    "%p is located in freed heap memory (its object is no longer known)\n\n", p);
		return;
	}
	located((uintptr_t)p, f.start, f.size, true, "region");
	history(f.alloc_stack, f.alloc_tid, f.free_stack, f.free_tid, true);
}

/* "p is located N bytes inside of ..." for the object o, then its history
 * (or the blank line that would close it). */
static void inside(const void *p, const object *o)
{
	located((uintptr_t)p, o->lo, o->len, !o->live, o->live || o->large ? "region" : "slot");
	object_history(o);
	if (!o->rec)
		out(&normal, "\n");
}

void hw_mc_report_misuse(int what, const char *op, const void *p, const mc_span *s, size_t idx,
			 const void *at, const char *where)
{
	(void)op;
	const char *kind = what == MC_BAD_DOUBLE_FREE ? "double-free"
			   : what == MC_BAD_OVERFLOW  ? "heap-buffer-overflow"
			   : what == MC_BAD_UNDERFLOW ? "heap-buffer-underflow"
						      : "bad-free";
	const void *addr = (what == MC_BAD_OVERFLOW || what == MC_BAD_UNDERFLOW) && at ? at : p;
	char summary[HW_MODULE_PATH_MAX + 2 * HW_SYMBOL_TEXT_MAX + 64];
	object o = {0};
	bool have = object_at(s, idx, &o);
	begin(kind, addr, NULL, summary, sizeof summary);
	if (what == MC_BAD_FOREIGN) {
		out(&normal, "%p is not heap memory: %s\n\n", p, where && where[0] ? where : "?");
	} else if ((what == MC_BAD_OVERFLOW || what == MC_BAD_UNDERFLOW) && have) {
		located((uintptr_t)addr, o.lo, o.len, false, "region");
		object_history(&o);
		if (!o.rec)
			out(&normal, "\n");
	} else if (have) {
		inside(p, &o);
	} else if (what == MC_BAD_INTERIOR) {
		out(&normal, "%p is located in the tail of a span that no object covers\n\n", p);
	} else if (what == MC_BAD_DOUBLE_FREE || what == MC_BAD_FREED_MEMORY) {
		freed_large(p);
	}
	end(kind, summary);
}

void hw_mc_report_uaf(const void *at, uintptr_t lo, size_t size, const mc_dbg_obj *rec,
		      bool at_exit)
{
	static const char kind[] = "heap-use-after-free";
	char summary[HW_MODULE_PATH_MAX + 2 * HW_SYMBOL_TEXT_MAX + 64];
	char lead[160];
	/* The write itself was not seen: the stack is where it was found. */
	hw_report_format(lead, sizeof lead,
			 "WRITE of unknown size, found when the object left the quarantine%s, "
			 "here:",
			 at_exit ? " at exit" : "");
	begin(kind, at, lead, summary, sizeof summary);
	located((uintptr_t)at, lo, size, true, "region");
	if (rec)
		history(rec->alloc_stack, rec->alloc_tid, rec->free_stack, rec->free_tid, true);
	else
		out(&normal, "\n");
	end(kind, summary);
}

void hw_mc_report_mismatch(const void *p, const mc_span *s, size_t idx, mc_mismatch what,
			   size_t value, const char *made_by, const char *op)
{
	static const char *const kinds[] = {
		[MC_MISMATCH_KIND] = "alloc-dealloc-mismatch",
		[MC_MISMATCH_NEW_SIZE] = "new-delete-type-mismatch",
		[MC_MISMATCH_FREE_SIZE] = "free-size-mismatch",
		[MC_MISMATCH_FREE_ALIGN] = "free-size-mismatch",
	};
	const char *kind = kinds[what];
	char summary[HW_MODULE_PATH_MAX + 2 * HW_SYMBOL_TEXT_MAX + 64];
	object o = {0};
	bool have = object_at(s, idx, &o);
	begin(kind, p, NULL, summary, sizeof summary);
	if (have) {
		char how[64] = "";
		if (what != MC_MISMATCH_KIND)
			hw_report_format(how, sizeof how, " with %s %zu",
					 what == MC_MISMATCH_FREE_ALIGN ? "alignment" : "size",
					 value);
		out(&normal,
		    "%p is located 0 bytes inside of %zu-byte region [%p,%p), made by %s, freed "
		    "by %s%s\n",
		    p, o.len, (void *)o.lo, (void *)(o.lo + o.len), made_by, op, how);
		object_history(&o);
		if (!o.rec)
			out(&normal, "\n");
	}
	end(kind, summary);
}

/* The frame walk's test for one leak group's stack (RP7). */
typedef struct supp_find {
	int rule;
} supp_find;

static bool frame_suppressed(void *arg, uintptr_t pc, const hw_module *m, bool known,
			     const hw_symbol *s)
{
	supp_find *f = arg;
	(void)pc;
	f->rule = hw_mc_suppress_rule(known ? m->path : NULL, s ? s->function : NULL,
				      s ? s->file : NULL);
	return f->rule >= 0;
}

/* RP7: counts the groups a rule matches on their rules and keeps the
 * others, in order, at the front of leaks[]; returns how many it kept. */
static size_t apply_suppressions(mc_leak *leaks, size_t n)
{
	hw_supp_rule *rules;
	if (hw_mc_suppress_rules(&rules) == 0)
		return n;
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		const uintptr_t *pc;
		size_t depth = hw_mc_depot_get(leaks[i].stack, &pc);
		supp_find f = {-1};
		walk_pcs(&normal, pc, depth, false, frame_suppressed, &f);
		if (f.rule < 0) {
			leaks[kept++] = leaks[i];
			continue;
		}
		rules[f.rule].count += leaks[i].count;
		rules[f.rule].bytes += leaks[i].bytes;
	}
	return kept;
}

/* LeakSanitizer's table of the rules that matched (print_suppressions). */
static void print_suppressions_used(void)
{
	hw_supp_rule *rules;
	size_t nr = hw_mc_suppress_rules(&rules), used = 0;
	for (size_t i = 0; i < nr; i++)
		used += rules[i].count != 0;
	if (!used)
		return;
	out(&normal, "-----------------------------------------------------\n"
		     "Suppressions used:\n"
		     "  count      bytes template\n");
	for (size_t i = 0; i < nr; i++) {
		if (!rules[i].count)
			continue;
		char t[HW_SYMBOL_TEXT_MAX];
		size_t n = hw_min(rules[i].len, sizeof t - 1);
		memcpy(t, rules[i].templ, n);
		t[n] = '\0';
		out(&normal, "%7zu %10zu %s\n", rules[i].count, rules[i].bytes, t);
	}
	out(&normal, "-----------------------------------------------------\n\n");
}

/* The line for the threads the leak check could not stop (their number,
 * SIZE_MAX for all), led by lead. */
static void unstopped_line(size_t unstopped, const char *lead)
{
	if (unstopped == SIZE_MAX)
		out(&normal,
		    "heapward: %sthe threads could not be stopped: every writable mapping was "
		    "scanned instead, so leaks may be missed\n",
		    lead);
	else if (unstopped)
		out(&normal,
		    "heapward: %s%zu thread(s) could not be stopped: every writable mapping was "
		    "scanned instead, so leaks may be missed\n",
		    lead, unstopped);
}

void hw_mc_report_blind(size_t unstopped)
{
	normal_enter();
	unstopped_line(unstopped, "no leaks found, but ");
	normal_leave();
}

size_t hw_mc_report_leaks(mc_leak *leaks, size_t n, size_t unstopped)
{
	normal_enter();
	hw_symbolizer_open(&normal.sym, hw_mc_dbg.symbolize, hw_mc_dbg.symbolizer_path);
	size_t kept = apply_suppressions(leaks, n);
	size_t bytes = 0, count = 0;
	for (size_t i = 0; i < kept; i++) {
		bytes += leaks[i].bytes;
		count += leaks[i].count;
	}
	size_t short_stacks = 0;
	if (kept) {
		out(&normal, "\n" RP_BANNER "\n==%d==ERROR: heapward: detected memory leaks\n",
		    hw_process_id());
		unstopped_line(unstopped, "");
		for (size_t i = 0; i < kept; i++) {
			/* RP8: a group in a write of its own (the header with the
			 * first, the SUMMARY with the last). */
			if (i > 0)
				flush(&normal);
			out(&normal, "\n%s leak of %zu byte(s) in %zu object(s) allocated from:\n",
			    leaks[i].direct ? "Direct" : "Indirect", leaks[i].bytes,
			    leaks[i].count);
			short_stacks += print_stack_id(&normal, leaks[i].stack) == 1;
		}
		out(&normal, "\n");
	}
	/* RP9. */
	if (short_stacks && !hw_mc_dbg.tables_on_malloc && hw_mc_dbg.depth > 1)
		out(&normal,
		    "HINT: %zu of these %zu stacks end after one frame: the code that called the "
		    "allocator keeps no frame pointers (built without -fno-omit-frame-pointer, as "
		    "-O2 code is by default); fast_unwind_on_malloc=0 records whole stacks from "
		    "the unwind tables, more slowly.\n\n",
		    short_stacks, kept);
	print_suppressions_used();
	if (kept)
		out(&normal, "SUMMARY: heapward: %zu byte(s) leaked in %zu allocation(s).\n", bytes,
		    count);
	hw_symbolizer_close(&normal.sym);
	normal_leave();
	return count;
}

/* RP5: fault_owner for the calling thread (me: its number + 1); false when
 * it reports already (a fault inside its own fault report). */
static bool fault_enter(unsigned me)
{
	for (;;) {
		unsigned free_ = 0;
		if (__atomic_compare_exchange_n(&fault_owner, &free_, me, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return true;
		if (free_ == me)
			return false;
		hw_sleep_ns(10 * 1000 * 1000);
	}
}

static const char *access_word(hw_fault_access a)
{
	return a == HW_FAULT_READ    ? "READ"
	       : a == HW_FAULT_WRITE ? "WRITE"
	       : a == HW_FAULT_EXEC  ? "EXECUTE"
				     : "UNKNOWN";
}

void hw_mc_report_fault(const mc_fault_report *r)
{
	const hw_fault *f = r->f;
	unsigned tid = hw_mc_debug_tid();
	if (!fault_enter(tid + 1))
		return;
	bool locked = false;
	for (unsigned ms = 0; !(locked = hw_mutex_trylock(&report_lock)) && ms < RP_FAULT_WAIT_MS;
	     ms += 10)
		hw_sleep_ns(10 * 1000 * 1000);
	/* RP8: the lines of a report this thread was printing come first. */
	if (!locked && __atomic_load_n(&normal_owner, __ATOMIC_RELAXED) == tid + 1)
		flush(&normal);
	uintptr_t pc[MC_DEBUG_MAX_DEPTH];
	size_t max = hw_mc_dbg.depth ? hw_mc_dbg.depth : MC_DEBUG_MAX_DEPTH;
	size_t n = hw_mc_dbg.tables_on_fatal ? hw_unwind_tables_context(f->pc, pc, max) : 0;
	if (n == 0)
		n = hw_unwind_context(f->pc, f->sp, f->fp, pc, max);
	int pid = hw_process_id();
	hw_symbolizer_open(&faulting.sym, hw_mc_dbg.symbolize, hw_mc_dbg.symbolizer_path);
	out(&faulting, RP_BANNER "\n");
	if (r->heap) {
		out(&faulting, "==%d==ERROR: heapward: %s on address %p at pc %p bp %p sp %p\n",
		    pid, r->kind, (void *)f->addr, (void *)f->pc, (void *)f->fp, (void *)f->sp);
		out(&faulting, "%s of unknown size at %p thread T%u\n", access_word(f->access),
		    (void *)f->addr, tid);
	} else {
		out(&faulting,
		    "==%d==ERROR: heapward: %s on %saddress %p (pc %p bp %p sp %p T%u)\n", pid,
		    r->kind, r->stack_overflow ? "" : "unknown ", (void *)f->addr, (void *)f->pc,
		    (void *)f->fp, (void *)f->sp, tid);
		out(&faulting, "==%d==The signal is caused by a %s memory access.\n", pid,
		    access_word(f->access));
		if (f->addr < 4096)
			out(&faulting, "==%d==Hint: address points to the zero page.\n", pid);
	}
	char summary[HW_MODULE_PATH_MAX + 2 * HW_SYMBOL_TEXT_MAX + 64] = "";
	print_pcs(&faulting, pc, n, true, summary, sizeof summary);
	out(&faulting, "\n");
	if (r->located[0])
		out(&faulting, "%s\n", r->located);
	if (r->have_rec)
		history_in(&faulting, r->rec.alloc_stack, r->rec.alloc_tid, r->rec.free_stack,
			   r->rec.free_tid, r->freed);
	else if (r->located[0])
		out(&faulting, "\n");
	if (!r->heap && !r->stack_overflow)
		out(&faulting, "heapward can not provide additional info.\n");
	out(&faulting, "SUMMARY: heapward: %s%s%s\n", r->kind, summary[0] ? " " : "", summary);
	hw_symbolizer_close(&faulting.sym);
	if (locked)
		hw_mutex_unlock(&report_lock);
	__atomic_store_n(&fault_owner, 0, __ATOMIC_RELEASE);
}

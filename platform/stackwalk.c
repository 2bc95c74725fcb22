/* stackwalk.c: the unwinders (stackwalk.h).
 *
 * Owns: the frame-pointer walk and the per-thread cache of the stack's
 * bounds; the table walks, their per-thread flag (UW6) and recovery point
 * (UW7).
 *
 * Invariants: UW1-UW7 of stackwalk.h. How they hold here: the bounds are the
 * mapping holding the first frame pointer (hw_platform_mapping_at), cached
 * per thread in initial-exec thread-local words for the last UW_CACHED
 * stacks a walk started on (a program switching between coroutine stacks
 * reads the OS's map once per stack, not once per walk: about 20 us each
 * here) and looked up again whenever a walk starts outside them; every
 * frame pointer is checked against them before it is dereferenced (fp_ok).
 *
 * Windows. gcc for x86-64 Windows follows the SEH rules, which let a
 * function's frame pointer point anywhere up to 240 bytes above its stack
 * pointer rather than at its frame record, so a frame-record walk goes
 * astray at the first large frame. There hw_unwind_here walks with the
 * unwind tables (.pdata) the SEH ABI requires of every function instead,
 * through RtlCaptureStackBackTrace (no allocation; UW1 by the unwinder's
 * own stack-limit checks); hw_unwind_from keeps the frame-record walk,
 * which holds only where the frames have their record at the frame
 * pointer.
 *
 * Locking: none.
 */
#include "stackwalk.h"

#include "base.h"
#include "module.h"
#include "platform.h"
#include "thread.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <setjmp.h>
#include <signal.h>
#include <unwind.h>
#endif

#if defined(__x86_64__) || defined(__aarch64__)
#define UW_KNOWN 1
#else
#define UW_KNOWN 0
#endif

/* The mappings holding the stacks this thread's last walks started on,
 * [uw_lo[i], uw_hi[i]) (0, 0: none yet); uw_next is the one to replace. */
#define UW_CACHED 4
static HW_THREAD_LOCAL uintptr_t uw_lo[UW_CACHED], uw_hi[UW_CACHED];
static HW_THREAD_LOCAL unsigned uw_next;

/* Bounds for a walk starting at fp: cached ones that hold it, else the
 * mapping holding it (cached in place of the oldest). False when no
 * mapping holds fp. */
static bool bounds_for(uintptr_t fp, uintptr_t *lo, uintptr_t *hi)
{
	for (unsigned i = 0; i < UW_CACHED; i++)
		if (fp >= uw_lo[i] && fp < uw_hi[i]) {
			*lo = uw_lo[i];
			*hi = uw_hi[i];
			return true;
		}
	uintptr_t l, h;
	if (hw_platform_mapping_at((const void *)fp, &l, &h, NULL) != 0)
		return false;
	unsigned i = uw_next++ % UW_CACHED;
	uw_lo[i] = *lo = l;
	uw_hi[i] = *hi = h;
	return true;
}

/* UW1 for a frame pointer fp found above prev (0: the first one). */
static bool fp_ok(uintptr_t fp, uintptr_t prev, uintptr_t lo, uintptr_t hi)
{
	return fp % sizeof(uintptr_t) == 0 && fp > prev && fp >= lo &&
	       fp <= hi - 2 * sizeof(uintptr_t);
}

static size_t walk(uintptr_t fp, uintptr_t *out, size_t max)
{
#if UW_KNOWN
	uintptr_t lo, hi;
	size_t n = 0;
	if (max == 0 || !bounds_for(fp, &lo, &hi) || !fp_ok(fp, 0, lo, hi))
		return 0;
	while (n < max) {
		const uintptr_t *rec = (const uintptr_t *)fp;
		uintptr_t pc = rec[1], next = rec[0];
		/* A return address is code: never in the first page, never on
		 * the stack itself (a frame pointer register used for data,
		 * by code built without frame pointers, often holds one). */
		if (pc < 4096 || (pc >= lo && pc < hi))
			break;
		out[n++] = pc;
		if (!fp_ok(next, fp, lo, hi))
			break;
		fp = next;
	}
	return n;
#else
	(void)fp, (void)out, (void)max;
	return 0;
#endif
}

#ifdef _WIN32
__attribute__((noinline)) size_t hw_unwind_here(uintptr_t *out, size_t max)
{
	/* Skip this function's own frame and its caller's: out[0] is in the
	 * caller's caller, as on every platform. */
	DWORD want = max > 0xffffu ? 0xffffu : (DWORD)max;
	return want ? RtlCaptureStackBackTrace(2, want, (void **)out, NULL) : 0;
}
#else
__attribute__((noinline)) size_t hw_unwind_here(uintptr_t *out, size_t max)
{
#if !UW_KNOWN
	(void)out, (void)max;
	return 0;
#else
	/* This function's own frame record holds its caller's frame pointer
	 * and the return address into the caller: start one frame up, so
	 * out[0] is the caller's return address. */
	const uintptr_t *own = __builtin_frame_address(0);
	uintptr_t lo, hi;
	if (max == 0 || !bounds_for((uintptr_t)own, &lo, &hi) ||
	    !fp_ok((uintptr_t)own, 0, lo, hi) || !fp_ok(own[0], (uintptr_t)own, lo, hi))
		return 0;
	return walk(own[0], out, max);
#endif
}
#endif

size_t hw_unwind_from(uintptr_t fp, uintptr_t *out, size_t max)
{
	return walk(fp, out, max);
}

/* UW5: whether the code before ra ends with a call (x86-64). ra and the
 * seven bytes before it are in a loaded module (readable). */
static bool after_call(uintptr_t ra)
{
#if defined(__x86_64__)
	hw_module m;
	if (ra < 4096 + 7 || !hw_module_find(ra, &m) || !hw_module_find(ra - 7, &m))
		return false;
	const unsigned char *c = (const unsigned char *)ra;
	if (c[-5] == 0xe8)
		return true; /* call rel32 */
	/* call r/m64: FF /2, with 0, 1, 4 or 5 bytes after the ModRM byte. */
	static const int back[] = {2, 3, 6, 7};
	for (unsigned i = 0; i < sizeof back / sizeof back[0]; i++)
		if (c[-back[i]] == 0xff && ((c[-back[i] + 1] >> 3) & 7) == 2)
			return true;
	return false;
#else
	(void)ra;
	return false;
#endif
}

/* UW5: the caller's return address at sp, or 0. */
static uintptr_t return_at_sp(uintptr_t sp, uintptr_t fp)
{
	/* Not bounds_for: a stack overflow leaves sp in the stack's guard
	 * (an inaccessible mapping), which must not be read. */
	uintptr_t lo, hi;
	bool rw;
	if (sp == 0 || sp % sizeof(uintptr_t) != 0 ||
	    hw_platform_mapping_at((const void *)sp, &lo, &hi, &rw) != 0 || !rw ||
	    sp > hi - sizeof(uintptr_t))
		return 0;
	uintptr_t ra = *(const uintptr_t *)sp;
	if (ra < 4096 || (ra >= lo && ra < hi))
		return 0;
	if (fp_ok(fp, 0, lo, hi) && ((const uintptr_t *)fp)[1] == ra)
		return 0;
	return after_call(ra) ? ra : 0;
}

size_t hw_unwind_context(uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t *out, size_t max)
{
	if (max == 0 || pc == 0)
		return 0;
	size_t n = 0;
	out[n++] = pc;
	uintptr_t ra = n < max ? return_at_sp(sp, fp) : 0;
	if (ra)
		out[n++] = ra;
	return n + walk(fp, out + n, max - n);
}

/* ---- the table walks (UW6) ---- */

/* Frames a walk may cross before the first one it keeps: the handler's
 * own and the signal frame's, or this file's. */
#define UW_HANDLER_FRAMES 64

#ifdef _WIN32
/* hw_unwind_here itself: on Windows it walks the tables already. */
size_t hw_unwind_tables_here(uintptr_t *out, size_t max) __attribute__((alias("hw_unwind_here")));

size_t hw_unwind_tables_context(uintptr_t pc, uintptr_t *out, size_t max)
{
	/* A vectored handler runs on the faulting thread's stack, below the
	 * exception dispatcher's frame, which the tables cross. Windows
	 * before 8 takes at most 62 frames in all. The unwinder calls
	 * nothing that allocates, so no walk can start inside another
	 * (UW6's flag is POSIX's). */
	void *all[62];
	if (max == 0 || pc == 0)
		return 0;
	size_t n = RtlCaptureStackBackTrace(0, 62, all, NULL), k = 0;
	while (k < n && (uintptr_t)all[k] != pc)
		k++;
	if (k == n)
		return 0;
	n = hw_min(n - k, max);
	memcpy(out, all + k, n * sizeof *out);
	return n;
}
#else
/* Set while this thread is inside a table walk (UW6). */
static HW_THREAD_LOCAL bool uw_in_tables;

typedef struct tables_walk {
	uintptr_t *out;
	size_t max, n;
	uintptr_t from; /* the frame whose ip this is starts the walk: */
	bool signal;    /* a signal frame, kept (a fault's); else the caller's, not kept */
	bool started;
	size_t seen;  /* frames passed before it */
	uintptr_t fp; /* the frame pointer of the last frame kept */
} tables_walk;

/* The frame pointer's DWARF register number (UW6's frame-pointer tail). */
#if defined(__x86_64__)
#define UW_FP_REG 6
#elif defined(__aarch64__)
#define UW_FP_REG 29
#endif

static _Unwind_Reason_Code tables_frame(struct _Unwind_Context *ctx, void *arg)
{
	tables_walk *w = arg;
	int before = 0;
	uintptr_t ip = (uintptr_t)_Unwind_GetIPInfo(ctx, &before);
	if (ip == 0 || w->n == w->max)
		return _URC_END_OF_STACK;
	if (!w->started) {
		/* A signal frame's ip is the interrupted instruction itself,
		 * not a return address. By ip, not by a count of frames: the
		 * frames of this file depend on what the compiler inlined. */
		if (ip != w->from || (w->signal && !before))
			return ++w->seen < UW_HANDLER_FRAMES ? _URC_NO_REASON : _URC_END_OF_STACK;
		w->started = true;
		if (!w->signal)
			return _URC_NO_REASON;
	}
	w->out[w->n++] = ip;
#ifdef UW_FP_REG
	w->fp = (uintptr_t)_Unwind_GetGR(ctx, UW_FP_REG);
#endif
	return _URC_NO_REASON;
}

/* UW7: where a fault inside this thread's walk jumps back to; NULL
 * outside a walk. */
static HW_THREAD_LOCAL sigjmp_buf *uw_recover;

static size_t tables_walk_run(tables_walk *w)
{
	if (w->max == 0 || w->from == 0 || uw_in_tables)
		return 0;
	uw_in_tables = true;
	/* The mask is saved, and the jump back restores it: the walk
	 * unblocks the fault signals, which are blocked when it runs in
	 * their handler, so that a fault of its own reaches the handler. */
	sigjmp_buf env;
	if (sigsetjmp(env, 1) == 0) {
		sigset_t faults, was;
		sigemptyset(&faults);
		sigaddset(&faults, SIGSEGV);
		sigaddset(&faults, SIGBUS);
		pthread_sigmask(SIG_UNBLOCK, &faults, &was);
		uw_recover = &env;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		_Unwind_Backtrace(tables_frame, w);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		uw_recover = NULL;
		pthread_sigmask(SIG_SETMASK, &was, NULL);
	}
	uw_recover = NULL;
	uw_in_tables = false;
	/* UW6: the tables ended at a frame with none of its own (the
	 * unwinder stops there, after naming it): go on by its frame
	 * pointer, which walk() checks against the stack before reading. */
	if (w->n > 0 && w->n < w->max && w->fp != 0)
		w->n += walk(w->fp, w->out + w->n, w->max - w->n);
	return w->n;
}

void hw_unwind_tables_recover(void)
{
	sigjmp_buf *env = uw_recover;
	if (env)
		siglongjmp(*env, 1);
}

__attribute__((noinline)) size_t hw_unwind_tables_here(uintptr_t *out, size_t max)
{
	/* The walk starts after the caller's frame, the one that resumes at
	 * this function's return address: out[0] is in the caller's caller,
	 * as hw_unwind_here's. */
	tables_walk w = {out, max, 0, (uintptr_t)__builtin_return_address(0), false, false, 0, 0};
	size_t n = tables_walk_run(&w);
	__asm__ volatile("" ::
				 : "memory"); /* no tail call: this frame must stay */
	return n;
}

size_t hw_unwind_tables_context(uintptr_t pc, uintptr_t *out, size_t max)
{
	tables_walk w = {out, max, 0, pc, true, false, 0, 0};
	return tables_walk_run(&w);
}
#endif

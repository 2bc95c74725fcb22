/* fault_test.c: the debug mode's fault reports (src/malloc/debug_fault.c,
 * debug_report.c RP5), read as a user or a tool reads them: each scenario
 * of fault_victim.c runs in a child with HEAPWARD_OPTIONS=debug=1, and its
 * report is checked for the kind, the address, READ or WRITE, the faulting
 * frame (function and fault_victim.c's line, from its @markers), the
 * located line and allocation stack where there is an object, the SUMMARY
 * line, and how the child ended (killed by SIGSEGV, as without the report;
 * or by the program's own handler, which the report chains to).
 *
 * Usage: fault_test VICTIM VICTIM_SOURCE [TEST...]
 */
#include "check.h"
#include "child.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *victim, *source;
static char tmpdir[] = "/tmp/hw-fault-XXXXXX";

typedef struct run {
	int pid, signal, status;
	unsigned long long obj; /* a guarded object's start ("obj 0x..."), 0 when none */
	size_t size;
	char addr[64];
	char out[1024];
	char err[32768];
} run;

typedef struct victim_call {
	const char *options, *scenario;
} victim_call;

static void exec_victim(void *arg)
{
	const victim_call *c = arg;
	unsetenv("LD_PRELOAD");
	setenv("HEAPWARD_OPTIONS", c->options, 1);
	execl(victim, victim, c->scenario, (char *)NULL);
}

/* Runs the scenario with the debug mode on; its stdout, stderr, end and
 * the address it printed (FV1) into r. */
static bool run_victim_with(run *r, const char *options, const char *scenario)
{
	victim_call c = {options, scenario};
	hw_test_ended end;
	if (!hw_test_exec(exec_victim, &c, tmpdir, &end, r->out, sizeof r->out, r->err,
			  sizeof r->err))
		return false;
	r->pid = end.pid;
	r->signal = end.signal;
	r->status = end.status;
	const char *o = strstr(r->out, "obj ");
	if (!o || sscanf(o, "obj %llx size %zu", &r->obj, &r->size) != 2)
		r->obj = r->size = 0;
	const char *a = strstr(r->out, "addr ");
	snprintf(r->addr, sizeof r->addr, "%.*s", a ? (int)strcspn(a + 5, "\n") : 0,
		 a ? a + 5 : "");
	return true;
}

static bool run_victim(run *r, const char *scenario)
{
	return run_victim_with(r, "debug=1", scenario);
}

/* The line of the victim's source that carries "@name"; 0 when none. */
static unsigned marker(const char *name)
{
	static char src[16384];
	if (!src[0])
		hw_test_slurp(source, src, sizeof src);
	char needle[64];
	snprintf(needle, sizeof needle, "@%s ", name);
	const char *at = strstr(src, needle);
	unsigned line = 1;
	for (const char *c = src; at && c < at; c++)
		line += *c == '\n';
	return at ? line : 0;
}

/* Whether the report holds text (a line or part of one). */
static bool has_line(const run *r, const char *line)
{
	bool ok = strstr(r->err, line) != NULL;
	if (!ok)
		fprintf(stderr, "no line '%s' in:\n%s\n", line, r->err);
	return ok;
}

/* Frame #n of the first stack after the ERROR line is func at mark. */
static bool fault_frame_is(const run *r, unsigned n, const char *func, const char *mark)
{
	const char *err = strstr(r->err, "==ERROR: heapward: ");
	char head[32];
	snprintf(head, sizeof head, "    #%u 0x", n);
	const char *l = err ? strstr(err, head) : NULL;
	size_t len = l ? strcspn(l, "\n") : 0;
	char frame[1024];
	snprintf(frame, sizeof frame, "%.*s", (int)len, l ? l : "");
	char want[160];
	snprintf(want, sizeof want, "fault_victim.c:%u:", marker(mark));
	char fn[96];
	snprintf(fn, sizeof fn, " in %s ", func);
	bool ok = marker(mark) != 0 && strstr(frame, fn) && strstr(frame, want);
	if (!ok)
		fprintf(stderr, "frame #%u is not %s at fault_victim.c:%u: '%s'\n", n, func,
			marker(mark), frame);
	return ok;
}

/* Frame n of the stack under heading head (a history) is func at mark. */
static bool history_frame_is(const run *r, const char *head, unsigned n, const char *func,
			     const char *mark)
{
	const char *h = strstr(r->err, head);
	char want[32], place[64], fn[96];
	snprintf(want, sizeof want, "    #%u 0x", n);
	const char *l = h ? strstr(h, want) : NULL;
	const char *end = h ? strstr(h, "\n\n") : NULL;
	snprintf(place, sizeof place, "fault_victim.c:%u:", marker(mark));
	snprintf(fn, sizeof fn, " in %s ", func);
	size_t len = l ? strcspn(l, "\n") : 0;
	char frame[1024];
	snprintf(frame, sizeof frame, "%.*s", (int)len, l ? l : "");
	bool ok = l && (!end || l < end) && marker(mark) && strstr(frame, fn) &&
		  strstr(frame, place);
	if (!ok)
		fprintf(stderr, "'%s' frame #%u is not %s at %s: '%s'\n%s\n", head, n, func, place,
			frame, r->err);
	return ok;
}

static bool summary_is(const run *r, const char *kind, const char *func, const char *mark)
{
	char want[256];
	snprintf(want, sizeof want, "SUMMARY: heapward: %s ", kind);
	const char *s = strstr(r->err, want);
	char place[64], tail[96];
	snprintf(place, sizeof place, "fault_victim.c:%u:", marker(mark));
	snprintf(tail, sizeof tail, " in %s\n", func);
	bool ok = s && strstr(s, place) && strstr(s, tail);
	if (!ok)
		fprintf(stderr, "no SUMMARY %s at %s in %s:\n%s\n", kind, place, func, r->err);
	return ok;
}

static bool died_of_segv(const run *r)
{
	bool ok = r->signal == SIGSEGV;
	if (!ok)
		fprintf(stderr, "signal %d status %d, not SIGSEGV:\n%s\n", r->signal, r->status,
			r->err);
	return ok;
}

/* A wild access on the heap's freed pages (no quarantine: the freed large
 * object's pages go back to the heap at once): kind, access, frame, the
 * nearest object below (the victim's 13-byte object) and its stack. */
static void wild(const char *scenario, const char *access)
{
	run r;
	char line[256];
	REQUIRE(run_victim_with(&r, "debug=1:quarantine_bytes=0", scenario));
	EXPECT(died_of_segv(&r));
	snprintf(line, sizeof line,
		 "==%d==ERROR: heapward: heap-wild-access on address %s at pc 0x", r.pid, r.addr);
	EXPECT(has_line(&r, line));
	snprintf(line, sizeof line, "%s of unknown size at %s thread T0\n", access, r.addr);
	EXPECT(has_line(&r, line));
	EXPECT(fault_frame_is(&r, 0, scenario, scenario));
	char call[64];
	snprintf(call, sizeof call, "call_%s", scenario);
	EXPECT(fault_frame_is(&r, 1, "main", call));
	snprintf(line, sizeof line, "%s is in the heap's window [", r.addr);
	EXPECT(has_line(&r, line));
	EXPECT(has_line(&r, ", on freed heap pages, in no object; the nearest object below it:\n"));
	EXPECT(has_line(&r, " bytes after the end of 13-byte region ["));
	EXPECT(has_line(&r, "allocated by thread T0 here:\n"));
	const char *alloc = strstr(r.err, "allocated by thread T0 here:\n");
	EXPECT(alloc && strstr(alloc, " in make ") && strstr(alloc, " in freed_page "),
	       "allocation stack: %s", alloc ? alloc : "");
	EXPECT(summary_is(&r, "heap-wild-access", scenario, scenario));
	EXPECT(!strstr(r.out, "survived"));
}

static void test_wild_read(void) { wild("wild_read", "READ"); }
static void test_wild_write(void) { wild("wild_write", "WRITE"); }

/* A trap on a large object held in the quarantine (its page protected by
 * the victim): a use after free, 100 bytes into the freed 200000-byte
 * object, with its free and allocation stacks. */
static void test_quarantined_large(void)
{
	run r;
	char line[256];
	REQUIRE(run_victim(&r, "wild_read"));
	EXPECT(died_of_segv(&r));
	snprintf(line, sizeof line,
		 "==%d==ERROR: heapward: heap-use-after-free on address %s at pc 0x", r.pid,
		 r.addr);
	EXPECT(has_line(&r, line));
	unsigned long long a = strtoull(r.addr, NULL, 16), big = a - 100;
	snprintf(line, sizeof line,
		 "%s is located 100 bytes inside of a freed 200000-byte region [%#llx,%#llx)\n"
		 "freed by thread T0 here:\n",
		 r.addr, big, big + 200000);
	EXPECT(has_line(&r, line));
	EXPECT(fault_frame_is(&r, 0, "wild_read", "wild_read"));
	EXPECT(history_frame_is(&r, "freed by thread T0 here:\n", 0, "drop", "drop"));
	EXPECT(history_frame_is(&r, "freed by thread T0 here:\n", 1, "freed_page", "big_free"));
	EXPECT(history_frame_is(&r, "previously allocated by thread T0 here:\n", 0, "freed_page",
				"big_alloc"));
	EXPECT(summary_is(&r, "heap-use-after-free", "wild_read", "wild_read"));
}

/* The access in a function without a frame record (the C library's
 * memset): frame #0 is in it, #1 is its caller at the call, #2 main. */
static void test_frameless_leaf(void)
{
	run r;
	REQUIRE(run_victim_with(&r, "debug=1:quarantine_bytes=0", "wild_memset"));
	EXPECT(died_of_segv(&r));
	EXPECT(has_line(&r, "ERROR: heapward: heap-wild-access on address "));
	EXPECT(has_line(&r, "WRITE of unknown size at "));
	EXPECT(fault_frame_is(&r, 1, "wild_memset", "wild_memset"));
	EXPECT(fault_frame_is(&r, 2, "main", "call_wild_memset"));
}

/* The victim died of a write to address 16, reported as ASan reports a
 * fault on no heap memory: "SEGV on unknown address", with the access and
 * the zero-page hint. */
static void expect_zero_page_write(const run *r)
{
	char line[256];
	EXPECT(died_of_segv(r));
	snprintf(line, sizeof line, "==%d==ERROR: heapward: SEGV on unknown address 0x10 (pc 0x",
		 r->pid);
	EXPECT(has_line(r, line));
	snprintf(line, sizeof line, "==%d==The signal is caused by a WRITE memory access.\n",
		 r->pid);
	EXPECT(has_line(r, line));
	snprintf(line, sizeof line, "==%d==Hint: address points to the zero page.\n", r->pid);
	EXPECT(has_line(r, line));
}

static void test_null_write(void)
{
	run r;
	REQUIRE(run_victim(&r, "null_write"));
	expect_zero_page_write(&r);
	EXPECT(fault_frame_is(&r, 0, "null_write", "null_write"));
	EXPECT(summary_is(&r, "SEGV", "null_write", "null_write"));
}

/* A fault inside the layer (here: a bad pointer given to it) is shown from
 * the layer's own instruction (debug_report.c RP2), not from its caller's
 * line, which would blame the program for the line it called from. */
static void test_layer_fault(void)
{
	run r;
	REQUIRE(run_victim(&r, "layer_fault"));
	expect_zero_page_write(&r);
	const char *f0 = strstr(r.err, "    #0 0x");
	EXPECT(f0 && strstr(f0, " in hw_posix_memalign ") &&
		       strstr(f0, " in hw_posix_memalign ") < strstr(f0, "\n"),
	       "frame #0 is not the layer's: %s", r.err);
	EXPECT(fault_frame_is(&r, 1, "layer_fault", "layer_fault"));
}

/* A stack overflow, in the main thread and in another thread (on the
 * alternate stack the layer gave it at its first call). */
static void overflow(const char *scenario, unsigned tid)
{
	run r;
	char line[256];
	REQUIRE(run_victim(&r, scenario));
	EXPECT(died_of_segv(&r));
	snprintf(line, sizeof line, "==%d==ERROR: heapward: stack-overflow on address 0x", r.pid);
	EXPECT(has_line(&r, line));
	snprintf(line, sizeof line, " T%u)\n", tid);
	EXPECT(has_line(&r, line));
	EXPECT(fault_frame_is(&r, 1, "deep", "deep"));
	EXPECT(has_line(&r, "SUMMARY: heapward: stack-overflow "));
}

static void test_overflow_main(void) { overflow("overflow", 0); }
static void test_overflow_thread(void) { overflow("overflow_thread", 1); }

/* A handler the program installed before the layer started gets every
 * fault after the layer's classifiers: after the report for a heap
 * address; alone for any other (the layer does not speak for a fault the
 * program may handle). */
static void test_chained(void)
{
	run r;
	char line[256];
	REQUIRE(run_victim(&r, "chained_heap"));
	EXPECT(r.signal == 0 && r.status == 42, "signal %d status %d", r.signal, r.status);
	EXPECT(has_line(&r, "ERROR: heapward: heap-use-after-free on address "));
	snprintf(line, sizeof line, "own handler: signal 11 at %s\n", r.addr);
	EXPECT(has_line(&r, line));
	EXPECT(strstr(r.err, "SUMMARY: heapward:") < strstr(r.err, "own handler:"));

	REQUIRE(run_victim(&r, "chained_other"));
	EXPECT(r.signal == 0 && r.status == 42, "signal %d status %d", r.signal, r.status);
	EXPECT(strcmp(r.err, "own handler: signal 11 at 0x10\n") == 0, "got: %s", r.err);
}

/* A SIGSEGV sent by kill is not a fault: no report, and it still kills. */
static void test_sent_not_classified(void)
{
	run r;
	REQUIRE(run_victim(&r, "sent"));
	EXPECT(died_of_segv(&r));
	EXPECT(!strstr(r.err, "heapward"), "got: %s", r.err);
}

/* One trapping access to a guarded object: kind, READ/WRITE, where it lies
 * (relation and offset against the object's bounds), the faulting frame,
 * the allocation and (free_fn: freed by it at `<scenario>_free`) free
 * stacks, the SUMMARY and the death by SIGSEGV. */
static void guarded(const char *options, const char *scenario, const char *kind,
		    const char *access, const char *relation, long long off, const char *free_fn)
{
	run r;
	char line[256], mark[64];
	REQUIRE(run_victim_with(&r, options, scenario));
	REQUIRE(r.obj != 0, "%s: no object printed: %s", scenario, r.out);
	EXPECT(died_of_segv(&r));
	EXPECT(!strstr(r.out, "survived"), "%s survived", scenario);
	snprintf(line, sizeof line, "==%d==ERROR: heapward: %s on address %s at pc 0x", r.pid,
		 kind, r.addr);
	EXPECT(has_line(&r, line));
	snprintf(line, sizeof line, "%s of unknown size at %s thread T0\n", access, r.addr);
	EXPECT(has_line(&r, line));
	snprintf(line, sizeof line, "%s is located %lld bytes %s %s%zu-byte region [%#llx,%#llx)\n",
		 r.addr, off, relation, free_fn ? "a freed " : "", r.size, r.obj,
		 r.obj + r.size);
	EXPECT(has_line(&r, line));
	EXPECT(fault_frame_is(&r, 0, scenario, scenario));
	snprintf(mark, sizeof mark, "call_%s", scenario);
	EXPECT(fault_frame_is(&r, 1, "main", mark));
	const char *alloc_head = free_fn ? "previously allocated by thread T0 here:\n"
					 : "allocated by thread T0 here:\n";
	snprintf(mark, sizeof mark, "%s_alloc", scenario);
	EXPECT(history_frame_is(&r, alloc_head, 0, "make", "make"));
	EXPECT(history_frame_is(&r, alloc_head, 1, scenario, mark));
	if (free_fn) {
		snprintf(mark, sizeof mark, "%s_free", scenario);
		EXPECT(history_frame_is(&r, "freed by thread T0 here:\n", 0, free_fn, free_fn));
		EXPECT(history_frame_is(&r, "freed by thread T0 here:\n", 1, scenario, mark));
	}
	EXPECT(summary_is(&r, kind, scenario, scenario));
}

#define RIGHT1 "guard=all:guard_align=1"
#define LEFT "guard=all:guard_side=left"

static void test_guarded_overflow(void)
{
	guarded(RIGHT1, "ovf_write1", "heap-buffer-overflow", "WRITE", "after the end of", 0,
		NULL);
	guarded(RIGHT1, "ovf_read1", "heap-buffer-overflow", "READ", "after the end of", 0, NULL);
	guarded(RIGHT1, "ovf_read_page", "heap-buffer-overflow", "READ", "after the end of", 4095,
		NULL);
}

static void test_guarded_underflow(void)
{
	guarded(LEFT, "udf_read1", "heap-buffer-underflow", "READ", "before the start of", 1,
		NULL);
	guarded(LEFT, "udf_write_page", "heap-buffer-underflow", "WRITE", "before the start of",
		4096, NULL);
}

static void test_guarded_use_after_free(void)
{
	guarded("guard=all", "uaf_read", "heap-use-after-free", "READ", "inside of", 16, "drop");
	guarded("guard=all", "uaf_write", "heap-use-after-free", "WRITE", "inside of", 16, "drop");
	guarded("guard=all", "uaf_realloc", "heap-use-after-free", "READ", "inside of", 8, "grow");
	/* The stack damaged above the faulting frame: the table walk ends at
	 * the damage, and the report is whole (stackwalk.h UW7). */
	guarded("guard=all", "uaf_smashed", "heap-use-after-free", "WRITE", "inside of", 16,
		"drop");
}

/* The stack that follows the first line starting with head, up to the
 * blank line after it; "" when there is none. */
static const char *stack_after(const run *r, const char *head, char *buf, size_t len)
{
	const char *h = strstr(r->err, head);
	const char *end = h ? strstr(h, "\n\n") : NULL;
	size_t n = !h ? 0 : end ? (size_t)(end - h)
				: strlen(h);
	snprintf(buf, len, "%.*s", (int)n, h ? h : "");
	return buf;
}

/* Frames #0 to #n-1 of stk are the functions fns, in that order. */
static bool frames_are(const char *stk, const char *const *fns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char head[32], fn[96];
		snprintf(head, sizeof head, "    #%zu 0x", i);
		snprintf(fn, sizeof fn, " in %s ", fns[i]);
		const char *l = strstr(stk, head);
		size_t len = l ? strcspn(l, "\n") : 0;
		char frame[1024];
		snprintf(frame, sizeof frame, "%.*s", (int)len, l ? l : "");
		if (!strstr(frame, fn)) {
			fprintf(stderr, "frame #%zu is not %s: '%s' in:\n%s\n", i, fns[i], frame,
				stk);
			return false;
		}
	}
	return true;
}

#define ERROR_HEAD "==ERROR: heapward: heap-use-after-free"
#define ALLOC_HEAD "previously allocated by thread T0 here:"
#define FREE_HEAD "freed by thread T0 here:"

/* Runs scenario (a use after free three frames below it) under guard=all
 * and checks its fault's stack: death by SIGSEGV, the first five frames
 * touch[], and the scenario's and main's frames at their marked lines.
 * False when the victim could not be run. */
static bool expect_uaf_stack(run *r, const char *scenario, const char *const touch[5])
{
	char stk[4096], call[64];
	snprintf(call, sizeof call, "call_%s", scenario);
	if (!run_victim_with(r, "guard=all", scenario))
		return false;
	EXPECT(died_of_segv(r));
	EXPECT(frames_are(stack_after(r, ERROR_HEAD, stk, sizeof stk), touch, 5));
	EXPECT(fault_frame_is(r, 3, scenario, scenario));
	EXPECT(fault_frame_is(r, 4, "main", call));
	return true;
}

/* uaf_nocfi: the access in nofp_touch3 (unwind tables), called through
 * nocfi_touch1 and nocfi_touch2 (frame pointers, no tables, as a JIT's
 * code): the table walk names nocfi_touch2 and stops there, and must go on
 * by frame pointers to uaf_nocfi and main (platform/stackwalk.h UW6). */
static void test_frames_without_unwind_tables(void)
{
	static const char *const touch[] = {"nofp_touch3", "nocfi_touch2", "nocfi_touch1",
					    "uaf_nocfi", "main"};
	run r;
	REQUIRE(expect_uaf_stack(&r, "uaf_nocfi", touch));
}

/* uaf_nofp: allocation, free and access three calls deep in code without
 * frame pointers (fault_victim_nofp.c). The fault's stack is walked with
 * the unwind tables unless fast_unwind_on_fatal=1, the recorded ones only
 * with fast_unwind_on_malloc=0 (platform/stackwalk.h UW6). */
static void test_frames_without_frame_pointers(void)
{
	static const char *const touch[] = {"nofp_touch3", "nofp_touch2", "nofp_touch1",
					    "uaf_nofp", "main"};
	static const char *const alloc[] = {"nofp_alloc3", "nofp_alloc2", "nofp_alloc1",
					    "uaf_nofp", "main"};
	static const char *const freed[] = {"nofp_free3", "nofp_free2", "nofp_free1",
					    "uaf_nofp", "main"};
	run r;
	char stk[4096];
	REQUIRE(expect_uaf_stack(&r, "uaf_nofp", touch));
	const char *sum = strstr(r.err, "SUMMARY: heapward: heap-use-after-free ");
	EXPECT(sum && strstr(sum, "fault_victim_nofp.c:") && strstr(sum, " in nofp_touch3\n"),
	       "%s", r.err);
	/* The stacks recorded by frame pointers miss the frameless callers. */
	EXPECT(!strstr(stack_after(&r, ALLOC_HEAD, stk, sizeof stk), " in nofp_alloc2 "), "%s",
	       r.err);
	EXPECT(!strstr(stack_after(&r, FREE_HEAD, stk, sizeof stk), " in nofp_free2 "), "%s",
	       r.err);

	REQUIRE(run_victim_with(&r, "guard=all:fast_unwind_on_malloc=0", "uaf_nofp"));
	EXPECT(died_of_segv(&r));
	EXPECT(frames_are(stack_after(&r, ALLOC_HEAD, stk, sizeof stk), alloc, 5));
	EXPECT(history_frame_is(&r, ALLOC_HEAD "\n", 3, "uaf_nofp", "uaf_nofp_alloc"));
	EXPECT(frames_are(stack_after(&r, FREE_HEAD, stk, sizeof stk), freed, 5));
	EXPECT(history_frame_is(&r, FREE_HEAD "\n", 3, "uaf_nofp", "uaf_nofp_free"));
	EXPECT(frames_are(stack_after(&r, ERROR_HEAD, stk, sizeof stk), touch, 5));

	REQUIRE(run_victim_with(&r, "guard=all:fast_unwind_on_fatal=1", "uaf_nofp"));
	EXPECT(died_of_segv(&r));
	EXPECT(frames_are(stack_after(&r, ERROR_HEAD, stk, sizeof stk), touch, 1));
	EXPECT(!strstr(stack_after(&r, ERROR_HEAD, stk, sizeof stk), " in nofp_touch1 "), "%s",
	       r.err);
}

/* debug_report.c RP9: a leak whose stack, recorded by frame pointers, ends
 * after one pc (its allocating function keeps a value in rbp, as -O2 code
 * does) gets the HINT line; recorded from the unwind tables it is whole,
 * with no hint. */
static void test_leak_hint_without_frame_pointers(void)
{
	static const char group[] = "Direct leak of 40 byte(s) in 1 object(s) allocated from:\n";
	run r;
	REQUIRE(run_victim_with(&r, "detect_leaks=1", "leak_nofp"));
	EXPECT(r.signal == 0 && r.status == 23, "signal %d status %d: %s", r.signal, r.status,
	       r.err);
	const char *g = strstr(r.err, group);
	const char *sum = strstr(r.err, "SUMMARY: heapward: 40 byte(s) leaked in 1 allocation(s).");
	EXPECT(g && sum, "%s", r.err);
	char frames[1024] = "";
	if (g && sum && sum > g)
		snprintf(frames, sizeof frames, "%.*s", (int)(sum - g), g);
	EXPECT(strstr(frames, "    #0 0x") && strstr(frames, " in nofp_alloc_busy ") &&
		       !strstr(frames, "    #1 0x"),
	       "one frame: %s", r.err);
	const char *hint = strstr(r.err, "HINT: 1 of these 1 stacks end after one frame: ");
	EXPECT(hint && hint < sum && strstr(hint, "fast_unwind_on_malloc=0 records whole stacks"),
	       "%s", r.err);

	REQUIRE(run_victim_with(&r, "detect_leaks=1:fast_unwind_on_malloc=0", "leak_nofp"));
	EXPECT(r.signal == 0 && r.status == 23, "signal %d status %d: %s", r.signal, r.status,
	       r.err);
	g = strstr(r.err, group);
	EXPECT(g && strstr(g, " in nofp_alloc_busy ") && strstr(g, " in leak_nofp_make ") &&
		       strstr(g, " in main "),
	       "%s", r.err);
	EXPECT(!strstr(r.err, "HINT:"), "%s", r.err);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s VICTIM VICTIM_SOURCE [TEST...]\n", argv[0]);
		return 2;
	}
	victim = argv[1];
	source = argv[2];
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	static const hw_test tests[] = {
		T(test_wild_read),
		T(test_wild_write),
		T(test_frameless_leaf),
		T(test_quarantined_large),
		T(test_null_write),
		T(test_layer_fault),
		T(test_overflow_main),
		T(test_overflow_thread),
		T(test_chained),
		T(test_sent_not_classified),
		T(test_guarded_overflow),
		T(test_guarded_underflow),
		T(test_guarded_use_after_free),
		T(test_frames_without_frame_pointers),
		T(test_frames_without_unwind_tables),
		T(test_leak_hint_without_frame_pointers),
	};
	int rc = hw_test_main(tests, sizeof tests / sizeof tests[0], argc - 2, argv + 2);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return rc;
}

/* report_test.c: the debug mode's reports, read as a user or a tool reads
 * them: each bug of victim.cc is run in a child under
 * libheapward-malloc.so and its report checked for the kind, the address,
 * the frames (function and file:line of victim.cc, found by its @markers)
 * of the error's own stack and of the object's allocation and free, the
 * SUMMARY line and the exit status.
 *
 * Owns: running the victim (directly, or through the `heapward` launcher)
 * with an options string and a PATH, and the checks.
 *
 * Invariants:
 *   RT1. Every expected line number comes from victim.cc's markers, every
 *        expected address from the victim's own "addr" line, every PID from
 *        the fork: nothing about a run is written into the test.
 *   RT2. A frame check looks at the one line "    #N 0x..." of the named
 *        block (the error's stack: the lines after the ERROR line; a
 *        history: the lines after its heading), up to the block's empty
 *        line.
 *
 * Usage: debug_report_test VICTIM VICTIM_SOURCE LAUNCHER [TEST...]
 */
#include "check.h"
#include "child.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *victim, *source, *launcher;
static char tmpdir[] = "/tmp/hw-report-XXXXXX";

typedef struct run {
	int pid;
	int signal, status;
	char out[4096];
	char err[65536];
} run;

typedef struct victim_call {
	const char *options, *scenario, *path, *launcher_arg;
} victim_call;

static void exec_victim(void *arg)
{
	const victim_call *c = arg;
	unsetenv("LD_PRELOAD");
	if (c->options)
		setenv("HEAPWARD_OPTIONS", c->options, 1);
	else
		unsetenv("HEAPWARD_OPTIONS");
	if (c->path)
		setenv("PATH", c->path, 1);
	if (c->launcher_arg)
		execl(launcher, launcher, "run", c->launcher_arg, "--", victim, c->scenario,
		      (char *)NULL);
	else
		execl(victim, victim, c->scenario, (char *)NULL);
}

/* Runs the victim's scenario with HEAPWARD_OPTIONS=options (and PATH=path
 * when not NULL), directly or (launcher_args not NULL) as
 * `heapward run ARGS -- victim scenario`. */
static bool run_victim(run *r, const char *options, const char *scenario, const char *path,
		       const char *launcher_arg)
{
	victim_call c = {options, scenario, path, launcher_arg};
	hw_test_ended end;
	if (!hw_test_exec(exec_victim, &c, tmpdir, &end, r->out, sizeof r->out, r->err,
			  sizeof r->err))
		return false;
	r->pid = end.pid;
	r->signal = end.signal;
	r->status = end.status;
	return true;
}

/* The address the victim printed (VI1), as the report prints it. */
static const char *addr_of(const run *r, char *buf, size_t len)
{
	const char *a = strstr(r->out, "addr ");
	buf[0] = '\0';
	if (a) {
		size_t n = strcspn(a + 5, "\n");
		snprintf(buf, len, "%.*s", (int)n, a + 5);
	}
	return buf;
}

/* The line of victim.cc that carries "@name" (RT1); 0 when none. */
static unsigned marker(const char *name)
{
	static char src[65536];
	if (!src[0])
		hw_test_slurp(source, src, sizeof src);
	char needle[64];
	snprintf(needle, sizeof needle, "@%s ", name);
	const char *at = strstr(src, needle);
	if (!at)
		return 0;
	unsigned line = 1;
	for (const char *c = src; c < at; c++)
		line += *c == '\n';
	return line;
}

/* The block starting at the first line that begins with `head` (RT2): a
 * copy of it up to the next empty line, or "" when there is no such line. */
static const char *block(const char *err, const char *head, char *buf, size_t len)
{
	buf[0] = '\0';
	for (const char *l = err; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, head, strlen(head)) != 0)
			continue;
		const char *end = strstr(l, "\n\n");
		size_t n = end ? (size_t)(end - l) + 1 : strlen(l);
		snprintf(buf, len, "%.*s", (int)n, l);
		break;
	}
	return buf;
}

/* Frame n of blk names func at victim.cc's line of marker `mark`. */
static bool frame_is(const char *blk, unsigned n, const char *func, const char *mark)
{
	char head[32];
	snprintf(head, sizeof head, "    #%u 0x", n);
	const char *l = strstr(blk, head);
	unsigned line = marker(mark);
	if (!l || line == 0)
		return false;
	size_t len = strcspn(l, "\n");
	char frame[1024], in[128], at1[64], at2[64];
	snprintf(frame, sizeof frame, "%.*s", (int)len, l);
	snprintf(in, sizeof in, " in %s ", func);
	/* file:line then a column or the end of the line. */
	snprintf(at1, sizeof at1, "victim.cc:%u:", line);
	snprintf(at2, sizeof at2, "victim.cc:%u", line);
	size_t a2 = strlen(at2);
	bool at = strstr(frame, at1) ||
		  (len >= a2 && strcmp(frame + len - a2, at2) == 0 && strstr(frame, at2));
	if (!strstr(frame, in) || !at)
		fprintf(stderr, "frame #%u is not %s at victim.cc:%u: %s\n", n, func, line, frame);
	return strstr(frame, in) && at;
}

/* The error report's header for kind at addr, with the run's PID. */
static bool header_is(const run *r, const char *kind, const char *addr)
{
	char want[256];
	snprintf(want, sizeof want, "==%d==ERROR: heapward: %s on address %s in thread T0:\n",
		 r->pid, kind, addr);
	bool ok = strstr(r->err, want) != NULL;
	if (!ok)
		fprintf(stderr, "no line '%s' in:\n%s\n", want, r->err);
	return ok;
}

/* SUMMARY names kind at the top frame of the error's stack: func at marker. */
static bool summary_is(const run *r, const char *kind, const char *func, const char *mark)
{
	char sum[1024], want1[128], want2[64];
	block(r->err, "SUMMARY: heapward: ", sum, sizeof sum);
	snprintf(want1, sizeof want1, "SUMMARY: heapward: %s /", kind);
	snprintf(want2, sizeof want2, "victim.cc:%u", marker(mark));
	char tail[128];
	snprintf(tail, sizeof tail, " in %s\n", func);
	bool ok = strstr(sum, want1) && strstr(sum, want2) && strstr(sum, tail);
	if (!ok)
		fprintf(stderr, "summary is not %s at %s in %s: %s\n", kind, want2, func, sum);
	return ok;
}

/* No frame of any stack is the allocator's own (RP2). */
static bool no_allocator_frames(const char *err)
{
	static const char *const own[] = {" in malloc ", " in free ", " in hw_",
					  " in alloc_slow", " in free_slow", "operator new",
					  "operator delete", "libheapward-malloc.so"};
	for (const char *l = strstr(err, "    #"); l; l = strstr(l + 1, "    #")) {
		size_t n = strcspn(l, "\n");
		for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
			const char *hit = strstr(l, own[i]);
			if (hit && hit < l + n) {
				fprintf(stderr, "an allocator frame: %.*s\n", (int)n, l);
				return false;
			}
		}
	}
	return true;
}

static bool aborted(const run *r)
{
	bool ok = r->signal == SIGABRT;
	if (!ok)
		fprintf(stderr, "signal %d status %d, not SIGABRT: %s\n", r->signal, r->status,
			r->err);
	return ok;
}

static void test_double_free(void)
{
	run r;
	char a[64], b[2048];
	REQUIRE(run_victim(&r, "debug=1", "double_free", NULL, NULL));
	addr_of(&r, a, sizeof a);
	EXPECT(aborted(&r));
	char first[128];
	snprintf(first, sizeof first, "heapward: double free of %s (a free 32-byte slot", a);
	EXPECT(strstr(r.err, first), "the one-line report stays first: %s", r.err);
	EXPECT(header_is(&r, "double-free", a));
	block(r.err, "==", b, sizeof b);
	EXPECT(frame_is(b, 0, "drop", "drop"));
	EXPECT(frame_is(b, 1, "double_free", "df_free2"));
	block(r.err, "freed by thread T0 here:", b, sizeof b);
	EXPECT(frame_is(b, 0, "drop", "drop"));
	EXPECT(frame_is(b, 1, "double_free", "df_free1"));
	block(r.err, "previously allocated by thread T0 here:", b, sizeof b);
	EXPECT(frame_is(b, 0, "make", "make"));
	EXPECT(frame_is(b, 1, "double_free", "df_alloc"));
	char located[128];
	snprintf(located, sizeof located, "%s is located 0 bytes inside of a freed 32-byte slot",
		 a);
	EXPECT(strstr(r.err, located), "%s", r.err);
	EXPECT(summary_is(&r, "double-free", "drop", "drop"));
	char abort_line[64];
	snprintf(abort_line, sizeof abort_line, "==%d==ABORTING\n", r.pid);
	EXPECT(strstr(r.err, abort_line));
	EXPECT(no_allocator_frames(r.err));
}

static void test_double_free_large(void)
{
	run r;
	char a[64], b[2048], located[128];
	REQUIRE(run_victim(&r, "debug=1", "double_free_large", NULL, NULL));
	addr_of(&r, a, sizeof a);
	EXPECT(aborted(&r));
	EXPECT(header_is(&r, "double-free", a));
	block(r.err, "==", b, sizeof b);
	EXPECT(frame_is(b, 1, "double_free_large", "dfl_free2"));
	snprintf(located, sizeof located,
		 "%s is located 0 bytes inside of a freed 200000-byte region", a);
	EXPECT(strstr(r.err, located), "%s", r.err);
	block(r.err, "freed by thread T0 here:", b, sizeof b);
	EXPECT(frame_is(b, 1, "double_free_large", "dfl_free1"));
	block(r.err, "previously allocated by thread T0 here:", b, sizeof b);
	EXPECT(frame_is(b, 1, "double_free_large", "dfl_alloc"));
	EXPECT(summary_is(&r, "double-free", "drop", "drop"));
}

/* An invalid free inside a live 64-byte object: interior and misaligned. */
static void bad_free_inside(const char *scenario, size_t off, const char *free_mark,
			    const char *alloc_mark)
{
	run r;
	char a[64], b[2048], located[128];
	REQUIRE(run_victim(&r, "debug=1", scenario, NULL, NULL));
	addr_of(&r, a, sizeof a);
	EXPECT(aborted(&r));
	EXPECT(strstr(r.err, "not the start of an object"), "the one-line report: %s", r.err);
	EXPECT(header_is(&r, "bad-free", a));
	block(r.err, "==", b, sizeof b);
	EXPECT(frame_is(b, 0, "drop", "drop"));
	EXPECT(frame_is(b, 1, scenario, free_mark));
	snprintf(located, sizeof located, "%s is located %zu bytes inside of 64-byte region", a,
		 off);
	EXPECT(strstr(r.err, located), "%s", r.err);
	block(r.err, "allocated by thread T0 here:", b, sizeof b);
	EXPECT(frame_is(b, 0, "make", "make"));
	EXPECT(frame_is(b, 1, scenario, alloc_mark));
	EXPECT(summary_is(&r, "bad-free", "drop", "drop"));
	EXPECT(no_allocator_frames(r.err));
}

static void test_interior_free(void) { bad_free_inside("interior", 16, "int_free", "int_alloc"); }

static void test_misaligned_free(void)
{
	bad_free_inside("misaligned", 1, "mis_free", "mis_alloc");
}

/* A free of a slot never handed out is a double free of a free slot with
 * no history: no "freed by" or "allocated by" heading with an empty stack
 * (its record was never written). */
static void test_never_handed_out(void)
{
	run r;
	char a[64], b[2048], located[128];
	REQUIRE(run_victim(&r, "debug=1", "never_handed_out", NULL, NULL));
	addr_of(&r, a, sizeof a);
	EXPECT(aborted(&r));
	EXPECT(header_is(&r, "double-free", a));
	block(r.err, "==", b, sizeof b);
	EXPECT(frame_is(b, 1, "never_handed_out", "nh_free"));
	snprintf(located, sizeof located, "%s is located 0 bytes inside of a freed", a);
	EXPECT(strstr(r.err, located), "%s", r.err);
	EXPECT(!strstr(r.err, "freed by thread") && !strstr(r.err, "allocated by thread"),
	       "a history the slot never had: %s", r.err);
	EXPECT(summary_is(&r, "double-free", "drop", "drop"));
}

/* A free of memory that is not the heap's: the stack, a global. */
static void bad_free_foreign(const char *scenario, const char *what)
{
	run r;
	char a[64], b[2048], located[256];
	REQUIRE(run_victim(&r, "debug=1", scenario, NULL, NULL));
	addr_of(&r, a, sizeof a);
	EXPECT(aborted(&r));
	EXPECT(header_is(&r, "bad-free", a));
	block(r.err, "==", b, sizeof b);
	EXPECT(frame_is(b, 0, "drop", "drop"));
	EXPECT(frame_is(b, 1, scenario, scenario));
	snprintf(located, sizeof located, "%s is not heap memory: %s", a, what);
	EXPECT(strstr(r.err, located), "%s", r.err);
	EXPECT(summary_is(&r, "bad-free", "drop", "drop"));
}

static void test_stack_free(void) { bad_free_foreign("stack_free", "on this thread's stack"); }

static void test_global_free(void)
{
	bad_free_foreign("global_free", "in a module's writable data, /");
}

static void test_canary(void)
{
	run r;
	char a[64], b[2048], located[128];
	REQUIRE(run_victim(&r, "debug=1", "overflow", NULL, NULL));
	addr_of(&r, a, sizeof a);
	EXPECT(aborted(&r));
	EXPECT(strstr(r.err, "heapward: heap buffer overflow: the tail canary of the 13-byte"));
	EXPECT(header_is(&r, "heap-buffer-overflow", a));
	block(r.err, "==", b, sizeof b);
	EXPECT(frame_is(b, 1, "overflow", "ovf_free"));
	snprintf(located, sizeof located, "%s is located 0 bytes after the end of 13-byte region",
		 a);
	EXPECT(strstr(r.err, located), "%s", r.err);
	block(r.err, "allocated by thread T0 here:", b, sizeof b);
	EXPECT(frame_is(b, 0, "make", "make"));
	EXPECT(frame_is(b, 1, "overflow", "ovf_alloc"));
	EXPECT(summary_is(&r, "heap-buffer-overflow", "drop", "drop"));
}

/* A kind mismatch: freed by the wrong call, with the allocation's stack. */
static void mismatch(const char *scenario, const char *kind, const char *line,
		     const char *free_fn, const char *free_mark, const char *alloc_fn,
		     const char *alloc_mark, const char *alloc_scenario_mark)
{
	run r;
	char a[64], b[2048];
	REQUIRE(run_victim(&r, "debug=1", scenario, NULL, NULL));
	addr_of(&r, a, sizeof a);
	EXPECT(aborted(&r));
	EXPECT(strstr(r.err, line), "the one-line report '%s': %s", line, r.err);
	EXPECT(header_is(&r, kind, a));
	block(r.err, "==", b, sizeof b);
	EXPECT(frame_is(b, 0, free_fn, free_mark));
	block(r.err, "allocated by thread T0 here:", b, sizeof b);
	EXPECT(frame_is(b, 0, alloc_fn, alloc_mark));
	EXPECT(frame_is(b, 1, scenario, alloc_scenario_mark));
	EXPECT(summary_is(&r, kind, free_fn, free_mark));
	EXPECT(no_allocator_frames(r.err));
}

static void test_kind_mismatch(void)
{
	mismatch("mismatch", "alloc-dealloc-mismatch",
		 "heapward: alloc-dealloc mismatch: free of", "drop", "drop", "make_array",
		 "make_array", "mm_alloc");
	mismatch("mismatch_delete", "alloc-dealloc-mismatch",
		 "heapward: alloc-dealloc mismatch: operator delete", "drop_object",
		 "drop_object", "make", "make", "md_alloc");
	/* The C and C++ families mixed (new[] then free, malloc then delete)
	 * say how to accept the mix, and alloc_dealloc_mismatch=0 does
	 * (kind.c KD3); a mismatch among the C++ forms is reported either
	 * way. */
	run r;
	REQUIRE(run_victim(&r, "debug=1", "mismatch_delete", NULL, NULL));
	EXPECT(strstr(r.err, "by malloc); alloc_dealloc_mismatch=0 accepts a C and C++ mix\n"),
	       "%s", r.err);
	const char *mixes[] = {"mismatch", "mismatch_delete"};
	for (size_t i = 0; i < 2; i++) {
		REQUIRE(run_victim(&r, "debug=1:alloc_dealloc_mismatch=0", mixes[i], NULL, NULL));
		EXPECT(r.status == 0 && !strstr(r.err, "mismatch"), "%s: %d %s", mixes[i],
		       r.status, r.err);
	}
	REQUIRE(run_victim(&r, "debug=1:alloc_dealloc_mismatch=0", "sized", NULL, NULL));
	EXPECT(aborted(&r) && strstr(r.err, "heapward: new-delete size mismatch"), "%s", r.err);
}

static void test_sized_delete(void)
{
	mismatch("sized", "new-delete-type-mismatch", "heapward: new-delete size mismatch",
		 "drop_sized", "drop_sized", "make_one", "make_one", "sz_alloc");
	run r;
	REQUIRE(run_victim(&r, "debug=1", "sized", NULL, NULL));
	EXPECT(strstr(r.err, "freed by operator delete with size 16"), "%s", r.err);
}

/* C23's sized frees with the wrong size or alignment (kind.c KD5). */
static void test_free_sized(void)
{
	mismatch("free_sized_wrong", "free-size-mismatch",
		 "heapward: free-size mismatch: free_sized", "drop_c23", "drop_c23", "make", "make",
		 "fs_alloc");
	mismatch("free_aligned_sized_wrong", "free-size-mismatch",
		 "heapward: free-size mismatch: free_aligned_sized", "drop_c23_aligned",
		 "drop_c23_aligned", "make", "make", "fa_alloc");
	run r;
	REQUIRE(run_victim(&r, "debug=1", "free_sized_wrong", NULL, NULL));
	EXPECT(strstr(r.err, "40-byte region") &&
		       strstr(r.err, "made by malloc, freed by free_sized with size 48\n"),
	       "%s", r.err);
	REQUIRE(run_victim(&r, "debug=1", "free_aligned_sized_wrong", NULL, NULL));
	EXPECT(strstr(r.err, "freed by free_aligned_sized with alignment "), "%s", r.err);
	REQUIRE(run_victim(&r, "debug=1:free_size_mismatch=0", "free_sized_wrong", NULL, NULL));
	EXPECT(r.status == 0 && !strstr(r.err, "mismatch"), "%d %s", r.status, r.err);
}

/* The leak of victim.cc's build_leak: a 48-byte node (direct) holding
 * another (indirect). */
static void expect_leak_report(const run *r, int status)
{
	char b[2048], head[64];
	EXPECT(r->signal == 0 && r->status == status, "signal %d status %d, not %d: %s",
	       r->signal, r->status, status, r->err);
	snprintf(head, sizeof head, "==%d==ERROR: heapward: detected memory leaks\n", r->pid);
	EXPECT(strstr(r->err, head), "%s", r->err);
	block(r->err, "Direct leak of 48 byte(s) in 1 object(s) allocated from:", b, sizeof b);
	EXPECT(frame_is(b, 0, "make", "make"));
	EXPECT(frame_is(b, 1, "build_leak", "leak_direct"));
	block(r->err, "Indirect leak of 48 byte(s) in 1 object(s) allocated from:", b, sizeof b);
	EXPECT(frame_is(b, 0, "make", "make"));
	EXPECT(frame_is(b, 1, "build_leak", "leak_indirect"));
	EXPECT(strstr(r->err, "\nSUMMARY: heapward: 96 byte(s) leaked in 2 allocation(s).\n"),
	       "%s", r->err);
	EXPECT(no_allocator_frames(r->err));
	/* Stacks of code with frame pointers: no hint (debug_report.c RP9). */
	EXPECT(!strstr(r->err, "HINT:"), "%s", r->err);
}

static void test_leaks(void)
{
	run r;
	REQUIRE(run_victim(&r, "detect_leaks=1", "leak", NULL, NULL));
	expect_leak_report(&r, 23);
	/* leaks=1 is the same option (the issue's name for it). */
	REQUIRE(run_victim(&r, "leaks=1", "leak", NULL, NULL));
	expect_leak_report(&r, 23);
	/* Off: no check, the program's status. */
	REQUIRE(run_victim(&r, "debug=1", "leak", NULL, NULL));
	EXPECT(r.status == 0 && !strstr(r.err, "leak"), "%d %s", r.status, r.err);
	/* Standard error closed by an exit handler: the report still reaches
	 * it, through the copy taken as it closed (console.h CN4). */
	REQUIRE(run_victim(&r, "detect_leaks=1", "leak_stderr_closed", NULL, NULL));
	expect_leak_report(&r, 23);
	REQUIRE(run_victim(&r, "detect_leaks=1", "leak_stderr_fclosed", NULL, NULL));
	expect_leak_report(&r, 23);
	/* The main thread ended with pthread_exit and the leaking thread was
	 * the last: the process ends, and the report is whole, with every
	 * thread accounted for (the reachable nodes are not in it: the
	 * summary counts 96 bytes). */
	REQUIRE(run_victim(&r, "detect_leaks=1", "leak_main_left", NULL, NULL));
	expect_leak_report(&r, 23);
	EXPECT(!strstr(r.err, "could not be stopped"), "%s", r.err);
	/* A thread that blocks every signal and holds its object in a
	 * register only: stopped by the tracer (platform/stop.h SW6), so
	 * the report is whole (and not hidden by the scan of every mapping)
	 * and does not name the register's object. Where this process may not
	 * be traced by its child, the check scans every mapping (which hides
	 * leaks), and says so. */
	REQUIRE(run_victim(&r, "detect_leaks=1", "leak_with_quiet_thread", NULL, NULL));
	if (hw_test_traceable()) {
		expect_leak_report(&r, 23);
		EXPECT(!strstr(r.err, "could not be stopped") && !strstr(r.err, "555 byte"), "%s",
		       r.err);
	} else {
		EXPECT((r.status == 0 || r.status == 23) &&
			       strstr(r.err, "1 thread(s) could not be stopped"),
		       "%d %s", r.status, r.err);
	}
	/* ptrace refused (seccomp): the fallback, which says so whether it
	 * reports leaks or none. */
	REQUIRE(run_victim(&r, "detect_leaks=1", "leak_quiet_untraceable", NULL, NULL));
	EXPECT((r.status == 0 || r.status == 23) &&
		       strstr(r.err, "1 thread(s) could not be stopped: every writable mapping"),
	       "%d %s", r.status, r.err);
}

/* A suppressions file in tmpdir holding text; its path into path. */
static void supp_file(const char *name, const char *text, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* two_leaks under a suppressions file holding text (or path missing when
 * text is NULL). */
static bool run_suppressed(run *r, const char *name, const char *text, char *path, size_t len)
{
	char opts[512];
	if (text)
		supp_file(name, text, path, len);
	else
		snprintf(path, len, "%s/%s", tmpdir, name);
	snprintf(opts, sizeof opts, "detect_leaks=1:suppressions=%s", path);
	return run_victim(r, opts, "two_leaks", NULL, NULL);
}

/* LeakSanitizer's table of the rules used, with one rule's line. */
static bool used_table(const char *err, const char *line)
{
	char want[512];
	snprintf(want, sizeof want,
		 "-----------------------------------------------------\n"
		 "Suppressions used:\n"
		 "  count      bytes template\n"
		 "%s\n",
		 line);
	return strstr(err, want) != NULL;
}

static void test_leak_suppressions(void)
{
	run r;
	char path[256];
	/* Unsuppressed, two_leaks leaks build_leak's two objects and a third. */
	REQUIRE(run_victim(&r, "detect_leaks=1", "two_leaks", NULL, NULL));
	EXPECT(strstr(r.err, "\nSUMMARY: heapward: 120 byte(s) leaked in 3 allocation(s).\n") &&
		       r.status == 23,
	       "%d: %s", r.status, r.err);
	char b[2048];
	block(r.err, "Direct leak of 24 byte(s) in 1 object(s) allocated from:", b, sizeof b);
	EXPECT(frame_is(b, 1, "build_other_leak", "leak_other"), "%s", r.err);
	EXPECT(!strstr(r.err, "Suppressions used"), "%s", r.err);

	/* A function of the stack: that group goes to the rule's count; the
	 * rest is the usual report, the table before its SUMMARY. */
	REQUIRE(run_suppressed(&r, "fn.supp", "# ours\n\nleak:build_other_leak\n", path,
			       sizeof path));
	expect_leak_report(&r, 23);
	EXPECT(!strstr(r.err, "24 byte(s)"), "%s", r.err);
	EXPECT(used_table(r.err, "      1         24 build_other_leak"), "%s", r.err);
	const char *table = strstr(r.err, "Suppressions used:"), *sum = strstr(r.err, "SUMMARY:");
	EXPECT(table && sum && table < sum, "%s", r.err);

	/* Every group suppressed: no ERROR and no SUMMARY, the program's own
	 * status, and the table alone. */
	REQUIRE(run_suppressed(&r, "all.supp", "leak:build_*leak\n", path, sizeof path));
	EXPECT(r.signal == 0 && r.status == 0, "signal %d status %d: %s", r.signal, r.status,
	       r.err);
	EXPECT(!strstr(r.err, "ERROR") && !strstr(r.err, "SUMMARY"), "%s", r.err);
	EXPECT(used_table(r.err, "      3        120 build_*leak"), "%s", r.err);

	/* A source file, a module, anchors; the first rule that matches takes
	 * a group, and only rules that matched are listed. */
	REQUIRE(run_suppressed(&r, "file.supp", "leak:/victim.cc$\n", path, sizeof path));
	EXPECT(r.status == 0 && used_table(r.err, "      3        120 /victim.cc$"), "%s", r.err);
	REQUIRE(run_suppressed(&r, "module.supp", "leak:/debug_victim$\n", path, sizeof path));
	EXPECT(r.status == 0 && used_table(r.err, "      3        120 /debug_victim$"), "%s",
	       r.err);
	REQUIRE(run_suppressed(&r, "anchors.supp",
			       "leak:^build_leak$\nleak:^uild_other_leak\nleak:build_leak\n", path,
			       sizeof path));
	EXPECT(strstr(r.err, "\nSUMMARY: heapward: 24 byte(s) leaked in 1 allocation(s).\n") &&
		       r.status == 23,
	       "%d: %s", r.status, r.err);
	EXPECT(used_table(r.err, "      2         96 ^build_leak$\n"
				 "-----------------------------------------------------"),
	       "%s", r.err);

	/* No rule matches: the whole report, no table. */
	REQUIRE(run_suppressed(&r, "none.supp", "leak:no_such_function\n", path, sizeof path));
	EXPECT(strstr(r.err, "\nSUMMARY: heapward: 120 byte(s) leaked in 3 allocation(s).\n") &&
		       !strstr(r.err, "Suppressions used") && r.status == 23,
	       "%d: %s", r.status, r.err);

	/* A file that cannot be read: one warning, every leak reported. */
	REQUIRE(run_suppressed(&r, "missing.supp", NULL, path, sizeof path));
	char want[512];
	snprintf(want, sizeof want,
		 "heapward: cannot read suppressions file %s: no such file (no leak is "
		 "suppressed)\n",
		 path);
	EXPECT(strstr(r.err, want) && strstr(r.err, "120 byte(s) leaked in 3") && r.status == 23,
	       "%d: %s", r.status, r.err);
	snprintf(path, sizeof path, "detect_leaks=1:suppressions=%s", tmpdir);
	REQUIRE(run_victim(&r, path, "two_leaks", NULL, NULL));
	EXPECT(strstr(r.err, ": it is a directory (no leak is suppressed)\n") &&
		       strstr(r.err, "120 byte(s) leaked in 3"),
	       "%s", r.err);

	/* A bad line: its warning, and the good rules still apply. */
	REQUIRE(run_suppressed(&r, "bad.supp", "leak:build_other_leak\nbogus line\n", path,
			       sizeof path));
	snprintf(want, sizeof want,
		 "heapward: suppressions file %s, line 2: not a leak:<template> rule: 'bogus "
		 "line' (ignored)\n",
		 path);
	EXPECT(strstr(r.err, want), "%s", r.err);
	expect_leak_report(&r, 23);

	/* Through the launcher, which refuses a file it cannot read before
	 * the program runs. */
	supp_file("fn.supp", "leak:build_other_leak\n", path, sizeof path);
	char arg[300];
	snprintf(arg, sizeof arg, "--suppressions=%s", path);
	REQUIRE(run_victim(&r, NULL, "two_leaks", NULL, arg));
	expect_leak_report(&r, 23);
	EXPECT(used_table(r.err, "      1         24 build_other_leak"), "%s", r.err);
	snprintf(arg, sizeof arg, "--suppressions=%s/missing.supp", tmpdir);
	REQUIRE(run_victim(&r, NULL, "two_leaks", NULL, arg));
	snprintf(want, sizeof want, "heapward: %s: cannot read %s/missing.supp: ", arg, tmpdir);
	EXPECT(r.status == 2 && strstr(r.err, want) && !strstr(r.out, "addr"), "%d: %s", r.status,
	       r.err);
	snprintf(arg, sizeof arg, "--suppressions=%s", tmpdir);
	REQUIRE(run_victim(&r, NULL, "two_leaks", NULL, arg));
	EXPECT(r.status == 2 && strstr(r.err, "Is a directory"), "%d: %s", r.status, r.err);
}

static void test_reachable_not_reported(void)
{
	run r;
	REQUIRE(run_victim(&r, "detect_leaks=1", "reachable", NULL, NULL));
	EXPECT(r.signal == 0 && r.status == 0, "signal %d status %d: %s", r.signal, r.status,
	       r.err);
	EXPECT(!strstr(r.err, "detected memory leaks"), "%s", r.err);
	REQUIRE(run_victim(&r, "detect_leaks=1", "clean", NULL, NULL));
	EXPECT(r.status == 0 && !strstr(r.err, "detected memory leaks"), "%s", r.err);
	REQUIRE(run_victim(&r, "detect_leaks=1", "tls_roots", NULL, NULL));
	EXPECT(r.status == 0 && !strstr(r.err, "detected memory leaks"), "TLS roots: %s", r.err);
}

/* A live thread blocked at exit keeps what only its stack holds; the
 * leak of the main thread is still found. */
static void test_leak_with_live_thread(void)
{
	run r;
	REQUIRE(run_victim(&r, "detect_leaks=1", "leak_with_thread", NULL, NULL));
	expect_leak_report(&r, 23);
	EXPECT(!strstr(r.err, "777 byte"), "the blocked thread's object: %s", r.err);
	EXPECT(!strstr(r.err, "could not be stopped"), "%s", r.err);
}

static void test_exitcode(void)
{
	run r;
	REQUIRE(run_victim(&r, "detect_leaks=1:exitcode=7", "leak", NULL, NULL));
	EXPECT(r.signal == 0 && r.status == 7, "status %d", r.status);
	REQUIRE(run_victim(&r, "detect_leaks=1:exitcode=0", "leak", NULL, NULL));
	EXPECT(r.signal == 0 && r.status == 0 && strstr(r.err, "detected memory leaks"),
	       "status %d: %s", r.status, r.err);
	/* Errors the program continued past: two double frees, then exitcode. */
	REQUIRE(run_victim(&r, "debug=1:abort_on_error=0", "continue_past", NULL, NULL));
	EXPECT(r.signal == 0 && r.status == 23, "signal %d status %d", r.signal, r.status);
	const char *first = strstr(r.err, "ERROR: heapward: double-free");
	EXPECT(first && strstr(first + 1, "ERROR: heapward: double-free"), "two reports: %s",
	       r.err);
	EXPECT(!strstr(r.err, "ABORTING"), "%s", r.err);
	char b[2048];
	block(r.err, "==", b, sizeof b);
	EXPECT(frame_is(b, 1, "continue_past", "cont_free2"));
	REQUIRE(run_victim(&r, "abort_on_error=0:exitcode=9", "continue_past", NULL, NULL));
	EXPECT(r.status == 9, "without debug mode too: status %d", r.status);
	REQUIRE(run_victim(&r, "detect_leaks=1", "clean", NULL, NULL));
	EXPECT(r.status == 0, "clean: status %d", r.status);
}

static void test_log_path(void)
{
	run r;
	char opts[128], file[128], log[65536];
	snprintf(opts, sizeof opts, "debug=1:log_path=%s/report", tmpdir);
	REQUIRE(run_victim(&r, opts, "double_free", NULL, NULL));
	snprintf(file, sizeof file, "%s/report.%d", tmpdir, r.pid);
	hw_test_slurp(file, log, sizeof log);
	EXPECT(strstr(log, "heapward: double free of") && strstr(log, "SUMMARY: heapward: "),
	       "%s: %s", file, log);
	EXPECT(!strstr(r.err, "heapward:"), "stderr has the report: %s", r.err);
	unlink(file);
	/* The copy of standard error kept for the leak report (console.h CN4,
	 * debug.c DM7) is taken when the program closes standard error, by
	 * close or fclose: while it is open the program has no descriptor of
	 * heapward's (CPython's test_subprocess counts a child's). With a log
	 * file it is not made. */
	REQUIRE(run_victim(&r, "detect_leaks=1", "high_fds", NULL, NULL));
	EXPECT(strstr(r.out, "high 0\n"), "%s", r.out);
	REQUIRE(run_victim(&r, "detect_leaks=1", "high_fds_closed", NULL, NULL));
	EXPECT(strstr(r.out, "high 1\n"), "close(2): %s", r.out);
	REQUIRE(run_victim(&r, "detect_leaks=1", "high_fds_fclosed", NULL, NULL));
	EXPECT(strstr(r.out, "high 1\n"), "fclose(stderr): %s", r.out);
	REQUIRE(run_victim(&r, "detect_leaks=1", "high_fds_after_vfork", NULL, NULL));
	EXPECT(strstr(r.out, "high 1\n"), "after a vfork child's close(2): %s", r.out);
	REQUIRE(run_victim(&r, "detect_leaks=1", "high_fds_fork_child", NULL, NULL));
	EXPECT(strstr(r.out, "high 1\n"), "in a fork child: %s", r.out);
	snprintf(opts, sizeof opts, "detect_leaks=1:log_path=%s/report", tmpdir);
	REQUIRE(run_victim(&r, opts, "high_fds_closed", NULL, NULL));
	EXPECT(strstr(r.out, "high 0\n"), "with log_path: %s", r.out);
	/* Nor does the log file stay open between reports (CN1). */
	snprintf(opts, sizeof opts, "debug=1:abort_on_error=0:exitcode=0:log_path=%s/report",
		 tmpdir);
	REQUIRE(run_victim(&r, opts, "fds_after_report", NULL, NULL));
	snprintf(file, sizeof file, "%s/report.%d", tmpdir, r.pid);
	hw_test_slurp(file, log, sizeof log);
	EXPECT(strstr(log, "heapward: double free of") && strstr(r.out, "log fds 0\n"),
	       "%s / %s", r.out, log);
	unlink(file);
	/* A directory that does not exist: standard error, after one line. */
	REQUIRE(run_victim(&r, "debug=1:log_path=/nonexistent/dir/r", "double_free", NULL, NULL));
	EXPECT(strstr(r.err, "cannot open log_path file /nonexistent/dir/r.") &&
		       strstr(r.err, "SUMMARY: heapward: double-free"),
	       "%s", r.err);
}

/* The writes of a victim's standard error, each a message of a datagram
 * socket (debug_report.c RP8). */
#define WRITES_MAX 64
typedef struct writes {
	int n;
	hw_test_ended end;
	char msg[WRITES_MAX][8192];
} writes;

static bool run_writes(writes *w, const char *options, const char *scenario)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return false;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	victim_call c = {options, scenario, NULL, NULL};
	pid_t pid = null >= 0 ? hw_test_spawn(exec_victim, &c, null, sv[1]) : -1;
	if (null >= 0)
		close(null);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return false;
	}
	char buf[sizeof w->msg[0]];
	ssize_t got;
	w->n = 0;
	/* Every message is read (the victim must not block on a full socket);
	 * past WRITES_MAX the count goes on, the text is dropped. */
	while ((got = recv(sv[0], buf, sizeof buf - 1, 0)) > 0) {
		if (w->n < WRITES_MAX) {
			memcpy(w->msg[w->n], buf, (size_t)got);
			w->msg[w->n][got] = '\0';
		}
		w->n++;
	}
	close(sv[0]);
	return hw_test_wait(pid, &w->end);
}

/* The message holding needle, or -1. */
static int write_with(const writes *w, const char *needle)
{
	for (int i = 0; i < w->n && i < WRITES_MAX; i++)
		if (strstr(w->msg[i], needle))
			return i;
	return -1;
}

/* debug_report.c RP8: a leak report arrives as one write per group, the
 * header with the first and the SUMMARY with the last, each write whole
 * lines; an error report (a few stacks, well under 4 KiB) as one write.
 * Written a line at a time, two processes' reports on one pipe came out
 * interleaved line by line (`tar c | tar t` under `heapward run`). */
static void test_report_writes(void)
{
	writes *w = malloc(sizeof *w);
	REQUIRE(w);
	REQUIRE(run_writes(w, "detect_leaks=1", "two_leaks"));
	EXPECT(w->end.signal == 0 && w->end.status == 23, "signal %d status %d", w->end.signal,
	       w->end.status);
	REQUIRE(w->n <= WRITES_MAX, "%d writes", w->n);
	size_t groups = 0;
	for (int i = 0; i < w->n; i++) {
		const char *m = w->msg[i];
		size_t len = strlen(m);
		EXPECT(len > 0 && m[len - 1] == '\n', "write %d ends inside a line: %s", i, m);
		size_t g = hw_test_count(m, " leak of ");
		EXPECT(g <= 1, "write %d holds %zu groups: %s", i, g, m);
		if (g == 1)
			EXPECT(strstr(m, "allocated from:\n    #0 0x") && strstr(m, "    #1 0x"),
			       "write %d: a group without its stack: %s", i, m);
		groups += g;
	}
	EXPECT(groups == 3, "%zu groups", groups);
	int head = write_with(w, "ERROR: heapward: detected memory leaks");
	int sum = write_with(w, "SUMMARY: heapward: ");
	EXPECT(head >= 0 && strstr(w->msg[head], "Direct leak of 48 byte(s)"),
	       "the header without the first group: %s", head >= 0 ? w->msg[head] : "");
	EXPECT(sum > head && hw_test_count(w->msg[sum], " leak of ") == 1,
	       "the SUMMARY without the last group: %s", sum >= 0 ? w->msg[sum] : "");
	EXPECT(sum - head == 2, "3 groups in %d writes", sum - head + 1);

	REQUIRE(run_writes(w, "debug=1", "double_free"));
	EXPECT(w->end.signal == SIGABRT, "signal %d status %d", w->end.signal, w->end.status);
	int err = write_with(w, "ERROR: heapward: double-free");
	EXPECT(err >= 0 && strstr(w->msg[err], "freed by thread T0 here:") &&
		       strstr(w->msg[err], "previously allocated by thread T0 here:") &&
		       strstr(w->msg[err], "SUMMARY: heapward: double-free") &&
		       strstr(w->msg[err], "==ABORTING\n"),
	       "not one write: %s", err >= 0 ? w->msg[err] : "");
	free(w);
}

/* Every frame of blk is "    #N 0x<pc> (/<module>+0x<offset>)", with no
 * name, and frame #0 is in the module named by modoff. */
static bool unsymbolized(const char *blk, const char *modoff)
{
	unsigned frames = 0;
	for (const char *l = strstr(blk, "    #"); l; l = strstr(l + 1, "    #")) {
		size_t n = strcspn(l, "\n");
		const char *m = strstr(l, frames ? "+0x" : modoff), *in = strstr(l, " in ");
		if (!strstr(l, " (/") || !m || m > l + n || (in && in < l + n))
			return false;
		frames++;
	}
	return frames > 0;
}

/* The symbolizer a user has: llvm-symbolizer, addr2line, or none. */
static void test_symbolizers(void)
{
	char dir[96], link[128], b[2048];
	run r;
	/* Only addr2line on PATH. */
	snprintf(dir, sizeof dir, "%s/a2l", tmpdir);
	mkdir(dir, 0700);
	snprintf(link, sizeof link, "%s/addr2line", dir);
	if (access("/usr/bin/addr2line", X_OK) == 0 && symlink("/usr/bin/addr2line", link) == 0) {
		REQUIRE(run_victim(&r, "debug=1", "double_free", dir, NULL));
		block(r.err, "==", b, sizeof b);
		EXPECT(frame_is(b, 0, "drop", "drop"), "addr2line: %s", r.err);
		EXPECT(frame_is(b, 1, "double_free", "df_free2"));
		unlink(link);
	} else {
		printf("(no /usr/bin/addr2line: its fallback is not checked)\n");
	}
	/* Nothing on PATH, or symbolize=0: module+offset. */
	const char *base = strrchr(victim, '/') ? strrchr(victim, '/') + 1 : victim;
	char modoff[128];
	snprintf(modoff, sizeof modoff, "/%s+0x", base);
	REQUIRE(run_victim(&r, "debug=1", "double_free", dir, NULL));
	block(r.err, "==", b, sizeof b);
	EXPECT(unsymbolized(b, modoff), "no symbolizer: %s", b);
	REQUIRE(run_victim(&r, "debug=1:symbolize=0", "double_free", NULL, NULL));
	block(r.err, "==", b, sizeof b);
	EXPECT(unsymbolized(b, modoff), "symbolize=0: %s", b);
	EXPECT(strstr(r.err, "SUMMARY: heapward: double-free ("), "%s", r.err);
	/* An explicit symbolizer_path that does not exist: module+offset. */
	REQUIRE(run_victim(&r, "debug=1:symbolizer_path=/nonexistent/llvm-symbolizer",
			   "double_free", NULL, NULL));
	block(r.err, "==", b, sizeof b);
	EXPECT(unsymbolized(b, modoff) && r.signal == SIGABRT, "%s", r.err);
}

static void test_launcher_leaks_on(void)
{
	run r;
	REQUIRE(run_victim(&r, NULL, "leak", NULL, "--stats_at_exit=0"));
	expect_leak_report(&r, 23);
	REQUIRE(run_victim(&r, NULL, "leak", NULL, "--detect_leaks=0"));
	EXPECT(r.status == 0 && !strstr(r.err, "leak"), "%d: %s", r.status, r.err);
	REQUIRE(run_victim(&r, NULL, "clean", NULL, "--stats_at_exit=0"));
	EXPECT(r.status == 0 && !strstr(r.err, "leak"), "%d: %s", r.status, r.err);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s VICTIM VICTIM_SOURCE LAUNCHER [TEST...]\n", argv[0]);
		return 2;
	}
	victim = argv[1];
	source = argv[2];
	launcher = argv[3];
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	static const hw_test tests[] = {
		T(test_double_free),
		T(test_double_free_large),
		T(test_interior_free),
		T(test_misaligned_free),
		T(test_never_handed_out),
		T(test_stack_free),
		T(test_global_free),
		T(test_canary),
		T(test_kind_mismatch),
		T(test_sized_delete),
		T(test_free_sized),
		T(test_leaks),
		T(test_reachable_not_reported),
		T(test_leak_with_live_thread),
		T(test_leak_suppressions),
		T(test_exitcode),
		T(test_log_path),
		T(test_report_writes),
		T(test_symbolizers),
		T(test_launcher_leaks_on),
	};
	int rc = hw_test_main(tests, sizeof tests / sizeof tests[0], argc - 3, argv + 3);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return rc;
}

/* test_trap.c: the fault probe and the child runners (platform/trap.c,
 * platform/trap_windows.c).
 *
 * Checks that a probe of accessible memory performs the access (R2), that an
 * unmapped address reports SEGV_MAPERR, that a real fault after a trapping
 * probe still reaches the previous disposition (R1, R4) and kills, and that
 * hw_trap_child (fork) and hw_trap_rerun (a new run of this program, whose
 * child bodies are the CHILD entries below) report exit codes, signals and
 * stderr.
 */
#include "ptest.h"

#include <stdint.h>
#include <stdlib.h>

static void test_probe_accessible(void)
{
	volatile unsigned char byte = 0x5a;
	EXPECT(hw_trap_probe(&byte, false) == HW_TRAP_NONE);
	EXPECT(hw_trap_probe(&byte, true) == HW_TRAP_NONE);
	EXPECT(byte == 0x5a, "a write probe stores the byte it read");
}

static void test_probe_unmapped(void)
{
	/* The first page is never mapped. */
	volatile void *null_page = (volatile void *)(uintptr_t)16;
	EXPECT(hw_trap_probe(null_page, false) == HW_TRAP_MAPERR);
	EXPECT(hw_trap_probe(null_page, true) == HW_TRAP_MAPERR);
	/* Repeated probes keep working (the mask was restored by the jump). */
	for (int i = 0; i < 100; i++)
		if (hw_trap_probe(null_page, false) != HW_TRAP_MAPERR) {
			EXPECT(false, "probe %d", i);
			break;
		}
	EXPECT(strcmp(hw_trap_kind_name(HW_TRAP_ACCERR), "SEGV_ACCERR") == 0);
}

static void crash_after_probe(void *arg)
{
	(void)hw_trap_probe((volatile void *)(uintptr_t)16, false);
	/* With the default disposition restored this kills the child. */
	*(volatile char *)(uintptr_t)arg = 1;
}

static void test_fault_after_probe_kills(void)
{
	char err[64];
	hw_child_status st;
	REQUIRE(hw_trap_child(crash_after_probe, (void *)(uintptr_t)16, err, sizeof err, &st) == 0);
	/* Killed by the signal, or (under a sanitizer, whose handler was the
	 * previous one) reported and exited non-zero: never swallowed. */
	EXPECT(st.signo == SIGSEGV || (st.signo == 0 && st.exit_code != 0),
	       "child ended with signal %d, exit %d", st.signo, st.exit_code);
}

static void exit_three(void *arg)
{
	fputs("to stderr", stderr);
	exit(3);
}

static void return_quietly(void *arg)
{
}

static void test_child_status(void)
{
	char err[64];
	hw_child_status st;
	REQUIRE(hw_trap_child(exit_three, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 3, "signo %d exit %d", st.signo, st.exit_code);
	EXPECT(strcmp(err, "to stderr") == 0, "stderr \"%s\"", err);
	REQUIRE(hw_trap_child(return_quietly, NULL, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0 && err[0] == '\0');
}

static void chatty(void *arg)
{
	for (int i = 0; i < 10000; i++)
		fputs("0123456789", stderr);
}

static void test_child_output_truncated(void)
{
	char err[16];
	hw_child_status st;
	REQUIRE(hw_trap_child(chatty, NULL, err, sizeof err, &st) == 0);
	EXPECT(strcmp(err, "012345678901234") == 0, "got \"%s\"", err);
	EXPECT(st.signo == 0 && st.exit_code == 0, "the child was not blocked by a full pipe");
}

/* The same children, as new runs of this program. */
static void child_crash_after_probe(void)
{
	volatile uintptr_t first_page = 16; /* opaque: no constant null access */
	hw_trap_quiet_child();
	crash_after_probe((void *)first_page);
}

static void child_exit_three(void) { exit_three(NULL); }
static void child_quiet(void) { return_quietly(NULL); }
static void child_chatty(void) { chatty(NULL); }

static void test_rerun_fault_after_probe_kills(void)
{
	char err[4096];
	hw_child_status st;
	REQUIRE(hw_trap_rerun("child_crash_after_probe", err, sizeof err, &st) == 0);
	EXPECT(st.signo == SIGSEGV || (st.signo == 0 && st.exit_code != 0),
	       "child ended with signal %d, exit %d", st.signo, st.exit_code);
}

static void test_rerun_status(void)
{
	char err[64];
	hw_child_status st;
	REQUIRE(hw_trap_rerun("child_exit_three", err, sizeof err, &st) == 0);
	EXPECT(st.exit_code == 3, "signo %d exit %d", st.signo, st.exit_code);
	EXPECT(strcmp(err, "to stderr") == 0, "stderr \"%s\"", err);
	REQUIRE(hw_trap_rerun("child_quiet", err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0 && err[0] == '\0', "signo %d exit %d \"%s\"",
	       st.signo, st.exit_code, err);
	REQUIRE(hw_trap_rerun("child_chatty", err, 16, &st) == 0);
	EXPECT(strcmp(err, "012345678901234") == 0, "got \"%s\"", err);
	EXPECT(st.signo == 0 && st.exit_code == 0, "the child was not blocked by a full pipe");
}

HW_TEST_MAIN(T(test_probe_accessible), T(test_probe_unmapped), T(test_fault_after_probe_kills),
	     T(test_child_status), T(test_child_output_truncated),
	     T(test_rerun_fault_after_probe_kills), T(test_rerun_status),
	     CHILD(child_crash_after_probe), CHILD(child_exit_three), CHILD(child_quiet),
	     CHILD(child_chatty))

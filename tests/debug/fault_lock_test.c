/* fault_lock_test.c: a fault report while the faulting thread itself holds
 * the report lock (debug_report.c RP5): the report waits a bounded time,
 * prints anyway, and the process dies of the fault, not of a deadlock.
 *
 * The child (hw_trap_child, an alarm as the deadlock's witness) starts the
 * layer in debug mode, makes the first page of a freed large object (held in
 * the quarantine) trap with mprotect behind the heap's back, takes the
 * report lock as a report in progress would, and touches the page: a
 * heap-use-after-free report.
 *
 * Under AddressSanitizer its SEGV handler is the previous one: the report
 * is printed first, then the sanitizer's (the child exits instead of being
 * killed; died_of_segv accepts that).
 */
#include "check.h"
#include "debug.h"
#include "malloc_internal.h"
#include "sanitizers.h"
#include "track.h"
#include "trap.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The deliberate access to the faulted page, unchecked by ASan (the freed
 * object is poisoned). */
HW_TRACK_UNCHECKED __attribute__((noinline)) static void touch(volatile char *p) { *p = 1; }

static void child(void *arg)
{
	(void)arg;
	alarm(20); /* a deadlock dies of SIGALRM instead */
	if (!hw_mc_start("debug=1:scavenger=0"))
		_exit(10);
	char *keep = hw_malloc(13);
	char *big = hw_malloc(200000);
	hw_free(big);
	if (!keep || mprotect(big, MC_PAGE, PROT_NONE) != 0)
		_exit(11);
	hw_mc_report_lock();
	touch(big + 100);
	_exit(12);
}

static void test_report_under_own_lock(void)
{
	char err[16384];
	hw_child_status st;
	REQUIRE(hw_trap_child(child, NULL, err, sizeof err, &st) == 0);
	bool died = st.signo == SIGSEGV || (HW_TEST_ASAN && st.signo == 0 && st.exit_code != 0);
	EXPECT(died, "signal %d exit %d: %s", st.signo, st.exit_code, err);
	EXPECT(strstr(err, "ERROR: heapward: heap-use-after-free on address ") &&
		       strstr(err, "WRITE of unknown size at ") &&
		       strstr(err, "SUMMARY: heapward: heap-use-after-free "),
	       "got: %s", err);
}

HW_TEST_MAIN(T(test_report_under_own_lock))

/* difftest_mutant.c: the driver against a heap built with the seed's bug
 * (ci/mutants/01-*.patch: newly grown memory counted as Ready instead of released).
 * The run passes only when the driver reports the bug. The input starts with
 * a grow op: an allocation that grows the heap would scavenge the "excess"
 * at once, and the simulator would stop the run on the illegal release of
 * Prepared pages before the driver could compare anything.
 *
 * Owns: nothing shared. Invariants: tests/check.h C1.
 * Locking: single-threaded.
 */
#include "check.h"
#include "driver.h"
#include "ops.h"

#include <string.h>

static char failure[640];
static void record(const char *what) { snprintf(failure, sizeof failure, "%s", what); }

static void driver_reports_the_seed_bug(void)
{
	static uint8_t in[8 * 66];
	uint64_t seed = 1;
	hw_ops_put(in, 0, 0, 0, 0);
	hw_ops_put(in + 8, HW_OP_GROW, 0, 0, 0);
	hw_driver_generate(&seed, 64, in + 16);
	hw_driver_options opt = {.backend = HW_DRIVER_SIM, .trace = 0};
	hw_driver_set_fail_hook(record);
	int rc = hw_driver_run(in, sizeof in, &opt);
	hw_driver_set_fail_hook(NULL);
	EXPECT(rc == -1, "the seed's bug went unnoticed");
	EXPECT(failure[0] != '\0');
	printf("reported: %s\n", failure);
}

HW_TEST_MAIN(T(driver_reports_the_seed_bug))

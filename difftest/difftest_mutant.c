/* difftest_mutant.c: the driver against a heap built with the seed's bug
 * (HW_MUTANT=1: newly grown memory counted as Ready instead of released).
 * The run passes only when the driver reports the bug.
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
	static uint8_t in[8 * 65];
	uint64_t seed = 1;
	hw_ops_put(in, 0, 0, 0, 0);
	hw_driver_generate(&seed, 64, in + 8);
	hw_driver_options opt = {.backend = HW_DRIVER_SIM, .trace = 0};
	hw_driver_set_fail_hook(record);
	int rc = hw_driver_run(in, sizeof in, &opt);
	hw_driver_set_fail_hook(NULL);
	EXPECT(rc == -1, "the seed's bug went unnoticed");
	EXPECT(failure[0] != '\0');
	printf("reported: %s\n", failure);
}

HW_TEST_MAIN(T(driver_reports_the_seed_bug))

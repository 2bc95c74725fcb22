/* heap_sim_fuzzer.c: the heap on the checked simulator, differential against
 * the reference model (difftest/driver.h does all the work: every op is
 * checked against the model, the simulator's page states and Ready bytes,
 * and hw_heap_validate).
 *
 * Owns: the choice of backend. Invariants: FZ1-FZ2 of fuzz.h.
 * Locking: none (one input at a time).
 */
#include "fuzz.h"

#include "driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const hw_driver_options opts = {.backend = HW_DRIVER_SIM, .trace = -1};
	hw_driver_run(data, size, &opts);
	return 0;
}

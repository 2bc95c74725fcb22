/* heap_os_fuzzer.c: the heap on a private Linux platform instance,
 * differential against the reference model, plus the checks only the real
 * OS can answer: stale accesses to faulted pages trap (fault_on_free), and
 * released pages hold no memory (mincore). difftest/driver.h does the work.
 *
 * Owns: the choice of backend. Invariants: FZ1-FZ2 of fuzz.h.
 * Locking: none (one input at a time).
 */
#include "fuzz.h"

#include "driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const hw_driver_options opts = {.backend = HW_DRIVER_OS, .trace = -1};
	hw_driver_run(data, size, &opts);
	return 0;
}

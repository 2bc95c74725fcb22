/* malloc_fuzzer.c: the malloc layer (hw_malloc and the rest of the prefixed
 * API) on the checked simulator, differential against the object model
 * (difftest/malloc_driver.h does all the work: every op is checked against
 * heapward.h's promises and the model, the layer's stats and heap, and a
 * fresh layer serves every input: hw_mc_reset, src/malloc/malloc_internal.h).
 *
 * Owns: nothing but the call. Invariants: FZ1-FZ2 of fuzz.h.
 * Locking: none (one input at a time).
 */
#include "fuzz.h"

#include "malloc_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const hw_malloc_driver_options opts = {.trace = -1};
	hw_malloc_driver_run(data, size, &opts);
	return 0;
}

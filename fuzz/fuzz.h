/* fuzz.h: the one interface every fuzz target implements.
 *
 * Owns: the prototypes of the libFuzzer entry points (libFuzzer, AFL++'s
 * driver and fuzz/standalone_main.c all call them), so each target exports
 * exactly LLVMFuzzerTestOneInput and, when it needs one-time setup,
 * LLVMFuzzerInitialize.
 *
 * Invariants:
 *   FZ1. A target keeps no state between inputs except read-only settings
 *        made once in LLVMFuzzerInitialize; an input's outcome depends on its
 *        bytes alone. (The heap targets' driver reuses one simulator, reset
 *        per input to a new instance's state: driver.h D1.)
 *   FZ2. A target returns 0; a failed check prints the harness's banner
 *        (difftest/harness.h HN1) and aborts (driver.h D2).
 *
 * Locking: the engines call targets from one thread.
 */
#ifndef HW_FUZZ_H
#define HW_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define HW_FUZZ_EXPORT __attribute__((visibility("default")))

HW_FUZZ_EXPORT int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
HW_FUZZ_EXPORT int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif

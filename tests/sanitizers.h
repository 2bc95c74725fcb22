/* sanitizers.h: which sanitizer the test was built with, for the tests
 * whose expectations differ under one (a sanitizer's own fault handler or
 * allocator takes over what the test watches).
 *
 * Owns: HW_TEST_ASAN and HW_TEST_TSAN, each 1 when the compiler built the
 * file with AddressSanitizer or ThreadSanitizer: base.h's detection
 * (HW_ASAN, HW_TSAN), the one the library uses.
 *
 * Locking: none.
 */
#ifndef HW_TESTS_SANITIZERS_H
#define HW_TESTS_SANITIZERS_H

#include "base.h"

#define HW_TEST_ASAN HW_ASAN
#define HW_TEST_TSAN HW_TSAN

#endif

/* sanitizers.h: which sanitizer the test was built with, for the tests
 * whose expectations differ under one (a sanitizer's own fault handler or
 * allocator takes over what the test watches).
 *
 * Owns: HW_TEST_ASAN and HW_TEST_TSAN, each 1 when the compiler built the
 * file with AddressSanitizer or ThreadSanitizer (gcc's __SANITIZE_*__,
 * clang's __has_feature), else 0.
 *
 * Locking: none.
 */
#ifndef HW_TESTS_SANITIZERS_H
#define HW_TESTS_SANITIZERS_H

#if defined(__SANITIZE_ADDRESS__)
#define HW_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HW_TEST_ASAN 1
#endif
#endif
#ifndef HW_TEST_ASAN
#define HW_TEST_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#define HW_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HW_TEST_TSAN 1
#endif
#endif
#ifndef HW_TEST_TSAN
#define HW_TEST_TSAN 0
#endif

#endif

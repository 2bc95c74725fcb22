#!/usr/bin/env bash
# ci/job-tsan.sh: ThreadSanitizer over the heap, malloc and platform tests.
#
# Gates: the build (clang 14, -O1 -g, HW_DEBUG=1, -fsanitize=thread, -Werror)
# and ctest over the tests labelled heap, malloc or platform, which include
# the multi-thread and fork tests (tests/heap/thread_test.c: fork under load,
# concurrent scavenger start/stop; tests/malloc/thread_test.c: threads
# handing objects to each other with the scavenger running, thread exit,
# fork under load; tests/platform/test_thread.c). A data race
# or a lock-order inversion TSan sees stops the test (halt_on_error=1).
# die_after_fork=0: the fork test's children use the heap, and the child's
# own scavenger start is a thread created after a multi-threaded fork, which
# the heap supports (src/registry.c) and TSan would otherwise refuse.
#
# Run locally exactly as CI does: bash ci/job-tsan.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require cmake cmake
cc=$(hw_clang)

dir="$HW_BUILD_ROOT/tsan"
hw_configure "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DHW_WERROR=ON -DHW_DEBUG=1 \
	-DHW_SANITIZE=thread -DHW_TRACKING=none -DHW_FUZZ_ENGINE=none \
	-DHW_BUILD_FUZZERS=OFF -DHW_BUILD_BENCH=OFF
hw_build "$dir"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 die_after_fork=0 second_deadlock_stack=1}"
hw_ctest "$dir" -L 'heap|malloc|platform'

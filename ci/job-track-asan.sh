#!/usr/bin/env bash
# ci/job-track-asan.sh: the heap's AddressSanitizer annotations, then every
# test with them on.
#
# Gates: the build (clang 14, -O1 -g, ASan+UBSan, HW_TRACKING=asan so unused
# arena pages and freed runs are poisoned and live arenas are LeakSanitizer
# root regions, HW_DEBUG=1, -Werror); the annotation tests (label track:
# a stale access through hw_heap_* is reported as use-after-poison, clean use
# and heaps recreated at the same addresses report nothing, heap pages keep
# malloc'd blocks alive for LeakSanitizer until the arena goes); then the rest
# of ctest, the corpus replay included, so the fuzz targets run with tracking
# too. The OSS-Fuzz emulation has its own job (ci/job-ossfuzz.sh).
#
# Run locally exactly as CI does: bash ci/job-track-asan.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require cmake cmake
cc=$(hw_clang)

dir="$HW_BUILD_ROOT/track-asan"
hw_configure "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DHW_WERROR=ON -DHW_DEBUG=1 \
	"-DHW_SANITIZE=address;undefined" -DHW_TRACKING=asan -DHW_FUZZ_ENGINE=none
hw_build "$dir"
hw_sanitizer_env
hw_ctest "$dir" -L track
hw_ctest "$dir" -LE 'ossfuzz|track'

#!/usr/bin/env bash
# ci/job-clang-asan.sh: clang debug build with ASan and UBSan, every test.
#
# Gates: the build (clang 14, -O1 -g, HW_DEBUG=2 so internal assertions and the
# O(heap) checks are on, HW_TRACKING=asan so freed heap pages are poisoned,
# -Werror) and ctest, including the corpus replay. Any sanitizer report stops
# the test that made it (-fno-sanitize-recover=all, halt_on_error=1).
#
# Run locally exactly as CI does: bash ci/job-clang-asan.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require cmake cmake
cc=$(hw_clang)

dir="$HW_BUILD_ROOT/clang-asan"
hw_configure "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DHW_WERROR=ON -DHW_DEBUG=2 \
	"-DHW_SANITIZE=address;undefined" -DHW_TRACKING=asan -DHW_FUZZ_ENGINE=none
hw_build "$dir"
hw_sanitizer_env
hw_ctest "$dir" -LE ossfuzz

#!/usr/bin/env bash
# ci/job-clang-debug.sh: clang and clang++ debug build, unoptimized, without a
# sanitizer, so the preload library and its tests are built with clang too.
#
# Gates: the build (clang 14, -O0 -g but for the files of the leak check's
# tail calls, HW_TAIL_CALL_OPTIONS; -Werror) and ctest over the malloc layer,
# the preload library and the debug mode (labels malloc, override, debug,
# detector). These are what differ between compilers: sized deallocation,
# the library's weak C++ runtime (no libstdc++ in a C program), frame
# layouts under the leak check's scrub (leak_copies_test). The real programs
# (label preload) run in gcc-release.
#
# Run locally exactly as CI does: bash ci/job-clang-debug.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require cmake cmake
cc=$(hw_clang)
cxx=$(hw_clangxx)

dir="$HW_BUILD_ROOT/clang-debug"
hw_configure "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
	-DCMAKE_BUILD_TYPE=Debug -DHW_WERROR=ON -DHW_DEBUG=1 -DHW_SANITIZE= \
	-DHW_TRACKING=none -DHW_FUZZ_ENGINE=none -DHW_BUILD_FUZZERS=OFF -DHW_BUILD_BENCH=OFF
hw_build "$dir"
hw_ctest "$dir" -L 'malloc|override|debug|detector' -LE 'preload|slow|ossfuzz'

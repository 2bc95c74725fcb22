#!/usr/bin/env bash
# ci/job-gcc-release.sh: gcc release build, warnings as errors, every test.
#
# Gates: the build (gcc 12, -O2, -Werror) and ctest, which runs the unit tests
# and replays the fuzz corpus through the standalone replay driver. The
# OSS-Fuzz emulation has its own job (ci/job-ossfuzz.sh).
#
# Run locally exactly as CI does: bash ci/job-gcc-release.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require gcc gcc cmake cmake

dir="$HW_BUILD_ROOT/gcc-release"
hw_configure "$dir" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DHW_WERROR=ON -DHW_DEBUG=0 \
	-DHW_SANITIZE= -DHW_FUZZ_ENGINE=none -DHW_TRACKING=none
hw_build "$dir"
hw_ctest "$dir" -LE ossfuzz

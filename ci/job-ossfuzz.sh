#!/usr/bin/env bash
# ci/job-ossfuzz.sh: the OSS-Fuzz build, emulated.
#
# Runs the ctest tests labelled "ossfuzz" (tests/ossfuzz/): ci/oss-fuzz/build.sh
# under the environment OSS-Fuzz's builder sets for libFuzzer + ASan and for
# AFL++ + ASan, into a scratch $OUT, then checks every artefact ClusterFuzz
# reads and runs each fuzzer on its seed corpus.
#
# Gates: both builds, the artefact checks and the runs. The AFL++ half needs
# the afl++ package (ci/deps.sh installs it); without it that test reports
# SKIP instead of passing.
#
# Run locally exactly as CI does: bash ci/job-ossfuzz.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require cmake cmake gcc gcc zip zip unzip unzip

dir="$HW_BUILD_ROOT/ossfuzz"
# The emulation builds its own trees; this configure only registers the tests.
hw_configure "$dir" -DCMAKE_C_COMPILER=gcc -DHW_BUILD_TESTS=ON -DHW_BUILD_FUZZERS=OFF \
	-DHW_BUILD_BENCH=OFF >/dev/null
hw_ctest "$dir" -L ossfuzz

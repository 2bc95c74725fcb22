#!/usr/bin/env bash
# ci/job-track-valgrind.sh: the heap's Valgrind Memcheck annotations.
#
# Gates: the build (gcc 12, -O1 -gdwarf-4, no sanitizer, HW_TRACKING=valgrind
# so each arena is a Memcheck pool, each live run a MALLOCLIKE block and
# scavenged runs are handed out defined, -Werror) and the annotation tests
# (label track), each run under `valgrind --error-exitcode=99` and checked for
# its exit status and Memcheck's words: a use after free through hw_heap_* is
# an "Invalid read" of a block "free'd" by the heap; a clean workout on every
# backend has no error and no leak; a zeroed run from scavenged pages is
# defined, a reused dirty one is not.
# With HW_TRACK_VALGRIND_HEAP=1 the heap tests (label heap) also run under
# ci/memcheck.sh; ci/job-valgrind.sh runs the whole suite that way.
#
# Run locally exactly as CI does: bash ci/job-track-valgrind.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require gcc gcc cmake cmake valgrind valgrind

dir="$HW_BUILD_ROOT/track-valgrind"
hw_configure "$dir" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS_DEBUG="-O1 -g -gdwarf-4" -DHW_WERROR=ON -DHW_DEBUG=1 \
	-DHW_SANITIZE= -DHW_TRACKING=valgrind -DHW_FUZZ_ENGINE=none \
	-DHW_BUILD_FUZZERS=OFF -DHW_BUILD_BENCH=OFF \
	"-DCMAKE_CROSSCOMPILING_EMULATOR=bash;$HW_ROOT/ci/memcheck.sh"
hw_build "$dir"
labels=track
if [ "${HW_TRACK_VALGRIND_HEAP:-0}" = 1 ]; then
	labels='track|heap'
fi
hw_ctest "$dir" -L "$labels" -LE slow

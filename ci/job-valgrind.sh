#!/usr/bin/env bash
# ci/job-valgrind.sh: the test suite and the corpus replay under Valgrind
# Memcheck.
#
# Gates: every test (the corpus replay included) run through ci/memcheck.sh:
# an invalid access, a use of uninitialised memory or a definite/indirect leak
# fails it. The build is gcc, non-sanitized (Valgrind cannot run ASan
# binaries), -O1 -gdwarf-4 (Valgrind 3.19 reads DWARF 4 reliably), with
# HW_TRACKING=valgrind so heap pages carry Memcheck client requests.
# Tests labelled "slow" are skipped here (they run in the gcc and ASan jobs);
# set HW_VALGRIND_SLOW=1 to include them. Tests labelled "preload" (real
# programs under libheapward-malloc.so) and "override" (programs linked
# against it) never run here: Valgrind's own malloc replaces the standard
# names, so they would test Valgrind's. Nor do those labelled "debug" (the
# debug mode: its leak check reads whole stacks, uninitialised words
# included, on purpose, and stops threads with a signal Valgrind delivers
# on its own schedule; the gcc and ASan jobs run them).
#
# Run locally exactly as CI does: bash ci/job-valgrind.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require gcc gcc cmake cmake valgrind valgrind

dir="$HW_BUILD_ROOT/valgrind"
hw_configure "$dir" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS_DEBUG="-O1 -g -gdwarf-4" -DHW_DEBUG=1 -DHW_SANITIZE= \
	-DHW_TRACKING=valgrind -DHW_FUZZ_ENGINE=none -DHW_BUILD_BENCH=OFF \
	"-DCMAKE_CROSSCOMPILING_EMULATOR=bash;$HW_ROOT/ci/memcheck.sh"
hw_build "$dir"
exclude='ossfuzz|preload|override|debug'
if [ "${HW_VALGRIND_SLOW:-0}" != 1 ]; then
	exclude='ossfuzz|preload|override|debug|slow'
	hw_log "skipping tests labelled slow under Valgrind (HW_VALGRIND_SLOW=1 runs them)"
fi
hw_ctest "$dir" -LE "$exclude"

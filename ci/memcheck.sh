#!/usr/bin/env bash
# ci/memcheck.sh: runs one test program under Valgrind Memcheck.
#
# ci/job-valgrind.sh makes ctest run every test executable through this script
# (CMAKE_CROSSCOMPILING_EMULATOR), so the test's own exit status is kept and
# any Memcheck error, or a definite or indirect leak, turns it into exit 99.
# There is no suppression file: code that touches memory on purpose (the
# fault probe) tells Memcheck so itself (src/base/track.h).
# To find where an uninitialised value came from, run one test by hand with
# HW_VALGRIND_ARGS=--track-origins=yes (it roughly doubles the run time).
#
# HW_VALGRIND_LEAKS=0 (set by ctest for the tests that need it, see
# tests/malloc/CMakeLists.txt) turns the leak check off and keeps every
# other check.
#
# Usage: bash ci/memcheck.sh PROGRAM [ARGS...]
set -euo pipefail
leaks=(--leak-check=full --show-leak-kinds=definite,indirect
	--errors-for-leak-kinds=definite,indirect)
if [ "${HW_VALGRIND_LEAKS:-1}" = 0 ]; then
	leaks=(--leak-check=no)
fi
# shellcheck disable=SC2086 # HW_VALGRIND_ARGS is a list of options
exec valgrind --tool=memcheck --error-exitcode=99 "${leaks[@]}" \
	--num-callers=30 --quiet \
	${HW_VALGRIND_ARGS:-} "$@"

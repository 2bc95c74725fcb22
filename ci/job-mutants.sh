#!/usr/bin/env bash
# ci/job-mutants.sh: every planted bug of ci/mutants/ is caught by the
# committed corpus.
#
# Runs `ci/mutants.sh --replay`: one ASan+UBSan libFuzzer build in a scratch
# copy of the tree, then for each patch ci/mutants/NN-*.patch: apply, rebuild
# the targets it is tried on (incrementally), replay corpus/<target>/seed and
# regress, revert. No fuzzing, so the result does not depend on luck or on
# the machine's speed: a few minutes on 2 cores.
#
# Gates: the unmutated build replays every corpus cleanly (the control), and
# every mutant makes some target crash (its oracle, the validator or a
# sanitizer). A mutant that only fuzzing catches fails here until a
# regression input that catches it is committed (docs/ci.md says how).
#
# Run locally exactly as CI does: bash ci/job-mutants.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
exec bash "$HW_ROOT/ci/mutants.sh" --replay

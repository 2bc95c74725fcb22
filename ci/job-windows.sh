#!/usr/bin/env bash
# ci/job-windows.sh: the Windows build under Wine, as a job of ci/test.sh.
#
# Gates: those of ci/windows.sh (the mingw-w64 cross build with -Werror, and
# ctest under Wine), which it runs unchanged.
#
# Run locally exactly as CI does: bash ci/job-windows.sh
set -euo pipefail
exec bash "$(dirname "$0")/windows.sh" "$@"

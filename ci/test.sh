#!/usr/bin/env bash
# ci/test.sh: the one test command. Installs what it lacks, runs every CI job,
# prints one line per job and a closing "N passed, N failed".
#
# Jobs (each is ci/job-<name>.sh, runnable alone exactly as run here):
#   gcc-release  gcc -O2 -Werror, ctest (unit tests + corpus replay)
#   clang-asan   clang HW_DEBUG=2, ASan+UBSan, ctest
#   clang-debug  clang and clang++ -O0, no sanitizer: the preload library's tests
#   tsan         clang, ThreadSanitizer, the heap and platform tests (threads, fork)
#   valgrind     gcc, ctest under Valgrind Memcheck (slow tests skipped)
#   fuzz-smoke   libFuzzer+ASan+UBSan, corpus replay, 20 s per target
#   mutants      every planted bug of ci/mutants/ caught by replaying the corpus
#   lint         clang-format, cppcheck, OS macros only under platform/
#   install      install to a scratch prefix; find_package and pkg-config users
#   ossfuzz      the OSS-Fuzz build emulated for libFuzzer and AFL++
#   windows      mingw-w64 cross build for Windows, ctest under Wine (ci/windows.sh)
#
# Usage: bash ci/test.sh [--quick] [--no-deps] [JOB...]
#   --quick    only gcc-release and clang-asan (for local work)
#   --no-deps  do not install missing packages (ci/deps.sh)
#   JOB...     run only the named jobs
# Environment: HW_BUILD_ROOT (default build-ci), HW_JOBS (default nproc).
#
# Invariants:
#   TS1. Every job runs, whatever an earlier one did; the exit status is 0
#        exactly when every selected job passed.
#   TS2. Each job's full output is kept in $HW_BUILD_ROOT/logs/<job>.log; a
#        failing job's last lines are printed after its summary line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$HW_ROOT"

all=(gcc-release clang-asan clang-debug tsan valgrind fuzz-smoke mutants lint install ossfuzz windows)
quick=(gcc-release clang-asan)
selected=()
deps=1
for arg in "$@"; do
	case "$arg" in
	--quick) selected+=("${quick[@]}") ;;
	--no-deps) deps=0 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*) hw_die "unknown option $arg (try --help)" ;;
	*)
		[ -f "$HW_ROOT/ci/job-$arg.sh" ] || hw_die "no job $arg (jobs: ${all[*]})"
		selected+=("$arg")
		;;
	esac
done
if [ ${#selected[@]} -eq 0 ]; then
	selected=("${all[@]}")
fi

if [ $deps = 1 ]; then
	bash "$HW_ROOT/ci/deps.sh"
fi

logs="$HW_BUILD_ROOT/logs"
mkdir -p "$logs"
echo "ci: ${#selected[@]} jobs, -j$HW_JOBS, builds in $HW_BUILD_ROOT, logs in $logs"

passed=0
failed=0
summary=()
for job in "${selected[@]}"; do
	log="$logs/$job.log"
	start=$SECONDS
	status=0
	bash "$HW_ROOT/ci/job-$job.sh" </dev/null >"$log" 2>&1 || status=$?
	secs=$((SECONDS - start))
	if [ $status -eq 0 ]; then
		line=$(printf '%-12s PASS %5ds' "$job" "$secs")
		passed=$((passed + 1))
		echo "$line"
	else
		line=$(printf '%-12s FAIL %5ds  (exit %d, log %s)' "$job" "$secs" "$status" "$log")
		failed=$((failed + 1))
		echo "$line"
		echo "---- last 80 lines of $log"
		tail -n 80 "$log" | sed 's/^/  | /'
		echo "----"
	fi
	summary+=("$line")
done

echo
echo "ci summary:"
printf '  %s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]

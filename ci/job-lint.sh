#!/usr/bin/env bash
# ci/job-lint.sh: formatting, static analysis and the platform boundary.
#
# Gates, each over our C files (every tracked or new *.c / *.h):
#   1. clang-format-14 --dry-run -Werror with the repository's .clang-format
#      (tabs of width 8, kernel-style braces; line breaks are the author's),
#      and no line longer than 100 columns (tabs counted as 8).
#   2. cppcheck with the compile commands of a full configure (every target,
#      its own defines and include paths): --enable=warning,portability,
#      exit 1 on any finding. missingIncludeSystem is off (system headers are
#      not analysed); corrections to cppcheck's POSIX library live, with their
#      reasons, in ci/cppcheck.cfg; any other suppression is inline
#      (// cppcheck-suppress id) beside the code it excuses, with its reason.
#   3. The platform boundary: __linux__, _WIN32 and __APPLE__ appear only in
#      files under platform/; and the POSIX platform calls none of the C
#      library's wrappers that are cancellation points (open, read, write,
#      close, nanosleep, poll, waitpid, recv, send) but through
#      platform/nocancel.h (NC1), so no allocation is a cancellation point.
#   4. Include directions (ci/includes.sh): no include points up a layer
#      (base, platform, page heap, difftest), and neither the base floor nor
#      the heap includes an OS header; the check's self-test plants such
#      includes in a scratch copy and must see each one rejected.
#   5. Invariants (ci/invariants.sh): each numbered-invariant prefix belongs
#      to one module, and the heap's I-list agrees in heap_internal.h, the
#      validator and docs/invariants.md; with a self-test as for 4.
#
# Run locally exactly as CI does: bash ci/job-lint.sh
# Reformat our files in place instead of checking: bash ci/job-lint.sh --fix
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require cmake cmake cppcheck cppcheck gcc gcc git git
fmt=$(hw_clang_format)
cd "$HW_ROOT"

mapfile -t files < <(hw_c_files)
[ ${#files[@]} -gt 0 ] || hw_die "no C files found"

columns=100

# long_lines FILE: "N" for each line of FILE wider than $columns columns.
long_lines() { expand -t 8 "$1" | awk -v max=$columns 'length($0) > max { print NR }'; }

if [ "${1:-}" = "--fix" ]; then
	# Wrap each over-long line with the same style at a 100-column limit
	# (only those lines: --lines), then format every file; the style keeps
	# line breaks, so the wraps stay.
	wrap=$(mktemp)
	trap 'rm -f "$wrap"' EXIT
	sed "s/^ColumnLimit:.*/ColumnLimit: $columns/" "$HW_ROOT/.clang-format" >"$wrap"
	for f in "${files[@]}"; do
		ranges=()
		for n in $(long_lines "$f"); do
			ranges+=("--lines=$n:$n")
		done
		if [ ${#ranges[@]} -gt 0 ]; then
			"$fmt" -i --style="file:$wrap" "${ranges[@]}" "$f"
		fi
	done
	"$fmt" -i --style=file "${files[@]}"
	echo "formatted ${#files[@]} files with $fmt"
	exit 0
fi

fail=0

hw_log "clang-format ($("$fmt" --version | head -n 1)) over ${#files[@]} files"
bad=()
for f in "${files[@]}"; do
	"$fmt" --dry-run -Werror --style=file "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
	for f in "${bad[@]}"; do
		echo "not formatted: $f"
		"$fmt" --style=file "$f" | diff -u "$f" - | head -n 20 || true
	done
	echo "clang-format: ${#bad[@]} of ${#files[@]} files differ (fix: bash ci/job-lint.sh --fix)"
	fail=1
else
	echo "clang-format: ok"
fi
wide=0
for f in "${files[@]}"; do
	for n in $(long_lines "$f"); do
		echo "$f:$n: longer than $columns columns"
		wide=$((wide + 1))
	done
done
if [ $wide -gt 0 ]; then
	echo "line length: $wide lines exceed $columns columns (fix: bash ci/job-lint.sh --fix)"
	fail=1
else
	echo "line length: ok"
fi

dir="$HW_BUILD_ROOT/lint"
# The mutant tests' sources are patched copies made at build time, which a
# configure-only tree does not have (and which cppcheck need not read twice).
hw_configure "$dir" -DCMAKE_C_COMPILER=gcc -DHW_BUILD_TESTS=ON -DHW_BUILD_FUZZERS=ON \
	-DHW_BUILD_BENCH=ON -DHW_MUTANT_TESTS=OFF >/dev/null
hw_log "cppcheck ($(cppcheck --version))"
if cppcheck --project="$dir/compile_commands.json" \
	--enable=warning,portability --std=c11 --library=posix \
	--library="$HW_ROOT/ci/cppcheck.cfg" --inline-suppr \
	--suppress=missingIncludeSystem -j "$HW_JOBS" --quiet --error-exitcode=1 \
	--template='{file}:{line}: {severity}: {message} [{id}]'; then
	echo "cppcheck: ok"
else
	echo "cppcheck: findings above"
	fail=1
fi

hw_log "platform boundary: OS macros only under platform/"
leaks=()
for f in "${files[@]}"; do
	case "$f" in platform/*) continue ;; esac
	if grep -nE '__linux__|_WIN32|__APPLE__' "$f" >/dev/null; then
		leaks+=("$f")
		grep -nHE '__linux__|_WIN32|__APPLE__' "$f"
	fi
done
if [ ${#leaks[@]} -gt 0 ]; then
	echo "platform boundary: OS macros outside platform/ in ${#leaks[@]} files"
	fail=1
else
	echo "platform boundary: ok"
fi
# NC1: a call of a cancellation point's C library wrapper, outside comments
# (a name not preceded by an identifier character, '.' or '->'), in what
# ships (the simulator and the fault probe are test support).
cancel='(^|[^A-Za-z0-9_.>])(open|read|write|close|nanosleep|poll|waitpid|recv|send)\('
calls=$(for f in "${files[@]}"; do
	case "$f" in
	platform/*windows* | platform/win.h | platform/nocancel.h | platform/sim.* | platform/trap*) continue ;;
	platform/*) ;;
	*) continue ;;
	esac
	grep -nHE "$cancel" "$f" | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)' || true
done)
if [ -n "$calls" ]; then
	echo "$calls"
	echo "platform: cancellation points called directly (use platform/nocancel.h, NC1)"
	fail=1
else
	echo "platform: no cancellation point called directly (NC1)"
fi

hw_log "include directions: no arrow points up a layer (ci/includes.sh)"
bash "$HW_ROOT/ci/includes.sh" || fail=1
bash "$HW_ROOT/ci/includes.sh" --self-test || fail=1

hw_log "invariants: one module per prefix, the heap's list in agreement (ci/invariants.sh)"
bash "$HW_ROOT/ci/invariants.sh" || fail=1
bash "$HW_ROOT/ci/invariants.sh" --self-test || fail=1

exit $fail

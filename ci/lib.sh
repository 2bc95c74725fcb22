# ci/lib.sh: what every ci/job-*.sh shares; sourced, never run.
#
# Owns: the repository root, the build root, parallelism, the CMake generator,
# the configure/build/ctest calls, the sanitizer run-time environment, the tool
# lookup (gcc, clang-14, clang-format-14, llvm-symbolizer-14), the list of our
# C files and the list of fuzz targets.
#
# Invariants:
#   LB1. Every job builds in its own directory, $HW_BUILD_ROOT/<job>, and never
#        writes inside the source tree outside $HW_BUILD_ROOT.
#   LB2. A job that finds a tool missing stops with exit 2 and names the Debian
#        package that provides it (ci/deps.sh installs them all).
#   LB3. Every ctest call fails when it selects no test (--no-tests=error):
#        a job that ran nothing has not passed.
#
# Locking: none; jobs run one after another (ci/test.sh) or alone.

set -euo pipefail

HW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HW_BUILD_ROOT=${HW_BUILD_ROOT:-build-ci}
case "$HW_BUILD_ROOT" in
/*) ;;
*) HW_BUILD_ROOT="$HW_ROOT/$HW_BUILD_ROOT" ;;
esac
HW_JOBS=${HW_JOBS:-$(nproc 2>/dev/null || echo 2)}
export HW_ROOT HW_BUILD_ROOT HW_JOBS

hw_log() { printf '== %s\n' "$*"; }
hw_die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# hw_pick CANDIDATE...: echo the first candidate found on PATH.
hw_pick() {
	local c
	for c in "$@"; do
		if command -v "$c" >/dev/null 2>&1; then
			command -v "$c"
			return 0
		fi
	done
	return 1
}

# hw_require CMD PACKAGE [CMD PACKAGE]...: LB2.
hw_require() {
	local missing=()
	while [ $# -ge 2 ]; do
		command -v "$1" >/dev/null 2>&1 || missing+=("$1 (Debian package $2)")
		shift 2
	done
	if [ ${#missing[@]} -gt 0 ]; then
		printf 'missing tool: %s\n' "${missing[@]}" >&2
		printf 'install them with: bash ci/deps.sh (as root)\n' >&2
		exit 2
	fi
}

# Tools, preferring the versioned names Debian 12 ships.
hw_clang() { hw_pick clang-14 clang || hw_require clang-14 clang-14; }
hw_clangxx() { hw_pick clang++-14 clang++ || hw_require clang++-14 clang-14; }
hw_clang_format() { hw_pick clang-format-14 clang-format || hw_require clang-format-14 clang-format-14; }
hw_symbolizer() { hw_pick llvm-symbolizer-14 llvm-symbolizer || hw_require llvm-symbolizer-14 llvm-14; }

# hw_configure DIR CMAKE-ARGS...: configure the repository into DIR (LB1),
# with Ninja when installed, and compile_commands.json for tools.
hw_configure() {
	local dir=$1
	shift
	local gen=()
	if command -v ninja >/dev/null 2>&1; then
		gen=(-G Ninja)
	fi
	mkdir -p "$dir"
	hw_log "configure $dir: $*"
	cmake -S "$HW_ROOT" -B "$dir" "${gen[@]}" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "$@"
}

# hw_build DIR [TARGET...]
hw_build() {
	local dir=$1
	shift
	local targets=()
	local t
	for t in "$@"; do
		targets+=(--target "$t")
	done
	hw_log "build $dir ${*:-all} (-j$HW_JOBS)"
	cmake --build "$dir" -j "$HW_JOBS" "${targets[@]}"
}

# hw_ctest DIR CTEST-ARGS...: LB3.
hw_ctest() {
	local dir=$1
	shift
	hw_log "ctest in $dir: $*"
	(cd "$dir" && ctest --output-on-failure --no-tests=error -j "$HW_JOBS" "$@")
}

# The sanitizer run-time settings every ASan/UBSan run uses: stop at the first
# report, with a symbolized stack, and check leaks.
hw_sanitizer_env() {
	local sym
	sym=$(hw_symbolizer)
	export ASAN_SYMBOLIZER_PATH="$sym"
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1}"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
	export LSAN_OPTIONS="${LSAN_OPTIONS:-}"
}

# Our C files (and the one C++ file, *.cc), tracked or new (but not ignored),
# relative to HW_ROOT. Outside a git checkout (a source archive): every
# *.c / *.h / *.cc but build and work trees.
hw_c_files() {
	(
		cd "$HW_ROOT"
		if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
			git ls-files --cached --others --exclude-standard -- '*.c' '*.h' '*.cc'
		else
			find . \( -path './build*' -o -path ./out -o -path ./fuzz-work -o -path ./.git \) -prune \
				-o -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) -print | sed 's|^\./||'
		fi | sort -u | while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done
	)
}

# Fuzz targets: every fuzz/<target>.options names one (the harness keeps one
# .options file per target).
hw_fuzz_targets() {
	local f
	for f in "$HW_ROOT"/fuzz/*.options; do
		[ -f "$f" ] || continue
		f=${f##*/}
		printf '%s\n' "${f%.options}"
	done
}

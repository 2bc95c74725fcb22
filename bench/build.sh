# build.sh: the one optimised build the benchmark scripts measure, sourced by
# bench/run.sh, bench/realprog.sh and bench/memreturn.sh.
#
# Owns: the benchmark build's configuration (gcc, -O2 -DNDEBUG, no tests or
# fuzzers) and the check that the build directory really has it.
#
# Why the check: when BUILD_DIR was configured before with another compiler
# (a test build by cc, say), CMake empties its cache on the compiler's
# change and reconfigures without the -D options of that same command line.
# The build that follows has no build type: unoptimised, and every figure
# measured on it is wrong by 10% or more, silently. So a cache that does not
# say Release -O2 after the configure is removed, with a note, and the
# directory configured afresh; one that still disagrees is an error.
# Usage: . bench/build.sh; bench_build NAME BUILD_DIR TARGET...
#        (NAME is the calling script's, for its errors on standard error)

bench_build() {
	_caller=$1
	_dir=$2
	shift 2
	for _try in 1 2; do
		cmake -S "$root" -B "$_dir" -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
			-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
			-DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DHW_BUILD_TESTS=OFF \
			-DHW_BUILD_FUZZERS=OFF -DHW_BUILD_BENCH=ON >/dev/null
		if grep -qsx 'CMAKE_BUILD_TYPE:STRING=Release' "$_dir/CMakeCache.txt" &&
			grep -qsx 'CMAKE_C_FLAGS_RELEASE:STRING=-O2 -DNDEBUG' "$_dir/CMakeCache.txt"; then
			cmake --build "$_dir" -j"$(nproc)" $(printf -- '--target %s ' "$@") >/dev/null
			return
		fi
		echo "$_caller: $_dir was configured otherwise; configuring it afresh" >&2
		rm -rf "$_dir/CMakeCache.txt" "$_dir/CMakeFiles"
	done
	echo "$_caller: $_dir is not configured as a Release build with -O2;" \
		"remove it or name another BUILD_DIR" >&2
	exit 1
}

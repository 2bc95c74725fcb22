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
#
# Usage: . bench/build.sh; bench_build NAME BUILD_DIR TARGET...
#        (NAME is the calling script's, for its errors on standard error)

# Configures DIR for the benchmarks; true when its cache says Release -O2.
bench_configure() {
	cmake -S "$root" -B "$1" -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
		-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
		-DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DHW_BUILD_TESTS=OFF \
		-DHW_BUILD_FUZZERS=OFF -DHW_BUILD_BENCH=ON >/dev/null
	grep -qsx 'CMAKE_BUILD_TYPE:STRING=Release' "$1/CMakeCache.txt" &&
		grep -qsx 'CMAKE_C_FLAGS_RELEASE:STRING=-O2 -DNDEBUG' "$1/CMakeCache.txt"
}

bench_build() {
	_caller=$1
	_dir=$2
	shift 2
	if ! bench_configure "$_dir"; then
		echo "$_caller: $_dir was configured otherwise; configuring it afresh" >&2
		rm -rf "$_dir/CMakeCache.txt" "$_dir/CMakeFiles"
		if ! bench_configure "$_dir"; then
			echo "$_caller: $_dir is not configured as a Release build with -O2;" \
				"remove it or name another BUILD_DIR" >&2
			exit 1
		fi
	fi
	cmake --build "$_dir" -j"$(nproc)" $(printf -- '--target %s ' "$@") >/dev/null
}

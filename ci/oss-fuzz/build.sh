#!/bin/bash -eu
# ci/oss-fuzz/build.sh: builds heapward's fuzz targets for OSS-Fuzz and
# ClusterFuzzLite (.clusterfuzzlite/build.sh runs this file).
#
# Reads the builder's environment: $CC $CXX $CFLAGS $CXXFLAGS
# $LIB_FUZZING_ENGINE $FUZZING_ENGINE $SANITIZER $SRC $WORK $OUT.
# Writes to $OUT, for every target (one per fuzz/<target>.options):
#   <target>               the fuzzer, heapward linked statically
#   <target>_seed_corpus.zip   corpus/<target>/seed and corpus/<target>/regress
#   <target>.options       libFuzzer/sanitizer options
#   <target>.dict          when fuzz/<target>.dict exists (and any dictionary
#                          an .options file names with `dict = ...`)
#
# Invariants:
#   OB1. Compiler flags are exactly the builder's ($CFLAGS, $CXXFLAGS): no build
#        type flags of our own, no -march; the engine is linked only into the
#        fuzz executables (CMake: HW_FUZZ_ENGINE, HW_FUZZ_LINK), by $CXX for
#        AFL++ (its driver archive is C++).
#   OB2. HW_TRACKING=asan (heap pages poisoned when free) only when $SANITIZER
#        is address; every other sanitizer builds with HW_TRACKING=none, so a
#        memory or undefined build never calls ASan's interface.
#   OB3. Target names are never changed: ClusterFuzz keys corpora and crash
#        history by binary name.
#
# Finds the source tree from its own location (ci/oss-fuzz/ inside a
# checkout), else the working directory (OSS-Fuzz runs build.sh from the
# Dockerfile's WORKDIR), else $SRC/heapward.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
is_heapward() { [ -f "$1/CMakeLists.txt" ] && grep -q 'project(heapward' "$1/CMakeLists.txt"; }
if is_heapward "$here/../.."; then
	repo=$(cd "$here/../.." && pwd)
elif is_heapward "$PWD"; then
	repo=$PWD
elif is_heapward "$SRC/heapward"; then
	repo="$SRC/heapward"
else
	echo "build.sh: cannot find the heapward source tree" >&2
	exit 1
fi

case "$FUZZING_ENGINE" in
libfuzzer) engine=libfuzzer ;;
afl) engine=afl ;;
*)
	echo "build.sh: FUZZING_ENGINE=$FUZZING_ENGINE is not supported (libfuzzer, afl)" >&2
	exit 1
	;;
esac

# OB2. HW_TRACKING=asan needs HW_SANITIZE to name address; the flag is already
# in $CFLAGS, so repeating it changes nothing.
tracking=none
sanitize=
if [ "$SANITIZER" = address ]; then
	tracking=asan
	sanitize=address
fi

gen=()
if command -v ninja >/dev/null 2>&1; then
	gen=(-G Ninja)
fi
build="$WORK/heapward-$FUZZING_ENGINE-$SANITIZER"
rm -rf "$build"
cmake -S "$repo" -B "$build" "${gen[@]}" \
	-DCMAKE_BUILD_TYPE= \
	-DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
	-DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
	-DHW_FUZZ_ENGINE="$engine" -DHW_FUZZ_LINK="$LIB_FUZZING_ENGINE" \
	-DHW_SANITIZE="$sanitize" -DHW_TRACKING="$tracking" -DHW_DEBUG=1 \
	-DHW_BUILD_TESTS=OFF -DHW_BUILD_BENCH=OFF -DHW_BUILD_FUZZERS=ON
cmake --build "$build" -j "$(nproc)"

n=0
for options in "$repo"/fuzz/*.options; do
	[ -f "$options" ] || continue
	name=${options##*/}
	target=${name%.options}
	bin="$build/fuzz/$target"
	if [ ! -x "$bin" ]; then
		echo "build.sh: fuzz/$name exists but $bin was not built" >&2
		exit 1
	fi
	cp "$bin" "$OUT/$target"
	cp "$options" "$OUT/$target.options"
	if [ -f "$repo/fuzz/$target.dict" ]; then
		cp "$repo/fuzz/$target.dict" "$OUT/$target.dict"
	fi
	# A dictionary shared between targets is named in the .options file.
	for d in $(sed -n 's/^[[:space:]]*dict[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' "$options"); do
		cp "$repo/fuzz/$d" "$OUT/$d"
	done
	# Seed and regression inputs may share a file name: prefix each with its
	# folder. Paths inside the zip are ignored by the runner. A README in a
	# corpus folder is not an input (the ctest replay skips it too).
	stage="$WORK/seed-$target"
	rm -rf "$stage"
	mkdir -p "$stage"
	for kind in seed regress; do
		[ -d "$repo/corpus/$target/$kind" ] || continue
		for f in "$repo/corpus/$target/$kind"/*; do
			case "${f##*/}" in README*) continue ;; esac
			if [ -f "$f" ]; then
				cp "$f" "$stage/$kind-${f##*/}"
			fi
		done
	done
	rm -f "$OUT/${target}_seed_corpus.zip"
	if [ -n "$(ls -A "$stage")" ]; then
		(cd "$stage" && zip -q -X "$OUT/${target}_seed_corpus.zip" ./*)
	fi
	n=$((n + 1))
done
if [ $n -eq 0 ]; then
	echo "build.sh: no fuzz/*.options: no targets" >&2
	exit 1
fi
echo "build.sh: $n targets in $OUT ($FUZZING_ENGINE, $SANITIZER)"

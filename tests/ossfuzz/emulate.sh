#!/usr/bin/env bash
# tests/ossfuzz/emulate.sh: runs ci/oss-fuzz/build.sh the way OSS-Fuzz's
# builder does, then checks what ClusterFuzz would read from $OUT.
#
# Usage: emulate.sh ENGINE SANITIZER SCRATCH-DIR
#   ENGINE     libfuzzer | afl
#   SANITIZER  address | undefined
#
# Checks, for every target (one per fuzz/<target>.options):
#   EM1. $OUT/<target> exists, is executable, has an OSS-Fuzz-legal name
#        ([A-Za-z0-9_-], no extension) and does not load libheapward.so.
#   EM2. $OUT/<target>.options is fuzz/<target>.options; $OUT/<target>.dict
#        is fuzz/<target>.dict when that exists, and every dictionary the
#        .options file names (`dict = name`) is in $OUT beside it.
#   EM3. $OUT/<target>_seed_corpus.zip holds exactly the inputs of
#        corpus/<target>/seed and corpus/<target>/regress (a README there is
#        not an input).
#   EM4. The fuzzer runs every input of that zip and exits 0, and its output
#        shows each input was executed (AFL++'s driver silently does nothing
#        with a directory, so a count is checked, not just the exit code).
#
# Exits 0 when all hold, 77 (ctest SKIP_RETURN_CODE) only when the engine's
# Debian package is not installed, 1 otherwise.
set -euo pipefail

engine=${1:?engine}
sanitizer=${2:?sanitizer}
scratch=${3:?scratch directory}
repo=$(cd "$(dirname "$0")/../.." && pwd)

fail() {
	echo "FAIL ($engine+$sanitizer): $*" >&2
	exit 1
}
pick() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && { command -v "$c"; return 0; }
	done
	return 1
}

# The builder's flags (OSS-Fuzz infra/base-images: base-clang's CFLAGS, the
# per-sanitizer flags, and the coverage flags of each engine). CXXFLAGS
# omits -stdlib=libc++, which Debian's clang does not ship by default.
base="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
case "$sanitizer" in
address)
	san="-fsanitize=address -fsanitize-address-use-after-scope"
	;;
undefined)
	checks="array-bounds,bool,builtin,enum,float-divide-by-zero,function,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unsigned-integer-overflow,unreachable,vla-bound"
	nonrecover="array-bounds,bool,builtin,enum,float-divide-by-zero,function,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unreachable,vla-bound"
	san="-fsanitize=$checks -fno-sanitize-recover=$nonrecover"
	;;
*) fail "unknown sanitizer" ;;
esac

case "$engine" in
libfuzzer)
	cc=$(pick clang-14 clang) || fail "clang is not installed"
	cxx=$(pick clang++-14 clang++) || fail "clang++ is not installed"
	export CC=$cc CXX=$cxx
	export LIB_FUZZING_ENGINE="-fsanitize=fuzzer"
	export CFLAGS="$base $san -fsanitize=fuzzer-no-link"
	;;
afl)
	if ! command -v afl-clang-fast >/dev/null 2>&1; then
		echo "SKIP: afl++ is not installed (apt-get install afl++; ci/deps.sh does)"
		exit 77
	fi
	driver=$(dpkg -L afl++ 2>/dev/null | grep '/libAFLDriver\.a$' | head -n 1 || true)
	[ -n "$driver" ] || fail "afl++ is installed but libAFLDriver.a is not in it"
	export CC=afl-clang-fast CXX=afl-clang-fast++
	export LIB_FUZZING_ENGINE="$driver"
	export CFLAGS="$base $san"
	# The builder's settings for AFL++ compiles.
	export AFL_QUIET=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1
	;;
*) fail "unknown engine" ;;
esac
export CXXFLAGS="$CFLAGS"
export FUZZING_ENGINE=$engine SANITIZER=$sanitizer ARCHITECTURE=x86_64
export SRC=$repo
export WORK="$scratch/work" OUT="$scratch/out"
rm -rf "$scratch"
mkdir -p "$WORK" "$OUT"

echo "== build.sh: CC=$CC LIB_FUZZING_ENGINE=$LIB_FUZZING_ENGINE"
echo "   CFLAGS=$CFLAGS"
(cd "$SRC" && bash -eu "$repo/ci/oss-fuzz/build.sh") >"$scratch/build.log" 2>&1 || {
	tail -n 60 "$scratch/build.log"
	fail "build.sh failed (log: $scratch/build.log)"
}
tail -n 1 "$scratch/build.log"

# The runner's sanitizer settings (base-runner), trimmed to what matters here.
sym=$(pick llvm-symbolizer-14 llvm-symbolizer || true)
export ASAN_SYMBOLIZER_PATH="$sym"
export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1:quarantine_size_mb=10:handle_abort=1:symbolize=1:use_sigaltstack=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:silence_unsigned_overflow=1"

targets=0
for options in "$repo"/fuzz/*.options; do
	[ -f "$options" ] || continue
	t=${options##*/}
	t=${t%.options}
	targets=$((targets + 1))
	bin="$OUT/$t"

	# EM1
	[ -x "$bin" ] || fail "$t: $bin missing or not executable"
	[[ "$t" =~ ^[A-Za-z0-9_-]+$ ]] || fail "$t: name not allowed by OSS-Fuzz"
	if ldd "$bin" 2>/dev/null | grep -q libheapward; then
		fail "$t: links libheapward dynamically; only \$OUT reaches the bots"
	fi
	# EM2
	cmp -s "$options" "$OUT/$t.options" || fail "$t: $t.options missing or different"
	dicts=()
	if [ -f "$repo/fuzz/$t.dict" ]; then
		dicts+=("$t.dict")
	fi
	# A dictionary shared between targets is named in the .options file.
	for d in $(sed -n 's/^[[:space:]]*dict[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' "$options"); do
		dicts+=("$d")
	done
	for d in "${dicts[@]}"; do
		cmp -s "$repo/fuzz/$d" "$OUT/$d" || fail "$t: dictionary $d missing from \$OUT or different"
	done
	# EM3
	want=0
	for kind in seed regress; do
		if [ -d "$repo/corpus/$t/$kind" ]; then
			want=$((want + $(find "$repo/corpus/$t/$kind" -maxdepth 1 -type f \
				! -name 'README*' ! -name '.*' | wc -l)))
		fi
	done
	zip="$OUT/${t}_seed_corpus.zip"
	[ $want -gt 0 ] || fail "$t: corpus/$t/seed and corpus/$t/regress are empty"
	[ -f "$zip" ] || fail "$t: ${t}_seed_corpus.zip missing"
	inputs="$scratch/inputs/$t"
	mkdir -p "$inputs"
	unzip -q -o "$zip" -d "$inputs"
	mapfile -t files < <(find "$inputs" -type f | sort)
	[ ${#files[@]} -eq $want ] || fail "$t: zip holds ${#files[@]} inputs, corpus has $want"
	# EM4. AFL++'s driver skips empty files, so only non-empty ones are counted.
	log="$scratch/run-$t.log"
	if [ "$engine" = libfuzzer ]; then
		"$bin" -runs=0 "${files[@]}" >"$log" 2>&1 || { tail -n 40 "$log"; fail "$t: replay failed"; }
		ran=$(grep -c '^Executed ' "$log" || true)
		expect=${#files[@]}
	else
		# The driver's lines go to standard output, buffered, and the
		# target's own reports (a misuse input's) to standard error,
		# unbuffered: in one file a report could land inside a line.
		"$bin" "${files[@]}" >"$log" 2>"$log.err" ||
			{ tail -n 20 "$log" "$log.err"; fail "$t: replay failed"; }
		ran=$(grep -c '^Reading [0-9]* bytes from ' "$log" || true)
		expect=$(find "${files[@]}" -size +0c | wc -l)
	fi
	[ "$ran" -eq "$expect" ] || { tail -n 20 "$log"; fail "$t: ran $ran of $expect inputs"; }
	echo "ok $t: binary, options, ${#dicts[@]} dictionaries, $want seed inputs, $ran replayed"
done
[ $targets -gt 0 ] || fail "no fuzz/*.options: no targets"
echo "oss-fuzz emulation ($engine+$sanitizer): $targets targets ok"

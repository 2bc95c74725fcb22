#!/usr/bin/env bash
# ci/job-install.sh: install to a scratch prefix, build consumers against it
# and run them.
#
# Gates:
#   1. `cmake --install --prefix P` lays out include/heapward.h,
#      lib/libheapward.{a,so}, lib/cmake/heapward/heapwardConfig.cmake and
#      lib/pkgconfig/heapward.pc, and heapward.pc names P (the build is
#      configured for another prefix on purpose).
#   2. The shared library exports exactly the hw_* functions declared HW_API
#      in include/heapward.h: none missing, nothing else; every global
#      symbol the static library defines is hw_*; and neither installed
#      library holds a symbol of the test support (simulator, fault probe),
#      hidden or not.
#   3. A small C11 program (a heap, an allocation, an invalid free that must
#      return EINVAL and be reported, a free, stats, the validator) builds and
#      runs against the install, and what it prints must equal what this
#      script expects, with:
#        - find_package(heapward), shared and static targets, from the
#          consumer's build tree and installed (with
#          CMAKE_INSTALL_RPATH_USE_LINK_PATH, as docs/building.md says);
#        - pkg-config: shared with -Wl,-rpath,<libdir> and no environment,
#          shared with LD_LIBRARY_PATH, fully static (-static), and with
#          libheapward.a named; no static one needs libheapward.so.
#      The same shared link without a run path must fail to start with the
#      loader's "libheapward.so.0: cannot open shared object file": the
#      failure the documented ways avoid, and proof that nothing else on the
#      machine supplies the library to the runs above.
#   4. The public header compiles as strict C11 and as C++.
#   5. libheapward-malloc.so is installed and exports exactly the names of
#      src/override/exports.map (the standard allocation functions, C23's
#      sized frees, the __libc_* aliases and the 20 C++ operators): none
#      missing, nothing else, so no hw_* name; bin/heapward is installed,
#      `heapward run -- /bin/true` works from the install prefix, and a
#      program run by it has the installed library mapped and prints
#      heapward's at-exit stats.
#
# Run locally exactly as CI does: bash ci/job-install.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require gcc gcc cmake cmake pkg-config pkg-config nm binutils readelf binutils
cxx=$(hw_clangxx)

dir="$HW_BUILD_ROOT/install"
prefix="$dir/prefix"
rm -rf "$prefix" "$dir/consumer" "$dir/consumer-build" "$dir/consumer-install"
# Configured for one prefix, installed to another: the install must follow
# --prefix, as `cmake --install build --prefix /tmp/x` does for a user.
hw_configure "$dir/build" -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
	-DCMAKE_BUILD_TYPE=Release -DHW_BUILD_MALLOC=ON \
	-DCMAKE_INSTALL_PREFIX="$dir/configured-prefix" -DCMAKE_INSTALL_LIBDIR=lib -DHW_WERROR=ON \
	-DHW_BUILD_TESTS=OFF -DHW_BUILD_FUZZERS=OFF -DHW_BUILD_BENCH=OFF
hw_build "$dir/build"
cmake --install "$dir/build" --prefix "$prefix"
[ ! -e "$dir/configured-prefix" ] || hw_die "installed to the configured prefix, not to --prefix"

hw_log "installed layout"
for f in include/heapward.h lib/libheapward.a lib/libheapward.so \
	lib/cmake/heapward/heapwardConfig.cmake lib/pkgconfig/heapward.pc \
	lib/libheapward-malloc.so bin/heapward; do
	[ -e "$prefix/$f" ] || hw_die "not installed: $f"
	echo "  $f"
done

hw_log "exported symbols"
declared=$(grep -oE '^HW_API[^;(]*[ *]hw_[a-z0-9_]+\(' "$prefix/include/heapward.h" |
	grep -oE 'hw_[a-z0-9_]+\($' | tr -d '(' | sort -u)
exported=$(nm -D --defined-only "$prefix/lib/libheapward.so" |
	awk '$2 ~ /^[TtDdBbRrVvWwi]$/ { print $3 }' |
	grep -vE '^(_init|_fini|_edata|_end|__bss_start)$' | sort -u)
[ -n "$declared" ] || hw_die "found no HW_API functions in heapward.h"
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
[ -z "$missing" ] || hw_die "declared HW_API but not exported: $(echo $missing)"
[ -z "$extra" ] || hw_die "exported but not declared HW_API in heapward.h: $(echo $extra)"
echo "  $(echo "$declared" | wc -l) hw_* functions exported, nothing else"

# A static archive has no visibility to hide behind: every global symbol it
# defines lands in the program's namespace, so each must be hw_* (heapward.h).
unprefixed=$(nm -g --defined-only "$prefix/lib/libheapward.a" 2>/dev/null |
	awk 'NF == 3 && $3 !~ /^hw_/ { print $3 }' | sort -u)
[ -z "$unprefixed" ] || hw_die "libheapward.a defines names that are not hw_*: $(echo $unprefixed)"
echo "  libheapward.a: every global symbol it defines is hw_*"

hw_log "no test support in the installed libraries"
# The simulator and the fault probe (platform/sim.c, trap.c) are test
# support: no symbol of theirs, hidden or not, may be in what ships.
testsupport='hw_sim_|hw_trap_|hw_platform_sim_'
for lib in "$prefix/lib/libheapward.so" "$prefix/lib/libheapward.a" \
	"$prefix/lib/libheapward-malloc.so"; do
	found=$(nm "$lib" 2>/dev/null | grep -E "$testsupport" || true)
	[ -z "$found" ] || hw_die "$lib carries test support: $(echo "$found" | head -5)"
done
echo "  nm of libheapward.so, libheapward.a and libheapward-malloc.so: no $testsupport symbol"

hw_log "libheapward-malloc.so exports exactly the standard names"
intended=$(sed -n '/global:/,/local:/p' "$HW_ROOT/src/override/exports.map" |
	grep -v -e 'global:' -e 'local:' | tr ' ;' '\n\n' | grep -E '^[A-Za-z_]' | sort -u)
exported=$(nm -D --defined-only "$prefix/lib/libheapward-malloc.so" |
	awk '$2 ~ /^[TtDdBbRrVvWwi]$/ { print $3 }' |
	grep -vE '^(_init|_fini|_edata|_end|__bss_start)$' | sort -u)
[ "$(echo "$intended" | wc -l)" -eq 49 ] || hw_die "exports.map should list 49 names:" \
	"$(echo "$intended" | wc -l) found"
missing=$(comm -23 <(echo "$intended") <(echo "$exported"))
extra=$(comm -13 <(echo "$intended") <(echo "$exported"))
[ -z "$missing" ] || hw_die "libheapward-malloc.so does not export: $(echo $missing)"
[ -z "$extra" ] || hw_die "libheapward-malloc.so exports more than exports.map: $(echo $extra)"
echo "  $(echo "$exported" | wc -l) names: $(echo $exported)"
echo "  nothing else (no hw_* name)"

hw_log "the launcher, from the install prefix"
out=$("$prefix/bin/heapward" --version)
[ "$out" = "heapward $(sed -n 's/^project(heapward VERSION \([0-9.]*\).*/\1/p' "$HW_ROOT/CMakeLists.txt")" ] ||
	hw_die "heapward --version printed: $out"
echo "  $out"
env -u LD_PRELOAD -u HEAPWARD_OPTIONS "$prefix/bin/heapward" run -- /bin/true ||
	hw_die "heapward run -- /bin/true failed from the install prefix"
echo "  heapward run -- /bin/true: status 0"
# Without the launcher's leak check: sort leaks 8 bytes at exit (as
# LeakSanitizer reports too) and closes its error output first, so the
# check would end it with status 23 and an invisible report.
maps=$(env -u LD_PRELOAD "$prefix/bin/heapward" run --stats_at_exit=1 --detect_leaks=0 -- \
	bash -c 'grep -o "/[^ ]*libheapward-malloc.so" /proc/$$/maps | sort -u' 2>"$dir/launcher.err")
[ "$maps" = "$(realpath "$prefix/lib/libheapward-malloc.so")" ] ||
	hw_die "the program under heapward run mapped '$maps', not the installed library"
# Allocates: from the heap, or (the launcher guards every allocation by
# default) as guarded objects.
grep -Eq '^heapward: stats at exit: heap mapped [0-9]*, in use [1-9]|; [1-9][0-9]* guarded objects' \
	"$dir/launcher.err" ||
	hw_die "no at-exit stats from the installed library: $(cat "$dir/launcher.err")"
echo "  heapward run: the program maps $maps and allocates from it"

mkdir -p "$dir/consumer"
cat >"$dir/consumer/consumer.c" <<'EOF'
/* An installed-heapward consumer: prints what it computed, one "name value"
 * per line, for ci/job-install.sh to compare with what it expects. */
#include <errno.h>
#include <heapward.h>
#include <stdio.h>
#include <string.h>

static void on_report(void *arg, const char *line)
{
	++*(int *)arg;
	fprintf(stderr, "consumer: reported: %s\n", line);
}

int main(void)
{
	int reports = 0;
	hw_heap_config cfg = {.report = on_report, .report_arg = &reports};
	hw_heap *h = hw_heap_create(&cfg);
	if (!h) {
		perror("hw_heap_create");
		return 1;
	}
	size_t ps = hw_heap_page_size(h);
	unsigned char *p = hw_heap_alloc(h, 2);
	if (!p) {
		perror("hw_heap_alloc");
		return 1;
	}
	memset(p, 0xa5, 2 * ps);
	hw_heap_stats st;
	hw_heap_stats_get(h, &st);
	printf("page_size %zu\n", ps);
	printf("inuse %zu\n", st.inuse);
	printf("idle %zu\n", st.idle);
	printf("mapped %zu\n", st.mapped);
	/* A wrong input: the second page is not the start of a run. */
	int r = hw_heap_free(h, p + ps, 1);
	hw_heap_stats_get(h, &st);
	printf("invalid_free %s\n", r == EINVAL ? "EINVAL" : r == 0 ? "0" : "other");
	printf("reports %d\n", reports);
	printf("invalid_frees %llu\n", (unsigned long long)st.invalid_frees);
	printf("inuse_after_invalid_free %zu\n", st.inuse);
	r = hw_heap_free(h, p, 2);
	hw_heap_stats_get(h, &st);
	printf("free %d\n", r);
	printf("inuse_after_free %zu\n", st.inuse);
	char msg[256] = "";
	int v = hw_heap_validate(h, msg, sizeof msg);
	printf("validate %d%s%s\n", v, *msg ? " " : "", msg);
	hw_heap_destroy(h);
	return 0;
}
EOF
cat >"$dir/consumer/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(heapward_consumer C)
# Installed executables keep their run path to libraries outside the build
# tree (docs/building.md, "Using it from CMake").
set(CMAKE_INSTALL_RPATH_USE_LINK_PATH ON)
find_package(heapward 0.1 REQUIRED)
add_executable(consumer_shared consumer.c)
target_link_libraries(consumer_shared PRIVATE heapward::heapward)
add_executable(consumer_static consumer.c)
target_link_libraries(consumer_static PRIVATE heapward::heapward_static)
install(TARGETS consumer_shared consumer_static)
EOF

# What every consumer must print: heapward.h's defaults (8 KiB pages, 64 MiB
# arenas), two pages allocated, the invalid free refused and reported once
# with the heap unchanged, then the real free and a clean validation.
page=8192
arena=$((64 << 20))
expected="page_size $page
inuse $((2 * page))
idle $((arena - 2 * page))
mapped $arena
invalid_free EINVAL
reports 1
invalid_frees 1
inuse_after_invalid_free $((2 * page))
free 0
inuse_after_free 0
validate 0"

# run_consumer LABEL COMMAND...: run a consumer, show what it printed, and
# fail unless that is $expected and the invalid free was reported.
run_consumer() {
	local label=$1 out rc=0
	shift
	out=$("$@" 2>"$dir/consumer/stderr") || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$dir/consumer/stderr" >&2
		hw_die "$label: exited with status $rc"
	fi
	echo "  $label: ${out//$'\n'/ }"
	if [ "$out" != "$expected" ]; then
		diff <(echo "$expected") <(echo "$out") >&2 || true
		hw_die "$label: printed the lines marked > instead of those marked <"
	fi
	grep -q '^consumer: reported: .*invalid free' "$dir/consumer/stderr" ||
		hw_die "$label: the invalid free was not reported"
}

# no_shared_heapward LABEL FILE: a static consumer must not need libheapward.so.
no_shared_heapward() {
	if readelf -d "$2" 2>/dev/null | grep -q 'NEEDED.*libheapward'; then
		hw_die "$1: needs libheapward.so, it should be static"
	fi
}

hw_log "find_package(heapward) consumer"
cmake -S "$dir/consumer" -B "$dir/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_INSTALL_PREFIX="$dir/consumer-install" \
	-DCMAKE_C_COMPILER=gcc -DCMAKE_C_FLAGS="-std=c11 -Wall -Wextra -Werror"
cmake --build "$dir/consumer-build"
cmake --install "$dir/consumer-build"
no_shared_heapward consumer_static "$dir/consumer-build/consumer_static"

hw_log "find_package(heapward) consumer runs"
run_consumer "shared, build tree" env -u LD_LIBRARY_PATH "$dir/consumer-build/consumer_shared"
run_consumer "static, build tree" "$dir/consumer-build/consumer_static"
run_consumer "shared, installed" env -u LD_LIBRARY_PATH "$dir/consumer-install/bin/consumer_shared"
run_consumer "static, installed" "$dir/consumer-install/bin/consumer_static"

hw_log "pkg-config consumer"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists --print-errors heapward
echo "  heapward $(pkg-config --modversion heapward): $(pkg-config --cflags --libs heapward)"
pc_prefix=$(pkg-config --variable=prefix heapward)
[ "$pc_prefix" = "$prefix" ] || hw_die "heapward.pc says prefix=$pc_prefix, installed to $prefix"
libdir=$(pkg-config --variable=libdir heapward)
src="$dir/consumer/consumer.c"
out="$dir/consumer"
cc=(gcc -std=c11 -Wall -Wextra -Werror)
# shellcheck disable=SC2046 # pkg-config output is a list of flags
{
	"${cc[@]}" -o "$out/pc_plain" "$src" $(pkg-config --cflags --libs heapward)
	"${cc[@]}" -o "$out/pc_rpath" "$src" $(pkg-config --cflags --libs heapward) \
		-Wl,-rpath,"$libdir"
	"${cc[@]}" -static -o "$out/pc_static" "$src" $(pkg-config --static --cflags --libs heapward)
	"${cc[@]}" -o "$out/pc_archive" "$src" $(pkg-config --cflags heapward) \
		"$libdir/libheapward.a" -lpthread
}
no_shared_heapward pc_static "$out/pc_static"
no_shared_heapward pc_archive "$out/pc_archive"

hw_log "pkg-config consumer runs"
# Linked with `$(pkg-config --cflags --libs heapward)` alone, the program
# cannot start: the loader does not search $libdir (docs/building.md).
rc=0
err=$(env -u LD_LIBRARY_PATH "$out/pc_plain" 2>&1 >/dev/null) || rc=$?
[ "$rc" -ne 0 ] || hw_die "linked without a run path, the consumer found libheapward.so.0 anyway:" \
	"another copy is in the loader's search path (ldconfig -p | grep heapward)," \
	"so this job cannot tell that the run path is what finds the library"
case "$err" in
*"libheapward.so.0: cannot open shared object file"*) ;;
*) hw_die "linked without a run path, the consumer failed otherwise (status $rc): $err" ;;
esac
echo "  shared, no run path: fails as documented (status $rc):" \
	"${err#*: error while loading shared libraries: }"
run_consumer "shared, -Wl,-rpath" env -u LD_LIBRARY_PATH "$out/pc_rpath"
run_consumer "shared, LD_LIBRARY_PATH" env LD_LIBRARY_PATH="$libdir" "$out/pc_plain"
run_consumer "static, -static" "$out/pc_static"
run_consumer "static, libheapward.a" "$out/pc_archive"

hw_log "public header as C++"
echo '#include <heapward.h>
int main() { hw_heap *h = hw_heap_create(nullptr); hw_heap_destroy(h); return 0; }' |
	"$cxx" -std=c++11 -Wall -Wextra -Werror -fsyntax-only -I"$prefix/include" -x c++ -

echo "install: ok"

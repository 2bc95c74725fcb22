#!/usr/bin/env bash
# ci/job-install.sh: install to a scratch prefix and build consumers against it.
#
# Gates:
#   1. `cmake --install` lays out include/heapward.h, lib/libheapward.{a,so},
#      lib/cmake/heapward/heapwardConfig.cmake and lib/pkgconfig/heapward.pc.
#   2. The shared library exports exactly the hw_* functions declared HW_API
#      in include/heapward.h: none missing, nothing else.
#   3. A small C11 program builds and runs against the install with
#      find_package(heapward) (shared and static targets) and with pkg-config
#      (shared, and fully static with --static).
#   4. The public header compiles as strict C11 and as C++.
#
# Run locally exactly as CI does: bash ci/job-install.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require gcc gcc cmake cmake pkg-config pkg-config nm binutils
cxx=$(hw_clangxx)

dir="$HW_BUILD_ROOT/install"
prefix="$dir/prefix"
rm -rf "$prefix" "$dir/consumer" "$dir/consumer-build"
hw_configure "$dir/build" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib -DHW_WERROR=ON \
	-DHW_BUILD_TESTS=OFF -DHW_BUILD_FUZZERS=OFF -DHW_BUILD_BENCH=OFF
hw_build "$dir/build"
cmake --install "$dir/build"

hw_log "installed layout"
for f in include/heapward.h lib/libheapward.a lib/libheapward.so \
	lib/cmake/heapward/heapwardConfig.cmake lib/pkgconfig/heapward.pc; do
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

mkdir -p "$dir/consumer"
cat >"$dir/consumer/consumer.c" <<'EOF'
/* An installed-heapward consumer: one allocation through the public API. */
#include <heapward.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	hw_heap *h = hw_heap_create(NULL);
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
	int ok = st.inuse == 2 * ps && st.mapped == st.inuse + st.idle;
	ok = ok && hw_heap_free(h, p, 2) == 0;
	char msg[256];
	ok = ok && hw_heap_validate(h, msg, sizeof msg) == 0;
	hw_heap_destroy(h);
	printf("consumer: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
EOF
cat >"$dir/consumer/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(heapward_consumer C)
find_package(heapward 0.1 REQUIRED)
add_executable(consumer_shared consumer.c)
target_link_libraries(consumer_shared PRIVATE heapward::heapward)
add_executable(consumer_static consumer.c)
target_link_libraries(consumer_static PRIVATE heapward::heapward_static)
EOF

hw_log "find_package(heapward) consumer"
cmake -S "$dir/consumer" -B "$dir/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_COMPILER=gcc -DCMAKE_C_FLAGS="-std=c11 -Wall -Wextra -Werror"
cmake --build "$dir/consumer-build"
"$dir/consumer-build/consumer_shared"
"$dir/consumer-build/consumer_static"
if nm -D "$dir/consumer-build/consumer_static" 2>/dev/null | grep -q ' U hw_'; then
	hw_die "consumer_static resolves hw_* dynamically"
fi

hw_log "pkg-config consumer"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists --print-errors heapward
echo "  heapward $(pkg-config --modversion heapward): $(pkg-config --cflags --libs heapward)"
libdir=$(pkg-config --variable=libdir heapward)
# shellcheck disable=SC2046 # pkg-config output is a list of flags
gcc -std=c11 -Wall -Wextra -Werror -o "$dir/consumer/pc_shared" "$dir/consumer/consumer.c" \
	$(pkg-config --cflags --libs heapward) -Wl,-rpath,"$libdir"
"$dir/consumer/pc_shared"
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror -static -o "$dir/consumer/pc_static" "$dir/consumer/consumer.c" \
	$(pkg-config --static --cflags --libs heapward)
"$dir/consumer/pc_static"

hw_log "public header as C++"
echo '#include <heapward.h>
int main() { hw_heap *h = hw_heap_create(nullptr); hw_heap_destroy(h); return 0; }' |
	"$cxx" -std=c++11 -Wall -Wextra -Werror -fsyntax-only -I"$prefix/include" -x c++ -

echo "install: ok"

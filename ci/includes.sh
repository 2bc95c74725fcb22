#!/usr/bin/env bash
# ci/includes.sh: the include-direction check (run by ci/job-lint.sh).
#
# The layers, lowest first (docs/architecture.md): the base floor
# (src/base), the OS layer (platform), the page heap (src), the malloc
# layer (src/malloc), then their users.
# Each folder may include its own headers and those of the folders below it,
# never one above:
#
#   folder     may include
#   src/base   src/base
#   include    include
#   platform   platform src/base include
#   src        src src/base platform include
#   src/malloc src/malloc src src/base platform include
#   src/override  src/override src/malloc src src/base platform include
#   src/launcher  src/launcher src/malloc src/base include
#   difftest   difftest src/malloc src src/base platform include tests
#
# (difftest's own test programs use the test harness, tests/check.h; the
# malloc layer's driver restarts the layer through malloc_internal.h's
# hw_mc_reset and reads it through its API and hw_mc_heap.)
# One rule narrower than a folder: the oracle reads the heap through its
# inspection calls (src/inspect.h), so difftest's library files include no
# src/heap_internal.h; only its test programs (difftest_*.c), which break a
# heap on purpose to see the driver notice, may.
# src/override (libheapward-malloc.so: the standard names) sits on the
# malloc layer; src/launcher (the `heapward` command) uses only the option
# parser (src/malloc/options.h) and the base floor it needs.
# tests/, fuzz/ and bench/ sit on top and may include anything. A quoted
# include is resolved as the compiler does here: the including file's own
# folder first, then the one file of that name in the checked folders (two
# candidates is an error: rename one). Besides, the base floor and the heaps
# (src/base, src, src/malloc) include no OS header (<unistd.h>, <sys/...>, <pthread.h>,
# <signal.h>, <windows.h>, ...): OS services belong to platform/.
#
# Usage: bash ci/includes.sh [ROOT]     check ROOT (default: the repository)
#        bash ci/includes.sh --self-test
#   --self-test plants an upward include and an OS header in a scratch copy
#   and fails unless the check rejects each one (so the check can fail).
# Exit status: 0 clean, 1 an arrow points up (each is printed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
folders=(src/base include platform src src/malloc src/override src/launcher difftest)
declare -A allowed=(
	[src/base]="src/base"
	[include]="include"
	[platform]="platform src/base include"
	[src]="src src/base platform include"
	[src/malloc]="src/malloc src src/base platform include"
	[src/override]="src/override src/malloc src src/base platform include"
	[src/launcher]="src/launcher src/malloc src/base include"
	[difftest]="difftest src/malloc src src/base platform include tests"
)
# Folders whose headers a checked file may name (checked or not).
known=("${folders[@]}" tests)
os_headers='^(unistd\.h|pthread\.h|signal\.h|fcntl\.h|dlfcn\.h|windows\.h|sched\.h|sys/.*|linux/.*)$'

# check ROOT: prints every violation, returns 1 when there is one.
check() {
	local root=$1 bad=0 f dir name target hits
	declare -A where=()
	# Every header of the checked folders, by name (a folder's own files
	# only: src does not hold src/base's).
	for dir in "${known[@]}"; do
		for f in "$root/$dir"/*.h; do
			[ -f "$f" ] || continue
			name=${f##*/}
			where[$name]="${where[$name]:-}${where[$name]:+ }$dir"
		done
	done
	for dir in "${folders[@]}"; do
		for f in "$root/$dir"/*.c "$root/$dir"/*.h; do
			[ -f "$f" ] || continue
			while IFS= read -r name; do
				if [ -f "$root/$dir/$name" ]; then
					target=$dir
				else
					hits=${where[$name]:-}
					if [ -z "$hits" ]; then
						echo "${f#"$root"/}: includes \"$name\", found in no layer folder"
						bad=1
						continue
					fi
					if [ "${hits// /}" != "$hits" ]; then
						echo "${f#"$root"/}: includes \"$name\", which is in several folders ($hits)"
						bad=1
						continue
					fi
					target=$hits
				fi
				if [ "$dir" = difftest ] && [ "$name" = heap_internal.h ] &&
					[[ ${f##*/} != difftest_*.c ]]; then
					echo "${f#"$root"/}: includes \"heap_internal.h\": the oracle reads the heap through src/inspect.h"
					bad=1
					continue
				fi
				case " ${allowed[$dir]} " in
				*" $target "*) ;;
				*)
					echo "${f#"$root"/}: includes \"$name\" from $target: $dir may include only ${allowed[$dir]}"
					bad=1
					;;
				esac
			done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
			case $dir in
			src | src/base | src/malloc)
				while IFS= read -r name; do
					if [[ $name =~ $os_headers ]]; then
						echo "${f#"$root"/}: includes <$name>: OS services belong to platform/"
						bad=1
					fi
				done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' "$f")
				;;
			esac
		done
	done
	return $bad
}

self_test() {
	local tmp ok=1
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	local root
	root=$(cd "$here/.." && pwd)
	# plant DESC FILE LINE: a copy with LINE added to FILE must fail.
	plant() {
		rm -rf "$tmp/tree"
		mkdir -p "$tmp/tree"
		local d
		for d in "${known[@]}"; do
			mkdir -p "$tmp/tree/$d"
			cp "$root/$d"/*.[ch] "$tmp/tree/$d/" 2>/dev/null || true
		done
		printf '%s\n' "$3" >>"$tmp/tree/$2"
		if check "$tmp/tree" >"$tmp/out"; then
			echo "self-test: $1 was not caught"
			ok=0
		else
			echo "self-test: $1 caught: $(head -1 "$tmp/out")"
		fi
	}
	plant "an upward include in the base floor" src/base/base.h '#include "heap_internal.h"'
	plant "the heap included by the platform" platform/platform.h '#include "pagebits.h"'
	plant "an OS header in the heap" src/heap.c '#include <unistd.h>'
	plant "the malloc layer included by the heap" src/heap.c '#include "malloc_internal.h"'
	plant "an OS header in the malloc layer" src/malloc/malloc.c '#include <pthread.h>'
	plant "the malloc layer included by the heap" src/heap.c '#include "options.h"'
	plant "an OS header in the malloc layer" src/malloc/options.c '#include <unistd.h>'
	plant "the heap's internals in the oracle" difftest/compare.c '#include "heap_internal.h"'
	plant "the override included by the malloc layer" src/malloc/malloc.c '#include "override.h"'
	plant "the heap included by the launcher" src/launcher/heapward.c '#include "heap_internal.h"'
	if check "$root" >"$tmp/out"; then
		echo "self-test: the repository itself passes"
	else
		echo "self-test: the repository itself fails:"
		cat "$tmp/out"
		ok=0
	fi
	[ $ok = 1 ]
}

if [ "${1:-}" = "--self-test" ]; then
	self_test
else
	check "$(cd "${1:-$here/..}" && pwd)" && echo "include directions: ok"
fi

#!/usr/bin/env bash
# ci/invariants.sh: numbered invariants are unambiguous (run by ci/job-lint.sh).
#
# Every file states its invariants as numbered items in its opening comment
# (" *   P3. ..." in C, "#   LB2. ..." in shell). Checks:
#   1. Each prefix belongs to one module: a header and its implementation
#      (thread.h and thread_posix.c, sim.h and sim.c) are one module; any
#      other file using the same letters is an error, so "S3" in a comment
#      names one thing.
#   2. The heap's list I1..In is the same in its three places: the items of
#      src/heap_internal.h, the validator's names (src/validate.c names[],
#      which its reports print), and the table of docs/invariants.md, whose
#      second column must be the validator's name exactly.
#
# Usage: bash ci/invariants.sh [ROOT]
#        bash ci/invariants.sh --self-test
#   --self-test plants a second module's use of a prefix and a renamed
#   invariant in docs/invariants.md in scratch copies, and fails unless the
#   check rejects each.
# Exit status: 0 when both hold, 1 otherwise (each problem printed).
set -euo pipefail
if [ "${1:-}" = "--self-test" ]; then
	here=$(cd "$(dirname "$0")/.." && pwd)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	ok=1
	# plant DESC FILE SED-SCRIPT: the copy with FILE edited must fail.
	plant() {
		rm -rf "$tmp/t" && mkdir -p "$tmp/t"
		(cd "$here" && git ls-files '*.c' '*.h' '*.sh' '*.cc' docs/invariants.md |
			tar -cf - -T -) | tar -C "$tmp/t" -xf -
		sed -i "$3" "$tmp/t/$2"
		if (cd "$tmp/t" && bash "$here/ci/invariants.sh" "$tmp/t" >"$tmp/out" 2>&1); then
			echo "self-test: $1 was not caught"
			ok=0
		else
			echo "self-test: $1 caught: $(head -1 "$tmp/out")"
		fi
	}
	plant "a prefix used by two modules" src/meta.c 's/^ \*   MD1\. / *   B9. /'
	plant "a docs name that is not the validator's" docs/invariants.md 's/^| I3 | released <= idle |/| I3 | released below idle |/'
	[ $ok = 1 ]
	exit
fi
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$root"
bad=0

# module FILE: the file's module, its path without extension and without a
# _posix/_linux/_windows suffix.
module() {
	local m=${1%.*}
	m=${m%_posix}
	m=${m%_linux}
	m=${m%_windows}
	echo "$m"
}

declare -A owner=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h' '*.sh' '*.cc')
else
	files=$(find . \( -name '*.[ch]' -o -name '*.sh' -o -name '*.cc' \) -print | sed 's|^\./||')
fi
for f in $files; do
	[ -f "$f" ] || continue
	m=$(module "$f")
	for p in $(sed -nE 's/^( \*|#)   ([A-Z]+)[0-9]+\. .*/\2/p' "$f" | sort -u); do
		if [ -z "${owner[$p]:-}" ]; then
			owner[$p]=$m
		elif [ "${owner[$p]}" != "$m" ]; then
			echo "invariant prefix $p is used by $f and by ${owner[$p]}.*: give one of them its own"
			bad=1
		fi
	done
done

# The heap's list in its three places.
items=$(sed -nE 's/^ \*   I([0-9]+)\. .*/\1/p' src/heap_internal.h | tr '\n' ' ')
names=$(awk '/static const char \*const names\[\] = \{/ {on = 1; next} on && /^\};/ {exit}
	on { if (match($0, /"[^"]*"/)) print substr($0, RSTART + 1, RLENGTH - 2) }' src/validate.c |
	tail -n +2)
doc_names=$(sed -nE 's/^\| I[0-9]+ \| ([^|]*) \| .*/\1/p' docs/invariants.md)
doc_nums=$(sed -nE 's/^\| I([0-9]+) \|.*/\1/p' docs/invariants.md | tr '\n' ' ')
count=$(echo "$names" | grep -c .)
want=$(seq 1 "$count" | tr '\n' ' ')
[ "$items" = "$want" ] ||
	{ echo "src/heap_internal.h lists I$items; the validator names $count invariants"; bad=1; }
[ "$doc_nums" = "$want" ] ||
	{ echo "docs/invariants.md lists I$doc_nums; the validator names $count invariants"; bad=1; }
if [ "$doc_names" != "$names" ]; then
	echo "docs/invariants.md's names differ from src/validate.c's:"
	diff <(echo "$names") <(echo "$doc_names") | sed 's/^/  /' || true
	bad=1
fi
[ $bad = 0 ] && echo "invariants: $(echo ${!owner[@]} | wc -w) prefixes, one module each; I1-I$count agree in heap_internal.h, validate.c and docs/invariants.md"
exit $bad

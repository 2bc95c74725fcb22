#!/usr/bin/env bash
# ci/deps.sh: installs the Debian 12 packages the CI jobs need, and only the
# ones that are missing.
#
# Owns: the list of tools the jobs use and the package that provides each.
#
# Invariants:
#   DP1. Nothing is installed when every tool is already present: no apt-get
#        call at all, so the script is fast and works offline on a ready machine.
#   DP2. Missing packages are installed in one `apt-get update && apt-get
#        install -y --no-install-recommends` call, as root; when not root, the
#        script names them and fails.
#
# Usage: bash ci/deps.sh [--check]   (--check only reports, installs nothing)
#
# Locking: apt-get takes its own lock.
set -euo pipefail

check_only=0
if [ "${1:-}" = "--check" ]; then
	check_only=1
fi

# command  package   (a command found on PATH means its package is present)
tools=(
	cmake cmake
	ninja ninja-build
	make make
	gcc gcc
	clang-14 clang-14
	llvm-symbolizer-14 llvm-14
	llvm-symbolizer llvm
	addr2line binutils
	valgrind valgrind
	cppcheck cppcheck
	clang-format-14 clang-format-14
	zip zip
	unzip unzip
	pkg-config pkg-config
	git git
	nm binutils
	patch patch
	afl-clang-fast afl++
	g++ g++
	python3 python3
	sqlite3 sqlite3
	perl perl
	x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
)
# Packages with no command of their own on PATH (wine64 keeps its binaries
# in /usr/lib/wine): checked with dpkg.
libs=(
	libclang-rt-14-dev
	libc6-dev
	wine64
)

missing=()
i=0
while [ $i -lt ${#tools[@]} ]; do
	cmd=${tools[$i]}
	pkg=${tools[$((i + 1))]}
	i=$((i + 2))
	command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
for pkg in "${libs[@]}"; do
	dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all CI tools present"
	exit 0
fi
echo "deps: missing packages: ${missing[*]}"
if [ $check_only = 1 ]; then
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root; install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"

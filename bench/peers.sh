# peers.sh: the peer allocators the preload benchmarks compare heapward
# with, sourced by bench/memreturn.sh and bench/realprog.sh.
#
# Owns: which Debian package provides each peer, installing the missing ones
# (apt-get, as root; otherwise a note and the peer is skipped), and each
# peer's library path (empty when it is not installed):
#   peer_jemalloc   libjemalloc2          libjemalloc.so.2
#   peer_mimalloc   libmimalloc2.0        libmimalloc.so.2.x
#   peer_tcmalloc   libtcmalloc-minimal4  libtcmalloc_minimal.so.4
#   peer_scudo      libclang-rt-dev       clang's libclang_rt.scudo_standalone-ARCH.so
#                                         (only when PEERS_SCUDO=1)
#
# Usage: PEERS_SCUDO=0|1; . bench/peers.sh; peers_install NAME
#        (NAME is the calling script's, for its notes on standard error)

# The packages of the peers, plus any given as arguments after NAME (the
# programs a benchmark runs), installed in one apt-get call when missing.
peers_install() {
	_caller=$1
	shift
	_want="libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 $*"
	if [ "${PEERS_SCUDO:-0}" = 1 ] && [ -z "$(peers_find_scudo)" ]; then
		_want="$_want libclang-rt-dev"
	fi
	_missing=
	for _p in $_want; do
		dpkg -s "$_p" >/dev/null 2>&1 || _missing="$_missing $_p"
	done
	if [ -n "$_missing" ]; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "$_caller: installing$_missing" >&2
			{ apt-get update && apt-get install -y --no-install-recommends $_missing; } \
				>/dev/null 2>&1 || echo "$_caller: apt-get failed;" \
				"what is missing is skipped" >&2
		else
			echo "$_caller: not installed:$_missing (apt-get install as root);" \
				"what is missing is skipped" >&2
		fi
	fi
	peer_jemalloc=$(peers_lib_of libjemalloc2 libjemalloc.so.2)
	peer_mimalloc=$(peers_lib_of libmimalloc2.0 'libmimalloc.so.2[.0-9]*')
	peer_tcmalloc=$(peers_lib_of libtcmalloc-minimal4 libtcmalloc_minimal.so.4)
	peer_scudo=
	if [ "${PEERS_SCUDO:-0}" = 1 ]; then
		peer_scudo=$(peers_find_scudo)
	fi
}

# peers_lib_of PACKAGE SONAME: the library's path from the package's file
# list (empty when the package is not installed).
peers_lib_of() {
	dpkg -L "$1" 2>/dev/null | grep "/$2\$" | head -n 1
}

# Scudo's standalone shared library, from whichever clang runtime package
# (libclang-rt-N-dev) is installed; the newest when there are several.
peers_find_scudo() {
	ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.scudo_standalone-"$(uname -m)".so \
		2>/dev/null | sort -V | tail -n 1
}

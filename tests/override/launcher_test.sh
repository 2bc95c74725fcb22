#!/usr/bin/env bash
# launcher_test.sh: the `heapward` launcher's command line, exit statuses
# and the environment it gives the program (src/launcher/heapward.c).
#
# Owns: the checks of the launcher's LA1-LA3 and LA5.
#
# Invariants:
#   LT1. Each check runs the launcher built by this tree (its path is the
#        only argument) and states the expected status and output; the
#        script exits 1 at the first one that does not hold.
#
# Usage: bash launcher_test.sh PATH-TO-heapward PATH-TO-A-STATIC-PROGRAM
#        PATH-TO-A-PROGRAM-WITH-ITS-OWN-MALLOC
set -euo pipefail
hw=$1
static_program=$2
own_malloc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# expect NAME STATUS PATTERN CMD...: CMD exits STATUS and its stdout+stderr
# match the extended regular expression PATTERN.
expect() {
	local name=$1 want=$2 pattern=$3 rc=0 out
	shift 3
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL $name: status $rc, expected $want; output: $out"
		fails=$((fails + 1))
	elif ! grep -Eq -- "$pattern" <<<"$out"; then
		echo "FAIL $name: output does not match /$pattern/: $out"
		fails=$((fails + 1))
	else
		echo "PASS $name"
	fi
}

expect "no arguments: usage, status 2" 2 '^usage: heapward run' "$hw"
expect "--help: usage, status 0" 0 '^usage: heapward run \[--OPTION=VALUE' "$hw" --help
expect "--version" 0 '^heapward [0-9]+\.[0-9]+\.[0-9]+$' "$hw" --version
expect "options lists the table" 0 'stats_at_exit=0' "$hw" options
expect "options shows run's values" 0 '^  guard=all ' "$hw" options
expect "--version takes no arguments" 2 "--version takes no arguments \(got 'extra'\)" \
	"$hw" --version extra
expect "options takes no arguments" 2 "options takes no arguments" "$hw" options extra
expect "unknown command" 2 "unknown command 'frobnicate'" "$hw" frobnicate
expect "run without a program" 2 'run needs a program' "$hw" run --stats_at_exit=1 --
expect "unknown option" 2 "unknown key 'no_such_option'" "$hw" run --no_such_option=1 -- true
expect "bad value" 2 "bad value 'maybe' for stats_at_exit" "$hw" run --stats_at_exit=maybe -- true
expect "bad value: no word of keeping it" 2 "for guard: expected none, all or sample:N with N from 1 to [0-9]+\$" \
	"$hw" run --guard=bogus -- true
expect "a directory: 126" 126 "heapward: $tmp: Is a directory" "$hw" run -- "$tmp"
expect "option without a value" 2 'not an option setting' "$hw" run --stats_at_exit -- true
expect "program not found: 127" 127 'no-such-program-here: command not found' \
	"$hw" run -- no-such-program-here
touch "$tmp/not-executable"
expect "program not executable: 126" 126 'Permission denied' "$hw" run -- "$tmp/not-executable"
expect "exit status passes through" 3 '' "$hw" run -- sh -c 'exit 3'
expect "library loaded in the program" 0 'libheapward-malloc\.so' \
	"$hw" run -- sh -c 'cat /proc/$$/maps'
expect "variables set, existing ones kept" 0 \
	'^/.*/libheapward-malloc\.so:/nonexistent/other\.so\|detect_leaks=1,guard=all,abort_on_error=1,stats_at_exit=0,fill_on_free=0x5a$' \
	env LD_PRELOAD=/nonexistent/other.so HEAPWARD_OPTIONS=abort_on_error=1 \
	"$hw" run --stats_at_exit=0 --fill_on_free=0x5a -- sh -c 'echo "$LD_PRELOAD|$HEAPWARD_OPTIONS"'
expect "without --" 0 '^hello$' "$hw" run --stats_at_exit=0 echo hello
expect "stats_at_exit reaches the library" 0 'heapward: stats at exit: heap mapped [1-9]' \
	"$hw" run --stats_at_exit=1 -- bash -c 'x=$(echo a); echo "$x"'
# true(1) makes no allocation: the library's constructor starts the layer
# (override.c OV3), so the options still take effect and warn.
expect "help=1 in a program that never allocates" 0 '^  help=1 +Print this table' \
	"$hw" run --help=1 -- true
expect "stats_at_exit in a program that never allocates" 0 \
	'heapward: stats at exit: heap mapped [1-9]' "$hw" run --stats_at_exit=1 -- true
expect "the library warns of a bad key in a program that never allocates" 0 \
	"HEAPWARD_OPTIONS: unknown key 'no_such_option'" \
	"$hw" run -- env HEAPWARD_OPTIONS=no_such_option=1 true
# LA5: programs the loader will not preload into are named, and still run.
no_preload='the dynamic loader will not preload libheapward-malloc\.so into it'
expect "a static program: warned" 0 "is statically linked: $no_preload" \
	"$hw" run -- "$static_program"
expect "a static program: still run" 0 '^static program ran$' "$hw" run -- "$static_program"
out=$("$hw" run -- true 2>&1)
if grep -q 'will not preload' <<<"$out"; then
	echo "FAIL a dynamic program is warned about: $out"
	fails=$((fails + 1))
else
	echo "PASS a dynamic program gets no warning"
fi
# override.c OV5: a program with a malloc of its own is named, and runs;
# its malloc forwards to __libc_malloc, which must not call back into it
# (OV6: that looped for ever).
expect "a program with its own malloc: warned" 0 \
	'heapward: warning: the program itself defines malloc ahead of libheapward-malloc\.so' \
	timeout 60 "$hw" run -- "$own_malloc"
expect "a program with its own malloc: still run" 0 '^own malloc ran$' \
	timeout 60 "$hw" run -- "$own_malloc"
if grep -q 'defines malloc ahead' <<<"$out"; then
	echo "FAIL a program without its own malloc is warned about: $out"
	fails=$((fails + 1))
else
	echo "PASS a program without its own malloc gets no such warning"
fi
# Set-user-ID to another user puts the loader in secure-execution mode, as
# long as the file system honours the bit; only root can make such a file.
if [ "$(id -u)" = 0 ] && ! findmnt -n -o OPTIONS -T "$tmp" | grep -qw nosuid; then
	cp "$(type -P true)" "$tmp/setuid-true"
	chown nobody "$tmp/setuid-true"
	chmod u+s "$tmp/setuid-true"
	expect "a set-user-ID program: warned" 0 "runs set-user-ID or set-group-ID: $no_preload" \
		"$hw" run -- "$tmp/setuid-true"
else
	echo "SKIP a set-user-ID program (needs root and a file system without nosuid)"
fi

# A launcher whose library is not where it looks.
mkdir -p "$tmp/bin"
cp "$hw" "$tmp/bin/heapward"
expect "missing library: 2" 2 'the preload library .*libheapward-malloc\.so is missing' \
	"$tmp/bin/heapward" run -- true

if [ $fails -ne 0 ]; then
	echo "$fails launcher checks failed"
	exit 1
fi
echo "launcher: all checks passed"

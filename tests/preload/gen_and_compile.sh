#!/usr/bin/env bash
# gen_and_compile.sh: generate a C file of many functions, compile it with
# gcc and run the result, for the preload test (the compiler's driver, cc1,
# as and ld all run under the library). Prints only the program's output.
set -euo pipefail
dir=${HW_PRELOAD_TMP:-$(mktemp -d)}
src="$dir/generated.c"
{
	echo '#include <stdio.h>'
	echo '#include <string.h>'
	for i in $(seq 1 400); do
		echo "static unsigned long f$i(unsigned long x) { char b[$((i % 50 + 8))];"
		echo "  memset(b, (int)(x % 251), sizeof b); unsigned long s = x * $i;"
		echo "  for (unsigned k = 0; k < sizeof b; k++) s = s * 31 + (unsigned char)b[k];"
		echo "  return s ^ (s >> $((i % 13 + 1))); }"
	done
	echo 'int main(void) { unsigned long acc = 1;'
	for i in $(seq 1 400); do
		echo "  acc = f$i(acc);"
	done
	echo '  printf("checksum %lu\n", acc); return 0; }'
} >"$src"
gcc -O2 -Wall -o "$dir/generated" "$src"
"$dir/generated"

/* static_program.c: a program linked statically, which the dynamic loader
 * never runs for, so LD_PRELOAD cannot reach it: launcher_test.sh checks
 * that `heapward run` says so (src/launcher/heapward.c LA5). */
#include <stdio.h>

int main(void)
{
	puts("static program ran");
	return 0;
}

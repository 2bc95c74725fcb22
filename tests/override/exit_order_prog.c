/* exit_order_prog.c: leaks one 37-byte object, and leaves a line with
 * exit_order_lib.c to write at exit (exit_order_test.sh says why). */
#include <stdlib.h>
#include <string.h>

void exit_order_say(const char *s);

__attribute__((noinline)) static void leak(void)
{
	char *p = malloc(37);
	if (p)
		memset(p, 2, 37);
	// cppcheck-suppress memleak ; the leak the check at exit must report
}

int main(void)
{
	leak();
	exit_order_say("written by a library's destructor\n");
	return 0;
}

/* exit_order_lib.c: a library that does at exit what libgfortran does: its
 * destructor writes output it kept in a buffer of its own, and frees
 * memory only it knew of. The leak check at exit must come after it
 * (src/malloc/debug.c DM5): else the output is lost when the leaks end the
 * process, and the memory is reported as leaked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MASK ((uintptr_t)0x5a5aa5a55a5aa5a5u)

__attribute__((visibility("default"))) void exit_order_say(const char *s);

static char pending[128];
static size_t npending;
/* Masked, so the leak check's scan of this library's data cannot see the
 * object: only the destructor's free keeps it from being a leak. */
static uintptr_t hidden;

__attribute__((visibility("default"))) void exit_order_say(const char *s)
{
	size_t n = strlen(s);
	if (n > sizeof pending - npending)
		n = sizeof pending - npending;
	memcpy(pending + npending, s, n);
	npending += n;
}

__attribute__((constructor)) static void start(void)
{
	char *p = malloc(100);
	if (p)
		memset(p, 1, 100);
	hidden = (uintptr_t)p ^ MASK;
	// cppcheck-suppress memleak ; kept masked in hidden, freed by finish
}

__attribute__((destructor)) static void finish(void)
{
	if (write(1, pending, npending) != (ssize_t)npending)
		_exit(99);
	free((void *)(hidden ^ MASK));
}

/* own_malloc.c: a program with an allocator of its own (as rustc carries
 * jemalloc): its malloc, free, calloc and realloc come ahead of any
 * preloaded library's, so launcher_test.sh checks that the preload library
 * says heapward sees none of its allocations (src/override/override.c OV5).
 * They forward to the C library's own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__libc_malloc(size_t n);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

#define EXPORT __attribute__((visibility("default")))

EXPORT void *malloc(size_t n)
{
	return __libc_malloc(n);
}
EXPORT void free(void *p) { __libc_free(p); }
EXPORT void *calloc(size_t n, size_t size) { return __libc_calloc(n, size); }
EXPORT void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }

int main(void)
{
	char *p = malloc(32);
	if (!p)
		return 1;
	strcpy(p, "own malloc ran");
	puts(p);
	free(p);
	return 0;
}

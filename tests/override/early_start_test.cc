/* early_start_test.cc: the layer started from inside the C library's own
 * start-up.
 *
 * Linked with libheapward-malloc.so, a C++ program's first allocation is
 * libstdc++'s, made by the dynamic loader's initialisers before main. The
 * layer starts there, and its start creates the background scavenger, whose
 * pthread_create allocates the new thread's TLS vector: a call back into the
 * layer from inside its own start, served by the bootstrap arena (boot.c;
 * boot_test makes such calls deterministically). main, before allocating
 * anything, must find two threads: itself and the scavenger. ctest sets
 * HEAPWARD_OPTIONS=scavenger=1.
 */
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <malloc.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Threads of this process, counted without allocating (no opendir). */
static int threads(void)
{
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	alignas(8) char buf[4096];
	int n = 0;
	long got;
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < got;) {
			unsigned short reclen;
			std::memcpy(&reclen, buf + off + 16, sizeof reclen);
			const char *name = buf + off + 19;
			if (name[0] != '.')
				n++;
			off += reclen;
		}
	}
	close(fd);
	return n;
}

static int failures;

static void check(bool ok, const char *what)
{
	if (!ok) {
		std::fprintf(stderr, "early_start_test: FAILED: %s\n", what);
		failures++;
	}
}

int main()
{
	int n = threads();
	check(n == 2, "the scavenger started with the layer, before main (2 threads)");
	if (n != 2)
		std::fprintf(stderr, "early_start_test: %d threads at main\n", n);
	std::printf("early_start_test: %d threads at main\n", n);
	return failures ? 1 : 0;
}

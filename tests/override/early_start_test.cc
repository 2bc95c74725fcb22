/* early_start_test.cc: the layer started from inside the C library's own
 * start-up, and its background scavenger started later.
 *
 * Linked with libheapward-malloc.so, a C++ program's first allocation is
 * libstdc++'s, made by the dynamic loader's initialisers before main. The
 * layer starts there. In a single-threaded process it does not start the
 * background scavenger (malloc.c MA7: a thread of ours would make glibc's
 * locks atomic for good), so main finds itself alone; the first allocation
 * of a second thread starts it, and pthread_create's own allocations go
 * through the started layer. ctest sets HEAPWARD_OPTIONS=scavenger=1.
 */
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
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

static volatile int worker_done, main_done;

static void *worker(void *)
{
	std::free(std::malloc(100)); /* the second thread's first call */
	__atomic_store_n(&worker_done, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&main_done, __ATOMIC_ACQUIRE))
		usleep(1000);
	return nullptr;
}

int main()
{
	int n = threads();
	check(n == 1, "no scavenger thread in a single-threaded process (1 thread at main)");
	std::printf("early_start_test: %d threads at main\n", n);
	pthread_t t;
	check(pthread_create(&t, nullptr, worker, nullptr) == 0, "pthread_create");
	while (!__atomic_load_n(&worker_done, __ATOMIC_ACQUIRE))
		usleep(1000);
	n = threads();
	check(n == 3, "the second thread's first call started the scavenger (3 threads)");
	std::printf("early_start_test: %d threads with a worker\n", n);
	__atomic_store_n(&main_done, 1, __ATOMIC_RELEASE);
	pthread_join(t, nullptr);
	return failures ? 1 : 0;
}

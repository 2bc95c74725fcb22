/* memreturn_bench.c: how soon freed memory leaves the process's resident set,
 * under whichever malloc the program is run with (plain glibc, or any
 * allocator by LD_PRELOAD; bench/memreturn.sh runs it under each peer).
 *
 * Owns: one workload and its timeline.
 *   1. A live set (--live-mib, 16 MiB) of mixed objects is allocated and
 *      stays allocated to the end.
 *   2. About --gib (1) GiB more of mixed objects is allocated, every OS page
 *      of each written, and then all of it is freed in a seeded random order.
 *   3. The program then sleeps, sampling its resident set size from
 *      /proc/self/statm every 50 ms for --seconds (3) s.
 * Objects are small (16 B - 1 KiB), medium (1 - 64 KiB) or large (64 KiB -
 * 4 MiB), sizes uniform within a class; each new object takes the class
 * with the fewest bytes so far, so each class holds about a third of the
 * bytes (and the small class most of the objects). It prints the peak RSS
 * (VmHWM), the live bytes, the RSS at 0, 0.1, 0.25, 0.5, 1, 2 and 3 s after
 * the last free, and the first sample at or under the goal.
 *
 * Invariants:
 *   MR1. The goal is RSS <= base + live * 1.10, where base is the RSS before
 *        the live set is allocated (program, libraries, the allocator's own
 *        start-up, and the live set's bookkeeping arrays, mmap'd and written
 *        before base is read; the freed objects' pointer array is mmap'd too
 *        and unmapped before the first sample). live is the bytes requested for
 *        the live set, so an allocator's per-object overhead on it counts
 *        against the 10%.
 *   MR2. Between the last free and the last sample the program makes no
 *        malloc, free or stdio call: it only reads /proc/self/statm with
 *        read(2) into a stack buffer and sleeps until absolute times, so an
 *        allocator that returns memory when idle sees an idle program.
 *   MR3. The request stream (sizes, classes, free order) is a pure function
 *        of --seed; only the allocator changes between runs.
 *   MR4. Every live-set object is filled with a byte derived from its index
 *        and checked at the end: a mismatch exits 1 (an allocator that gave
 *        memory back under a live object would be caught here).
 *
 * Usage: memreturn_bench [--gib G] [--live-mib M] [--seconds S] [--seed N]
 *                        [--name LABEL] [--round R] [--header] [--verbose]
 *                        [--stats]
 * --header prints the table's header line and exits; otherwise one table row
 * is printed (LABEL and R are its first columns), --verbose adds every
 * sample, and --stats calls malloc_stats() after the last sample, the live
 * set still allocated (the allocator's own account, on standard error).
 * Exit status: 0 whether or not the goal is met (a MISS is a result), 1 on
 * a live-set check failure, 2 on out of memory or bad usage.
 *
 * Locking: none; single-threaded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SAMPLE_NS 50000000ull
#define MAX_SAMPLES 4096
#define MIB (1024.0 * 1024.0)

static uint64_t rng_state;

/* splitmix64 (MR3). */
static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t rng_range(size_t lo, size_t hi)
{
	return lo + (size_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static const size_t class_lo[3] = {16, 1024 + 1, 64 * 1024 + 1};
static const size_t class_hi[3] = {1024, 64 * 1024, 4 * 1024 * 1024};
static uint64_t class_bytes[3];

/* The next object's size: the class with the fewest bytes so far. */
static size_t next_size(void)
{
	unsigned c = 0;
	for (unsigned k = 1; k < 3; k++)
		if (class_bytes[k] < class_bytes[c])
			c = k;
	size_t n = rng_range(class_lo[c], class_hi[c]);
	class_bytes[c] += n;
	return n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {(time_t)(t / 1000000000ull), (long)(t % 1000000000ull)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Resident bytes, from /proc/self/statm's second field (MR2: no malloc). */
static uint64_t rss_bytes(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *p = buf;
	while (*p && *p != ' ')
		p++;
	uint64_t pages = 0;
	while (*p == ' ')
		p++;
	while (*p >= '0' && *p <= '9')
		pages = pages * 10 + (uint64_t)(*p++ - '0');
	return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* VmHWM from /proc/self/status, in bytes (read after the samples). */
static uint64_t peak_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long kib = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return (uint64_t)kib * 1024u;
}

/* Anonymous memory for bookkeeping, outside the allocator under test;
 * written at once when `resident` (so it is in base, MR1). */
static void *xmap(size_t n, int resident)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("memreturn_bench: mmap");
		exit(2);
	}
	if (resident)
		memset(p, 0, n);
	return p;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p) {
		fprintf(stderr, "memreturn_bench: out of memory (%zu bytes)\n", n);
		exit(2);
	}
	return p;
}

/* Writes every OS page of [p, p + n) and its last byte. */
static void touch(unsigned char *p, size_t n, unsigned char v, size_t page)
{
	for (size_t i = 0; i < n; i += page)
		p[i] = v;
	p[n - 1] = v;
}

static void usage(void)
{
	fprintf(stderr, "usage: memreturn_bench [--gib G] [--live-mib M] [--seconds S] "
			"[--seed N] [--name LABEL] [--round R] [--header] [--verbose] [--stats]\n");
	exit(2);
}

static const double marks[] = {0, 0.1, 0.25, 0.5, 1, 2, 3};
#define NMARKS (sizeof(marks) / sizeof(marks[0]))

static void print_header(void)
{
	printf("%-11s %5s %7s %6s %6s %6s", "allocator", "round", "peak", "live", "base", "goal");
	for (size_t k = 0; k < NMARKS; k++) {
		char h[16];
		snprintf(h, sizeof(h), "@%gs", marks[k]);
		printf(" %7s", h);
	}
	printf(" %8s %s\n", "at goal", "within 1 s");
}

int main(int argc, char **argv)
{
	double gib = 1.0, live_mib = 16.0, seconds = 3.0;
	const char *name = "malloc", *round = "1";
	int verbose = 0, stats = 0;
	rng_state = 0x6d656d7265747572ull;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--header")) {
			print_header();
			return 0;
		} else if (!strcmp(a, "--verbose")) {
			verbose = 1;
			continue;
		} else if (!strcmp(a, "--stats")) {
			stats = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--gib"))
			gib = strtod(v, NULL);
		else if (!strcmp(a, "--live-mib"))
			live_mib = strtod(v, NULL);
		else if (!strcmp(a, "--seconds"))
			seconds = strtod(v, NULL);
		else if (!strcmp(a, "--seed"))
			rng_state = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--name"))
			name = v;
		else if (!strcmp(a, "--round"))
			round = v;
		else
			usage();
	}
	if (!(gib > 0) || gib > 64 || !(live_mib > 0) || !(seconds > 0) || seconds > 60)
		usage();
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const uint64_t live_target = (uint64_t)(live_mib * MIB);
	const uint64_t bulk_target = (uint64_t)(gib * 1024.0 * MIB);
	/* Upper bounds on object counts: every object is at least 16 bytes. */
	const size_t max_live = (size_t)(live_target / 16 + 1);
	const size_t max_bulk = (size_t)(bulk_target / 16 + 1);
	size_t nsamples = (size_t)(seconds * 1e9 / (double)SAMPLE_NS) + 1;
	if (nsamples > MAX_SAMPLES)
		nsamples = MAX_SAMPLES;
	/* The small class holds a third of the bytes at a mean of about 520 B,
	 * so a bound of one object per 128 B is far more than needed. The live
	 * arrays are written now (they are in base); the bulk array is written
	 * as it fills and unmapped after the frees, before the first sample. */
	size_t live_cap = max_live < (size_t)(live_target / 128 + 64)
				  ? max_live
				  : (size_t)(live_target / 128 + 64);
	size_t bulk_cap = max_bulk < (size_t)(bulk_target / 128 + 64)
				  ? max_bulk
				  : (size_t)(bulk_target / 128 + 64);
	unsigned char **live = xmap(live_cap * sizeof(*live), 1);
	size_t *live_size = xmap(live_cap * sizeof(*live_size), 1);
	unsigned char **bulk = xmap(bulk_cap * sizeof(*bulk), 0);
	uint64_t *rss = xmap(nsamples * sizeof(*rss), 1);

	/* stdio's buffer and the allocator's start-up happen before base. */
	free(xmalloc(1));
	fflush(stdout);
	const uint64_t base = rss_bytes();

	size_t nlive = 0;
	uint64_t live_bytes = 0;
	while (live_bytes < live_target && nlive < live_cap) {
		size_t n = next_size();
		live[nlive] = xmalloc(n);
		live_size[nlive] = n;
		memset(live[nlive], (int)(nlive & 0xff), n);
		live_bytes += n;
		nlive++;
	}
	size_t nbulk = 0;
	uint64_t bulk_bytes = 0;
	while (bulk_bytes < bulk_target && nbulk < bulk_cap) {
		size_t n = next_size();
		bulk[nbulk] = xmalloc(n);
		touch(bulk[nbulk], n, (unsigned char)(nbulk | 1), page);
		bulk_bytes += n;
		nbulk++;
	}
	/* Seeded random free order (Fisher-Yates over the pointer array). */
	for (size_t i = nbulk; i > 1; i--) {
		size_t j = (size_t)(rng_next() % i);
		unsigned char *t = bulk[i - 1];
		bulk[i - 1] = bulk[j];
		bulk[j] = t;
	}
	for (size_t i = 0; i < nbulk; i++)
		free(bulk[i]);
	munmap(bulk, bulk_cap * sizeof(*bulk));

	/* Idle sampling (MR2). */
	const uint64_t t0 = now_ns();
	for (size_t s = 0; s < nsamples; s++) {
		if (s)
			sleep_until(t0 + s * SAMPLE_NS);
		rss[s] = rss_bytes();
	}

	/* After the samples (MR2), with the live set still allocated. */
	if (stats)
		malloc_stats();

	for (size_t i = 0; i < nlive; i++) {
		const unsigned char want = (unsigned char)(i & 0xff);
		for (size_t k = 0; k < live_size[i]; k++)
			if (live[i][k] != want) {
				fprintf(stderr,
					"memreturn_bench: live object %zu byte %zu changed\n", i,
					k);
				return 1;
			}
	}
	const uint64_t goal = base + live_bytes + live_bytes / 10;
	long first = -1;
	for (size_t s = 0; s < nsamples; s++)
		if (rss[s] <= goal) {
			first = (long)s;
			break;
		}
	printf("%-11s %5s %7.1f %6.1f %6.1f %6.1f", name, round, (double)peak_rss_bytes() / MIB,
	       (double)live_bytes / MIB, (double)base / MIB, (double)goal / MIB);
	for (size_t k = 0; k < NMARKS; k++) {
		size_t s = (size_t)(marks[k] * 1e9 / (double)SAMPLE_NS + 0.5);
		if (s < nsamples)
			printf(" %7.1f", (double)rss[s] / MIB);
		else
			printf(" %7s", "-");
	}
	char at[32];
	if (first < 0)
		snprintf(at, sizeof(at), "never");
	else
		snprintf(at, sizeof(at), "%.2f s", (double)first * (double)SAMPLE_NS / 1e9);
	printf(" %8s %s\n", at,
	       first >= 0 && (uint64_t)first * SAMPLE_NS <= 1000000000ull ? "PASS" : "MISS");
	if (verbose) {
		printf("# %s: %zu live objects, %zu freed objects (%.1f MiB), samples (MiB):",
		       name, nlive, nbulk, (double)bulk_bytes / MIB);
		for (size_t s = 0; s < nsamples; s++)
			printf(" %.1f", (double)rss[s] / MIB);
		printf("\n");
	}
	for (size_t i = 0; i < nlive; i++)
		free(live[i]);
	munmap(live, live_cap * sizeof(*live));
	munmap(live_size, live_cap * sizeof(*live_size));
	munmap(rss, nsamples * sizeof(*rss));
	return 0;
}

/* debug_bench.c: what the debug mode costs per malloc+free pair, against
 * the layer without it, in the same run.
 *
 * Owns: seven configurations of the malloc layer, each started fresh in a
 * child process (hw_mc_start takes effect once per process), interleaved
 * rep by rep (bench.h BH3):
 *   off     the defaults: the fast paths
 *   slow    debug=1:stack_depth=0:quarantine_bytes=0: every call on the
 *           slow paths and through the hooks, no stack recorded, no
 *           quarantine
 *   debug   debug=1:quarantine_bytes=0 (stack_depth=30): the same plus a
 *           stack captured at each malloc and each free (frame-pointer
 *           walk, depot lookup)
 *   q1m     debug=1:quarantine_bytes=1m: the same plus the quarantine,
 *           small enough to stay in the CPU's caches: from the 4000th
 *           pair or so, each free fills its slot and evicts an older one
 *           (its pattern checked, its slot given back)
 *   q256m   debug=1, the quarantine at its default, 256 MiB: each free
 *           fills a slot the quarantine then holds; the bound is reached
 *           after about a million pairs, so most of a run fills it
 *   guarded guard=all:quarantine_bytes=16m (stacks as debug): every object
 *           on pages of its own against a guard page, its pattern written
 *           and checked, faulted into the quarantine at free, the oldest
 *           one leaving it (the quarantine is full after 4096 frees, well
 *           inside the warm-up: a long run's steady state); a tenth of the
 *           pairs (issue 13's target: a pair within 3 us)
 *   tables  debug=1:quarantine_bytes=0:fast_unwind_on_malloc=0: debug with
 *           its stacks walked with the unwind tables (stackwalk.h UW6)
 *           instead of frame pointers; a tenth of the pairs
 * Each runs pairs of hw_malloc then hw_free, sizes 16-512 B from a seeded
 * stream, from the bottom of a chain of `depth` nested calls (4 and 24),
 * since a walk's cost grows with the frames it crosses (up to the 30
 * kept). Reported: ns per pair (median of BENCH_REPS), ratios to off,
 * debug - slow (the two captures of a pair) and q1m - debug and
 * q256m - debug (the quarantine's part), and what one capture costs with
 * each unwinder.
 *
 * Invariants:
 *   DB1. Every object's first byte is written (bench's MB1), every pair
 *        comes from the same call site (one stack in the depot after the
 *        first pair: the common case of a loop), and each configuration's
 *        child is a fresh process whose first call starts the layer.
 *
 * Usage: debug_bench [--pairs N]
 * Locking: none; one thread per child.
 */
#include "bench.h"
#include "heapward.h"
#include "malloc_internal.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSIZES 4096

static size_t sizes[NSIZES];
static uint64_t pairs = 1000000;
static volatile unsigned char sink;

static const char *const configs[] = {
	"scavenger=0", "scavenger=0:debug=1:stack_depth=0:quarantine_bytes=0",
	"scavenger=0:debug=1:quarantine_bytes=0", "scavenger=0:debug=1:quarantine_bytes=1m",
	"scavenger=0:debug=1", "scavenger=0:guard=all:quarantine_bytes=16m",
	"scavenger=0:debug=1:quarantine_bytes=0:fast_unwind_on_malloc=0"};
static const char *const names[] = {"off", "slow", "debug", "q1m", "q256m", "guarded", "tables"};
#define NCONFIGS 7
#define GUARDED 5 /* configs[GUARDED] and [TABLES] run pairs / SLOW_SHARE pairs */
#define TABLES 6
#define SLOW_SHARE 10

__attribute__((noinline)) static void pairs_at(unsigned depth)
{
	if (depth > 1) {
		pairs_at(depth - 1);
		__asm__ volatile("" ::
					 : "memory"); /* a real frame, not a loop */
		return;
	}
	for (uint64_t i = 0; i < pairs; i++) {
		unsigned char *p = hw_malloc(sizes[i & (NSIZES - 1)]);
		p[0] = (unsigned char)i;
		sink = p[0];
		hw_free(p);
	}
}

/* In a child: start the layer with config, warm up, time the pairs; the
 * ns per pair go back through fd. */
static void child(const char *config, unsigned depth, int fd)
{
	if (!hw_mc_start(config))
		_exit(3);
	if (config == configs[GUARDED] || config == configs[TABLES])
		pairs /= SLOW_SHARE;
	uint64_t all = pairs;
	pairs = all / 10;
	pairs_at(depth); /* warm: caches full, the stack in the depot */
	pairs = all;
	uint64_t t0 = bench_clock_ns();
	pairs_at(depth);
	double ns = (double)(bench_clock_ns() - t0) / (double)pairs;
	if (write(fd, &ns, sizeof ns) != sizeof ns)
		_exit(4);
	_exit(0);
}

static double sample(const char *config, unsigned depth)
{
	int fds[2];
	if (pipe(fds) != 0)
		exit(2);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child(config, depth, fds[1]);
	}
	close(fds[1]);
	double ns = -1;
	if (read(fds[0], &ns, sizeof ns) != sizeof ns)
		ns = -1;
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	if (ns < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "debug_bench: the %s child failed\n", config);
		exit(1);
	}
	return ns;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pairs") == 0 && i + 1 < argc) {
			pairs = strtoull(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: debug_bench [--pairs N]\n");
			return 2;
		}
	}
	bench_rng r = {BENCH_SEED};
	for (size_t i = 0; i < NSIZES; i++)
		sizes[i] = 16 + (size_t)bench_below(&r, 497);
	static const unsigned depths[] = {4, 24};
	printf("== debug mode: ns per hw_malloc+hw_free pair (sizes 16-512 B, median of %d, "
	       "%llu pairs)\n",
	       BENCH_REPS, (unsigned long long)pairs);
	printf("%-6s", "depth");
	for (int c = 0; c < NCONFIGS; c++)
		printf(" %8s", names[c]);
	printf(" %9s %9s %9s %9s %9s\n", "debug/off", "q256m/off", "captures", "q1m", "q256m");
	for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++) {
		double s[NCONFIGS][BENCH_REPS];
		for (int rep = 0; rep < BENCH_REPS; rep++)
			for (int c = 0; c < NCONFIGS; c++)
				s[c][rep] = sample(configs[c], depths[d]);
		double med[NCONFIGS];
		for (int c = 0; c < NCONFIGS; c++) {
			qsort(s[c], BENCH_REPS, sizeof s[c][0], cmp_double);
			med[c] = s[c][BENCH_REPS / 2];
		}
		printf("%-6u", depths[d]);
		for (int c = 0; c < NCONFIGS; c++)
			printf(" %8.1f", med[c]);
		printf(" %9.2f %9.2f %9.1f %9.1f %9.1f\n", med[2] / med[0], med[4] / med[0],
		       med[2] - med[1], med[3] - med[2], med[4] - med[2]);
		printf("guarded pair at depth %u: %.2f us (issue 13's target: within 3 us)\n",
		       depths[d], med[GUARDED] / 1000);
		printf("one capture at depth %u: %.0f ns with frame pointers, %.0f ns with the "
		       "unwind tables\n",
		       depths[d], (med[2] - med[1]) / 2, (med[TABLES] - med[1]) / 2);
	}
	printf("(ns per pair; the last three columns, ns per pair: captures = debug - slow,\n"
	       " q1m and q256m = that configuration - debug, the quarantine's part;\n"
	       " guarded and tables: a tenth of the pairs)\n");
	return 0;
}

/* difftest_random.c: the differential driver on pseudo-random op streams
 * with a fixed seed: about a million ops (--quick: a few thousand) over
 * several heap configurations, on the simulator and on Linux.
 *
 * Owns: the list of configurations and the op budget. Every stream goes
 * through hw_driver_run exactly as a fuzz input does, so a failure here
 * reproduces with the fuzz targets: the failing stream is written to
 * difftest-failure-<config>-<stream>.bin in the working directory.
 *
 * Invariants: deterministic (fixed seeds); a test fails when any stream
 * fails a check (the driver's fail hook records instead of aborting).
 * Locking: single-threaded.
 */
#include "check.h"
#include "driver.h"
#include "ops.h"

#include <stdint.h>
#include <time.h>

#define STREAM_OPS 4096

typedef struct config {
	const char *name;
	hw_driver_backend backend;
	uint8_t b0, b1;
	uint16_t limit64k;
	uint32_t c;
	unsigned share; /* of the op budget, in parts */
} config;

static const config configs[] = {
	{"sim-default", HW_DRIVER_SIM, 0x00, 0x00, 0, 0, 3},
	{"sim-4k-huge2m", HW_DRIVER_SIM, 0x01 | 0x10, 0x00, 0, 0, 2},
	{"sim-4k-on-64k", HW_DRIVER_SIM, 0x01 | 0x08, 0x00, 0, 0, 2},
	{"sim-16k-fault-huge256k", HW_DRIVER_SIM, 0x02 | 0x20 | 0x40, 0x00, 0, 0, 2},
	{"sim-8k-on-16k-junk-retain50", HW_DRIVER_SIM, 0x04, 0x04 | 0x08 | 0x50, 0, 0, 2},
	{"sim-limit1m-scattered", HW_DRIVER_SIM, 0x80, 0x01, 16, 0, 2},
	{"sim-64k-huge1m-4arenas", HW_DRIVER_SIM, 0x03 | 0x30, 0x00, 0, 4, 1},
	{"os-default", HW_DRIVER_OS, 0x00, 0x00, 0, 0, 1},
	{"os-16k-fault", HW_DRIVER_OS, 0x02 | 0x40, 0x00, 0, 0, 1},
};

static size_t total_ops = 1000000;
static char last_failure[640];

static void record_failure(const char *what)
{
	snprintf(last_failure, sizeof last_failure, "%s", what);
}

static void save(const char *cfg, unsigned stream, const uint8_t *buf, size_t len)
{
	char path[256];
	snprintf(path, sizeof path, "difftest-failure-%s-%u.bin", cfg, stream);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(buf, 1, len, f);
		fclose(f);
		fprintf(stderr, "failing stream saved as %s\n", path);
	}
}

static void random_streams(void)
{
	static uint8_t buf[HW_OPS_RECORD * (STREAM_OPS + 1)];
	unsigned parts = 0;
	for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++)
		parts += configs[k].share;
	hw_driver_set_fail_hook(record_failure);
	for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
		const config *c = &configs[k];
		size_t budget = total_ops / parts * c->share, done = 0;
		uint64_t seed = 0x5eed0000u + k;
		unsigned stream = 0, failed = 0;
		clock_t t0 = clock();
		while (done < budget) {
			size_t n = budget - done < STREAM_OPS ? budget - done : STREAM_OPS;
			hw_ops_put(buf, c->b0, c->b1, c->limit64k, c->c);
			hw_driver_generate(&seed, n, buf + HW_OPS_RECORD);
			hw_driver_options opt = {
				.backend = c->backend, .trace = 0, .deep_every = 1};
			size_t len = HW_OPS_RECORD * (n + 1);
			int rc = hw_driver_run(buf, len, &opt);
			EXPECT(rc == 0, "%s stream %u: %s", c->name, stream, last_failure);
			if (rc != 0) {
				save(c->name, stream, buf, len);
				if (++failed >= 3)
					break;
			}
			done += n;
			stream++;
		}
		double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
		printf("%-28s %8zu ops in %3u streams, %6.2f s, %8.0f ops/s\n", c->name, done,
		       stream, s, s > 0 ? (double)done / s : 0.0);
	}
	hw_driver_set_fail_hook(NULL);
}

int main(int argc, char **argv)
{
	int rest = 1;
	if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
		total_ops = 20000;
		rest = 2;
	}
	static const hw_test tests[] = {T(random_streams)};
	argv[rest - 1] = argv[0];
	return hw_test_main(tests, 1, argc - rest + 1, argv + rest - 1);
}

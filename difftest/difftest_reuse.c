/* difftest_reuse.c: an input behaves the same whether it runs first or after
 * others (driver.h D1, sim.h S6).
 *
 * Owns: nothing shared. Runs every input named on the command line (the
 * heap_sim_fuzzer corpus) plus pseudo-random ones with random headers, each
 * three times: alone on a new simulator (the shared one dropped before it),
 * then all in order on the one simulator, then all in reverse order. Each
 * run's trace (every call and its result) and its stats after every op must
 * be identical the three times. Addresses inside the simulated backing are
 * compared as offsets from its base, since a new simulator may be mapped
 * elsewhere; other addresses (the stack address an invalid free names,
 * which moves under ASan's fake stacks) only as being outside it.
 *
 * Invariants: tests/check.h C1; deterministic (fixed seed).
 * Locking: single-threaded.
 */
#include "check.h"
#include "driver.h"
#include "inspect.h"
#include "ops.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RANDOM_INPUTS 40
#define MAX_INPUTS 512

typedef struct input {
	const char *name;
	uint8_t *data;
	size_t size;
} input;

static input inputs[MAX_INPUTS];
static size_t ninputs;
static char failure[640];

static void record(const char *what) { snprintf(failure, sizeof failure, "%s", what); }

/* FNV-1a over the stats after each op. */
static void hash_stats(void *ctx, hw_heap *h, size_t op_index)
{
	uint64_t *hash = ctx;
	hw_heap_stats st;
	memset(&st, 0, sizeof st);
	hw_heap_stats_get(h, &st);
	const unsigned char *b = (const unsigned char *)&st;
	for (size_t i = 0; i < sizeof st; i++)
		*hash = (*hash ^ b[i]) * 0x100000001b3ull;
	*hash = (*hash ^ op_index) * 0x100000001b3ull;
}

/* Rewrites every address inside the simulated backing named on the trace's
 * "simulated backing" line as an offset from its base, and every other hex
 * number as "ADDR". */
static char *normalize(const char *trace)
{
	uintptr_t base = 0, bytes = 0;
	const char *b = strstr(trace, "simulated backing: ");
	if (b != NULL) {
		char *end;
		base = (uintptr_t)strtoull(b + strlen("simulated backing: "), &end, 16);
		if (end[0] == ',')
			bytes = (uintptr_t)strtoull(end + 1, NULL, 10);
	}
	size_t len = strlen(trace);
	char *out = malloc(2 * len + 1), *o = out;
	if (out == NULL)
		return NULL;
	for (const char *p = trace; *p;) {
		if (p[0] == '0' && p[1] == 'x') {
			char *end;
			uintptr_t v = (uintptr_t)strtoull(p + 2, &end, 16);
			if (end > p + 2 && v >= base && v - base < bytes) {
				o += sprintf(o, "B+%#llx", (unsigned long long)(v - base));
				p = end;
				continue;
			}
			if (end > p + 2) {
				o += sprintf(o, "ADDR");
				p = end;
				continue;
			}
		}
		*o++ = *p++;
	}
	*o = '\0';
	return out;
}

typedef struct outcome {
	char *trace; /* normalized */
	uint64_t stats;
	int rc;
} outcome;

static outcome run(const input *in)
{
	outcome r = {NULL, 0xcbf29ce484222325ull, 0};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		return r;
	hw_driver_options opt = {
		.backend = HW_DRIVER_SIM,
		.trace = 1,
		.trace_to = f,
		.after_op = hash_stats,
		.ctx = &r.stats,
	};
	failure[0] = '\0';
	r.rc = hw_driver_run(in->data, in->size, &opt);
	fclose(f);
	r.trace = normalize(buf);
	free(buf);
	return r;
}

static bool same(const outcome *a, const outcome *b)
{
	return a->trace != NULL && b->trace != NULL && strcmp(a->trace, b->trace) == 0 &&
	       a->stats == b->stats && a->rc == b->rc;
}

/* The first line where two traces differ, for the failure message. */
static void first_difference(const char *a, const char *b, char *out, size_t len)
{
	size_t line = 1, i = 0;
	while (a[i] && a[i] == b[i]) {
		if (a[i] == '\n')
			line++;
		i++;
	}
	size_t s = i;
	while (s > 0 && a[s - 1] != '\n')
		s--;
	size_t ea = strcspn(a + s, "\n"), eb = strcspn(b + s, "\n");
	snprintf(out, len, "line %zu: \"%.*s\" vs \"%.*s\"", line, (int)(ea < 200 ? ea : 200),
		 a + s, (int)(eb < 200 ? eb : 200), b + s);
}

static void compare(const char *when, const input *in, const outcome *a, const outcome *b)
{
	char diff[512] = "";
	if (a->trace && b->trace && strcmp(a->trace, b->trace) != 0)
		first_difference(a->trace, b->trace, diff, sizeof diff);
	EXPECT(same(a, b), "%s: %s differs %s (rc %d/%d, stats %s) %s", in->name, when,
	       a->trace && b->trace ? "" : "(no trace)", a->rc, b->rc,
	       a->stats == b->stats ? "same" : "differ", diff);
}

static void runs_do_not_depend_on_their_predecessors(void)
{
	static outcome alone[MAX_INPUTS], forward[MAX_INPUTS], backward[MAX_INPUTS];
	hw_driver_set_fail_hook(record);
	for (size_t i = 0; i < ninputs; i++) {
		hw_driver_drop_platform();
		alone[i] = run(&inputs[i]);
		EXPECT(alone[i].rc == 0, "%s fails alone: %s", inputs[i].name, failure);
	}
	for (size_t i = 0; i < ninputs; i++)
		forward[i] = run(&inputs[i]);
	for (size_t i = ninputs; i-- > 0;)
		backward[i] = run(&inputs[i]);
	for (size_t i = 0; i < ninputs; i++) {
		compare("after the inputs before it", &inputs[i], &alone[i], &forward[i]);
		compare("after every other input", &inputs[i], &alone[i], &backward[i]);
		free(alone[i].trace);
		free(forward[i].trace);
		free(backward[i].trace);
	}
	hw_driver_set_fail_hook(NULL);
	hw_driver_drop_platform();
}

/* The check must be able to fail: two different inputs have different
 * outcomes, and the normalization keeps what differs. */
static void different_inputs_differ(void)
{
	uint8_t a[3 * HW_OPS_RECORD], b[3 * HW_OPS_RECORD];
	hw_ops_put(a, 0, 0, 0, 0);
	hw_ops_put(a + 8, HW_OP_ALLOC, 0, 1, 0);
	hw_ops_put(a + 16, HW_OP_ALLOC, 0, 0, 0);
	memcpy(b, a, sizeof b);
	hw_ops_put(b + 8, HW_OP_ALLOC, 0, 2, 0);
	input ia = {"a", a, sizeof a}, ib = {"b", b, sizeof b};
	outcome ra = run(&ia), rb = run(&ib);
	EXPECT(ra.rc == 0 && rb.rc == 0);
	EXPECT(!same(&ra, &rb), "a 2-page and a 3-page allocation look the same");
	EXPECT(ra.trace && strstr(ra.trace, "B+0x") != NULL, "addresses become offsets");
	free(ra.trace);
	free(rb.trace);
	hw_driver_drop_platform();
}

static bool load(const char *path)
{
	if (ninputs == MAX_INPUTS)
		return false;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	input *in = &inputs[ninputs];
	in->name = path;
	in->data = malloc(HW_OPS_RECORD * (HW_OPS_MAX_RECORDS + 1));
	in->size = in->data ? fread(in->data, 1, HW_OPS_RECORD * (HW_OPS_MAX_RECORDS + 1), f) : 0;
	fclose(f);
	if (in->data == NULL)
		return false;
	ninputs++;
	return true;
}

/* Random headers (every configuration bit, deep checks off so the run stays
 * quick) and random op streams. */
static void add_random_inputs(void)
{
	static char names[RANDOM_INPUTS][32];
	uint64_t seed = 0x7e57ull;
	for (int k = 0; k < RANDOM_INPUTS && ninputs < MAX_INPUTS; k++) {
		size_t nops = 8 + (size_t)k * 5;
		input *in = &inputs[ninputs];
		in->data = malloc(HW_OPS_RECORD * (nops + 1));
		if (in->data == NULL)
			return;
		uint64_t h = seed * 0x9e3779b97f4a7c15ull + (uint64_t)k * 0xbf58476d1ce4e5b9ull;
		hw_ops_put(in->data, (uint8_t)h, (uint8_t)(h >> 8), (uint16_t)((h >> 16) & 0x3ff),
			   (uint32_t)(h >> 32) & ~0x10u);
		hw_driver_generate(&seed, nops, in->data + HW_OPS_RECORD);
		snprintf(names[k], sizeof names[k], "random-%d", k);
		in->name = names[k];
		in->size = HW_OPS_RECORD * (nops + 1);
		ninputs++;
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!load(argv[i])) {
			fprintf(stderr, "difftest_reuse: cannot read %s\n", argv[i]);
			return 1;
		}
	add_random_inputs();
	static const hw_test tests[] = {T(different_inputs_differ),
					T(runs_do_not_depend_on_their_predecessors)};
	char *no_args[] = {argv[0], NULL};
	return hw_test_main(tests, sizeof tests / sizeof tests[0], 1, no_args);
}

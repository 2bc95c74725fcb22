/* malloc_driver.c: the malloc driver's run loop (malloc_driver.h).
 *
 * Owns: one run from its bytes to its verdict: decoding the header, the
 * shared simulator reset for the run, the layer reset onto it with the
 * header's options (hw_mc_reset: the layer starts lazily, at the first op
 * that needs it), each op through malloc_ops.c and the checks after it
 * (malloc_compare.c), the final checks, ending the layer and the leak
 * check; the banner and the fail hook (ML2), and the trace.
 *
 * Invariants (ML1-ML3 of malloc_driver.h, plus):
 *   ML4. Teardown, unless a check failed: every object's contents, the
 *        heap validated, every object freed, hw_malloc_trim, then exact
 *        stats of an empty layer (no span, no large object, no byte in use
 *        or Ready in the heap); then hw_mc_reset must leave the platform
 *        holding nothing (owned 0, every simulated page None).
 *
 * Locking: none; one run at a time.
 */
#include "malloc_driver_internal.h"

#include "debug.h"
#include "malloc_internal.h"
#include "sim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void hw_mdrv_fail(mdrv *d, const char *fmt, ...)
{
	if (d->failed)
		return;
	d->failed = true;
	char what[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	const hw_ops_malloc_config *c = &d->cfg;
	static const char replay[] =
		"    replay with HW_FUZZ_TRACE=1 to print the ops as C calls\n";
	hw_harness_banner("malloc", what,
			  "    at op #%zu (%s); options \"%s\"; sim os page %zu, huge %zu, "
			  "zero %d, use_call %d, ignore_hints %d\n%s",
			  d->op_index, d->op_name, d->options, c->os_page_size, c->huge_page_size,
			  c->released_reads_zero, c->use_needs_call, c->ignore_hints,
			  d->trace ? "" : replay);
	hw_harness_fail(what);
}

void hw_mdrv_trace(mdrv *d, const char *fmt, ...)
{
	if (!d->trace)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(d->opt->trace_to ? d->opt->trace_to : stderr, fmt, ap);
	va_end(ap);
}

static uint64_t platform_failures(const mdrv *d)
{
	uint64_t n = 0;
	for (int k = 0; k < HW_SYS_NKINDS; k++)
		n += d->pf->failures[k];
	return n;
}

bool hw_mdrv_refused(const mdrv *d) { return platform_failures(d) != d->failures_before; }

/* ---- setup and teardown ------------------------------------------------------------ */

static hw_platform *shared_sim;

void hw_malloc_driver_drop_platform(void)
{
	hw_platform_destroy(shared_sim);
	shared_sim = NULL;
}

/* The layer's options: no background thread and one arena (a run is
 * deterministic: with more, which one a refill uses depends on the
 * processor the thread happens to run on; tests/malloc/thread_test.c
 * covers several), continue after a misuse report (MISUSE ops count
 * them), and the header's. */
static void format_options(mdrv *d)
{
	const hw_ops_malloc_config *c = &d->cfg;
	int n = snprintf(d->options, sizeof d->options, "scavenger=0:arenas=1:abort_on_error=0");
	if (c->fill_on_alloc >= 0)
		n += snprintf(d->options + n, sizeof d->options - (size_t)n, ":fill_on_alloc=%d",
			      c->fill_on_alloc);
	if (c->fill_on_free >= 0)
		n += snprintf(d->options + n, sizeof d->options - (size_t)n, ":fill_on_free=%d",
			      c->fill_on_free);
	if (c->memory_limit)
		n += snprintf(d->options + n, sizeof d->options - (size_t)n, ":memory_limit=%zu",
			      c->memory_limit);
	if (c->retain_percent)
		n += snprintf(d->options + n, sizeof d->options - (size_t)n, ":retain_percent=%u",
			      c->retain_percent);
	/* The debug mode for its quarantine: no stacks (no depot on the
	 * simulator), no symbolizer child for the reports. */
	if (c->quarantine_bytes)
		n += snprintf(d->options + n, sizeof d->options - (size_t)n,
			      ":debug=1:stack_depth=0:symbolize=0:quarantine_bytes=%zu",
			      c->quarantine_bytes);
	/* Guarded objects, with budgets that fit the simulator (the guarded
	 * heap's window is sized from them: about 128 MiB of its 256), the
	 * header's quarantine (none when it says 0), and as above no stacks
	 * and no symbolizer. */
	if (c->guard)
		n += snprintf(d->options + n, sizeof d->options - (size_t)n,
			      ":guard=all:guard_budget_count=%u:guard_budget_bytes=8m:"
			      "stack_depth=0:symbolize=0%s",
			      MR_GUARD_BUDGET_COUNT,
			      c->quarantine_bytes ? "" : ":quarantine_bytes=0");
	/* A cut string would start the layer on other options than the
	 * model's (a quarantine of 983 bytes for 983040 did). */
	HW_CHECK((size_t)n < sizeof d->options, "difftest: the options string is cut");
}

static bool setup(mdrv *d)
{
	const hw_ops_malloc_config *c = &d->cfg;
	hw_sim_config sc = {
		.backing_bytes = MR_BACKING,
		.page_size = c->os_page_size,
		.huge_page_size = c->huge_page_size,
		.use_needs_call = c->use_needs_call,
		.released_reads_zero = c->released_reads_zero,
		.ignore_hints = c->ignore_hints,
	};
	if (!shared_sim || hw_sim_reset(shared_sim, &sc) != 0) {
		hw_malloc_driver_drop_platform();
		shared_sim = hw_platform_sim_create(&sc);
	}
	d->pf = shared_sim;
	if (!d->pf) {
		hw_mdrv_fail(d, "cannot create the simulator (errno %d)", errno);
		return false;
	}
	format_options(d);
	d->os_page = hw_platform_os()->caps.page_size;
	hw_mdrv_trace(d,
		      "\thw_sim_config sc = {.backing_bytes = %zu, .page_size = %zu, "
		      ".huge_page_size = %zu, .use_needs_call = %d, .released_reads_zero = %d, "
		      ".ignore_hints = %d};\n"
		      "\thw_platform *pf = hw_platform_sim_create(&sc);\n"
		      "\tmc_start_config next = {pf, %zu, %zu, \"%s\"};\n\thw_mc_reset(&next);\n",
		      sc.backing_bytes, sc.page_size, sc.huge_page_size, sc.use_needs_call,
		      sc.released_reads_zero, sc.ignore_hints, (size_t)MR_WINDOW, (size_t)MR_ARENA,
		      d->options);
	mc_start_config next = {.platform = d->pf,
				.address_space = MR_WINDOW,
				.arena_size = MR_ARENA,
				.options = d->options};
	hw_mc_reset(&next);
	if (hw_mm_init(&d->m) != 0 ||
	    (c->quarantine_bytes && hw_mm_quarantine(&d->m, c->quarantine_bytes) != 0)) {
		hw_mdrv_fail(d, "harness out of memory");
		return false;
	}
	if (d->opt->inject_at) {
		hw_mdrv_trace(d, "\thw_platform_inject(pf, %llu, 0);\n",
			      (unsigned long long)d->opt->inject_at);
		hw_platform_inject(d->pf, d->opt->inject_at, 0);
	}
	return true;
}

/* ML4. */
static void final_checks(mdrv *d)
{
	d->op_name = "teardown";
	hw_mdrv_check_all(d);
	if (!d->failed)
		hw_mdrv_validate(d);
	while (d->m.nlive > 0 && !d->failed)
		hw_mdrv_free_obj(d, 0);
	if (d->failed || !hw_mc_heap())
		return;
	/* The quarantine's objects leave it, each checked (MM4). */
	hw_mdrv_trace(d, "\thw_mc_quar_drain();\n");
	hw_mc_quar_drain();
	hw_mm_quar_drain(&d->m);
	d->census_now = d->validate_now = false; /* the caches still hold slots */
	hw_mdrv_check_after_op(d);
	if (d->failed)
		return;
	hw_mdrv_trace(d, "\thw_malloc_trim(0);\n");
	(void)hw_malloc_trim(0);
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	if (st.small_spans || st.small_span_bytes || st.large_objects || st.large_bytes ||
	    st.heap_inuse || st.heap_ready)
		hw_mdrv_fail(d,
			     "after every object was freed and hw_malloc_trim: %zu small spans "
			     "(%zu bytes), %zu large objects (%zu bytes), heap inuse %zu, "
			     "ready %zu; all should be 0",
			     st.small_spans, st.small_span_bytes, st.large_objects, st.large_bytes,
			     st.heap_inuse, st.heap_ready);
	if (!d->failed)
		hw_mdrv_validate(d);
}

static void teardown(mdrv *d)
{
	if (d->pf) {
		if (!d->failed)
			final_checks(d);
		hw_mdrv_trace(d, "\thw_mc_reset(NULL);\n");
		/* A failed run may leave an injection armed: not for the end. */
		hw_platform_inject(d->pf, 0, 0);
		hw_mc_reset(NULL);
		size_t backing = 0;
		const void *base = hw_sim_backing(d->pf, &backing);
		const void *kept = hw_sim_find_other(d->pf, base, backing, HW_MEM_NONE);
		if (!d->failed && d->pf->owned != 0)
			hw_mdrv_fail(d, "the platform still holds %zu bytes after the layer ended",
				     d->pf->owned);
		else if (!d->failed && kept)
			hw_mdrv_fail(d, "simulated page %p is in state %d after the layer ended",
				     kept, (int)hw_sim_state(d->pf, kept));
		if (d->opt->result) {
			hw_malloc_driver_result *r = d->opt->result;
			memset(r, 0, sizeof *r);
			for (int k = 0; k < HW_SYS_NKINDS; k++) {
				r->calls += d->pf->calls[k];
				if (k != HW_SYS_UNUSE && k != HW_SYS_RELEASE)
					r->can_fail += d->pf->calls[k];
				r->failures += d->pf->failures[k];
			}
		}
	}
	hw_mm_fini(&d->m);
}

int hw_malloc_driver_run(const uint8_t *data, size_t size, const hw_malloc_driver_options *opt)
{
	static const hw_malloc_driver_options defaults = {.trace = -1};
	mdrv d;
	memset(&d, 0, sizeof d);
	d.opt = opt ? opt : &defaults;
	d.trace = hw_harness_trace_on(d.opt->trace);
	hw_ops_malloc_config_decode(data, size, &d.cfg);
	size_t nops = hw_ops_count(size);
	d.op_name = "setup";
	hw_mdrv_trace(&d, "/* heapward-difftest malloc: %zu ops */\n", nops);
	if (setup(&d)) {
		for (size_t i = 0; i < nops && !d.failed; i++) {
			hw_op op = hw_ops_get(data, i);
			d.op_index = i;
			d.op_name = hw_ops_malloc_name(op.code);
			d.failures_before = platform_failures(&d);
			d.validate_now = d.census_now = false;
			hw_mdrv_trace(&d, "\t/* op %zu: %s */\n", i, d.op_name);
			hw_mdrv_run_op(&d, &op);
			if (d.failed)
				break;
			if (d.opt->after_op)
				d.opt->after_op(d.opt->ctx, &d.m, i);
			hw_mdrv_check_after_op(&d);
		}
	}
	teardown(&d);
	return d.failed ? -1 : 0;
}

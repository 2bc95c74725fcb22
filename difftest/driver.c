/* driver.c: the differential driver's run loop (driver.h).
 *
 * Owns: one run from its bytes to its verdict: decoding the header, setting
 * up the platform (the shared simulator or a private Linux instance), the
 * heap and the model, running each op through the handler table
 * (heap_ops.c) and the checks after it (compare.c), the final checks and
 * the leak check at teardown; the failure banner and hook (D2), the trace,
 * and the public hw_driver_* calls. Policy decisions live in model.c, byte
 * decoding in ops.c, and this file only sequences the other files.
 *
 * Invariants (D1-D3 of driver.h, plus):
 *   D4. Before each op the heap and the model agree on every page, stat and
 *       counter; the op's handler predicts with the model, calls the heap,
 *       and reconciles only where the documented policy leaves a choice to
 *       the platform (an injected failure, a full backing). The run loop
 *       keeps it by calling hw_drv_check_after_op after every op, and stops
 *       at the first failure.
 *
 * Locking: none; one run at a time (driver.h).
 */
#include "driver_internal.h"

#include "sim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- failure reporting (D2) ------------------------------------------------ */

void hw_driver_set_fail_hook(hw_driver_fail_fn fn) { hw_harness_set_fail_hook(fn); }

void hw_drv_fail(driver *d, const char *fmt, ...)
{
	if (d->failed)
		return;
	d->failed = true;
	char what[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	const hw_ops_config *c = &d->cfg;
	hw_harness_banner(
		NULL, what,
		"    at op #%zu (%s); %s platform, page %zu, os page %zu, huge %zu, arena %zu "
		"pages, %zu arenas, fault_on_free %d, ignore_hints %d, zero %d, use_call %d, "
		"limit %zu, retain %u\n%s",
		d->op_index, d->op_name, d->sim ? "sim" : "os", c->page_size, c->os_page_size,
		c->huge_page_size, c->arena_pages, c->max_arenas, c->fault_on_free, c->ignore_hints,
		c->released_reads_zero, c->use_needs_call, c->memory_limit, c->retain_percent,
		d->trace ? "" : "    replay with HW_FUZZ_TRACE=1 to print the ops as C calls\n");
	hw_harness_fail(what);
}

void hw_drv_trace(driver *d, const char *fmt, ...)
{
	if (!d->trace)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(d->opt->trace_to ? d->opt->trace_to : stderr, fmt, ap);
	va_end(ap);
}

static void on_report(void *arg, const char *line)
{
	driver *d = arg;
	d->reports++;
	hw_drv_trace(d, "\t/* report: %s */\n", line);
}

uint64_t hw_drv_platform_failures(const driver *d)
{
	uint64_t n = 0;
	for (int k = 0; k < HW_SYS_NKINDS; k++)
		n += d->pf->failures[k];
	return n;
}

/* HO1: did the platform refuse anything during this op so far? */
bool hw_drv_refused(const driver *d) { return hw_drv_platform_failures(d) != d->failures_before; }

void hw_drv_stats(driver *d, hw_heap_stats *st) { hw_heap_stats_get(d->h, st); }

/* ---- setup and teardown ------------------------------------------------------------ */

/* The simulator every run of the process shares (D1). */
static hw_platform *shared_sim;

void hw_driver_drop_platform(void)
{
	hw_platform_destroy(shared_sim);
	shared_sim = NULL;
}

/* The shared simulator, reset to sc (S6 of sim.h), or a new one when there is
 * none yet or sc does not fit it; NULL with errno when creation fails. */
static hw_platform *sim_for_run(const hw_sim_config *sc)
{
	if (shared_sim != NULL && hw_sim_reset(shared_sim, sc) == 0)
		return shared_sim;
	hw_driver_drop_platform();
	hw_sim_config big = *sc;
	big.capacity_bytes = hw_max(SIM_CAPACITY, sc->backing_bytes);
	shared_sim = hw_platform_sim_create(&big);
	return shared_sim;
}

static bool setup(driver *d)
{
	hw_ops_config *c = &d->cfg;
	d->P = c->page_size;
	size_t arena = c->arena_pages * d->P;
	if (c->max_arenas * arena > MAX_HEAP_BYTES)
		c->max_arenas = MAX_HEAP_BYTES / arena ? MAX_HEAP_BYTES / arena : 1;
	size_t cap = c->max_arenas * arena;
	d->max_alloc_pages = MAX_ALLOC_BYTES / d->P;
	d->retain = c->retain_percent ? c->retain_percent : 10;
	d->limit = c->memory_limit;
	d->deep_every = c->deep_every_op ? 1 : d->opt->deep_every;
	d->validate_every = d->opt->deep_every ? d->opt->deep_every
			    : c->deep_every_op ? HEADER_VALIDATE_EVERY
					       : 0;
	d->deep_left = d->opt->deep_every ? SIZE_MAX : DEEP_BUDGET;
	/* The simulated backing holds the arenas, one more arena of alignment
	 * slack and the metadata; the window is more than twice the backing,
	 * so every reservation the simulator can make lies inside it and a
	 * grow fails only when the simulator is full (HO1). */
	size_t backing = cap + arena + META_SLACK;
	d->cap = cap;
	d->address_space = hw_align_up(2 * backing, arena) + 2 * arena;
	/* Linux places reservations where it likes (often below the last
	 * one); a wide window keeps them inside, and the driver itself keeps
	 * the heap under the cap (over_cap). */
	if (!d->sim)
		d->address_space = hw_align_up(64 * backing, arena);
	if (d->sim) {
		hw_sim_config sc = {
			.backing_bytes = backing,
			.page_size = c->os_page_size,
			.huge_page_size = c->huge_page_size,
			.use_needs_call = c->use_needs_call,
			.released_reads_zero = c->released_reads_zero,
			.ignore_hints = c->ignore_hints,
		};
		hw_drv_trace(
			d,
			"\thw_sim_config sc = {.backing_bytes = %zu, .page_size = %zu, "
			".huge_page_size = %zu, .use_needs_call = %d, .released_reads_zero = %d, "
			".ignore_hints = %d};\n"
			"\thw_platform *pf = hw_platform_sim_create(&sc);\n",
			sc.backing_bytes, sc.page_size, sc.huge_page_size, sc.use_needs_call,
			sc.released_reads_zero, sc.ignore_hints);
		d->pf = sim_for_run(&sc);
		if (d->pf != NULL) {
			size_t bytes;
			void *base = hw_sim_backing(d->pf, &bytes);
			hw_drv_trace(d, "\t/* simulated backing: %p, %zu bytes */\n", base, bytes);
		}
	} else {
		hw_drv_trace(d, "\thw_platform *pf = hw_platform_os_create();\n");
		d->pf = hw_platform_os_create();
	}
	if (d->pf == NULL) {
		hw_drv_fail(d, "cannot create the platform (errno %d)", errno);
		return false;
	}
	size_t O = d->pf->caps.page_size;
	hw_heap_config hc = {
		.platform = d->pf,
		.page_size = d->P,
		.arena_size = arena,
		.address_space = d->address_space,
		.memory_limit = c->memory_limit,
		.retain_percent = c->retain_percent,
		.fault_on_free = c->fault_on_free,
		.report = on_report,
		.report_arg = d,
	};
	hw_drv_trace(d,
		     "\thw_heap_config cfg = {.platform = pf, .page_size = %zu, .arena_size = %zu, "
		     ".address_space = %zu, .memory_limit = %zu, .retain_percent = %u, "
		     ".fault_on_free = %d};\n"
		     "\thw_heap *h = hw_heap_create(&cfg);\n\tbool z;\n\tchar msg[256];\n",
		     hc.page_size, hc.arena_size, hc.address_space, hc.memory_limit,
		     hc.retain_percent, hc.fault_on_free);
	errno = 0;
	d->h = hw_heap_create(&hc);
	if (c->fault_on_free && d->P < O) {
		if (d->h != NULL)
			hw_drv_fail(
				d,
				"hw_heap_create accepted fault_on_free with page %zu < OS page %zu",
				d->P, O);
		else if (errno != EINVAL || d->reports != 1)
			hw_drv_fail(d,
				    "hw_heap_create refused fault_on_free with errno %d and %llu "
				    "reports, "
				    "expected EINVAL and 1",
				    errno, (unsigned long long)d->reports);
		return false;
	}
	if (d->h == NULL) {
		hw_drv_fail(d, "hw_heap_create failed (errno %d)", errno);
		return false;
	}
	size_t u = O > d->P ? O / d->P : 1;
	size_t huge = d->pf->caps.huge_page_size;
	/* Huge pages count when larger than a unit and within one chunk. */
	size_t hp = huge > u * d->P && huge / d->P <= HW_CHUNK_PAGES ? huge / d->P : 0;
	if (hw_heap_unit_pages(d->h) != u || hw_heap_huge_pages(d->h) != hp) {
		hw_drv_fail(d, "heap unit/huge pages %zu/%zu, expected %zu/%zu",
			    hw_heap_unit_pages(d->h), hw_heap_huge_pages(d->h), u, hp);
		return false;
	}
	if (hw_model_init(&d->m, d->P, u, hp, d->pf->caps.released_reads_zero) != 0) {
		hw_drv_fail(d, "harness out of memory");
		return false;
	}
	d->op_name = "create";
	d->called_heap = true;
	hw_drv_check_after_op(d);
	return !d->failed;
}

static void teardown(driver *d)
{
	d->op_name = "teardown";
	if (d->h != NULL && !d->failed) {
		/* The final state: every page and hw_heap_validate (beyond the
		 * input's budget too); then every object freed (coalescing
		 * everything) with stats checked, then destroy. */
		hw_drv_verify(d);
		if (!d->failed) {
			hw_drv_compare_all(d);
			if (!d->failed)
				hw_drv_validate(d);
		}
		d->failures_before = hw_drv_platform_failures(d);
		while (d->m.nlive > 0 && !d->failed)
			hw_drv_free_obj(d, 0);
		hw_heap_stats st;
		hw_drv_stats(d, &st);
		if (!d->failed)
			hw_drv_compare_stats(d, &st);
		if (!d->failed && st.inuse != 0)
			hw_drv_fail(d, "stats.inuse is %zu after every object was freed", st.inuse);
	}
	if (d->h != NULL) {
		hw_drv_trace(d, "\thw_heap_destroy(h);\n");
		hw_heap_destroy(d->h);
		d->h = NULL;
		/* The harness's own leak check: LSan cannot see custom pages.
		 * Every reservation the heap made must be gone (P8), which
		 * catches a range leaked on any path, error paths included, in
		 * the input that leaked it; on the simulator every page must be
		 * None again. */
		size_t backing = 0;
		const void *sim_base = d->sim ? hw_sim_backing(d->pf, &backing) : NULL;
		const void *kept = d->sim ? hw_sim_find_other(d->pf, sim_base, backing,
							      HW_MEM_NONE)
					  : NULL;
		if (!d->failed && d->pf->owned != 0)
			hw_drv_fail(d, "the platform still holds %zu bytes after hw_heap_destroy",
				    d->pf->owned);
		else if (!d->failed && kept != NULL)
			hw_drv_fail(
				d,
				"simulated page %p is in state %d after hw_heap_destroy, not None",
				kept, (int)hw_sim_state(d->pf, kept));
		for (size_t k = 0; !d->sim && !d->failed && k < d->m.narenas; k++) {
			const hw_model_arena *ar = &d->m.arena[k];
			if (hw_platform_resident_bytes((void *)ar->base, ar->npages * d->P) !=
			    SIZE_MAX)
				hw_drv_fail(d, "arena %p is still mapped after hw_heap_destroy",
					    (void *)ar->base);
		}
	}
	if (d->pf != NULL) {
		hw_drv_trace(d, "\thw_platform_destroy(pf);\n");
		/* The simulator stays for the next run, which resets it (D1). */
		if (!d->sim)
			hw_platform_destroy(d->pf);
		d->pf = NULL;
	}
	hw_model_fini(&d->m);
}

int hw_driver_run(const uint8_t *data, size_t size, const hw_driver_options *opt)
{
	static const hw_driver_options defaults = {.trace = -1};
	driver d;
	memset(&d, 0, sizeof d);
	d.opt = opt ? opt : &defaults;
	d.sim = d.opt->backend == HW_DRIVER_SIM;
	d.trace = hw_harness_trace_on(d.opt->trace);
	hw_ops_config_decode(data, size, &d.cfg);
	size_t nops = hw_ops_count(size);
	d.op_index = 0;
	d.op_name = "setup";
	hw_drv_trace(&d, "/* heapward-difftest: %zu ops on the %s platform */\n", nops,
		     d.sim ? "sim" : "os");
	if (setup(&d)) {
		for (size_t i = 0; i < nops && !d.failed; i++) {
			hw_op op = hw_ops_get(data, i);
			d.op_index = i;
			d.op_name = hw_ops_heap_name(op.code);
			d.failures_before = hw_drv_platform_failures(&d);
			d.deep_now = false;
			hw_model_dirty_reset(&d.m);
			hw_drv_trace(&d, "\t/* op %zu: %s */\n", i, d.op_name);
			hw_drv_run_op(&d, &op);
			if (d.failed)
				break;
			if (d.opt->after_op) {
				d.opt->after_op(d.opt->ctx, d.h, i);
				d.called_heap = true; /* the seam may change the heap */
			}
			hw_drv_check_after_op(&d);
		}
	}
	teardown(&d);
	return d.failed ? -1 : 0;
}

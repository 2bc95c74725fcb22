/* stats.c: the statistics line of malloc_stats() and of stats_at_exit.
 *
 * Owns: hw_ov_stats_print (override.h) and the destructor that prints the
 * line when HEAPWARD_OPTIONS has stats_at_exit=1, e.g.
 *   heapward: stats at exit: heap mapped 1099511627776, in use 3342336,
 *     ready 3375104, released 1099508252672 bytes; 12 small spans (933888
 *     bytes), 3 large objects (2408448 bytes), 81920 metadata bytes,
 *     1 thread caches, 0 errors; 0 guarded objects (0 bytes), 0 quarantined
 *     (0 bytes), 0 not guarded over budget, 0 refused
 * (one line). Apart from override.c because the option parser's header
 * and the platform's may not meet in one file (both name HW_GUARD_NONE).
 *
 * Invariants:
 *   SL1. Nothing here allocates: the line is formatted on the stack and
 *        written with one write (base/report.c), and the options are read
 *        with the allocation-free reader (options.h), so the destructor
 *        works however far the process's exit has gone. A program that
 *        closes its error output before it exits (coreutils programs do,
 *        in an atexit handler) loses the line.
 *   SL2. The line is printed at most once per process exit, from this
 *        library's destructor (exit() or the library's unloading); a
 *        process that ends in _exit or a signal prints none.
 *
 * Locking: none here (hw_malloc_stats_get takes the layer's).
 */
#include "base.h"
#include "heapward.h"
#include "options.h"
#include "override.h"

void hw_ov_stats_print(const char *when)
{
	hw_malloc_stats st;
	hw_malloc_stats_get(&st);
	hw_report_write("heapward: stats%s: heap mapped %zu, in use %zu, ready %zu, released %zu "
			"bytes, released inside spans %zu; %zu small spans (%zu bytes), %zu "
			"large objects (%zu bytes), %zu metadata bytes, %llu thread caches, %llu "
			"errors; %zu guarded objects (%zu bytes), %zu quarantined (%zu bytes), "
			"%llu not guarded over budget, %llu refused\n",
			when, st.heap_mapped, st.heap_inuse, st.heap_ready, st.heap_released,
			st.heap_released_inside, st.small_spans, st.small_span_bytes,
			st.large_objects, st.large_bytes, st.meta_bytes,
			(unsigned long long)st.thread_caches, (unsigned long long)st.errors,
			st.guarded_objects, st.guarded_bytes, st.quarantine_objects,
			st.quarantine_bytes, (unsigned long long)st.guard_over_budget,
			(unsigned long long)st.guard_refused);
}

/* Options are read again here: the environment may not have been readable
 * when the layer began (platform/env.h). */
__attribute__((destructor)) static void stats_at_exit(void)
{
	hw_options o;
	hw_options_defaults(&o);
	(void)hw_options_load(&o, NULL, NULL);
	if (o.stats_at_exit)
		hw_ov_stats_print(" at exit");
}

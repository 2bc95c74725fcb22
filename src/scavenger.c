/* scavenger.c: the background scavenger and its pacing.
 *
 * Owns: the background target, one step of background work, and the
 * thread that repeats it within a CPU budget.
 *
 * Target. Ready bytes should not exceed the retained goal, inuse * (100 +
 * retain_percent) / 100 (the free memory kept backed for reuse is a fixed
 * fraction of the live heap; the Go runtime keeps 10% over its heap goal),
 * nor the memory limit when one is set and lower. A step releases at most
 * one quantum (64 KiB) toward it, so the lock is held for a bounded time.
 *
 * Pacing. The thread measures the CPU time of each step and sleeps so that
 * steps use about cpu_percent of one core: after a step that took w ns, it
 * sleeps w * (100 - cpu_percent) / cpu_percent (at least 100 us). With
 * nothing to do it sleeps 10 ms and looks again. Stop is checked between
 * sleeps of at most 10 ms, so stopping never waits longer than that.
 *
 * Locking: a step takes h->lock. Start and stop hold h->scav_lock for their
 * whole duration (stop across the join), so any number of threads may call
 * them at once; the thread itself never takes scav_lock. scav_stop is
 * written by start and stop and read by the thread, atomically. A fork child
 * has no scavenger thread: registry.c marks it stopped there.
 */
#include "heap_internal.h"
#include "inspect.h"

#include <errno.h>

#define IDLE_SLEEP_NS 10000000ull
#define MIN_SLEEP_NS 100000ull
#define SLICE_NS 10000000ull

static size_t target(const hw_heap *h)
{
	size_t g = h->inuse + h->inuse / 100 * h->retain_percent +
		   h->inuse % 100 * h->retain_percent / 100;
	return h->memory_limit && h->memory_limit < g ? h->memory_limit : g;
}

size_t hw_scavenger_step_locked(hw_heap *h)
{
	size_t ready = hw_scavenge_ready(h), t = target(h);
	if (ready <= t)
		return 0;
	return hw_scavenge_locked(h, hw_min(HW_SCAVENGE_QUANTUM, ready - t), HW_SCAV_BACKGROUND);
}

size_t hw_heap_scavenger_step(hw_heap *h)
{
	hw_mutex_lock(&h->lock);
	size_t r = hw_scavenger_step_locked(h);
	hw_mutex_unlock(&h->lock);
	return r;
}

static bool stopping(hw_heap *h)
{
	return __atomic_load_n(&h->scav_stop, __ATOMIC_ACQUIRE) != 0;
}

static void sleep_unless_stopped(hw_heap *h, uint64_t ns)
{
	while (ns > 0 && !stopping(h)) {
		uint64_t slice = ns < SLICE_NS ? ns : SLICE_NS;
		hw_sleep_ns(slice);
		ns -= slice;
	}
}

static void *scavenger_main(void *arg)
{
	hw_heap *h = arg;
	while (!stopping(h)) {
		uint64_t t0 = hw_thread_cpu_ns();
		size_t r = hw_heap_scavenger_step(h);
		uint64_t w = hw_thread_cpu_ns() - t0;
		if (r == 0) {
			sleep_unless_stopped(h, IDLE_SLEEP_NS);
			continue;
		}
		uint64_t pause = w * (100 - h->cpu_percent) / h->cpu_percent;
		sleep_unless_stopped(h, pause < MIN_SLEEP_NS ? MIN_SLEEP_NS : pause);
	}
	return NULL;
}

int hw_heap_scavenger_start(hw_heap *h)
{
	hw_mutex_lock(&h->scav_lock);
	int err = EALREADY;
	if (!h->scav_running) {
		__atomic_store_n(&h->scav_stop, 0, __ATOMIC_RELEASE);
		err = hw_thread_start(&h->scav_thread, scavenger_main, h);
		h->scav_running = err == 0;
	}
	hw_mutex_unlock(&h->scav_lock);
	return err;
}

void hw_heap_scavenger_stop(hw_heap *h)
{
	/* Held across the join: a racing start waits until the old thread is
	 * gone, and a racing stop finds it stopped. The thread never takes
	 * scav_lock, so the join cannot wait on this lock. */
	hw_mutex_lock(&h->scav_lock);
	if (h->scav_running) {
		__atomic_store_n(&h->scav_stop, 1, __ATOMIC_RELEASE);
		hw_thread_join(&h->scav_thread);
		h->scav_running = false;
	}
	hw_mutex_unlock(&h->scav_lock);
}

/* scavenger.c: the background scavenger and its pacing.
 *
 * Owns: the background target, one step of background work, and the thread
 * that repeats it: when the program is busy within a CPU budget, when it is
 * idle or over its memory limit promptly; and the wake threshold, which
 * tells a user that has not started the thread when there is work for it
 * (hw_heap_set_wake_bytes).
 *
 * Target. Ready bytes should not exceed the retained goal, inuse * (100 +
 * retain_percent) / 100 (the free memory kept backed for reuse is a fixed
 * fraction of the live heap; the Go runtime keeps 10% over its heap goal),
 * nor the memory limit when one is set and lower. A public step
 * (hw_heap_scavenger_step) releases at most HW_SCAVENGE_QUANTUM (64 KiB)
 * toward it; the thread's steps release up to one such quantum (busy) or
 * PROMPT_QUANTUM (2 MiB, one x86-64 huge page: about 80 us of MADV_DONTNEED
 * on touched 4 KiB pages, docs/scavenging.md) per lock hold. Growth-time
 * scavenging (scavenge.c) aims at the retained goal, hw_scavenger_goal.
 *
 * Pacing (docs/scavenging.md, "When"). Before each step the thread reads the
 * heap's allocation and free counters:
 *   PC1. Busy (the counters moved within the last QUIET_NS): one busy step,
 *        then a pause of c * (100 - cpu_percent) / cpu_percent (at least
 *        MIN_PAUSE_NS), where c is all the CPU time the thread used since its
 *        previous pause began (that pause's own system calls included), so
 *        busy work stays within cpu_percent of one core.
 *   PC2. Idle (no allocation or free for QUIET_NS, and the program's own
 *        threads, every thread but this one, using less than a quarter of a
 *        core over that time: BUSY_SHARE) or over the memory limit: prompt
 *        steps, separated only by PROMPT_GAP_NS, so a thread blocked on the
 *        heap lock gets it (a mutex does not hand over by itself). Idle, the
 *        budget protects no one and the work is the same whenever it is
 *        done; over the limit, the limit is what the user asked for. A
 *        program that computes for a while without allocating is busy, not
 *        idle: it usually allocates again soon, and memory released now
 *        would be faulted back in (sqlite3 building an index freed and
 *        took back 36 MiB three times in 140 ms, and paid the faults).
 *   PC3. Nothing releasable toward the target: sleep IDLE_SLEEP_NS.
 * After each idle step the thread calls the heap's idle hook, if one is set
 * (hw_heap_set_idle_hook, inspect.h), without the lock; the hook may ask
 * the thread to retire (SG4).
 * Stop is checked between sleeps of at most SLICE_NS, so stopping never
 * waits longer than that and one step.
 *
 * The last thread. A process whose main thread ends with pthread_exit runs
 * until its last thread ends; the scavenger must not be that thread. Every
 * HW_PROCESS_ALONE_POLL_NS (0.1 s on Linux; 1 s on Windows, where the
 * question costs more) it asks the platform whether every other thread has
 * ended (thread.h T11) and, when so, retires (SG4): the C library then ends
 * the process when the thread returns, as it would have without it
 * (exit(0), exit handlers run). The idle hook's owner may retire it too.
 *
 * Invariants:
 *   SG1. hw_heap_scavenger_step and the thread's steps have the same target;
 *        the public step's quantum is fixed (the fuzz model predicts it).
 *   SG2. counters.bg_scavenger_cpu_ns is the CPU time of every scavenger
 *        thread the heap ran, up to its last step (updated under the lock).
 *   SG3. wake_due is set only under the lock, at the end of a free or of
 *        hw_heap_set_wake_bytes, and only when wake_bytes is not 0 and the
 *        ready bytes exceed the target by wake_bytes or more at that
 *        moment; only hw_heap_set_wake_bytes clears it.
 *   SG4. A thread retires (when every other thread of the process is gone,
 *        or its idle hook returns true) only if it takes scav_lock at once:
 *        a start or stop that holds it wins, and the thread goes on (the
 *        stop then joins it). Holding scav_lock, it charges its CPU time
 *        (SG2), clears scav_running and detaches itself; after it lets the
 *        lock go it touches nothing of the heap, so a stop finds nothing to
 *        join (an exit handler's, on this very thread, included), a later
 *        start makes a new thread, and a destroy may free the heap at once.
 *
 * Locking: a step takes h->lock. Start and stop hold h->scav_lock for their
 * whole duration (stop across the join), so any number of threads may call
 * them at once; the thread itself takes scav_lock only to retire, and only
 * with a try (SG4), so a stop's join never waits on it. scav_stop is written
 * by start and stop and read by the thread, atomically. A fork child has no
 * scavenger thread: registry.c marks it stopped there.
 */
#include "heap_internal.h"
#include "inspect.h"

#include <errno.h>

#define PROMPT_QUANTUM ((size_t)2 << 20)
#define QUIET_NS 10000000ull
/* PC2: the program is busy while its threads use at least 1/BUSY_SHARE of
 * a core; the window is at least two CPU clock ticks wide (Windows counts
 * whole ticks). */
#define BUSY_SHARE 4
#define BUSY_WINDOW_NS                                            \
	(QUIET_NS > 2ull * HW_THREAD_CPU_RESOLUTION_NS ? QUIET_NS \
						       : 2ull * HW_THREAD_CPU_RESOLUTION_NS)
#define PROMPT_GAP_NS 20000ull
#define IDLE_SLEEP_NS 10000000ull
#define MIN_PAUSE_NS 100000ull
#define SLICE_NS 10000000ull

size_t hw_scavenger_goal(const hw_heap *h)
{
	return h->inuse + h->inuse / 100 * h->retain_percent +
	       h->inuse % 100 * h->retain_percent / 100;
}

static size_t target(const hw_heap *h)
{
	size_t g = hw_scavenger_goal(h);
	return h->memory_limit && h->memory_limit < g ? h->memory_limit : g;
}

static size_t step_locked(hw_heap *h, size_t quantum)
{
	size_t ready = hw_scavenge_ready(h), t = target(h);
	if (ready <= t)
		return 0;
	return hw_scavenge_locked(h, hw_min(quantum, ready - t), HW_SCAV_BACKGROUND);
}

size_t hw_scavenger_step_locked(hw_heap *h)
{
	HW_ASSERT_LOCKED(h);
	return step_locked(h, HW_SCAVENGE_QUANTUM);
}

size_t hw_heap_scavenger_step(hw_heap *h)
{
	HW_HEAP_ARG(h, "hw_heap_scavenger_step");
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

/* What the thread remembers between steps. */
typedef struct pacer {
	uint64_t activity;    /* allocs + frees at the last look */
	uint64_t moved_at;    /* hw_now_ns when they were last seen to move */
	uint64_t cpu_charged; /* thread CPU time already added to the stat (SG2) */
	uint64_t looked_at;   /* hw_now_ns at the last look */
	uint64_t others_cpu;  /* the other threads' CPU time then (PC2) */
	uint64_t busy_at;     /* hw_now_ns when they were last seen busy */
} pacer;

/* PC2: the CPU time of every thread of the process but this one. */
static uint64_t others_cpu(void)
{
	uint64_t all = hw_process_cpu_ns(), own = hw_thread_cpu_ns();
	return all > own ? all - own : 0;
}

/* Charges the thread's CPU time since the last charge to the stat (SG2). */
static void charge_locked(hw_heap *h, pacer *pc)
{
	uint64_t cpu = hw_thread_cpu_ns();
	h->counters.bg_scavenger_cpu_ns += cpu - pc->cpu_charged;
	pc->cpu_charged = cpu;
}

/* One step of the thread: decides busy or prompt (PC1, PC2) and releases
 * toward the target. Returns the bytes released; *idle says whether the
 * heap was idle (PC2's first case). */
static size_t thread_step(hw_heap *h, pacer *pc, bool *prompt, bool *idle)
{
	hw_mutex_lock(&h->lock);
	uint64_t now = hw_now_ns();
	uint64_t activity = h->counters.allocs + h->counters.frees;
	if (activity != pc->activity) {
		pc->activity = activity;
		pc->moved_at = now;
	}
	uint64_t others = others_cpu();
	if (others > pc->others_cpu &&
	    (others - pc->others_cpu) * BUSY_SHARE >= now - pc->looked_at)
		pc->busy_at = now;
	pc->others_cpu = others;
	pc->looked_at = now;
	*idle = now - pc->moved_at >= QUIET_NS && now - pc->busy_at >= BUSY_WINDOW_NS;
	*prompt = *idle || (h->memory_limit != 0 && hw_scavenge_ready(h) > h->memory_limit);
	size_t r = step_locked(h, *prompt ? PROMPT_QUANTUM : HW_SCAVENGE_QUANTUM);
	charge_locked(h, pc);
	hw_mutex_unlock(&h->lock);
	return r;
}

/* The thread's last charge (SG2), when it stops or retires. */
static void charge_last(hw_heap *h, pacer *pc)
{
	hw_mutex_lock(&h->lock);
	charge_locked(h, pc);
	hw_mutex_unlock(&h->lock);
}

/* SG4: retires the thread, unless a start or stop holds scav_lock. */
static bool retire(hw_heap *h, pacer *pc)
{
	if (!hw_mutex_trylock(&h->scav_lock))
		return false;
	charge_last(h, pc);
	h->scav_running = false;
	hw_thread_detach(&h->scav_thread);
	hw_mutex_unlock(&h->scav_lock);
	return true;
}

/* SG4: whether the thread has found itself the process's last, and retired. */
static bool retired_last(hw_heap *h, pacer *pc, uint64_t *polled)
{
	uint64_t now = hw_now_ns();
	if (now - *polled < HW_PROCESS_ALONE_POLL_NS)
		return false;
	*polled = now;
	return hw_process_others_gone() && retire(h, pc);
}

static void *scavenger_main(void *arg)
{
	hw_heap *h = arg;
	uint64_t start = hw_now_ns();
	pacer pc = {0, start, hw_thread_cpu_ns(), start, others_cpu(), start};
	uint64_t pause_began = pc.cpu_charged; /* thread CPU when the last pause began */
	uint64_t polled = start;
	while (!stopping(h)) {
		if (retired_last(h, &pc, &polled))
			return NULL;
		bool prompt, idle;
		size_t r = thread_step(h, &pc, &prompt, &idle);
		bool (*hook)(void *) = __atomic_load_n(&h->idle_hook, __ATOMIC_ACQUIRE);
		/* Without the lock. */
		if (idle && hook && hook(__atomic_load_n(&h->idle_arg, __ATOMIC_RELAXED)) &&
		    retire(h, &pc))
			return NULL;
		uint64_t cpu = hw_thread_cpu_ns();
		uint64_t used = cpu - pause_began;
		pause_began = cpu;
		if (r == 0) {
			sleep_unless_stopped(h, IDLE_SLEEP_NS); /* PC3 */
		} else if (prompt) {
			sleep_unless_stopped(h, PROMPT_GAP_NS); /* PC2 */
		} else {
			uint64_t pause = used * (100 - h->cpu_percent) / h->cpu_percent; /* PC1 */
			sleep_unless_stopped(h, pause < MIN_PAUSE_NS ? MIN_PAUSE_NS : pause);
		}
	}
	charge_last(h, &pc);
	return NULL;
}

void hw_scavenger_note_free_locked(hw_heap *h)
{
	HW_ASSERT_LOCKED(h);
	if (h->wake_bytes == 0 || __atomic_load_n(&h->wake_due, __ATOMIC_RELAXED))
		return;
	size_t ready = hw_scavenge_ready(h), t = target(h);
	if (ready > t && ready - t >= h->wake_bytes)
		__atomic_store_n(&h->wake_due, 1, __ATOMIC_RELAXED);
}

void hw_heap_set_wake_bytes(hw_heap *h, size_t bytes)
{
	hw_mutex_lock(&h->lock);
	h->wake_bytes = bytes;
	__atomic_store_n(&h->wake_due, 0, __ATOMIC_RELAXED);
	hw_scavenger_note_free_locked(h);
	hw_mutex_unlock(&h->lock);
}

bool hw_heap_wake_due(hw_heap *h) { return __atomic_load_n(&h->wake_due, __ATOMIC_RELAXED) != 0; }

void hw_heap_set_idle_hook(hw_heap *h, bool (*fn)(void *arg), void *arg)
{
	hw_mutex_lock(&h->scav_lock);
	__atomic_store_n(&h->idle_hook, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&h->idle_arg, arg, __ATOMIC_RELAXED);
	__atomic_store_n(&h->idle_hook, fn, __ATOMIC_RELEASE);
	hw_mutex_unlock(&h->scav_lock);
}

int hw_heap_scavenger_start(hw_heap *h)
{
	HW_HEAP_ARG(h, "hw_heap_scavenger_start");
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
	HW_HEAP_ARG(h, "hw_heap_scavenger_stop");
	/* Held across the join: a racing start waits until the old thread is
	 * gone, and a racing stop finds it stopped. The thread takes scav_lock
	 * only when no other thread exists (SG4), so the join cannot wait on
	 * this lock. */
	hw_mutex_lock(&h->scav_lock);
	if (h->scav_running) {
		__atomic_store_n(&h->scav_stop, 1, __ATOMIC_RELEASE);
		hw_thread_join(&h->scav_thread);
		h->scav_running = false;
	}
	hw_mutex_unlock(&h->scav_lock);
}

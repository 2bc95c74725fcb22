/* registry.c: the process's list of live heaps, and what fork does to them.
 *
 * Owns: the registry (every heap between hw_heap_create and hw_heap_destroy)
 * and the fork hooks that keep each heap usable in a child, whatever the
 * parent's threads were doing when one of them forked.
 *
 * Fork. A thread may fork while another holds a heap's lock (an allocation,
 * a scavenger step) or its scavenger lock (a start or stop). The child has
 * only the forking thread, so such a lock would stay held forever and the
 * child's first call would block. Before fork, prepare takes the registry
 * lock, then for each heap its scav_lock and then its lock; after fork the
 * parent hook and the child hook release them all, in reverse. In between no
 * heap is in the middle of an operation, so the child's copy is consistent;
 * that includes a scavenge's release running with the lock dropped (R5).
 * The child has no scavenger thread (threads do not survive fork): the child
 * hook marks each heap's scavenger stopped, so hw_heap_scavenger_start in
 * the child starts a new one. Last, prepare takes the platform's set of
 * owned ranges (owned.h): a thread outside every heap (an alternate signal
 * stack made, the malloc layer's metadata) may be updating it.
 *
 * Invariants:
 *   R1. A heap is on the list exactly from the end of hw_heap_create to the
 *       start of hw_heap_destroy.
 *   R2. Lock order: registry lock, then a heap's scav_lock, then its lock.
 *       Nothing takes the registry lock while holding a heap's lock.
 *   R3. The fork hooks are registered once, before the first heap is
 *       listed, outside the registry lock (a concurrent fork holds the C
 *       library's handler lock while its prepare waits for ours), and never
 *       run while a heap is half listed (they take the registry lock).
 *   R4. The list can be walked without the lock (hw_registry_first/next,
 *       for the fault handler, which must not block): reg_head and every
 *       reg_next are written only under reg_lock, with release stores, and
 *       read with acquire loads, so a walker sees each listed heap whole
 *       (create finishes it before listing it). Unlinking a heap leaves its
 *       own reg_next intact, so a walker standing on it goes on to the rest.
 *       Residual hazard: a heap that another thread unlists and destroys
 *       while a walker is on it is unmapped under the walker, whose next read
 *       faults; in the fault handler that fault kills the process at once
 *       (the signal is blocked there), without the report.
 *   R5. When prepare returns, no heap has a platform call in flight with
 *       its lock dropped (scavenge.c): prepare sets no_unlock under the lock,
 *       so no new call drops it, and waits for inflight to reach 0; both
 *       hooks clear no_unlock. So a child has no busy pages (I5) that no
 *       thread of its own would ever settle.
 *
 * Locking: reg_lock guards the list and the reg_next/reg_prev links of
 * every heap; see R2 for the order. Lock-free readers: R4.
 */
#include "heap_internal.h"
#include "owned.h"

static hw_mutex reg_lock = HW_MUTEX_INIT;
static hw_heap *reg_head; /* guarded by reg_lock */
static bool hooks_registered;

/* Takes h's lock with no platform call in flight (R5): asks that no new
 * call drop the lock, then lets the ones in flight finish. */
static void lock_quiet(hw_heap *h)
{
	hw_mutex_lock(&h->lock);
	h->no_unlock = true;
	while (h->inflight > 0)
		hw_scavenge_await_calls(h);
}

static void fork_prepare(void)
{
	hw_mutex_lock(&reg_lock);
	for (hw_heap *h = reg_head; h; h = h->reg_next) {
		hw_mutex_lock(&h->scav_lock);
		lock_quiet(h);
	}
	hw_platform_owned_lock();
}

static void unlock_all(bool child)
{
	hw_platform_owned_unlock();
	for (hw_heap *h = reg_head; h; h = h->reg_next) {
		if (child) {
			h->scav_running = false;
			h->scav_stop = 0;
		}
		h->no_unlock = false;
		hw_mutex_unlock(&h->lock);
		hw_mutex_unlock(&h->scav_lock);
	}
	hw_mutex_unlock(&reg_lock);
}

static void fork_parent(void) { unlock_all(false); }
static void fork_child(void) { unlock_all(true); }

/* Registers the fork hooks once (R3). Not under reg_lock: a fork running in
 * another thread holds the C library's handler lock while its prepare hook
 * waits for reg_lock, so registering under reg_lock could deadlock. */
static int register_hooks(void)
{
	static hw_mutex hooks_lock = HW_MUTEX_INIT;
	if (__atomic_load_n(&hooks_registered, __ATOMIC_ACQUIRE))
		return 0;
	hw_mutex_lock(&hooks_lock);
	int err = 0;
	if (!hooks_registered) {
		err = hw_fork_hooks(fork_prepare, fork_parent, fork_child);
		if (err == 0)
			__atomic_store_n(&hooks_registered, true, __ATOMIC_RELEASE);
	}
	hw_mutex_unlock(&hooks_lock);
	return err;
}

int hw_registry_add(hw_heap *h)
{
	int err = register_hooks();
	hw_mutex_lock(&reg_lock);
	if (err == 0) {
		h->reg_prev = NULL;
		h->reg_next = reg_head;
		if (reg_head)
			reg_head->reg_prev = h;
		__atomic_store_n(&reg_head, h, __ATOMIC_RELEASE); /* R4 */
	}
	hw_mutex_unlock(&reg_lock);
	return err;
}

void hw_registry_remove(hw_heap *h)
{
	hw_mutex_lock(&reg_lock);
	/* R4: lock-free readers load these links, so they are stored whole. */
	if (h->reg_prev)
		__atomic_store_n(&h->reg_prev->reg_next, h->reg_next, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&reg_head, h->reg_next, __ATOMIC_RELEASE);
	if (h->reg_next)
		h->reg_next->reg_prev = h->reg_prev;
	hw_mutex_unlock(&reg_lock);
}

hw_heap *hw_registry_first(void) { return __atomic_load_n(&reg_head, __ATOMIC_ACQUIRE); }

hw_heap *hw_registry_next(const hw_heap *h)
{
	return __atomic_load_n(&h->reg_next, __ATOMIC_ACQUIRE);
}

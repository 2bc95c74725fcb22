/* fault.c: installing the fault handler once, and the chain of classifiers
 * it calls (fault.h), on every OS.
 *
 * Owns: the install lock, whether the handler is installed, and the
 * classifier of each rank; the handler itself is the OS's half
 * (fault_posix.c, fault_windows.c: hw_fault_os_install).
 *
 * Invariants (fault.h's):
 *   FH1. `installed` is set under install_lock once the OS's half installed
 *        its handler. A rank's classifier is stored (release order) under
 *        install_lock and never changed again; the first one is stored
 *        before the OS's half installs the handler and cleared again if
 *        that fails.
 *   FH2. hw_fault_classify asks the ranks in order and stops at the first
 *        classifier that reports.
 *
 * Locking: install_lock serializes hw_fault_install; the handler reads the
 * chain without a lock (hw_fault_classify, acquire order).
 */
#include "fault.h"

#include "thread.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

static hw_mutex install_lock = HW_MUTEX_INIT;
static bool installed; /* under install_lock */
static hw_fault_fn chain[HW_FAULT_RANKS];

bool hw_fault_classify(const hw_fault *f)
{
	for (unsigned r = 0; r < HW_FAULT_RANKS; r++) {
		hw_fault_fn fn = __atomic_load_n(&chain[r], __ATOMIC_ACQUIRE);
		if (fn && fn(f))
			return true;
	}
	return false;
}

int hw_fault_install(hw_fault_fn fn, unsigned rank)
{
	if (rank >= HW_FAULT_RANKS || fn == NULL)
		return EINVAL;
	int err = 0;
	hw_mutex_lock(&install_lock);
	hw_fault_fn cur = __atomic_load_n(&chain[rank], __ATOMIC_RELAXED);
	if (cur) {
		err = cur == fn ? 0 : EBUSY;
	} else {
		/* The OS's half gives the first installer its alternate stack;
		 * a later one gets its own here (FH5). */
		err = installed ? hw_fault_thread_start() : 0;
		if (err == 0)
			__atomic_store_n(&chain[rank], fn, __ATOMIC_RELEASE);
		if (err == 0 && !installed) {
			err = hw_fault_os_install();
			if (err != 0)
				__atomic_store_n(&chain[rank], NULL, __ATOMIC_RELEASE);
			installed = err == 0;
		}
	}
	hw_mutex_unlock(&install_lock);
	return err;
}

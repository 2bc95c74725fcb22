/* fault.c: installing the fault handler once (fault.h), on every OS.
 *
 * Owns: the install lock, whether the handler is installed, and the
 * classifier it calls; the handler itself is the OS's half (fault_posix.c,
 * fault_windows.c: hw_fault_os_install).
 *
 * Invariants (fault.h's):
 *   FH1. `installed` is set under install_lock once the OS's half installed
 *        its handler; a later install with the same classifier changes
 *        nothing and returns 0, with another one EBUSY. The classifier is
 *        stored (release order) before the OS's half installs the handler
 *        and cleared again if that fails.
 *
 * Locking: install_lock serializes hw_fault_install; the handler reads the
 * classifier without a lock (hw_fault_classifier, acquire order).
 */
#include "fault.h"

#include "thread.h"

#include <errno.h>
#include <stdbool.h>

static hw_mutex install_lock = HW_MUTEX_INIT;
static bool installed; /* under install_lock */
static hw_fault_fn classifier;

hw_fault_fn hw_fault_classifier(void)
{
	return __atomic_load_n(&classifier, __ATOMIC_ACQUIRE);
}

int hw_fault_install(hw_fault_fn fn)
{
	int err = 0;
	hw_mutex_lock(&install_lock);
	if (installed) {
		err = __atomic_load_n(&classifier, __ATOMIC_RELAXED) == fn ? 0 : EBUSY;
		hw_mutex_unlock(&install_lock);
		return err;
	}
	__atomic_store_n(&classifier, fn, __ATOMIC_RELEASE);
	err = hw_fault_os_install();
	if (err != 0)
		__atomic_store_n(&classifier, NULL, __ATOMIC_RELEASE);
	installed = err == 0;
	hw_mutex_unlock(&install_lock);
	return err;
}

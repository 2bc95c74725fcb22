/* env.h: reading the process environment without allocating.
 *
 * Owns: hw_env_get, the one way the layers above read an environment
 * variable (HEAPWARD_OPTIONS), and hw_env_available. Implemented, for POSIX
 * and Windows, in env.c.
 *
 * Why not getenv(3): glibc's getenv does not allocate either, but a malloc
 * layer runs its first call whenever the first malloc happens, which for a
 * preloaded library can be inside the dynamic loader, after it has switched
 * to the program's malloc and before libc's own initialisation has set
 * `environ`. hw_env_get calls nothing in libc: it walks `environ` itself
 * and answers NULL when the walk is not possible yet, so a caller can tell
 * (hw_env_available) and read again later instead of trusting an early
 * "unset".
 *
 * Invariants:
 *   EV1. No allocation, no lock, no libc call but reading `environ` and the
 *        auxiliary vector (getauxval reads the loader's copy, set before any
 *        code of ours runs): async-signal-safe, and callable before
 *        constructors run.
 *   EV2. In a set-user-ID, set-group-ID or capability-raising program
 *        (AT_SECURE), hw_env_get answers NULL for every name, as
 *        secure_getenv(3) does: an unprivileged user must not steer a
 *        privileged process (for instance its log_path).
 *   EV3. The returned pointer points into the environment block: valid
 *        until the environment is changed (setenv, putenv); read it at once.
 *
 * Locking: none. Like getenv, not safe against a concurrent setenv.
 */
#ifndef HW_ENV_H
#define HW_ENV_H

#include "base.h"

/* The value of name (everything after "name=" in the first entry that
 * starts so), or NULL when it is unset, when the environment is not set up
 * yet, or in a secure program (EV2). name must not contain '='. */
const char *hw_env_get(const char *name);

/* Whether the environment can be read now: false only before libc has set
 * it up (EV1's early case). */
bool hw_env_available(void);

#endif

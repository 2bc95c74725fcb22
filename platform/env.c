/* env_posix.c: hw_env_get and hw_env_available on POSIX.
 *
 * Owns: the walk of `environ` and the secure-mode check (env.h EV1-EV3).
 *
 * Invariants (env.h's, and how they hold here):
 *   EV1. The walk compares bytes itself (no strncmp, no getenv); `environ`
 *        is NULL until libc (or the loader, for a static program) sets it,
 *        and the answer is then NULL.
 *   EV2. Linux: getauxval(AT_SECURE), which the kernel sets for set-ID and
 *        capability-raising executions. Elsewhere: real and effective user
 *        and group IDs differ.
 *   EV3. The answer points into `environ`'s strings.
 *
 * Locking: none (env.h).
 */
#include "env.h"

#include "base.h"

#include <unistd.h>
#ifdef __linux__
#include <sys/auxv.h>
#endif

extern char **environ;

static bool secure_mode(void)
{
#ifdef __linux__
	return getauxval(AT_SECURE) != 0;
#else
	return getuid() != geteuid() || getgid() != getegid();
#endif
}

bool hw_env_available(void) { return environ != NULL; }

const char *hw_env_get(const char *name)
{
	char **env = environ;
	if (env == NULL || name == NULL || secure_mode())
		return NULL;
	for (; *env != NULL; env++) {
		const char *e = *env, *n = name;
		while (*n != '\0' && *n != '=' && *e == *n) {
			e++;
			n++;
		}
		if (*n == '\0' && *e == '=')
			return e + 1;
	}
	return NULL;
}

/* env.c: hw_env_get and hw_env_available.
 *
 * Owns: the walk of the C library's environment array and the secure-mode
 * check (env.h EV1-EV3), on POSIX and on Windows.
 *
 * Invariants (env.h's, and how they hold here):
 *   EV1. The walk compares bytes itself (no strncmp, no getenv); the array
 *        is NULL until the C library (or the loader, for a static program)
 *        sets it, and the answer is then NULL. On Windows the array is the
 *        C runtime's narrow copy (_environ): _putenv changes it,
 *        SetEnvironmentVariable does not (as getenv sees it); names match
 *        whatever their case, as Windows compares them.
 *   EV2. Linux: getauxval(AT_SECURE), which the kernel sets for set-ID and
 *        capability-raising executions. Other POSIX systems: real and
 *        effective user and group IDs differ. Windows has no set-ID
 *        programs: never.
 *   EV3. The answer points into the array's strings.
 *
 * Locking: none (env.h).
 */
#include "env.h"

#include "base.h"

#ifdef _WIN32
#include <stdlib.h>
#define HW_ENVIRON _environ
#else
#include <unistd.h>
extern char **environ;
#define HW_ENVIRON environ
#endif
#ifdef __linux__
#include <sys/auxv.h>
#endif

static bool secure_mode(void)
{
#if defined(__linux__)
	return getauxval(AT_SECURE) != 0;
#elif defined(_WIN32)
	return false;
#else
	return getuid() != geteuid() || getgid() != getegid();
#endif
}

/* Whether two bytes of a name match: Windows names ignore ASCII case. */
static bool same(char a, char b)
{
#ifdef _WIN32
	if (a >= 'a' && a <= 'z')
		a = (char)(a - 'a' + 'A');
	if (b >= 'a' && b <= 'z')
		b = (char)(b - 'a' + 'A');
#endif
	return a == b;
}

bool hw_env_available(void) { return HW_ENVIRON != NULL; }

const char *hw_env_get(const char *name)
{
	char **env = HW_ENVIRON;
	if (env == NULL || name == NULL || secure_mode())
		return NULL;
	for (; *env != NULL; env++) {
		const char *e = *env, *n = name;
		while (*n != '\0' && *n != '=' && same(*e, *n)) {
			e++;
			n++;
		}
		if (*n == '\0' && *e == '=')
			return e + 1;
	}
	return NULL;
}

/* stop.c: stop.h's hw_world_read, over each OS's hw_world_copy.
 *
 * Owns: finding, after a copy that failed, how much of the range can be
 * read: a page at a time from its start, up to the first page that cannot
 * (SW7).
 *
 * Locking: none.
 */
#include "stop.h"

#include "base.h"
#include "platform.h"

#include <errno.h>

size_t hw_world_read(void *dst, uintptr_t src, size_t n)
{
	int err = hw_world_copy(dst, src, n);
	if (err == 0)
		return n;
	if (err != EFAULT)
		return SIZE_MAX;
	size_t page = hw_platform_os_instance()->caps.page_size, done = 0;
	while (done < n) {
		size_t step = hw_min(n - done, page - (size_t)((src + done) % page));
		if (hw_world_copy((char *)dst + done, src + done, step) != 0)
			break;
		done += step;
	}
	return done;
}

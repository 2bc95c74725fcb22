/* boot.c: the bootstrap arena: memory for the calls a thread makes into the
 * layer while that same thread is starting it.
 *
 * Starting the layer calls the C library (pthread_atfork, pthread_create for
 * the background scavenger), and the C library may allocate: glibc's
 * pthread_create callocs the new thread's TLS vector, its atfork list grows
 * with malloc past a few entries. Under the preload library those calls come
 * back here while the layer is half made; they cannot wait for the start
 * (their own thread is doing it) and failing them made pthread_create fail
 * (EAGAIN) and a start fail. They are served from a static arena instead.
 *
 * Owns: the arena and its bump index; hw_mc_boot_alloc, hw_mc_boot_owns,
 * hw_mc_boot_size.
 *
 * Invariants:
 *   BT1. Only a thread inside the layer's start allocates here, and the
 *        start holds the init lock (malloc.c), so one thread at a time moves
 *        the bump index; other threads only read blocks they were handed.
 *   BT2. A block is preceded by a 16-byte header holding its requested
 *        size; blocks are aligned to max(16, align) and never reused: free
 *        of a block does nothing, so a block stays valid for the process's
 *        life (the C library keeps these: a thread's TLS vector, its atfork
 *        list).
 *   BT3. A request the arena cannot hold fails (ENOMEM, as any exhausted
 *        allocation); nothing else changes.
 *
 * The arena is in this module's bss: the leak check scans it as a root,
 * which is right, since what the C library keeps here may point to objects.
 *
 * Locking: BT1 (the init lock, held by the caller).
 */
#include "malloc_internal.h"

#define BOOT_BYTES ((size_t)64 << 10)
#define BOOT_HEADER ((size_t)16)

static unsigned char arena[BOOT_BYTES] __attribute__((aligned(4096)));
static size_t used; /* bytes handed out, headers and alignment gaps included */

void *hw_mc_boot_alloc(size_t n, size_t align)
{
	align = hw_max(align, BOOT_HEADER);
	if (align > BOOT_BYTES || n > BOOT_BYTES)
		return NULL;
	size_t start = hw_align_up(used + BOOT_HEADER, align);
	if (start + n > BOOT_BYTES)
		return NULL;
	/* Never reused (BT2): a block is fresh bss, so calloc's are zero. */
	*(size_t *)(arena + start - BOOT_HEADER) = n;
	used = start + n;
	return arena + start;
}

bool hw_mc_boot_owns(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	return a >= (uintptr_t)arena && a < (uintptr_t)arena + BOOT_BYTES;
}

size_t hw_mc_boot_size(const void *p)
{
	return *(const size_t *)((const unsigned char *)p - BOOT_HEADER);
}

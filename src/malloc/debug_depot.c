/* debug_depot.c: the stack depot: every distinct stack the debug mode
 * records, stored once and named by a 32-bit id.
 *
 * Owns: the depot's memory (a region reserved from the platform at start,
 * made Ready a step at a time as it fills; never the heap's, never
 * malloc's), its hash table, and the ids.
 *
 * Layout. A record is a header (the next record's id in its bucket, the
 * hash, the depth) and the frames; records are appended to the region and
 * never moved or freed. A stack's id is its record's offset in the region
 * in 8-byte units plus 1, so 0 means "no stack" and 32 bits address
 * 32 GiB (the region is DP_BYTES). The table is an array of bucket heads
 * (ids), indexed by the hash's low bits.
 *
 * Invariants:
 *   SK1. A record is complete before it is published: its bytes are
 *        written, then the bucket head is set to its id with a release
 *        store; a reader loads heads with acquire and only ever follows
 *        published ids, so lookups take no lock.
 *   SK2. Only an insertion takes the lock (a leaf: nothing else is taken
 *        under it); it walks the bucket again under the lock, so a stack is
 *        stored at most once (equal stacks get equal ids).
 *   SK3. Bounded: when the region (dp_bytes: DP_BYTES, or under an
 *        address-space limit a sixteenth of it, platform.h P12, but at
 *        least DP_STEP) is full, or the platform
 *        refuses to make more of it Ready, a new stack gets id 0 and
 *        `dropped` counts it; stacks already stored keep their ids.
 *   SK4. Memory follows the platform contract: the region is reserved
 *        (hw_sys_reserve), and each DP_STEP of it made Prepared and Ready
 *        (hw_sys_map, hw_sys_use) before the first record lands there.
 *
 * Locking: depot_lock (SK2), a leaf of the layer's order (debug.h).
 */
#include "debug.h"

#include <string.h>

#define DP_BYTES ((size_t)256 << 20)
#define DP_STEP ((size_t)1 << 20)
#define DP_BUCKET_BITS 18
#define DP_BUCKETS ((size_t)1 << DP_BUCKET_BITS)

typedef struct dp_rec {
	uint32_t next; /* id of the next record of the bucket, 0: none */
	uint32_t hash;
	uint32_t depth;
	uint32_t pad;
	uintptr_t pc[];
} dp_rec;

static hw_platform *dp_pf;
static char *dp_base;      /* the region (SK4); NULL until init */
static uint32_t *dp_table; /* DP_BUCKETS heads, atomically */
static hw_mutex depot_lock = HW_MUTEX_INIT;
static size_t dp_bytes;                     /* the region's size, set with dp_base */
static size_t dp_used, dp_ready, dp_mapped; /* under depot_lock */
static uint64_t dp_stacks, dp_dropped;      /* atomic */

bool hw_mc_depot_init(hw_platform *pf)
{
	if (dp_base)
		return true;
	void *region, *table;
	size_t limit = hw_sys_address_limit(pf), bytes = DP_BYTES;
	if (limit / 16 < bytes)
		bytes = hw_max(hw_align_down(limit / 16, DP_STEP), DP_STEP);
	if (hw_sys_reserve(pf, NULL, bytes, &region) != 0)
		return false;
	if (hw_sys_alloc(pf, DP_BUCKETS * sizeof(uint32_t), &table) != 0) {
		hw_sys_release(pf, region, bytes);
		return false;
	}
	dp_pf = pf;
	dp_bytes = bytes;
	dp_table = table;
	__atomic_store_n(&dp_base, region, __ATOMIC_RELEASE);
	return true;
}

void hw_mc_depot_reset(void)
{
	if (!dp_base)
		return;
	hw_sys_release(dp_pf, dp_base, dp_bytes);
	hw_sys_release(dp_pf, dp_table, DP_BUCKETS * sizeof(uint32_t));
	dp_pf = NULL;
	dp_base = NULL;
	dp_table = NULL;
	dp_used = dp_ready = dp_mapped = 0;
	dp_stacks = dp_dropped = 0;
}

static dp_rec *rec_of(uint32_t id)
{
	return (dp_rec *)(dp_base + (size_t)(id - 1) * 8);
}

static uint32_t hash_of(const uintptr_t *pc, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint64_t)pc[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return (uint32_t)h;
}

/* The id of pc[0..n) among the published records from head on, or 0. */
static uint32_t find(uint32_t head, uint32_t h, const uintptr_t *pc, size_t n)
{
	for (uint32_t id = head; id != 0;) {
		const dp_rec *r = rec_of(id);
		if (r->hash == h && r->depth == n && memcmp(r->pc, pc, n * sizeof *pc) == 0)
			return id;
		id = r->next;
	}
	return 0;
}

/* Room for a record of `bytes` at dp_used (SK3, SK4); false when full. */
static bool room(size_t bytes)
{
	if (dp_used + bytes > dp_bytes)
		return false;
	while (dp_used + bytes > dp_ready) {
		void *p = dp_base + dp_ready;
		if (dp_mapped == dp_ready) {
			if (hw_sys_map(dp_pf, p, DP_STEP) != 0)
				return false;
			dp_mapped += DP_STEP;
		}
		if (hw_sys_use(dp_pf, p, DP_STEP) != 0)
			return false; /* stays Prepared; the next call retries the use */
		dp_ready += DP_STEP;
	}
	return true;
}

uint32_t hw_mc_depot_put(const uintptr_t *pc, size_t n)
{
	if (n == 0 || n > MC_DEBUG_MAX_DEPTH || !__atomic_load_n(&dp_base, __ATOMIC_ACQUIRE))
		return 0;
	uint32_t h = hash_of(pc, n);
	uint32_t *head = &dp_table[h & (DP_BUCKETS - 1)];
	uint32_t id = find(__atomic_load_n(head, __ATOMIC_ACQUIRE), h, pc, n);
	if (id)
		return id;
	hw_mutex_lock(&depot_lock);
	uint32_t first = __atomic_load_n(head, __ATOMIC_ACQUIRE);
	id = find(first, h, pc, n);
	size_t bytes = sizeof(dp_rec) + n * sizeof *pc;
	if (!id && room(bytes)) {
		dp_rec *r = (dp_rec *)(dp_base + dp_used);
		r->next = first;
		r->hash = h;
		r->depth = (uint32_t)n;
		r->pad = 0;
		memcpy(r->pc, pc, n * sizeof *pc);
		id = (uint32_t)(dp_used / 8 + 1);
		dp_used += bytes;
		__atomic_store_n(head, id, __ATOMIC_RELEASE);
		__atomic_add_fetch(&dp_stacks, 1, __ATOMIC_RELAXED);
	} else if (!id) {
		__atomic_add_fetch(&dp_dropped, 1, __ATOMIC_RELAXED);
	}
	hw_mutex_unlock(&depot_lock);
	return id;
}

size_t hw_mc_depot_get(uint32_t id, const uintptr_t **pc)
{
	if (id == 0 || !__atomic_load_n(&dp_base, __ATOMIC_ACQUIRE)) {
		*pc = NULL;
		return 0;
	}
	const dp_rec *r = rec_of(id);
	*pc = r->pc;
	return r->depth;
}

void hw_mc_depot_stats(uint64_t *stacks, uint64_t *bytes, uint64_t *dropped)
{
	hw_mutex_lock(&depot_lock);
	*bytes = dp_used;
	hw_mutex_unlock(&depot_lock);
	*stacks = __atomic_load_n(&dp_stacks, __ATOMIC_RELAXED);
	*dropped = __atomic_load_n(&dp_dropped, __ATOMIC_RELAXED);
}

void hw_mc_depot_lock(void) { hw_mutex_lock(&depot_lock); }
void hw_mc_depot_unlock(void) { hw_mutex_unlock(&depot_lock); }

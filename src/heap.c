/* heap.c: heap instances and the allocation and free paths.
 *
 * Owns: hw_heap_create/destroy (configuration checks and the metadata
 * layout), hw_heap_alloc* (first fit through the summary tree, growing when
 * nothing fits, making released units Ready), hw_heap_free (the invalid-free
 * checks), hw_heap_resize, guard pages and pages released inside a live
 * run (hw_heap_guard, hw_heap_release_inside and their inverses), stats and
 * the inspection views. The invariants are listed in heap_internal.h
 * (I1-I16) and checked by validate.c.
 *
 * Allocation policy: the lowest address that fits. An aligned request for n
 * pages at alignment a pages takes the lowest free run of n + a - 1 pages and
 * the first aligned page inside it (so the fit is found in O(log heap)).
 *
 * Locking: every public entry point takes h->lock for its whole duration.
 */
#include "heap_internal.h"
#include "inspect.h"
#include "track.h"

#include <errno.h>
#include <string.h>

#define DEFAULT_PAGE_SIZE (8u << 10)
#define DEFAULT_ARENA_SIZE ((size_t)64 << 20)
#define DEFAULT_ADDRESS_SPACE ((size_t)1 << 40)
#define MAX_WINDOW_PAGES ((size_t)1 << 31)
#define MIN_PAGE_SIZE ((size_t)4096)
#define MAX_PAGE_SIZE ((size_t)1 << 20)
#define MAX_RETAIN_PERCENT 10000u

/* ---- reports ---------------------------------------------------------- */

static void default_report(void *arg, const char *line)
{
	(void)arg;
	hw_report_write("%s\n", line);
}

void hw_heap_report(hw_heap *h, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	hw_report_vformat(line, sizeof line, fmt, ap);
	va_end(ap);
	h->report(h->report_arg, line);
}

/* A config error, reported before any heap exists: one line naming the
 * field, the value given and the range allowed. */
static hw_heap *config_error(const hw_heap_config *cfg, const char *fmt, ...) HW_PRINTF(2, 3);
static hw_heap *config_error(const hw_heap_config *cfg, const char *fmt, ...)
{
	char what[224], line[256];
	va_list ap;
	va_start(ap, fmt);
	hw_report_vformat(what, sizeof what, fmt, ap);
	va_end(ap);
	hw_report_format(line, sizeof line, "heapward: hw_heap_create: %s", what);
	if (cfg && cfg->report)
		cfg->report(cfg->report_arg, line);
	else
		default_report(NULL, line);
	errno = EINVAL;
	return NULL;
}

/* ---- create / destroy --------------------------------------------------- */

/* Metadata layout: offsets of each array inside the region. */
typedef struct layout {
	size_t bits, arenas, chunks, tree, prefix, fixed, total;
	size_t huge; /* the chunk array's alignment when it uses huge pages, or 0 */
	size_t counts[HW_MAX_LEVELS];
	unsigned top;
} layout;

/* The part of the metadata whose size does not depend on how far the heap
 * grows (the heap, the commit bitmap, the arena table, the summary tree) is
 * committed whole at create when it is at most this big: one platform call
 * pair instead of one per array at create and at every grow that reaches a
 * new page of the table or the tree. Larger windows commit it as they grow. */
#define EAGER_META_BYTES ((size_t)64 << 10)

static size_t after(size_t off, size_t bytes)
{
	return hw_align_up(off + bytes, 64);
}

/* The chunk records are what a free in a large heap misses on, one line
 * per free at a random place in an array of thousands of small pages, so
 * the TLB misses too. When the platform has huge pages and the array spans
 * at least two, the array starts on a huge page boundary and is advised to
 * use them: the pages grow commits whole then come as huge pages. */
static layout plan(size_t page, size_t huge, size_t nchunks, size_t max_arenas)
{
	layout L;
	size_t tree_bytes = hw_tree_bytes(nchunks, L.counts, &L.top);
	L.huge = huge > page && nchunks * sizeof(hw_chunk) >= 2 * huge ? huge : 0;
	L.bits = hw_align_up(sizeof(hw_heap), 64);
	/* Upper bound on metadata pages, so the bitmap can be sized first. */
	size_t rough = L.bits + max_arenas * sizeof(hw_arena) + nchunks * sizeof(hw_chunk) +
		       tree_bytes + 8 * page + L.huge;
	size_t bitmap = (rough / page / 64 + 1) * sizeof(uint64_t);
	L.prefix = hw_align_up(L.bits + bitmap, page);
	/* Each array starts on its own page, so committing one never drags
	 * in the pages of another. The chunks come last: they are the only
	 * array committed in proportion to growth whatever the window. */
	L.arenas = L.prefix;
	L.tree = hw_align_up(after(L.arenas, max_arenas * sizeof(hw_arena)), page);
	L.fixed = hw_align_up(L.tree + tree_bytes, page);
	L.chunks = hw_align_up(L.fixed, L.huge ? L.huge : page); /* >= 256-aligned */
	L.total = hw_align_up(L.chunks + nchunks * sizeof(hw_chunk), page);
	return L;
}

/* The least grow unit: 512 pages, and the platform's reservation unit. */
static size_t least_arena(const hw_platform *pf, size_t page)
{
	size_t granule = hw_max(hw_max(pf->caps.granularity, pf->caps.page_size), 1);
	return hw_max(page * HW_BITS_PAGES, granule);
}

/* The default grow unit: 64 MiB (512 pages when that is more), but at most
 * a sixteenth of the process's address-space limit (platform.h P12), so
 * that a program under `ulimit -v` still gets memory. */
static size_t default_arena(size_t limit, size_t page, size_t min_arena)
{
	size_t a = hw_max(DEFAULT_ARENA_SIZE, page * HW_BITS_PAGES);
	if (limit / 16 < a)
		a = hw_max(limit / 16 ? hw_pow2_floor(limit / 16) : 0, min_arena);
	return a;
}

size_t hw_heap_default_arena(hw_platform *pf, size_t page)
{
	return default_arena(hw_sys_address_limit(pf), page, least_arena(pf, page));
}

/* The default window: 1 TiB, but under a limit at most 8 times the largest
 * power of two within it: the heap never holds more than the limit, and the
 * slack leaves room for the process's other mappings inside the window.
 * Its metadata, reserved whole at creation, is then small too. */
static size_t default_space(size_t limit, size_t arena)
{
	size_t s = DEFAULT_ADDRESS_SPACE;
	if (limit && limit < s / 8)
		s = hw_pow2_floor(limit) * 8;
	return hw_max(s, arena);
}

hw_heap *hw_heap_create(const hw_heap_config *cfg)
{
	static const hw_heap_config defaults;
	const hw_heap_config *c = cfg ? cfg : &defaults;
	hw_platform *pf = c->platform ? c->platform : hw_platform_os();
	if (!pf) {
		errno = ENOMEM;
		return NULL;
	}
	size_t os_page = pf->caps.page_size;
	size_t page = c->page_size ? c->page_size : DEFAULT_PAGE_SIZE;
	if (!hw_is_pow2(page) || page < MIN_PAGE_SIZE || page > MAX_PAGE_SIZE)
		return config_error(cfg,
				    "page_size %zu is out of range: a power of two from %zu to %zu",
				    page, MIN_PAGE_SIZE, MAX_PAGE_SIZE);
	if (os_page / page > 64)
		return config_error(
			cfg,
			"page_size %zu is too small for this platform: at least %zu (its "
			"%zu-byte page / 64)",
			page, os_page / 64, os_page);
	if (c->fault_on_free && page < os_page)
		return config_error(cfg,
				    "page_size %zu is too small for fault_on_free: at least the "
				    "platform's page, %zu",
				    page, os_page);
	size_t chunk = page * HW_BITS_PAGES;
	size_t max_space = MAX_WINDOW_PAGES * page;
	size_t min_arena = least_arena(pf, page);
	size_t limit = hw_sys_address_limit(pf);
	size_t arena = c->arena_size ? c->arena_size : default_arena(limit, page, min_arena);
	size_t space = c->address_space ? c->address_space : default_space(limit, arena);
	/* A window the caller chose below the default arena is the window's
	 * fault, not the arena's the caller never set. */
	if (!c->arena_size && c->address_space && arena > space)
		return config_error(cfg,
				    "address_space %zu is out of range: a multiple of arena_size "
				    "(default %zu; for a smaller window, set arena_size too, to a "
				    "power of two from %zu)",
				    space, arena, min_arena);
	if (!hw_is_pow2(arena) || arena < min_arena || arena > hw_min(space, max_space))
		return config_error(cfg,
				    "arena_size %zu is out of range: a power of two from %zu (512 "
				    "pages) to address_space, %zu",
				    arena, min_arena, hw_min(space, max_space));
	if (space % arena || space > max_space)
		return config_error(cfg,
				    "address_space %zu is out of range: a multiple of arena_size "
				    "(%zu) up to %zu (2^31 pages)",
				    space, arena, max_space);
	if (c->retain_percent > MAX_RETAIN_PERCENT)
		return config_error(cfg, "retain_percent %u is out of range: 0 (default 10) to %u",
				    c->retain_percent, MAX_RETAIN_PERCENT);
	if (c->scavenger_cpu_percent > 100)
		return config_error(
			cfg, "scavenger_cpu_percent %u is out of range: 0 (default 1) to 100",
			c->scavenger_cpu_percent);

	size_t nchunks = space / chunk, max_arenas = space / arena;
	layout L = plan(os_page, pf->caps.huge_page_size, nchunks, max_arenas);
	hw_sys_counts sys = {{0}, {0}};
	hw_meta meta;
	size_t eager = L.fixed <= EAGER_META_BYTES ? L.fixed : L.prefix;
	if (hw_meta_create(pf, &sys, L.total, L.huge, eager, L.bits, &meta) != 0) {
		errno = ENOMEM;
		return NULL;
	}
	hw_heap *h = (hw_heap *)meta.base;
	hw_mutex_init(&h->lock);
	hw_mutex_init(&h->scav_lock);
	h->pf = pf;
	h->report = c->report ? c->report : default_report;
	h->report_arg = c->report ? c->report_arg : NULL;
	h->page_size = page;
	h->page_shift = hw_log2(page);
	h->unit_pages = os_page > page ? os_page / page : 1;
	size_t huge = pf->caps.huge_page_size;
	/* Huge pages matter to the scavenger only when larger than a unit and
	 * no larger than a chunk (one bitmap holds a whole huge page). */
	h->huge_pages =
		huge > h->unit_pages * page && huge / page <= HW_BITS_PAGES ? huge / page : 0;
	h->chunk_bytes = chunk;
	h->arena_size = arena;
	h->address_space = space;
	h->nchunks = nchunks;
	h->max_arenas = max_arenas;
	h->fault_on_free = c->fault_on_free;
	h->zero_released = pf->caps.released_reads_zero;
	h->retain_percent = c->retain_percent ? c->retain_percent : 10;
	h->cpu_percent = c->scavenger_cpu_percent ? c->scavenger_cpu_percent : 1;
	h->memory_limit = c->memory_limit;
	h->meta = meta;
	h->sys = sys;
	h->arenas = (hw_arena *)(meta.base + L.arenas);
	h->chunks = (hw_chunk *)(meta.base + L.chunks);
	if (L.huge) {
		void *arr;
		size_t bytes;
		hw_heap_chunk_array(h, &arr, &bytes);
		hw_sys_advise_huge(pf, arr, bytes);
	}
	hw_tree_init(&h->tree, (hw_sum *)(meta.base + L.tree), L.counts, L.top);
	/* The root level is searched on every allocation: commit it now (a
	 * no-op when the whole fixed part is). Grow commits the rest of the
	 * tree for the chunks it adds. */
	hw_tree *t = &h->tree;
	if (hw_meta_ensure(pf, &h->sys, &h->meta, t->level[t->top],
			   t->count[t->top] * sizeof(hw_sum)) != 0) {
		hw_meta_destroy(pf, h->meta);
		errno = ENOMEM;
		return NULL;
	}
	int err = hw_registry_add(h);
	if (err != 0) {
		hw_meta_destroy(pf, h->meta);
		errno = err;
		return NULL;
	}
	return h;
}

void hw_heap_destroy(hw_heap *h)
{
	if (!h)
		return;
	hw_registry_remove(h);
	hw_heap_scavenger_stop(h);
	hw_grow_release_all(h);
	hw_mutex_destroy(&h->scav_lock);
	hw_mutex_destroy(&h->lock);
	/* The heap lives inside its metadata: copy what destroy needs. */
	hw_platform *pf = h->pf;
	hw_meta meta = h->meta;
	hw_meta_destroy(pf, meta);
}

size_t hw_heap_page_size(const hw_heap *h)
{
	HW_HEAP_ARG(h, "hw_heap_page_size");
	return h->page_size;
}

size_t hw_heap_unit_pages(const hw_heap *h) { return h->unit_pages; }
size_t hw_heap_huge_pages(const hw_heap *h) { return h->huge_pages; }
hw_platform *hw_heap_platform(hw_heap *h) { return h->pf; }

void hw_heap_chunk_array(const hw_heap *h, void **p, size_t *bytes)
{
	*p = h->chunks;
	*bytes = hw_align_up(h->nchunks * sizeof(hw_chunk), h->meta.page);
}

/* ---- spans ---------------------------------------------------------------- */

hw_chunk *hw_heap_present_chunk(hw_heap *h, uintptr_t a)
{
	if (h->base == 0 || a < h->base || a - h->base >= h->address_space)
		return NULL;
	hw_chunk *c = hw_heap_chunk(h, (a - h->base) >> h->page_shift);
	/* Chunk metadata of never-grown parts of the window is not committed
	 * and must not be read. */
	if (!hw_meta_is_committed(&h->meta, c, sizeof *c))
		return NULL;
	return c->present ? c : NULL;
}

size_t hw_heap_for_spans(hw_heap *h, size_t page, size_t n, hw_span_fn fn, void *arg)
{
	while (n > 0) {
		unsigned i = (unsigned)(page % HW_BITS_PAGES);
		unsigned take = (unsigned)hw_min(n, HW_BITS_PAGES - i);
		size_t r = fn(h, hw_heap_chunk(h, page), i, take, arg);
		if (r)
			return r;
		page += take;
		n -= take;
	}
	return 0;
}

/* ---- alloc ------------------------------------------------------------------ */

/* The free pages a run of npages at align needs to be found in (the
 * alignment's slack included), or SIZE_MAX when the window could never
 * hold them: the one rule of alloc_locked and hw_heap_fits. */
static size_t pages_wanted(const hw_heap *h, size_t npages, size_t align)
{
	size_t align_pages = align > h->page_size ? align >> h->page_shift : 1;
	size_t want = npages + align_pages - 1;
	return want < npages || want > h->nchunks * (size_t)HW_BITS_PAGES ? SIZE_MAX : want;
}

bool hw_heap_fits(hw_heap *h, size_t npages, size_t align)
{
	return pages_wanted(h, npages, align) != SIZE_MAX;
}

static void *alloc_locked(hw_heap *h, size_t npages, size_t align, bool *zeroed)
{
	HW_ASSERT_LOCKED(h);
	size_t want = pages_wanted(h, npages, align);
	if (want == SIZE_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	size_t page = hw_tree_find(h, want), grew = 0;
	uintptr_t grown = 0;
	if (page == SIZE_MAX) {
		size_t mapped0 = h->mapped;
		if (hw_grow_locked(h, want, &grown) != 0) {
			errno = ENOMEM;
			return NULL;
		}
		grew = h->mapped - mapped0;
		page = hw_tree_find(h, want);
		HW_CHECK(page != SIZE_MAX, "grew heap, but no adequate free space found");
	}
	if (want == 1)
		h->low_free = page; /* the lowest free page: nothing below is free */
	uintptr_t addr = hw_align_up(hw_heap_addr(h, page), hw_max(align, h->page_size));
	page = (addr - h->base) >> h->page_shift;

	/* Tracking first, so the claim can mark the zero parts it makes Ready. */
	size_t bytes = npages << h->page_shift;
	hw_track_alloc((void *)addr, bytes, false);
	bool z;
	if (hw_scavenge_claim_locked(h, page, npages, &z) != 0) {
		hw_track_free((void *)addr, bytes);
		if (grown)
			hw_grow_undo_locked(h, grown);
		errno = ENOMEM;
		return NULL;
	}
	hw_bits_set(hw_heap_chunk(h, page)->head, (unsigned)(page % HW_BITS_PAGES), 1);
	if (page == h->low_free)
		h->low_free = page + npages;
	h->inuse += bytes;
	h->counters.allocs++;
	hw_scavenge_after_alloc_locked(h, grew);
	if (zeroed)
		*zeroed = z;
	return (void *)addr;
}

void *hw_heap_alloc_aligned(hw_heap *h, size_t npages, size_t align, bool *zeroed)
{
	HW_HEAP_ARG(h, "hw_heap_alloc_aligned");
	if (npages == 0 || (align && !hw_is_pow2(align))) {
		errno = EINVAL;
		return NULL;
	}
	hw_mutex_lock(&h->lock);
	void *p = alloc_locked(h, npages, align, zeroed);
	hw_mutex_unlock(&h->lock);
	return p;
}

void *hw_heap_alloc(hw_heap *h, size_t npages)
{
	HW_HEAP_ARG(h, "hw_heap_alloc");
	return hw_heap_alloc_aligned(h, npages, 0, NULL);
}

/* ---- free ------------------------------------------------------------------- */

/* Non-zero unless [i, i+n) of c is allocated with no run start inside.
 * Busy pages (alloc and released, I5) are free, never a run's. */
static size_t span_not_run_body(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *first)
{
	(void)h;
	if (!hw_bits_all(c->alloc, i, n) || hw_bits_any(c->released, i, n))
		return 1;
	/* The run's own head (checked by the caller) is the only one. */
	unsigned from = c == (hw_chunk *)first ? i + 1 : i;
	return hw_bits_any(c->head, from, i + n - from) ? 2 : 0;
}

/* Whether c's [i, i + n) holds a guard page or a page released inside its
 * run: memory a leak scan must not read (K2 of track.h). */
static size_t span_any_hole(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)h;
	(void)arg;
	return (c->guards != 0 && hw_bits_any(c->guard, i, n)) ||
	       (c->insides != 0 && hw_bits_any(c->inside, i, n));
}

/* Whether the heap has any page a leak scan must not read. */
static bool has_holes(const hw_heap *h) { return h->guarded || h->released_inside; }

/* Pages of a freed run that are released already, counted by kind. */
struct holes {
	size_t guard, inside;
};

/* Frees a run's guard pages and pages released inside it, in c's
 * [i, i + n): released (Reserved or Prepared) already, they become free
 * released pages with no call. Guard pages keep the guard bit, the heap's
 * mark of a Reserved released page (I15), unless the heap faults freed
 * runs, where every released page is Reserved; inside pages lose theirs
 * (I16: they are Prepared, or Reserved under fault_on_free, as free released
 * pages are). Adds the pages freed to *(struct holes *)arg. */
static size_t span_free_holes(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	struct holes *sum = arg;
	if (c->guards == 0 && c->insides == 0)
		return 0;
	unsigned guards = 0, insides = 0;
	for (unsigned k = i / 64; k <= (i + n - 1) / 64; k++) {
		uint64_t m = hw_bits_word_mask(k, i, n);
		uint64_t g = c->guard[k] & m, in = c->inside[k] & m;
		c->alloc[k] &= ~(g | in);
		c->released[k] |= g | in;
		c->inside[k] &= ~in;
		if (h->fault_on_free)
			c->guard[k] &= ~g;
		guards += (unsigned)__builtin_popcountll(g);
		insides += (unsigned)__builtin_popcountll(in);
	}
	if (h->fault_on_free)
		c->guards -= guards;
	c->insides -= insides;
	sum->guard += guards;
	sum->inside += insides;
	return 0;
}

/* The rest of a freed run becomes free and Ready (guard and inside pages
 * are free already: their alloc bits are clear; *(bool *)arg says the run
 * had some, whose chunk's counts may now be 0). */
static size_t span_free(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)h;
	bool holes = *(const bool *)arg || c->guards;
	c->free_ready += holes ? hw_bits_count(c->alloc, i, n) : n;
	hw_bits_clear(c->alloc, i, n);
	return 0;
}

/* A freed run's pages still allocated (not guard pages) become busy while
 * the fault call runs (I5). */
static size_t span_busy(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)h;
	(void)arg;
	if (c->guards == 0 && c->insides == 0) {
		hw_bits_set(c->released, i, n);
		return 0;
	}
	for (unsigned k = i / 64; k <= (i + n - 1) / 64; k++)
		c->released[k] |= c->alloc[k] & hw_bits_word_mask(k, i, n);
	return 0;
}

/* Settles busy pages: released when the fault worked, else free and Ready. */
static size_t span_settle(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)h;
	hw_bits_clear(c->alloc, i, n);
	if (!*(bool *)arg) {
		hw_bits_clear(c->released, i, n);
		c->free_ready += n;
	}
	return 0;
}

/* Whether page p is busy (I5). */
static bool page_busy(hw_heap *h, size_t p)
{
	hw_chunk *c = hw_heap_chunk(h, p);
	unsigned i = (unsigned)(p % HW_BITS_PAGES);
	return hw_bits_test(c->alloc, i) && hw_bits_test(c->released, i);
}

/* Faults the busy pages of a freed run [page, page + n), one call per
 * stretch between its guard and inside pages (already Reserved), each settled as it
 * returns. The lock may drop during each call; the run's busy pages are
 * this thread's alone meanwhile. */
static void fault_freed_run(hw_heap *h, size_t page, size_t n)
{
	for (size_t p = page, end = page + n; p < end;) {
		if (!page_busy(h, p)) {
			p++;
			continue;
		}
		size_t q = p + 1;
		while (q < end && page_busy(h, q))
			q++;
		size_t bytes = (q - p) << h->page_shift;
		bool released = hw_call_outside_lock(h, HW_CALLOP_FAULT, (void *)hw_heap_addr(h, p),
						     bytes) == 0;
		hw_heap_for_spans(h, p, q - p, span_settle, &released);
		hw_tree_update(h, p, q - p, HW_TREE_CLEARED);
		if (released)
			h->released += bytes;
		else
			h->counters.fault_failures++;
		p = q;
	}
}

/* Whether pages [page, page + n) (n >= 1) lie inside the window and in
 * present chunks, so that their bitmaps may be read. */
static bool range_present(hw_heap *h, size_t page, size_t n)
{
	size_t window = h->nchunks * (size_t)HW_BITS_PAGES;
	if (page >= window || n > window - page)
		return false;
	for (size_t c = page / HW_BITS_PAGES; c <= (page + n - 1) / HW_BITS_PAGES; c++)
		if (!hw_heap_present_chunk(h, hw_heap_addr(h, c * HW_BITS_PAGES)))
			return false;
	return true;
}

/* Why [page, page+n) is not exactly one allocated run, or NULL. */
static const char *free_problem(hw_heap *h, uintptr_t a, size_t n, size_t *page_out)
{
	hw_chunk *first = hw_heap_present_chunk(h, a);
	if (!first)
		return "pointer is not in this heap";
	if (a & (h->page_size - 1))
		return "pointer is not page-aligned";
	size_t page = (a - h->base) >> h->page_shift;
	size_t window = h->nchunks * (size_t)HW_BITS_PAGES;
	if (n == 0 || n > window - page)
		return "bad page count";
	unsigned i = (unsigned)(page % HW_BITS_PAGES);
	if (!hw_bits_test(first->alloc, i) || hw_bits_test(first->released, i))
		return "pages are not allocated (double free?)";
	if (!hw_bits_test(first->head, i))
		return "pointer is inside an allocated run, not at its start";
	/* The run may claim to extend past the heap's arenas. */
	if (!range_present(h, page, n))
		return "page count runs past the end of the allocated run";
	size_t bad = hw_heap_for_spans(h, page, n, span_not_run_body, first);
	if (bad == 1)
		return "page count runs past the end of the allocated run";
	if (bad == 2)
		return "page count covers more than one allocated run";
	hw_chunk *c =
		page + n < window ? hw_heap_present_chunk(h, hw_heap_addr(h, page + n)) : NULL;
	unsigned j = (unsigned)((page + n) % HW_BITS_PAGES);
	if (c && hw_bits_test(c->alloc, j) && !hw_bits_test(c->head, j) &&
	    !hw_bits_test(c->released, j))
		return "page count is shorter than the allocated run";
	*page_out = page;
	return NULL;
}

/* Frees pages [page, page + npages) of a run whose head, if among them,
 * is cleared already: guard pages become free and released, the rest free
 * and Ready, or faulted under fault_on_free (maybe with the lock dropped). */
static void free_pages_locked(hw_heap *h, size_t page, size_t npages)
{
	/* Guard and inside pages are released already: they become free and
	 * released with no call. */
	struct holes freed = {0, 0};
	if (has_holes(h)) {
		hw_heap_for_spans(h, page, npages, span_free_holes, &freed);
		h->guarded -= freed.guard << h->page_shift;
		h->released_inside -= freed.inside << h->page_shift;
		h->released += (freed.guard + freed.inside) << h->page_shift;
	}
	h->low_free = hw_min(h->low_free, page);
	if (h->fault_on_free) {
		/* The rest is busy while its fault calls run, maybe without the
		 * lock (the pages freed above are free meanwhile: the summaries
		 * must say so); a stretch that cannot fault is left free and
		 * Ready. */
		hw_heap_for_spans(h, page, npages, span_busy, NULL);
		if (freed.guard || freed.inside)
			hw_tree_update(h, page, npages, HW_TREE_RESCAN);
		fault_freed_run(h, page, npages);
	} else {
		bool holes = freed.guard || freed.inside;
		hw_heap_for_spans(h, page, npages, span_free, &holes);
		hw_tree_update(h, page, npages, HW_TREE_CLEARED);
	}
}

int hw_heap_free(hw_heap *h, void *p, size_t npages)
{
	HW_HEAP_ARG(h, "hw_heap_free");
	if (p == NULL)
		return 0; /* as free(3): nothing to free, whatever npages says */
	hw_mutex_lock(&h->lock);
	/* In a large heap the run's chunk record and its leaf summary are two
	 * independent cache misses: start the second before the checks wait
	 * on the first. (A prefetch never faults, so a bad pointer is fine.) */
	uintptr_t off = (uintptr_t)p - h->base;
	if (off < h->address_space)
		__builtin_prefetch(&h->tree.level[0][(off >> h->page_shift) / HW_BITS_PAGES], 1);
	size_t page = 0;
	const char *why = free_problem(h, (uintptr_t)p, npages, &page);
	if (why) {
		h->counters.invalid_frees++;
		hw_heap_report(h, "heapward: invalid free of %p (%zu pages): %s", p, npages, why);
		hw_mutex_unlock(&h->lock);
		return EINVAL;
	}
	size_t bytes = npages << h->page_shift;
	/* K2 of track.h: a run with guard or inside pages is no root region
	 * of the leak scan; make it one again so hw_track_free's
	 * unregistering matches. */
	if (HW_TRACK_ASAN && has_holes(h) &&
	    hw_heap_for_spans(h, page, npages, span_any_hole, NULL))
		hw_track_root(p, bytes);
	hw_track_free(p, bytes);
	hw_bits_clear(hw_heap_chunk(h, page)->head, (unsigned)(page % HW_BITS_PAGES), 1);
	h->inuse -= bytes;
	h->counters.frees++;
	free_pages_locked(h, page, npages);
	hw_scavenger_note_free_locked(h);
	hw_mutex_unlock(&h->lock);
	return 0;
}

/* ---- resize ------------------------------------------------------------------- */

/* Non-zero unless every page of c's [i, i + n) is free (busy pages are
 * not: I5). */
static size_t span_not_free(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)h;
	(void)arg;
	return hw_bits_any(c->alloc, i, n);
}

/* Whether the n pages from page exist (in present chunks) and are free. */
static bool pages_free(hw_heap *h, size_t page, size_t n)
{
	return range_present(h, page, n) && hw_heap_for_spans(h, page, n, span_not_free, NULL) == 0;
}

/* K2 of track.h under ASan: a run without guard or inside pages is one
 * root region, (p, its size); after a resize from `was` to `now` pages it
 * must be the new size, or none when such pages remain. */
static void track_resize(hw_heap *h, size_t page, size_t was, size_t now, bool had_guards)
{
	void *p = (void *)hw_heap_addr(h, page);
	hw_track_resize(p, was << h->page_shift, now << h->page_shift);
	if (!HW_TRACK_ASAN)
		return;
	/* The pages a growth adds are claimed free pages: no guard page once
	 * claimed, whatever guard marks they carry before (I15). */
	bool has_guards = has_holes(h) &&
			  hw_heap_for_spans(h, page, hw_min(was, now), span_any_hole, NULL);
	if (!had_guards)
		hw_track_unroot(p, was << h->page_shift);
	if (!has_guards)
		hw_track_root(p, now << h->page_shift);
}

int hw_heap_resize(hw_heap *h, void *p, size_t npages, size_t new_npages)
{
	HW_HEAP_ARG(h, "hw_heap_resize");
	hw_mutex_lock(&h->lock);
	size_t page = 0;
	const char *why = p == NULL         ? "pointer is NULL"
			  : new_npages == 0 ? "new page count is 0"
					    : free_problem(h, (uintptr_t)p, npages, &page);
	/* Guard and inside pages come in whole units (I15, I16), and so must
	 * the released pages a shrink makes of them (I6). */
	size_t end = page + new_npages;
	if (!why && new_npages < npages && end % h->unit_pages != 0) {
		const hw_chunk *c = hw_heap_chunk(h, end);
		unsigned i = (unsigned)(end % HW_BITS_PAGES);
		if (hw_bits_test(c->guard, i))
			why = "the new size splits a guard unit";
		else if (hw_bits_test(c->inside, i))
			why = "the new size splits a unit released inside the run";
	}
	if (why) {
		h->counters.invalid_frees++;
		hw_heap_report(h, "heapward: invalid resize of %p (%zu pages to %zu): %s", p,
			       npages, new_npages, why);
		hw_mutex_unlock(&h->lock);
		return EINVAL;
	}
	int rc = 0;
	bool had_guards = has_holes(h) && hw_heap_for_spans(h, page, npages, span_any_hole, NULL);
	if (new_npages < npages) {
		size_t cut = npages - new_npages;
		h->inuse -= cut << h->page_shift;
		/* Tracking first: the tail may be another thread's run as soon
		 * as a fault call drops the lock. */
		track_resize(h, page, npages, new_npages, had_guards);
		free_pages_locked(h, page + new_npages, cut);
		h->counters.resizes++;
	} else if (new_npages > npages) {
		size_t extra = new_npages - npages, tail = page + npages;
		bool z;
		if (!pages_free(h, tail, extra)) {
			rc = ENOMEM;
		} else {
			/* Tracking first, so the claim can mark the parts it
			 * makes Ready from released pages as zero. */
			track_resize(h, page, npages, new_npages, had_guards);
			if (hw_scavenge_claim_locked(h, tail, extra, &z) != 0) {
				track_resize(h, page, new_npages, npages, had_guards);
				rc = ENOMEM;
			} else {
				if (h->low_free == tail)
					h->low_free = tail + extra;
				h->inuse += extra << h->page_shift;
				h->counters.resizes++;
				hw_scavenge_after_alloc_locked(h, 0);
			}
		}
	}
	hw_mutex_unlock(&h->lock);
	return rc;
}

/* ---- guard pages and pages released inside a run ------------------------------ */

/* The four calls that change pages of a live run in place: each makes
 * whole units of one run holes (memory a touch must not rely on: guard
 * pages, I15; pages released inside the run, I16) or takes them back. */
typedef enum hole_op {
	HOLE_GUARD,
	HOLE_UNGUARD,
	HOLE_RELEASE_INSIDE,
	HOLE_REUSE_INSIDE,
} hole_op;

static bool hole_op_inside(hole_op op) { return op >= HOLE_RELEASE_INSIDE; }
/* Whether op makes holes (else it takes them back). */
static bool hole_op_on(hole_op op) { return op == HOLE_GUARD || op == HOLE_RELEASE_INSIDE; }

struct hole_check {
	const hw_chunk *first; /* the range's first chunk */
	hole_op op;
};

/* Why c's [i, i + n) breaks op's rules, as a code hole_problem names:
 * 0 when every page is allocated (not busy), no run starts after the
 * range's first page, and the pages are holes of op's kind (taking back)
 * or no holes of either kind (making). */
static size_t span_not_holeable(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)h;
	const struct hole_check *g = arg;
	if (!hw_bits_all(c->alloc, i, n) || hw_bits_any(c->released, i, n))
		return 1;
	unsigned from = c == g->first ? i + 1 : i;
	if (from < i + n && hw_bits_any(c->head, from, i + n - from))
		return 2;
	bool any_guard = c->guards && hw_bits_any(c->guard, i, n);
	bool any_inside = c->insides && hw_bits_any(c->inside, i, n);
	switch (g->op) {
	case HOLE_UNGUARD:
		return hw_bits_all(c->guard, i, n) ? 0 : 3;
	case HOLE_REUSE_INSIDE:
		return hw_bits_all(c->inside, i, n) ? 0 : 3;
	default:
		return any_guard ? 4 : any_inside ? 5
						  : 0;
	}
}

/* Why op cannot apply to [a, a + n pages), or NULL. */
static const char *hole_problem(hw_heap *h, uintptr_t a, size_t n, hole_op op, size_t *page_out)
{
	hw_chunk *first = hw_heap_present_chunk(h, a);
	if (!first)
		return "pointer is not in this heap";
	bool inside = hole_op_inside(op);
	size_t unit = h->unit_pages << h->page_shift;
	if (a & (unit - 1))
		return inside ? "pointer is not aligned to the release unit"
			      : "pointer is not aligned to the guard unit";
	size_t page = (a - h->base) >> h->page_shift;
	size_t window = h->nchunks * (size_t)HW_BITS_PAGES;
	if (n == 0 || n % h->unit_pages != 0)
		return inside ? "page count is not a whole number of release units"
			      : "page count is not a whole number of guard units";
	if (n > window - page)
		return "pages run past the end of the heap";
	if (!range_present(h, page, n))
		return "pages run past the end of the allocated run";
	struct hole_check g = {first, op};
	switch (hw_heap_for_spans(h, page, n, span_not_holeable, &g)) {
	case 0:
		break;
	case 1:
		return "pages are not all in an allocated run";
	case 2:
		return "pages cover more than one allocated run";
	case 3:
		return inside ? "pages are not all released inside the run"
			      : "pages are not all guard pages";
	case 4:
		return inside ? "pages include guard pages" : "pages include guard pages already";
	default:
		return inside ? "pages include pages released inside the run already"
			      : "pages include pages released inside the run";
	}
	*page_out = page;
	return NULL;
}

/* The bounds [*start, *end) of the live run holding page (allocated, not
 * busy). O(run): for the leak scan's bookkeeping of ASan builds only. */
static void run_bounds(hw_heap *h, size_t page, size_t *start, size_t *end)
{
	size_t p = page;
	while (!hw_bits_test(hw_heap_chunk(h, p)->head, (unsigned)(p % HW_BITS_PAGES)))
		p--;
	*start = p;
	size_t window = h->nchunks * (size_t)HW_BITS_PAGES, q = page + 1;
	for (hw_chunk *c; q < window && (c = hw_heap_present_chunk(h, hw_heap_addr(h, q))); q++) {
		unsigned i = (unsigned)(q % HW_BITS_PAGES);
		if (!hw_bits_test(c->alloc, i) || hw_bits_test(c->head, i) ||
		    hw_bits_test(c->released, i))
			break;
	}
	*end = q;
}

/* K2 of track.h: a run is a root region of the leak scan exactly while it
 * has no guard page and no page released inside it. Called before holes
 * are made (!root) and after they are taken back (root); changes the
 * registration when the run has none. */
static void track_run_root(hw_heap *h, size_t page, bool root)
{
	size_t start, end;
	run_bounds(h, page, &start, &end);
	if (hw_heap_for_spans(h, start, end - start, span_any_hole, NULL))
		return;
	void *p = (void *)hw_heap_addr(h, start);
	size_t bytes = (end - start) << h->page_shift;
	if (root)
		hw_track_root(p, bytes);
	else
		hw_track_unroot(p, bytes);
}

/* Sets (HOLE_GUARD, HOLE_RELEASE_INSIDE) or clears the bits of op's kind
 * on c's [i, i + n), with the chunk's count. */
static size_t span_set_hole(hw_heap *h, hw_chunk *c, unsigned i, unsigned n, void *arg)
{
	(void)h;
	hole_op op = *(const hole_op *)arg;
	uint64_t *map = hole_op_inside(op) ? c->inside : c->guard;
	uint32_t *count = hole_op_inside(op) ? &c->insides : &c->guards;
	if (hole_op_on(op)) {
		hw_bits_set(map, i, n);
		*count += n;
	} else {
		hw_bits_clear(map, i, n);
		*count -= n;
	}
	return 0;
}

/* Sets or clears op's bits on [page, page + npages) and its byte count. */
static void set_holes(hw_heap *h, size_t page, size_t npages, hole_op op)
{
	hw_heap_for_spans(h, page, npages, span_set_hole, &op);
	size_t *bytes = hole_op_inside(op) ? &h->released_inside : &h->guarded;
	if (hole_op_on(op))
		*bytes += npages << h->page_shift;
	else
		*bytes -= npages << h->page_shift;
}

/* The platform call that makes op's change: a guard page is faulted
 * (Reserved); a page released inside its run is in the state free released
 * pages are in (Prepared, or Reserved under fault_on_free), so that a freed
 * run's inside pages are free released pages with no call (I16). */
static hw_call_op hole_call(const hw_heap *h, hole_op op)
{
	switch (op) {
	case HOLE_GUARD:
		return HW_CALLOP_FAULT;
	case HOLE_UNGUARD:
		/* Guard pages were faulted (P9): one call, not map + use. */
		return HW_CALLOP_UNFAULT;
	case HOLE_RELEASE_INSIDE:
		return hw_scavenge_release_op(h);
	default:
		return h->fault_on_free ? HW_CALLOP_READY_FROM_RESERVED : HW_CALLOP_READY;
	}
}

/* An op the checks refused (why): counted and reported; the lock is
 * dropped. Returns EINVAL. */
static int hole_invalid(hw_heap *h, void *p, size_t npages, hole_op op, const char *why)
{
	static const char *const names[] = {"guard of", "unguard of", "release inside",
					    "reuse inside"};
	if (hole_op_inside(op))
		h->counters.invalid_insides++;
	else
		h->counters.invalid_guards++;
	hw_heap_report(h, "heapward: invalid %s %p (%zu pages): %s", names[op], p, npages, why);
	hw_mutex_unlock(&h->lock);
	return EINVAL;
}

/* Holes taken back by a call that succeeded: [p, p + bytes) from page
 * (op: HOLE_UNGUARD or HOLE_REUSE_INSIDE). */
static void holes_back(hw_heap *h, size_t page, void *p, size_t bytes, hole_op op)
{
	set_holes(h, page, bytes >> h->page_shift, op);
	hw_track_unguard(p, bytes, h->zero_released);
	if (HW_TRACK_ASAN)
		track_run_root(h, page, true);
}

/* Holes made before their call (op: HOLE_GUARD or HOLE_RELEASE_INSIDE),
 * on [page, page + npages); holes_unmade takes them off again when the
 * call did not make them. */
static void holes_made(hw_heap *h, size_t page, size_t npages, hole_op op)
{
	if (HW_TRACK_ASAN)
		track_run_root(h, page, false);
	set_holes(h, page, npages, op);
}

static void holes_unmade(hw_heap *h, size_t page, size_t npages, hole_op op)
{
	set_holes(h, page, npages, (hole_op)(op ^ 1)); /* GUARD <-> UNGUARD, RELEASE <-> REUSE */
	if (HW_TRACK_ASAN)
		track_run_root(h, page, true);
}

/* Making holes: the bits go on before the call, so while the lock is
 * dropped the pages already count as holes (the call runs on the caller's
 * run, which no other thread may free meanwhile: heapward.h); a failed call
 * takes them off again. Taking holes back clears the bits after its call. */
static int change_holes(hw_heap *h, void *p, size_t npages, hole_op op)
{
	bool inside = hole_op_inside(op), on = hole_op_on(op);
	hw_mutex_lock(&h->lock);
	size_t page = 0;
	const char *why = hole_problem(h, (uintptr_t)p, npages, op, &page);
	if (why)
		return hole_invalid(h, p, npages, op, why);
	size_t bytes = npages << h->page_shift;
	int rc;
	if (on) {
		holes_made(h, page, npages, op);
		rc = hw_call_outside_lock(h, hole_call(h, op), p, bytes);
		if (rc != 0)
			holes_unmade(h, page, npages, op);
		else
			/* Only now: a refused call leaves the contents as they
			 * were, defined where they were (K4). */
			hw_track_guard(p, bytes);
	} else {
		rc = hw_call_outside_lock(h, hole_call(h, op), p, bytes);
		if (rc == 0)
			holes_back(h, page, p, bytes, op);
	}
	if (rc != 0) {
		if (inside)
			h->counters.inside_failures++;
		else
			h->counters.guard_failures++;
	}
	hw_mutex_unlock(&h->lock);
	return rc;
}

int hw_heap_guard(hw_heap *h, void *p, size_t npages)
{
	HW_HEAP_ARG(h, "hw_heap_guard");
	return change_holes(h, p, npages, HOLE_GUARD);
}

int hw_heap_unguard(hw_heap *h, void *p, size_t npages)
{
	HW_HEAP_ARG(h, "hw_heap_unguard");
	return change_holes(h, p, npages, HOLE_UNGUARD);
}

/* hole_problem for a byte range of a batch (op: HOLE_GUARD or
 * HOLE_UNGUARD), whose length must be whole pages first. */
static const char *range_problem(hw_heap *h, const hw_range *r, hole_op op, size_t *page)
{
	if (r->n & (((size_t)1 << h->page_shift) - 1))
		return "page count is not a whole number of guard units";
	return hole_problem(h, (uintptr_t)r->p, r->n >> h->page_shift, op, page);
}

/* Guard holes taken off ranges [from, to) of r again (made before a call
 * that did not do them, or before a range that broke the rules). */
static void guards_undone(hw_heap *h, const hw_range *r, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		holes_unmade(h, ((uintptr_t)r[i].p - h->base) >> h->page_shift,
			     r[i].n >> h->page_shift, HOLE_GUARD);
}

int hw_heap_guard_many(hw_heap *h, const hw_range *r, size_t k, size_t *done)
{
	*done = 0;
	hw_mutex_lock(&h->lock);
	/* Checked and made holes one range at a time, as change_holes makes
	 * them: a range that overlaps an earlier one finds guard pages
	 * already. */
	for (size_t i = 0; i < k; i++) {
		size_t page;
		const char *why = range_problem(h, &r[i], HOLE_GUARD, &page);
		if (why) {
			guards_undone(h, r, 0, i);
			return hole_invalid(h, r[i].p, r[i].n >> h->page_shift, HOLE_GUARD, why);
		}
		holes_made(h, page, r[i].n >> h->page_shift, HOLE_GUARD);
	}
	int rc = hw_call_fault_many(h, r, k, done);
	for (size_t i = 0; i < *done; i++)
		hw_track_guard(r[i].p, r[i].n); /* K4, as change_holes */
	guards_undone(h, r, *done, k);
	if (rc != 0)
		h->counters.guard_failures++;
	hw_mutex_unlock(&h->lock);
	return rc;
}

int hw_heap_unguard_many(hw_heap *h, const hw_range *r, size_t k, size_t *done)
{
	*done = 0;
	hw_mutex_lock(&h->lock);
	for (size_t i = 0; i < k; i++) {
		size_t page;
		const char *why = range_problem(h, &r[i], HOLE_UNGUARD, &page);
		if (why)
			return hole_invalid(h, r[i].p, r[i].n >> h->page_shift, HOLE_UNGUARD, why);
	}
	int rc = hw_call_unfault_many(h, r, k, done);
	for (size_t i = 0; i < *done; i++)
		holes_back(h, ((uintptr_t)r[i].p - h->base) >> h->page_shift, r[i].p, r[i].n,
			   HOLE_UNGUARD);
	if (rc != 0)
		h->counters.guard_failures++;
	hw_mutex_unlock(&h->lock);
	return rc;
}

int hw_heap_release_inside(hw_heap *h, void *p, size_t npages)
{
	HW_HEAP_ARG(h, "hw_heap_release_inside");
	return change_holes(h, p, npages, HOLE_RELEASE_INSIDE);
}

int hw_heap_reuse_inside(hw_heap *h, void *p, size_t npages)
{
	HW_HEAP_ARG(h, "hw_heap_reuse_inside");
	return change_holes(h, p, npages, HOLE_REUSE_INSIDE);
}

/* ---- stats, validation, inspection ------------------------------------------ */

void hw_heap_stats_get(hw_heap *h, hw_heap_stats *out)
{
	HW_HEAP_ARG(h, "hw_heap_stats_get");
	HW_CHECK(out != NULL, "hw_heap_stats_get: out is NULL");
	hw_mutex_lock(&h->lock);
	*out = h->counters;
	out->mapped = h->mapped;
	out->inuse = h->inuse;
	out->idle = h->mapped - h->inuse;
	out->released = h->released;
	out->guarded = h->guarded;
	out->released_inside = h->released_inside;
	out->ready = hw_scavenge_ready(h);
	out->meta_ready = h->meta.ready_pages * h->meta.page;
	out->memory_limit = h->memory_limit;
	out->arenas = h->narenas;
	/* The heap makes every kind of call up to unfault; the kinds after it
	 * (seal, unseal) are its users' own. */
	_Static_assert((int)HW_CALL_UNFAULT == (int)HW_SYS_UNFAULT &&
			       (int)HW_CALL_KINDS == (int)HW_SYS_UNFAULT + 1,
		       "call kinds match the platform's");
	memcpy(out->platform_calls, h->sys.calls, sizeof out->platform_calls);
	memcpy(out->platform_failures, h->sys.failures, sizeof out->platform_failures);
	hw_mutex_unlock(&h->lock);
}

int hw_heap_validate(hw_heap *h, char *msg, size_t len)
{
	HW_HEAP_ARG(h, "hw_heap_validate");
	hw_mutex_lock(&h->lock);
	int r = hw_validate_locked(h, msg, len);
	hw_mutex_unlock(&h->lock);
	return r;
}

hw_page_kind hw_heap_page_kind(hw_heap *h, const void *p, bool *run_head)
{
	uintptr_t a = (uintptr_t)p;
	hw_page_kind k = HW_PAGE_UNMAPPED;
	bool head = false;
	hw_mutex_lock(&h->lock);
	hw_chunk *c = hw_heap_present_chunk(h, a);
	if (c) {
		unsigned i = (unsigned)(((a - h->base) >> h->page_shift) % HW_BITS_PAGES);
		head = hw_bits_test(c->head, i);
		/* A busy page (I5) is free, being released. */
		k = hw_bits_test(c->released, i) ? HW_PAGE_FREE_RELEASED
		    : !hw_bits_test(c->alloc, i) ? HW_PAGE_FREE_READY
		    : hw_bits_test(c->guard, i)  ? HW_PAGE_GUARD
		    : hw_bits_test(c->inside, i) ? HW_PAGE_INSIDE
						 : HW_PAGE_INUSE;
	}
	hw_mutex_unlock(&h->lock);
	if (run_head)
		*run_head = head;
	return k;
}

_Static_assert(HW_CHUNK_PAGES == HW_BITS_PAGES, "inspect.h's chunk is the bitmaps' chunk");

/* hw_heap_page_bits is checking code, called for every page a check
 * covers: under a coverage-guided fuzzer its edges would describe page
 * counts, not the heap, and only add noise features and cost time (as the
 * validator, built without coverage). */
#if defined(__clang__)
#define PAGE_BITS_UNCOVERED __attribute__((no_sanitize("coverage")))
#else
#define PAGE_BITS_UNCOVERED
#endif

/* Bits [i, i + 64) of bitmap w; bits past its end read as 0. */
PAGE_BITS_UNCOVERED static uint64_t bits64_at(const uint64_t *w, unsigned i)
{
	unsigned k = i / 64, s = i % 64;
	uint64_t v = w[k] >> s;
	if (s != 0 && k + 1 < HW_BITS_WORDS)
		v |= w[k + 1] << (64 - s);
	return v;
}

/* ORs the n bits of src from bit i into dst from bit at. */
PAGE_BITS_UNCOVERED static void bits_copy(uint64_t *dst, size_t at, const uint64_t *src, unsigned i,
					  unsigned n)
{
	for (unsigned t = 0; t < n; t += 64) {
		uint64_t v = bits64_at(src, i + t);
		if (n - t < 64)
			v &= (1ull << (n - t)) - 1;
		size_t k = (at + t) / 64, s = (at + t) % 64;
		dst[k] |= v << s;
		if (s != 0 && n - t > 64 - s)
			dst[k + 1] |= v >> (64 - s);
	}
}

PAGE_BITS_UNCOVERED int hw_heap_page_bits(hw_heap *h, const void *p, size_t npages,
					  const hw_page_bits *out)
{
	if (npages == 0 || npages > HW_BITS_PAGES)
		return -1;
	uint64_t *const dst[5] = {out->alloc, out->head, out->released, out->guard, out->inside};
	size_t words = (npages + 63) / 64;
	uint64_t last = npages % 64 ? (1ull << (npages % 64)) - 1 : ~0ull;
	uintptr_t a = (uintptr_t)p;
	int r = 0;
	hw_mutex_lock(&h->lock);
	hw_chunk *c = hw_heap_present_chunk(h, a);
	size_t page = c ? (a - h->base) >> h->page_shift : 0;
	unsigned i = (unsigned)(page % HW_BITS_PAGES);
	if (c != NULL && i % 64 == 0 && i + npages <= HW_BITS_PAGES) {
		/* Whole words of one chunk (what the harness asks for). */
		const uint64_t *src[5] = {c->alloc, c->head, c->released, c->guard, c->inside};
		for (size_t k = 0; k < words; k++) {
			uint64_t m = k + 1 < words ? ~0ull : last;
			for (unsigned v = 0; v < 5; v++)
				dst[v][k] = src[v][i / 64 + k] & m;
		}
	} else {
		for (unsigned v = 0; v < 5; v++)
			memset(dst[v], 0, words * sizeof *dst[v]);
		for (size_t done = 0; done < npages;) {
			if (done > 0)
				c = hw_heap_present_chunk(h, hw_heap_addr(h, page));
			if (c == NULL) {
				r = -1;
				break;
			}
			const uint64_t *src[5] = {c->alloc, c->head, c->released, c->guard,
						  c->inside};
			i = (unsigned)(page % HW_BITS_PAGES);
			unsigned n = (unsigned)hw_min(npages - done, HW_BITS_PAGES - i);
			for (unsigned v = 0; v < 5; v++)
				bits_copy(dst[v], done, src[v], i, n);
			done += n;
			page += n;
		}
	}
	hw_mutex_unlock(&h->lock);
	return r;
}

size_t hw_heap_arena_count(hw_heap *h)
{
	hw_mutex_lock(&h->lock);
	size_t n = h->narenas;
	hw_mutex_unlock(&h->lock);
	return n;
}

void hw_heap_arena_get(hw_heap *h, size_t i, void **base, size_t *size)
{
	hw_mutex_lock(&h->lock);
	HW_CHECK(i < h->narenas, "hw_heap_arena_get: index out of range");
	*base = (void *)h->arenas[i].base;
	*size = h->arenas[i].size;
	hw_mutex_unlock(&h->lock);
}

void hw_heap_window(hw_heap *h, uintptr_t *base, size_t *size)
{
	hw_mutex_lock(&h->lock);
	*base = h->base;
	*size = h->address_space;
	hw_mutex_unlock(&h->lock);
}

int hw_heap_grow(hw_heap *h, size_t npages)
{
	if (npages == 0)
		return EINVAL;
	hw_mutex_lock(&h->lock);
	int r = hw_grow_locked(h, npages, NULL);
	hw_mutex_unlock(&h->lock);
	return r;
}

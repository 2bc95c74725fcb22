/* driver.c: the differential driver (driver.h).
 *
 * Owns: one run's heap, platform and model, the expected values of every
 * stats counter, the ring of recently freed runs (stale pointers), and the
 * checks made after each op. Policy decisions live in model.c; byte decoding
 * lives in ops.c; this file only sequences calls and compares.
 *
 * Invariants (D1-D3 of driver.h, plus):
 *   D4. Before each op the heap and the model agree on every page, stat and
 *       counter; the op's handler predicts with the model, calls the heap,
 *       and reconciles only where the documented policy leaves a choice to
 *       the platform (an injected failure, a full backing).
 *   D5. A heap call may fail with ENOMEM only when the platform refused a
 *       call during it (platform failures grew: injection or a full
 *       simulator) or the request cannot fit the heap's address window.
 *   D6. Live objects carry stamps (a word at the start of their pages,
 *       all of them up to STAMPS pages, STAMPS spread pages beyond, and the
 *       run's last word), checked at free and at verify ops; a zeroed run
 *       reads zero over its first 256 bytes and at those places before it
 *       is stamped.
 *   D7. Apart from the model, every scavenge releases no more than it asked
 *       for rounded up to one unit (docs/scavenging.md).
 *
 * Locking: none; one run at a time (driver.h).
 */
#include "driver.h"

#include "base.h"
#include "heap_internal.h"
#include "inspect.h"
#include "model.h"
#include "ops.h"
#include "platform.h"
#include "sim.h"
#include "trap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if HW_TRACK_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define RING 16
/* A deep check has two parts of very different cost: comparing every page
 * with the model (the heap's bitmaps a word at a time, the simulator's
 * states a run at a time: a few ns per page) and hw_heap_validate (the
 * heap's own walk, page by page: tens of ns per page in a fuzzing build).
 * Both run at VALIDATE ops and at the end of every input. With the header's
 * deep-check bit the comparison runs after every op that calls into the
 * heap, and the validator after every HEADER_VALIDATE_EVERY-th (the
 * difftest's deep_every runs both after every op). After an op in which the
 * platform refused a call the comparison runs, and the validator too after
 * the first such op of the input; otherwise (an input that keeps failing to
 * grow a full heap would walk it after every op) it waits to be paid for.
 * Each op earns DEEP_CREDIT pages of deep checking, and a whole deep check
 * runs when the credit covers the heap's pages, so their cost stays a fixed
 * share of the run. */
#define DEEP_CREDIT 16
#define HEADER_VALIDATE_EVERY 8
/* Page comparisons one fuzz input may spend on deep checks (D3: well under
 * a second even with sanitizers); forced deep checks beyond it are skipped.
 * The difftest (hw_driver_options.deep_every) has no such cap. */
#define DEEP_BUDGET ((size_t)1 << 19)
/* Pages stamped per run at most (D6). */
#define STAMPS 16
/* Bounds (D3): one allocation or grow at most 4 MiB, the heap at most
 * 256 MiB (the simulator's placement scans its backing page by page). */
#define MAX_ALLOC_BYTES ((size_t)4 << 20)
#define MAX_HEAP_BYTES ((size_t)256 << 20)
#define META_SLACK ((size_t)4 << 20)
/* The largest arena a header can ask for: 2048 pages of 64 KiB. */
#define MAX_ARENA_BYTES ((size_t)2048 << 16)
/* The shared simulator's capacity: room for the largest backing setup()
 * can ask for, so every run resets the same instance (D1). */
#define SIM_CAPACITY (MAX_HEAP_BYTES + MAX_ARENA_BYTES + META_SLACK)

typedef struct expect {
	uint64_t allocs, frees, invalid_frees, scavenge_calls, scavenged;
	uint64_t bg, limit, grow, limit_exceeded, fault_failures, grows;
} expect;

typedef struct freed_run {
	uintptr_t addr;
	size_t npages;
} freed_run;

typedef struct driver {
	const hw_driver_options *opt;
	hw_ops_config cfg;
	bool sim, trace, failed;
	hw_platform *pf;
	hw_heap *h;
	hw_model m;
	size_t P, address_space, max_alloc_pages;
	size_t cap; /* bytes of arenas the run may reach (D3) */
	size_t limit;
	unsigned retain;
	expect want;
	hw_heap_stats st; /* as of the last check */
	uint64_t reports;
	freed_run ring[RING];
	unsigned ring_next;
	uint64_t salt;
	size_t op_index;
	const char *op_name;
	uint64_t failures_before;
	unsigned deep_every, since_deep;
	unsigned validate_every, since_validate;
	size_t credit, deep_left;
	bool refusal_validated; /* the first refused op's deep check ran */
	bool deep_now, sim_checked;
	bool called_heap; /* the current op may have changed the heap */
} driver;

/* ---- failure reporting (D2) ------------------------------------------------ */

static void default_fail(const char *what)
{
	(void)what;
	abort();
}

static hw_driver_fail_fn fail_hook = default_fail;

void hw_driver_set_fail_hook(hw_driver_fail_fn fn) { fail_hook = fn ? fn : default_fail; }

static void fail(driver *d, const char *fmt, ...) HW_PRINTF(2, 3);
static void fail(driver *d, const char *fmt, ...)
{
	if (d->failed)
		return;
	d->failed = true;
	char what[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	const hw_ops_config *c = &d->cfg;
	fflush(stdout);
	fprintf(stderr, "==%d==ERROR: heapward-difftest: %s\n", (int)getpid(), what);
	fprintf(stderr,
		"    at op #%zu (%s); %s platform, page %zu, os page %zu, huge %zu, arena %zu "
		"pages, "
		"%zu arenas, fault_on_free %d, ignore_hints %d, zero %d, use_call %d, limit %zu, "
		"retain %u\n",
		d->op_index, d->op_name, d->sim ? "sim" : "os", c->page_size, c->os_page_size,
		c->huge_page_size, c->arena_pages, c->max_arenas, c->fault_on_free, c->ignore_hints,
		c->released_reads_zero, c->use_needs_call, c->memory_limit, c->retain_percent);
	if (!d->trace)
		fprintf(stderr, "    replay with HW_FUZZ_TRACE=1 to print the ops as C calls\n");
	fprintf(stderr, "SUMMARY: heapward-difftest: %s\n", what);
	fflush(stderr);
	fail_hook(what);
}

static void tr(driver *d, const char *fmt, ...) HW_PRINTF(2, 3);
static void tr(driver *d, const char *fmt, ...)
{
	if (!d->trace)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(d->opt->trace_to ? d->opt->trace_to : stderr, fmt, ap);
	va_end(ap);
}

static void on_report(void *arg, const char *line)
{
	driver *d = arg;
	d->reports++;
	tr(d, "\t/* report: %s */\n", line);
}

/* ---- small helpers ------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t platform_failures(const driver *d)
{
	uint64_t n = 0;
	for (int k = 0; k < HW_SYS_NKINDS; k++)
		n += d->pf->failures[k];
	return n;
}

/* D5: did the platform refuse anything during this op so far? */
static bool refused(const driver *d) { return platform_failures(d) != d->failures_before; }

static void stats(driver *d, hw_heap_stats *st) { hw_heap_stats_get(d->h, st); }

static uint64_t stamp_value(const hw_model_obj *o, size_t j)
{
	return mix64(o->salt + j) | 1;
}

/* ---- contents (D6) ------------------------------------------------------------- */

/* Stamps: one word at the start of a heap page (the heap moves and
 * releases whole pages), on every page of runs up to STAMPS pages and on
 * STAMPS evenly spread pages (and the last) of longer ones, so a run costs
 * a bounded number of page faults; plus the run's last word, which catches
 * a run cut short. Pages without a stamp are still compared page by page
 * (state) and, on the simulator, trap if the heap releases them in use. */
static bool stamped(size_t j, size_t n)
{
	return n <= STAMPS || j % ((n + STAMPS - 1) / STAMPS) == 0 || j == n - 1;
}

static uint64_t *tail_word(const driver *d, const hw_model_obj *o)
{
	return (uint64_t *)(o->addr + o->npages * d->P - 8);
}

/* Writes the stamps. On a zeroed run each is an exchange, so the word it
 * replaces is checked to be zero too, with one write fault per page where a
 * read before the write would take two (the zero page, then a copy). */
static bool stamp(driver *d, const hw_model_obj *o)
{
	for (size_t j = 0; j <= o->npages; j++) {
		if (j < o->npages && !stamped(j, o->npages))
			continue;
		uint64_t *w = j < o->npages ? (uint64_t *)(o->addr + j * d->P) : tail_word(d, o);
		uint64_t v = j < o->npages ? stamp_value(o, j) : ~stamp_value(o, 0);
		if (!o->zeroed) {
			/* Its old contents are junk (Memcheck: undefined). */
			*(volatile uint64_t *)w = v;
			continue;
		}
		uint64_t old = __atomic_exchange_n(w, v, __ATOMIC_RELAXED);
		if (old != 0) {
			fail(d,
			     "p%u (%p, %zu pages) was handed out as zeroed but reads %#llx at %p",
			     (unsigned)o->id, (void *)o->addr, o->npages, (unsigned long long)old,
			     (const void *)w);
			return false;
		}
	}
	return true;
}

static bool check_stamps(driver *d, const hw_model_obj *o, const char *when)
{
	for (size_t j = 0; j <= o->npages; j++) {
		if (j < o->npages && !stamped(j, o->npages))
			continue;
		const volatile uint64_t *w = j < o->npages ? (uint64_t *)(o->addr + j * d->P)
							   : tail_word(d, o);
		uint64_t want = j < o->npages ? stamp_value(o, j) : ~stamp_value(o, 0);
		if (*w != want) {
			fail(d, "contents of p%u (%p, %zu pages) changed %s at %p: read %#llx, "
				"wrote %#llx",
			     (unsigned)o->id, (void *)o->addr, o->npages, when, (const void *)w,
			     (unsigned long long)*w, (unsigned long long)want);
			return false;
		}
	}
	return true;
}

/* A zeroed run reads zero over its first 256 bytes, and (stamp) at the
 * stamp places, where any earlier object left a non-zero stamp. The first
 * word is a stamp place. */
static bool check_zero(driver *d, const hw_model_obj *o)
{
	const volatile uint64_t *first = (const uint64_t *)o->addr;
	for (size_t i = 1; i < 32; i++) {
		if (first[i] != 0) {
			fail(d,
			     "p%u (%p, %zu pages) was handed out as zeroed but reads %#llx at %p",
			     (unsigned)o->id, (void *)o->addr, o->npages,
			     (unsigned long long)first[i], (const void *)&first[i]);
			return false;
		}
	}
	return true;
}

/* ---- arenas ----------------------------------------------------------------------- */

/* Teaches the model the heap's arenas. Only ops that may grow pass `may`;
 * elsewhere any difference is a failure. Returns the number of new arenas. */
static size_t sync_arenas(driver *d, bool may)
{
	size_t n = hw_heap_arena_count(d->h), added = 0;
	if (n < d->m.narenas) {
		fail(d, "the heap reports %zu arenas, fewer than the %zu it had", n, d->m.narenas);
		return 0;
	}
	for (size_t i = 0; i < n && !d->failed; i++) {
		void *base;
		size_t size;
		hw_heap_arena_get(d->h, i, &base, &size);
		size_t idx = hw_model_index(&d->m, (uintptr_t)base);
		if (idx != SIZE_MAX) {
			/* Known: must be exactly a model arena. */
			bool same = false;
			for (size_t k = 0; k < d->m.narenas; k++)
				same |= d->m.arena[k].base == (uintptr_t)base &&
					d->m.arena[k].npages * d->P == size;
			if (!same)
				fail(d, "arena %zu (%p, %zu bytes) changed shape", i, base, size);
			continue;
		}
		if (!may) {
			fail(d, "a new arena (%p, %zu bytes) appeared during %s", base, size,
			     d->op_name);
			return 0;
		}
		if ((uintptr_t)base % (d->cfg.arena_pages * d->P) != 0 ||
		    size % (d->cfg.arena_pages * d->P) != 0)
			fail(d, "new arena (%p, %zu bytes) is not arena-aligned", base, size);
		if (hw_model_add_arena(&d->m, (uintptr_t)base, size) != 0)
			fail(d, "new arena (%p, %zu bytes) overlaps a known one", base, size);
		tr(d, "\t/* new arena %p, %zu bytes */\n", base, size);
		added++;
	}
	if (!d->failed && n != d->m.narenas)
		fail(d, "the heap lists %zu arenas, the model knows %zu", n, d->m.narenas);
	return added;
}

/* ---- per-page comparison ---------------------------------------------------------- */

static const char *kind_name(hw_page_kind k)
{
	static const char *const names[] = {"unmapped", "free-ready", "free-released", "in-use"};
	return (unsigned)k < 4 ? names[k] : "?";
}

static hw_page_kind expected_kind(const hw_model *m, size_t i, bool *head)
{
	uint32_t s = m->page[i];
	*head = false;
	if (s == HW_MP_READY)
		return HW_PAGE_FREE_READY;
	if (s == HW_MP_RELEASED)
		return HW_PAGE_FREE_RELEASED;
	*head = i == 0 || m->page[i - 1] != s;
	return HW_PAGE_INUSE;
}

static void compare_page(driver *d, size_t i, bool platform)
{
	uintptr_t a = hw_model_addr(&d->m, i);
	bool head, want_head;
	hw_page_kind k = hw_heap_page_kind(d->h, (void *)a, &head);
	hw_page_kind want = expected_kind(&d->m, i, &want_head);
	if (k != want || head != want_head) {
		fail(d, "page %p is %s%s in the heap, %s%s in the model", (void *)a, kind_name(k),
		     head ? " (run head)" : "", kind_name(want), want_head ? " (run head)" : "");
		return;
	}
	if (!d->sim || !platform)
		return;
	hw_mem_state ps = hw_sim_state(d->pf, (void *)a);
	hw_mem_state pw = want != HW_PAGE_FREE_RELEASED ? HW_MEM_READY
			  : d->cfg.fault_on_free        ? HW_MEM_RESERVED
							: HW_MEM_PREPARED;
	if (ps != pw)
		fail(d, "page %p (%s) is in platform state %d, expected %d", (void *)a,
		     kind_name(want), (int)ps, (int)pw);
}

static void compare_unmapped(driver *d, uintptr_t a)
{
	if (hw_model_index(&d->m, a) != SIZE_MAX)
		return;
	hw_page_kind k = hw_heap_page_kind(d->h, (void *)a, NULL);
	if (k != HW_PAGE_UNMAPPED)
		fail(d, "page %p outside every arena is %s in the heap", (void *)a, kind_name(k));
}

/* Comparisons read the heap's bitmaps themselves, 64 pages per word, where
 * the inspection view (compare_page) would cost a lock and a lookup per
 * page: a deep check covers every page, and one op may change thousands.
 * The bitmaps say the same as the view (in use, run head, released), and a
 * little more: an allocated page must not be released either (I5). A
 * difference is reported through compare_page where the view sees it too,
 * so the message names the page the same way. */

/* Pages [j0, j1) of the chunk at arena page `off` (a multiple of the chunk)
 * of model arena ar. */
static void compare_chunk_bits(driver *d, const hw_model_arena *ar, size_t off, size_t j0,
			       size_t j1)
{
	const uint32_t *page = d->m.page;
	size_t i0 = ar->first + off;
	const hw_chunk *c = hw_heap_present_chunk(d->h, ar->base + off * d->P);
	if (c == NULL) {
		compare_page(d, i0 + j0, false);
		if (!d->failed)
			fail(d, "page %p is in an arena but in no chunk of the heap",
			     (void *)hw_model_addr(&d->m, i0 + j0));
		return;
	}
	uint64_t alloc[HW_BITS_WORDS] = {0}, head[HW_BITS_WORDS] = {0};
	uint64_t rel[HW_BITS_WORDS] = {0}, mask[HW_BITS_WORDS] = {0};
	/* A run head is an in-use page whose predecessor is not the same
	 * object (expected_kind); READY never equals an object. */
	uint32_t prev = i0 + j0 == 0 ? HW_MP_READY : page[i0 + j0 - 1];
	for (size_t j = j0; j < j1; j++) {
		uint32_t st = page[i0 + j];
		uint64_t bit = 1ull << (j % 64);
		mask[j / 64] |= bit;
		if (st >= HW_MP_USED) {
			alloc[j / 64] |= bit;
			if (st != prev)
				head[j / 64] |= bit;
		} else if (st == HW_MP_RELEASED) {
			rel[j / 64] |= bit;
		}
		prev = st;
	}
	for (size_t w = j0 / 64; w <= (j1 - 1) / 64; w++) {
		uint64_t diff = ((alloc[w] ^ c->alloc[w]) | (head[w] ^ c->head[w]) |
				 (rel[w] ^ c->released[w])) &
				mask[w];
		if (diff == 0)
			continue;
		unsigned b = (unsigned)__builtin_ctzll(diff);
		size_t i = i0 + w * 64 + b;
		compare_page(d, i, false);
		if (!d->failed)
			fail(d,
			     "page %p: the heap's bitmaps say alloc %d, head %d, released %d; "
			     "the model %d, %d, %d",
			     (void *)hw_model_addr(&d->m, i), (int)(c->alloc[w] >> b & 1),
			     (int)(c->head[w] >> b & 1), (int)(c->released[w] >> b & 1),
			     (int)(alloc[w] >> b & 1), (int)(head[w] >> b & 1),
			     (int)(rel[w] >> b & 1));
		return;
	}
}

/* Model pages [lo, hi) against the heap's bitmaps. */
static void compare_bits(driver *d, size_t lo, size_t hi)
{
	for (size_t k = 0; k < d->m.narenas && !d->failed; k++) {
		const hw_model_arena *ar = &d->m.arena[k];
		size_t from = hw_max(lo, ar->first), to = hw_min(hi, ar->first + ar->npages);
		while (from < to && !d->failed) {
			size_t off = (from - ar->first) / HW_CHUNK_PAGES * HW_CHUNK_PAGES;
			size_t end = hw_min(to, ar->first + off + HW_CHUNK_PAGES);
			compare_chunk_bits(d, ar, off, from - ar->first - off,
					   end - ar->first - off);
			from = end;
		}
	}
}

/* The platform state every page of the model must be in on the simulator. */
static hw_mem_state expected_platform(const driver *d, uint32_t st)
{
	if (st != HW_MP_RELEASED)
		return HW_MEM_READY;
	return d->cfg.fault_on_free ? HW_MEM_RESERVED : HW_MEM_PREPARED;
}

/* Every simulated page under the model's pages, a run of equal expected
 * states at a time (every OS page of a heap page, not only its first). */
static void compare_platform(driver *d)
{
	const hw_model *m = &d->m;
	for (size_t k = 0; k < m->narenas && !d->failed; k++) {
		const hw_model_arena *ar = &m->arena[k];
		size_t end = ar->first + ar->npages;
		for (size_t i = ar->first; i < end && !d->failed;) {
			hw_mem_state want = expected_platform(d, m->page[i]);
			size_t j = i + 1;
			while (j < end && expected_platform(d, m->page[j]) == want)
				j++;
			uintptr_t a = ar->base + (i - ar->first) * d->P;
			const char *bad = hw_sim_find_other(d->pf, (void *)a, (j - i) * d->P, want);
			if (bad != NULL) {
				bool head;
				size_t at = i + (size_t)((uintptr_t)bad - a) / d->P;
				fail(d, "page %p (%s) is in platform state %d, expected %d",
				     (const void *)bad, kind_name(expected_kind(m, at, &head)),
				     (int)hw_sim_state(d->pf, bad), (int)want);
			}
			i = j;
		}
	}
}

static void compare_all(driver *d)
{
	compare_bits(d, 0, d->m.npages);
	if (d->sim && !d->failed)
		compare_platform(d);
	for (size_t k = 0; k < d->m.narenas && !d->failed; k++) {
		const hw_model_arena *ar = &d->m.arena[k];
		compare_unmapped(d, ar->base - d->P);
		compare_unmapped(d, ar->base + ar->npages * d->P);
	}
	/* On Linux, released runs must hold no memory. */
	for (size_t i = 0; i < d->m.npages && !d->sim && !d->failed;) {
		if (d->m.page[i] != HW_MP_RELEASED) {
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < d->m.npages && d->m.page[j] == HW_MP_RELEASED &&
		       hw_model_addr(&d->m, j) == hw_model_addr(&d->m, j - 1) + d->P)
			j++;
		size_t res =
			hw_platform_resident_bytes((void *)hw_model_addr(&d->m, i), (j - i) * d->P);
		if (res != 0)
			fail(d, "%zu bytes resident in released pages %p..+%zu", res,
			     (void *)hw_model_addr(&d->m, i), (j - i) * d->P);
		i = j;
	}
}

/* ---- stats ------------------------------------------------------------------------- */

#define EXPECT_EQ(field, want)                                                            \
	do {                                                                              \
		unsigned long long got_ = (unsigned long long)(st->field);                \
		unsigned long long want_ = (unsigned long long)(want);                    \
		if (got_ != want_) {                                                      \
			fail(d, "stats." #field " is %llu, the model expects %llu", got_, \
			     want_);                                                      \
			return;                                                           \
		}                                                                         \
	} while (0)

static void compare_stats(driver *d, const hw_heap_stats *st)
{
	const hw_model *m = &d->m;
	EXPECT_EQ(mapped, hw_model_mapped_bytes(m));
	EXPECT_EQ(inuse, hw_model_inuse_bytes(m));
	EXPECT_EQ(idle, hw_model_mapped_bytes(m) - hw_model_inuse_bytes(m));
	EXPECT_EQ(released, hw_model_released_bytes(m));
	EXPECT_EQ(ready, hw_model_ready_bytes(m));
	EXPECT_EQ(memory_limit, d->limit);
	EXPECT_EQ(arenas, m->narenas);
	EXPECT_EQ(grows, d->want.grows);
	EXPECT_EQ(allocs, d->want.allocs);
	EXPECT_EQ(frees, d->want.frees);
	EXPECT_EQ(invalid_frees, d->want.invalid_frees);
	EXPECT_EQ(scavenge_calls, d->want.scavenge_calls);
	EXPECT_EQ(scavenged_bytes, d->want.scavenged);
	EXPECT_EQ(bg_scavenged_bytes, d->want.bg);
	EXPECT_EQ(limit_scavenged_bytes, d->want.limit);
	EXPECT_EQ(grow_scavenged_bytes, d->want.grow);
	EXPECT_EQ(limit_exceeded, d->want.limit_exceeded);
	EXPECT_EQ(fault_failures, d->want.fault_failures);
	if (st->released > st->idle)
		fail(d, "stats: released %zu > idle %zu", st->released, st->idle);
	for (int k = 0; k < HW_SYS_NKINDS && !d->failed; k++) {
		if (st->platform_calls[k] != d->pf->calls[k] ||
		    st->platform_failures[k] != d->pf->failures[k])
			fail(d,
			     "stats: %s calls %llu/%llu failures, the platform counted %llu/%llu",
			     hw_sys_kind_name((hw_sys_kind)k),
			     (unsigned long long)st->platform_calls[k],
			     (unsigned long long)st->platform_failures[k],
			     (unsigned long long)d->pf->calls[k],
			     (unsigned long long)d->pf->failures[k]);
	}
	if (d->sim && !d->failed && hw_sim_ready_bytes(d->pf) != st->ready + st->meta_ready)
		fail(d, "simulator has %zu Ready bytes, the heap accounts %zu + %zu metadata",
		     hw_sim_ready_bytes(d->pf), st->ready, st->meta_ready);
}

static void validate(driver *d)
{
	char msg[256];
	int bad = hw_heap_validate(d->h, msg, sizeof msg);
	if (bad != 0)
		fail(d, "hw_heap_validate: invariant I%d: %s", bad, msg);
}

/* Every page against the model and the platform, then (with_validate) the
 * heap's own validator; skipped (with a trace line) once the input's budget
 * is spent. */
static void deep_check(driver *d, bool with_validate)
{
	size_t cost = (with_validate ? 2 : 1) * d->m.npages + 1;
	d->since_deep = 0;
	if (with_validate) {
		d->credit = 0;
		d->since_validate = 0;
	}
	if (cost > d->deep_left) {
		tr(d, "\t/* deep check skipped: the input's budget is spent */\n");
		return;
	}
	if (d->deep_left != SIZE_MAX)
		d->deep_left -= cost;
	compare_all(d);
	if (!d->failed && with_validate)
		validate(d);
}

/* Everything after an op (D4): stats and counters always, the pages the op
 * changed always, the deep check when forced or paid for. */
static void check_after_op(driver *d)
{
	hw_heap_stats st;
	sync_arenas(d, false);
	stats(d, &st);
	if (!d->failed)
		compare_stats(d, &st);
	d->st = st;
	if (d->failed)
		return;
	/* deep_every counts ops that called into the heap: after any other op
	 * (nop, inject, touch, stats, verify) heap and model are as the last
	 * check left them, and a deep check would repeat it. */
	d->since_deep += d->called_heap;
	d->since_validate += d->called_heap;
	d->credit += DEEP_CREDIT;
	bool pages = d->deep_every && d->since_deep >= d->deep_every;
	bool whole = d->deep_now || d->credit >= d->m.npages ||
		     (d->validate_every && d->since_validate >= d->validate_every);
	if (refused(d)) {
		pages = true;
		if (!d->refusal_validated) {
			d->refusal_validated = true;
			whole = true;
		}
	}
	if (whole || pages) {
		deep_check(d, whole);
		return;
	}
	if (d->m.dirty_lo < d->m.dirty_hi)
		compare_bits(d, d->m.dirty_lo, d->m.dirty_hi);
}

/* ---- scavenging --------------------------------------------------------------------- */

static bool heap_page_released(void *ctx, uintptr_t a)
{
	driver *d = ctx;
	return hw_heap_page_kind(d->h, (void *)a, NULL) == HW_PAGE_FREE_RELEASED;
}

/* Reconciles the model's last scavenge with the heap after the call: when a
 * platform call was refused, the heap may have stopped early (fault_on_free
 * releases by fault, which can fail), and the released set must be a prefix
 * of the plan. Returns the bytes the model now says were released. */
static size_t settle(driver *d, size_t planned)
{
	if (!refused(d))
		return planned;
	size_t got = hw_model_scavenge_settle(&d->m, heap_page_released, d);
	if (got == SIZE_MAX) {
		fail(d, "after a refused platform call the heap's released pages are not a "
			"prefix of the scavenge order");
		return planned;
	}
	return got;
}

/* A scavenge asked for `asked` bytes never releases more than that rounded
 * up to one unit (docs/scavenging.md), whatever the model says. */
static void check_bound(driver *d, const char *what, size_t asked, size_t r)
{
	size_t unit = d->m.u * d->P;
	size_t bound = asked > SIZE_MAX - unit ? SIZE_MAX : (asked + unit - 1) / unit * unit;
	if (r > bound)
		fail(d, "%s asked for %zu bytes and released %zu, more than a unit (%zu) over",
		     what, asked, r, unit);
}

static size_t model_limit_goal(const driver *d)
{
	size_t ready = hw_model_ready_bytes(&d->m);
	return d->limit && ready > d->limit ? ready - d->limit : 0;
}

/* The retained goal: inuse * (100 + retain_percent) / 100 bytes. */
static uint64_t model_retain_goal(const driver *d)
{
	uint64_t inuse = hw_model_inuse_bytes(&d->m);
	return inuse + inuse * d->retain / 100;
}

/* The scavenge after a successful allocation that grew the model by `grown`
 * bytes (docs/scavenging.md, When): one scavenge of the larger of the
 * growth amount, min(Ready - retained goal, grown), and the limit amount,
 * counted to the limit when its amount is at least the growth one. */
static void after_alloc(driver *d, size_t grown)
{
	uint64_t ready = hw_model_ready_bytes(&d->m), goal = model_retain_goal(d);
	size_t for_grow = grown > 0 && ready > goal ? (size_t)hw_min(ready - goal, grown) : 0;
	size_t for_limit = model_limit_goal(d);
	size_t want = for_limit > for_grow ? for_limit : for_grow;
	if (want > 0) {
		size_t r = settle(d, hw_model_scavenge(&d->m, want));
		check_bound(d, "the scavenge after an allocation", want, r);
		if (for_limit > 0 && for_limit >= for_grow)
			d->want.limit += r;
		else
			d->want.grow += r;
		d->want.scavenged += r;
	}
	if (model_limit_goal(d))
		d->want.limit_exceeded++;
}

/* ---- op handlers ----------------------------------------------------------------------- */

static void ring_push(driver *d, uintptr_t addr, size_t npages)
{
	d->ring[d->ring_next % RING] = (freed_run){addr, npages};
	d->ring_next++;
}

/* On Linux nothing but the driver bounds the heap (D3): a request that
 * would grow it past the cap is skipped. The simulator's backing bounds it
 * by itself (a full backing is a refusal, D5). */
static bool over_cap(driver *d, size_t want_pages)
{
	if (d->sim)
		return false;
	size_t arena = d->cfg.arena_pages * d->P;
	size_t ask = (want_pages * d->P + arena - 1) / arena * arena;
	if (hw_model_mapped_bytes(&d->m) + ask <= d->cap)
		return false;
	tr(d, "\t/* skipped: growing by %zu bytes would pass the cap of %zu */\n", ask, d->cap);
	return true;
}

static void do_alloc(driver *d, const hw_op *op, bool aligned)
{
	size_t n = hw_ops_alloc_pages(op);
	if (n > d->max_alloc_pages)
		n = d->max_alloc_pages;
	size_t align = aligned ? hw_ops_align(op) : 0;
	size_t eff = align > d->P ? align : d->P;
	size_t fit = hw_model_fit(&d->m, n, eff);
	if (fit == SIZE_MAX && over_cap(d, n + eff / d->P - 1))
		return;
	uint64_t grows0 = d->st.grows;
	size_t mapped0 = hw_model_mapped_bytes(&d->m);
	bool z = false;
	errno = 0;
	void *p = aligned ? hw_heap_alloc_aligned(d->h, n, align, &z) : hw_heap_alloc(d->h, n);
	int err = errno;
	if (aligned)
		tr(d, "\tvoid *p%u = hw_heap_alloc_aligned(h, %zu, %zu, &z); /* -> %p, z=%d */\n",
		   (unsigned)d->m.next_id, n, align, p, (int)z);
	else
		tr(d, "\tvoid *p%u = hw_heap_alloc(h, %zu); /* -> %p */\n", (unsigned)d->m.next_id,
		   n, p);
	hw_heap_stats st;
	stats(d, &st);
	if (st.grows != grows0) {
		if (fit != SIZE_MAX) {
			fail(d,
			     "alloc(%zu, align %zu) grew the heap although the model fits it at %p",
			     n, eff, (void *)hw_model_addr(&d->m, fit));
			return;
		}
		d->want.grows += sync_arenas(d, true);
	}
	if (d->failed)
		return;
	if (p == NULL) {
		size_t ap = eff / d->P;
		bool too_big = n + ap - 1 > d->address_space / d->P;
		if (err != ENOMEM)
			fail(d, "alloc(%zu, align %zu) returned NULL with errno %d, not ENOMEM", n,
			     eff, err);
		else if (!refused(d) && !too_big)
			fail(d, "alloc(%zu, align %zu) failed with ENOMEM but the platform refused "
				"nothing%s",
			     n, eff, fit != SIZE_MAX ? " and the model has a fit" : "");
		d->m.next_id++; /* keep trace names unique */
		return;
	}
	if (fit == SIZE_MAX)
		fit = hw_model_fit(&d->m, n, eff);
	if (fit == SIZE_MAX) {
		fail(d, "alloc(%zu, align %zu) returned %p but the model has no fit even in the "
			"new arenas",
		     n, eff, p);
		return;
	}
	uintptr_t want = hw_model_addr(&d->m, fit);
	if ((uintptr_t)p != want) {
		fail(d, "alloc(%zu, align %zu) returned %p, the model's lowest fit is %p", n, eff,
		     p, (void *)want);
		return;
	}
	if ((uintptr_t)p % eff != 0) {
		fail(d, "alloc returned %p, not aligned to %zu", p, eff);
		return;
	}
	hw_model_obj *o = hw_model_alloc(&d->m, fit, n);
	if (o == NULL) {
		fail(d, "harness out of memory");
		return;
	}
	o->salt = mix64(++d->salt);
	/* On the simulator, see that the run is Ready before touching it: a
	 * heap that hands out Prepared pages is reported, not a SEGV. */
	for (size_t j = 0; d->sim && j < n; j++) {
		if (!stamped(j, n))
			continue;
		hw_mem_state ps = hw_sim_state(d->pf, (char *)p + j * d->P);
		if (ps != HW_MEM_READY) {
			fail(d, "alloc(%zu) returned %p but its page %zu is in platform state %d, "
				"not Ready",
			     n, p, j, (int)ps);
			return;
		}
	}
	if (aligned && z != o->zeroed) {
		fail(d, "alloc_aligned(%zu) at %p reported zeroed=%d, the model says %d", n, p,
		     (int)z, (int)o->zeroed);
		return;
	}
	if (!stamp(d, o) || (o->zeroed && !check_zero(d, o)))
		return;
	d->want.allocs++;
	after_alloc(d, hw_model_mapped_bytes(&d->m) - mapped0);
}

static void free_obj(driver *d, size_t k)
{
	hw_model_obj o = d->m.live[k];
	if (!check_stamps(d, &o, "before its free"))
		return;
	uint64_t pf0 = platform_failures(d);
	int rc = hw_heap_free(d->h, (void *)o.addr, o.npages);
	tr(d, "\thw_heap_free(h, p%u, %zu); /* -> %d */\n", (unsigned)o.id, o.npages, rc);
	if (rc != 0) {
		fail(d, "free of live p%u (%p, %zu pages) returned %d", (unsigned)o.id,
		     (void *)o.addr, o.npages, rc);
		return;
	}
	bool released = d->cfg.fault_on_free;
	if (released && platform_failures(d) != pf0) {
		/* The fault was refused: the run stays Ready and is counted. */
		hw_heap_stats st;
		stats(d, &st);
		if (st.fault_failures == d->want.fault_failures + 1) {
			released = false;
			d->want.fault_failures++;
		}
	}
	hw_model_free(&d->m, k, released);
	d->want.frees++;
	ring_push(d, o.addr, o.npages);
}

static void do_free(driver *d, const hw_op *op)
{
	if (d->m.nlive == 0) {
		tr(d, "\t/* free: nothing live */\n");
		return;
	}
	free_obj(d, op->b % d->m.nlive);
}

/* Freeing NULL is not an invalid free: like free(3) it does nothing, with
 * no report and no counter moved, whatever the page count. */
static void free_null(driver *d, size_t n)
{
	uint64_t reports0 = d->reports;
	errno = 0;
	int rc = hw_heap_free(d->h, NULL, n);
	tr(d, "\thw_heap_free(h, NULL, %zu); /* -> %d */\n", n, rc);
	if (rc != 0)
		fail(d, "free(NULL, %zu pages) returned %d, not 0", n, rc);
	else if (d->reports != reports0)
		fail(d, "free(NULL, %zu pages) made a report", n);
}

/* Frees (p, n), which the model says is not exactly one live run unless it
 * was handed out again exactly (then it is a valid free, checked as one):
 * the heap must refuse it with EINVAL and one report, and change nothing. */
static void free_wrong(driver *d, uintptr_t p, size_t n)
{
	long k = hw_model_find_live(&d->m, p, n);
	if (k >= 0) {
		/* A "double free" of a run that was handed out again exactly:
		 * valid, and checked as a free. */
		free_obj(d, (size_t)k);
		return;
	}
	uint64_t reports0 = d->reports;
	errno = 0;
	int rc = hw_heap_free(d->h, (void *)p, n);
	tr(d, "\thw_heap_free(h, (void *)%#llx, %zu); /* invalid -> %d */\n", (unsigned long long)p,
	   n, rc);
	if (rc != EINVAL) {
		fail(d, "invalid free (%p, %zu pages) returned %d, not EINVAL", (void *)p, n, rc);
		return;
	}
	if (d->reports != reports0 + 1)
		fail(d, "invalid free (%p, %zu pages) made %llu report lines, not 1", (void *)p, n,
		     (unsigned long long)(d->reports - reports0));
	d->want.invalid_frees++;
	/* Look closely at the pages it named: they must be untouched. */
	size_t idx = hw_model_index(&d->m, hw_align_down(p, d->P));
	if (idx != SIZE_MAX) {
		size_t hi = idx + (n < 8192 ? n : 8192) + 1;
		for (size_t i = idx; i < hi && i < d->m.npages && !d->failed; i++)
			compare_page(d, i, false);
	}
}

static void do_invalid_free(driver *d, const hw_op *op)
{
	unsigned kind = op->a & 7;
	const hw_model_obj *o = d->m.nlive ? &d->m.live[op->c % d->m.nlive] : NULL;
	uintptr_t p = 0;
	size_t n = 1;
	int local;
	switch (kind) {
	case HW_BADFREE_WRONG_SIZE:
		if (!o)
			goto skip;
		p = o->addr;
		n = (op->b & 0x8000) && o->npages > 1 ? 1 + (op->b & 0x7fff) % (o->npages - 1)
						      : o->npages + 1 + ((op->b >> 8) & 7);
		break;
	case HW_BADFREE_INTERIOR:
		if (!o || o->npages < 2)
			goto skip;
		{
			size_t off = 1 + op->b % (o->npages - 1);
			p = o->addr + off * d->P;
			n = (op->b & 0x8000) ? o->npages : o->npages - off;
		}
		break;
	case HW_BADFREE_DOUBLE: {
		const freed_run *r = &d->ring[op->b & (RING - 1)];
		if (r->npages == 0)
			goto skip;
		p = r->addr;
		n = r->npages;
		break;
	}
	case HW_BADFREE_OUTSIDE:
		switch (op->b & 3) {
		case 0:
			p = hw_align_down((uintptr_t)&local, d->P);
			break;
		case 1:
			p = d->m.narenas ? d->m.arena[0].base - d->P : (uintptr_t)d->P;
			break;
		case 2:
			p = d->m.narenas ? d->m.arena[d->m.narenas - 1].base +
						   d->m.arena[d->m.narenas - 1].npages * d->P
					 : hw_align_down((uintptr_t)d, d->P);
			break;
		default:
			p = hw_align_down(UINTPTR_MAX, d->P);
			break;
		}
		n = 1 + ((op->b >> 2) & 3);
		break;
	case HW_BADFREE_UNALIGNED:
		if (!o)
			goto skip;
		p = o->addr + 1 + (op->b & 0xff);
		n = o->npages;
		break;
	case HW_BADFREE_ZERO:
		if (!o)
			goto skip;
		p = o->addr;
		n = 0;
		break;
	case HW_BADFREE_NULL:
		free_null(d, 1 + (op->b & 0xfff));
		return;
	default: /* HW_BADFREE_PAST_END */
		if (!o)
			goto skip;
		p = o->addr;
		n = o->npages + 1 + (op->b & 0xfff);
		break;
	}
	free_wrong(d, p, n);
	return;
skip:
	tr(d, "\t/* invalid free kind %u: no candidate */\n", kind);
}

static void do_scavenge(driver *d, size_t nbytes)
{
	size_t planned = hw_model_scavenge(&d->m, nbytes);
	size_t r = hw_heap_scavenge(d->h, nbytes);
	if (nbytes == SIZE_MAX)
		tr(d, "\thw_heap_scavenge(h, SIZE_MAX); /* -> %zu */\n", r);
	else
		tr(d, "\thw_heap_scavenge(h, %zu); /* -> %zu */\n", nbytes, r);
	planned = settle(d, planned);
	check_bound(d, "scavenge", nbytes, r);
	if (!d->failed && r != planned)
		fail(d, "scavenge(%zu) released %zu bytes, the model %zu", nbytes, r, planned);
	d->want.scavenge_calls++;
	d->want.scavenged += r;
}

static void do_set_limit(driver *d, const hw_op *op)
{
	size_t limit = hw_ops_limit_bytes(op->b);
	d->limit = limit;
	size_t planned = 0, over = model_limit_goal(d);
	if (over)
		planned = hw_model_scavenge(&d->m, over);
	size_t r = hw_heap_set_memory_limit(d->h, limit);
	tr(d, "\thw_heap_set_memory_limit(h, %zu); /* -> %zu */\n", limit, r);
	if (over)
		planned = settle(d, planned);
	if (r != planned)
		fail(d, "set_memory_limit(%zu) released %zu bytes, the model %zu", limit, r,
		     planned);
	d->want.limit += r;
	d->want.scavenged += r;
}

static void do_bg_step(driver *d, const hw_op *op)
{
	unsigned times = 1 + (op->a & 3);
	for (unsigned t = 0; t < times && !d->failed; t++) {
		d->failures_before = platform_failures(d);
		uint64_t goal = model_retain_goal(d);
		/* The step's target is the memory limit when set and lower. */
		if (d->limit && d->limit < goal)
			goal = d->limit;
		uint64_t ready = hw_model_ready_bytes(&d->m);
		size_t planned = 0, asked = 0;
		if (ready > goal) {
			uint64_t want = ready - goal;
			asked = want < HW_SCAVENGE_QUANTUM ? (size_t)want : HW_SCAVENGE_QUANTUM;
			planned = hw_model_scavenge(&d->m, asked);
		}
		size_t r = hw_heap_scavenger_step(d->h);
		tr(d, "\thw_heap_scavenger_step(h); /* -> %zu */\n", r);
		if (ready > goal)
			planned = settle(d, planned);
		check_bound(d, "scavenger step", asked, r);
		if (!d->failed && r != planned)
			fail(d,
			     "scavenger step released %zu bytes, the model %zu (ready %llu, goal "
			     "%llu)",
			     r, planned, (unsigned long long)ready, (unsigned long long)goal);
		d->want.bg += r;
		d->want.scavenged += r;
	}
}

static void do_grow(driver *d, const hw_op *op)
{
	size_t n = hw_ops_grow_pages(op);
	if (n > d->max_alloc_pages)
		n = d->max_alloc_pages;
	size_t before = d->m.npages;
	if (over_cap(d, n))
		return;
	int rc = hw_heap_grow(d->h, n);
	tr(d, "\thw_heap_grow(h, %zu); /* -> %d */\n", n, rc);
	if (rc == 0) {
		size_t added = sync_arenas(d, true);
		if (!d->failed && (added == 0 || d->m.npages - before < n))
			fail(d, "grow(%zu) added %zu arenas with %zu pages", n, added,
			     d->m.npages - before);
		d->want.grows += added;
	} else if (rc != ENOMEM) {
		fail(d, "grow(%zu) returned %d", n, rc);
	} else {
		sync_arenas(d, false);
		if (!refused(d) && n <= d->address_space / d->P)
			fail(d, "grow(%zu) failed with ENOMEM but the platform refused nothing", n);
	}
}

static void do_touch(driver *d, const hw_op *op)
{
	const freed_run *r = &d->ring[op->a & (RING - 1)];
	if (r->npages == 0) {
		tr(d, "\t/* touch: no freed run in slot %u */\n", op->a & (RING - 1));
		return;
	}
	uintptr_t a = r->addr + (op->b % r->npages) * d->P;
	size_t idx = hw_model_index(&d->m, a);
	if (idx == SIZE_MAX) {
		fail(d, "freed page %p left the heap", (void *)a);
		return;
	}
	uint32_t s = d->m.page[idx];
#if HW_TRACK_ASAN
	/* K1 of src/track.h: every byte outside a live run is poisoned; a
	 * probe of a poisoned byte would be an ASan report, not a trap. */
	bool poisoned = __asan_address_is_poisoned((void *)a) != 0;
	if (poisoned != (s < HW_MP_USED)) {
		fail(d, "page %p is %s under ASan but %s in the model", (void *)a,
		     poisoned ? "poisoned" : "unpoisoned", s < HW_MP_USED ? "free" : "in use");
		return;
	}
	if (poisoned) {
		tr(d, "\t/* touch %p: poisoned, as expected */\n", (void *)a);
		return;
	}
#endif
	bool expect_trap;
	hw_trap_kind want_kind = HW_TRAP_ACCERR;
	if (d->sim) {
		expect_trap = s == HW_MP_RELEASED;
		/* The sim falls back to guard markers when out of VMAs. */
	} else if (s == HW_MP_RELEASED) {
		if (!d->cfg.fault_on_free) {
			/* Prepared on Linux: readable, and a read would map the
			 * zero page; nothing to check. */
			tr(d, "\t/* touch %p: released, not faulted */\n", (void *)a);
			return;
		}
		expect_trap = true;
		want_kind = d->pf->caps.guard == HW_GUARD_MADVISE ? HW_TRAP_MAPERR : HW_TRAP_ACCERR;
	} else {
		expect_trap = false;
	}
	hw_trap_kind k = hw_trap_probe((volatile void *)a, false);
	tr(d, "\thw_trap_probe((void *)%#llx, false); /* -> %s */\n", (unsigned long long)a,
	   hw_trap_kind_name(k));
	if ((k != HW_TRAP_NONE) != expect_trap)
		fail(d, "stale access to %p (%s in the model) %s", (void *)a,
		     s == HW_MP_RELEASED ? "released" : s == HW_MP_READY ? "free-ready"
									 : "in use",
		     k != HW_TRAP_NONE ? "trapped" : "did not trap");
	else if (expect_trap && !d->sim && k != want_kind)
		fail(d, "stale access to %p trapped as %s, expected %s", (void *)a,
		     hw_trap_kind_name(k), hw_trap_kind_name(want_kind));
}

static void do_verify(driver *d)
{
	for (size_t k = 0; k < d->m.nlive && !d->failed; k++)
		check_stamps(d, &d->m.live[k], "at a verify");
}

static void do_validate(driver *d)
{
	char msg[256];
	tr(d, "\thw_heap_validate(h, msg, sizeof msg); /* with every page compared */\n");
	d->deep_now = true;
	if (hw_model_check(&d->m, msg, sizeof msg) != 0) {
		fail(d, "%s", msg);
		return;
	}
	/* The simulator's own consistency, once per input: its real mapping
	 * where its calls changed it (the heap makes no system calls of its
	 * own, so nothing else can have). */
	if (d->sim && !d->sim_checked && hw_sim_check_since(d->pf, msg, sizeof msg) != 0)
		fail(d, "hw_sim_check_since: %s", msg);
	d->sim_checked = true;
}

static void do_stats(driver *d)
{
	/* The arena list must add up to mapped, and be sorted and disjoint. */
	hw_heap_stats st;
	stats(d, &st);
	size_t n = hw_heap_arena_count(d->h), sum = 0;
	uintptr_t prev_end = 0;
	for (size_t i = 0; i < n; i++) {
		void *b;
		size_t sz;
		hw_heap_arena_get(d->h, i, &b, &sz);
		if ((uintptr_t)b < prev_end)
			fail(d, "arena %zu at %p overlaps or precedes its predecessor", i, b);
		prev_end = (uintptr_t)b + sz;
		sum += sz;
	}
	if (sum != st.mapped)
		fail(d, "arenas add up to %zu bytes, stats.mapped is %zu", sum, st.mapped);
	if (st.meta_ready == 0 && d->sim)
		fail(d, "stats.meta_ready is 0 although the heap lives in its metadata");
}

/* Whether an op calls an entry point that may change the heap. */
/* The next allocated run after model pages [i, end): its first page and
 * length, or false when free pages run to the end of the address-contiguous
 * arenas (or of the model) first. */
static bool next_run(const driver *d, size_t end, size_t *first, size_t *len)
{
	const hw_model *m = &d->m;
	size_t j = end;
	while (j < m->npages && m->page[j] < HW_MP_USED &&
	       hw_model_addr(m, j) == hw_model_addr(m, end) + (j - end) * d->P)
		j++;
	if (j >= m->npages || m->page[j] < HW_MP_USED ||
	    hw_model_addr(m, j) != hw_model_addr(m, end) + (j - end) * d->P)
		return false;
	size_t k = j;
	while (k < m->npages && m->page[k] == m->page[j])
		k++;
	*first = j;
	*len = k - j;
	return true;
}

/* A wrong-size free aimed at the run after an object (ops.h AIMED_FREE):
 * the counts a random op stream almost never makes, such as one that covers
 * exactly an object and the run that starts right after it at a chunk
 * boundary. */
static void do_aimed_free(driver *d, const hw_op *op)
{
	const hw_model *m = &d->m;
	uintptr_t p;
	size_t npages;
	if (op->a & 2) {
		const freed_run *r = &d->ring[op->c & (RING - 1)];
		if (r->npages == 0)
			goto skip;
		p = r->addr;
		npages = r->npages;
	} else {
		if (m->nlive == 0)
			goto skip;
		size_t k0 = op->c % m->nlive, pick = k0;
		size_t chunk = (size_t)HW_CHUNK_PAGES * d->P;
		for (size_t t = 0; (op->a & 1) && t < m->nlive; t++) {
			const hw_model_obj *o = &m->live[(k0 + t) % m->nlive];
			size_t f, l, i = hw_model_index(m, o->addr);
			if ((o->addr + o->npages * d->P) % chunk == 0 &&
			    next_run(d, i + o->npages, &f, &l) && f == i + o->npages) {
				pick = (k0 + t) % m->nlive;
				break;
			}
		}
		p = m->live[pick].addr;
		npages = m->live[pick].npages;
	}
	size_t i = hw_model_index(m, p);
	if (i == SIZE_MAX)
		goto skip;
	size_t first = 0, len = 0, extra = 1 + ((op->b >> 2) & 7), n;
	bool next = next_run(d, i + npages, &first, &len);
	switch (op->b & 3) {
	case 0:
		n = next ? first + len - i : npages + extra;
		break;
	case 1:
		n = next ? first - i + (extra < len ? extra : len - 1 + (len == 1))
			 : npages + extra;
		break;
	case 2:
		n = npages + extra;
		break;
	default:
		n = next ? first - i : npages + extra;
		break;
	}
	free_wrong(d, p, n);
	return;
skip:
	tr(d, "\t/* aimed free: no candidate */\n");
}

/* One handler per row of the op table (ops.h HW_HEAP_OPS), named op_NAME. */
static void op_NOP(driver *d, const hw_op *op)
{
	(void)d;
	(void)op;
}
static void op_ALLOC(driver *d, const hw_op *op) { do_alloc(d, op, false); }
static void op_ALLOC_ALIGNED(driver *d, const hw_op *op) { do_alloc(d, op, true); }
static void op_FREE(driver *d, const hw_op *op) { do_free(d, op); }
static void op_SCAVENGE(driver *d, const hw_op *op) { do_scavenge(d, op->c); }
static void op_SCAVENGE_ALL(driver *d, const hw_op *op)
{
	(void)op;
	do_scavenge(d, SIZE_MAX);
}
static void op_GROW(driver *d, const hw_op *op) { do_grow(d, op); }
static void op_SET_LIMIT(driver *d, const hw_op *op) { do_set_limit(d, op); }
static void op_BG_STEP(driver *d, const hw_op *op) { do_bg_step(d, op); }
static void op_INJECT(driver *d, const hw_op *op)
{
	uint64_t nth = hw_ops_inject_nth(op);
	unsigned mask = hw_ops_inject_mask(op);
	hw_platform_inject(d->pf, nth, mask);
	tr(d, "\thw_platform_inject(pf, %llu, %#x);\n", (unsigned long long)nth, mask);
}
static void op_TOUCH_STALE(driver *d, const hw_op *op) { do_touch(d, op); }
static void op_INVALID_FREE(driver *d, const hw_op *op) { do_invalid_free(d, op); }
static void op_VALIDATE(driver *d, const hw_op *op)
{
	(void)op;
	do_validate(d);
}
static void op_STATS(driver *d, const hw_op *op)
{
	(void)op;
	do_stats(d);
}
static void op_VERIFY(driver *d, const hw_op *op)
{
	(void)op;
	do_verify(d);
}
static void op_FREE_ALL(driver *d, const hw_op *op)
{
	(void)op;
	while (d->m.nlive > 0 && !d->failed)
		free_obj(d, 0);
}
static void op_AIMED_FREE(driver *d, const hw_op *op) { do_aimed_free(d, op); }

typedef struct op_row {
	void (*handler)(driver *d, const hw_op *op);
	bool changes_heap;
} op_row;

static const op_row op_table[HW_OP_HEAP_COUNT_] = {
#define HW_OPS_ROW_(name, code, str, changes, weight) [code] = {op_##name, changes},
	HW_HEAP_OPS(HW_OPS_ROW_)
#undef HW_OPS_ROW_
};

static void run_op(driver *d, const hw_op *op)
{
	/* O2: unassigned opcodes do nothing. */
	const op_row *row = op->code < HW_OP_HEAP_COUNT_ ? &op_table[op->code] : NULL;
	d->called_heap = row && row->changes_heap;
	if (row && row->handler)
		row->handler(d, op);
}

/* ---- setup and teardown ------------------------------------------------------------ */

/* The simulator every run of the process shares (D1). */
static hw_platform *shared_sim;

void hw_driver_drop_platform(void)
{
	hw_platform_destroy(shared_sim);
	shared_sim = NULL;
}

/* The shared simulator, reset to sc (S6 of sim.h), or a new one when there is
 * none yet or sc does not fit it; NULL with errno when creation fails. */
static hw_platform *sim_for_run(const hw_sim_config *sc)
{
	if (shared_sim != NULL && hw_sim_reset(shared_sim, sc) == 0)
		return shared_sim;
	hw_driver_drop_platform();
	hw_sim_config big = *sc;
	big.capacity_bytes = hw_max(SIM_CAPACITY, sc->backing_bytes);
	shared_sim = hw_platform_sim_create(&big);
	return shared_sim;
}

static bool setup(driver *d)
{
	hw_ops_config *c = &d->cfg;
	d->P = c->page_size;
	size_t arena = c->arena_pages * d->P;
	if (c->max_arenas * arena > MAX_HEAP_BYTES)
		c->max_arenas = MAX_HEAP_BYTES / arena ? MAX_HEAP_BYTES / arena : 1;
	size_t cap = c->max_arenas * arena;
	d->max_alloc_pages = MAX_ALLOC_BYTES / d->P;
	d->retain = c->retain_percent ? c->retain_percent : 10;
	d->limit = c->memory_limit;
	d->deep_every = c->deep_every_op ? 1 : d->opt->deep_every;
	d->validate_every = d->opt->deep_every ? d->opt->deep_every
			    : c->deep_every_op ? HEADER_VALIDATE_EVERY
					       : 0;
	d->deep_left = d->opt->deep_every ? SIZE_MAX : DEEP_BUDGET;
	/* The simulated backing holds the arenas, one more arena of alignment
	 * slack and the metadata; the window is more than twice the backing,
	 * so every reservation the simulator can make lies inside it and a
	 * grow fails only when the simulator is full (D5). */
	size_t backing = cap + arena + META_SLACK;
	d->cap = cap;
	d->address_space = hw_align_up(2 * backing, arena) + 2 * arena;
	/* Linux places reservations where it likes (often below the last
	 * one); a wide window keeps them inside, and the driver itself keeps
	 * the heap under the cap (over_cap). */
	if (!d->sim)
		d->address_space = hw_align_up(64 * backing, arena);
	if (d->sim) {
		hw_sim_config sc = {
			.backing_bytes = backing,
			.page_size = c->os_page_size,
			.huge_page_size = c->huge_page_size,
			.use_needs_call = c->use_needs_call,
			.released_reads_zero = c->released_reads_zero,
			.ignore_hints = c->ignore_hints,
		};
		tr(d, "\thw_sim_config sc = {.backing_bytes = %zu, .page_size = %zu, "
		      ".huge_page_size = %zu, .use_needs_call = %d, .released_reads_zero = %d, "
		      ".ignore_hints = %d};\n"
		      "\thw_platform *pf = hw_platform_sim_create(&sc);\n",
		   sc.backing_bytes, sc.page_size, sc.huge_page_size, sc.use_needs_call,
		   sc.released_reads_zero, sc.ignore_hints);
		d->pf = sim_for_run(&sc);
		if (d->pf != NULL) {
			size_t bytes;
			void *base = hw_sim_backing(d->pf, &bytes);
			tr(d, "\t/* simulated backing: %p, %zu bytes */\n", base, bytes);
		}
	} else {
		tr(d, "\thw_platform *pf = hw_platform_linux_create(false, false);\n");
		d->pf = hw_platform_linux_create(false, false);
	}
	if (d->pf == NULL) {
		fail(d, "cannot create the platform (errno %d)", errno);
		return false;
	}
	size_t O = d->pf->caps.page_size;
	hw_heap_config hc = {
		.platform = d->pf,
		.page_size = d->P,
		.arena_size = arena,
		.address_space = d->address_space,
		.memory_limit = c->memory_limit,
		.retain_percent = c->retain_percent,
		.fault_on_free = c->fault_on_free,
		.report = on_report,
		.report_arg = d,
	};
	tr(d, "\thw_heap_config cfg = {.platform = pf, .page_size = %zu, .arena_size = %zu, "
	      ".address_space = %zu, .memory_limit = %zu, .retain_percent = %u, "
	      ".fault_on_free = %d};\n"
	      "\thw_heap *h = hw_heap_create(&cfg);\n\tbool z;\n",
	   hc.page_size, hc.arena_size, hc.address_space, hc.memory_limit, hc.retain_percent,
	   hc.fault_on_free);
	errno = 0;
	d->h = hw_heap_create(&hc);
	if (c->fault_on_free && d->P < O) {
		if (d->h != NULL)
			fail(d, "hw_heap_create accepted fault_on_free with page %zu < OS page %zu",
			     d->P, O);
		else if (errno != EINVAL || d->reports != 1)
			fail(d,
			     "hw_heap_create refused fault_on_free with errno %d and %llu reports, "
			     "expected EINVAL and 1",
			     errno, (unsigned long long)d->reports);
		return false;
	}
	if (d->h == NULL) {
		fail(d, "hw_heap_create failed (errno %d)", errno);
		return false;
	}
	size_t u = O > d->P ? O / d->P : 1;
	size_t huge = d->pf->caps.huge_page_size;
	/* Huge pages count when larger than a unit and within one chunk. */
	size_t hp = huge > u * d->P && huge / d->P <= HW_CHUNK_PAGES ? huge / d->P : 0;
	if (hw_heap_unit_pages(d->h) != u || hw_heap_huge_pages(d->h) != hp) {
		fail(d, "heap unit/huge pages %zu/%zu, expected %zu/%zu", hw_heap_unit_pages(d->h),
		     hw_heap_huge_pages(d->h), u, hp);
		return false;
	}
	if (hw_model_init(&d->m, d->P, u, hp, d->pf->caps.released_reads_zero) != 0) {
		fail(d, "harness out of memory");
		return false;
	}
	d->op_name = "create";
	d->called_heap = true;
	check_after_op(d);
	return !d->failed;
}

static void teardown(driver *d)
{
	d->op_name = "teardown";
	if (d->h != NULL && !d->failed) {
		/* The final state: every page and hw_heap_validate (beyond the
		 * input's budget too); then every object freed (coalescing
		 * everything) with stats checked, then destroy. */
		do_verify(d);
		if (!d->failed) {
			compare_all(d);
			if (!d->failed)
				validate(d);
		}
		d->failures_before = platform_failures(d);
		while (d->m.nlive > 0 && !d->failed)
			free_obj(d, 0);
		hw_heap_stats st;
		stats(d, &st);
		if (!d->failed)
			compare_stats(d, &st);
		if (!d->failed && st.inuse != 0)
			fail(d, "stats.inuse is %zu after every object was freed", st.inuse);
	}
	if (d->h != NULL) {
		tr(d, "\thw_heap_destroy(h);\n");
		hw_heap_destroy(d->h);
		d->h = NULL;
		/* The harness's own leak check: LSan cannot see custom pages.
		 * Every reservation the heap made must be gone (P8), which
		 * catches a range leaked on any path, error paths included, in
		 * the input that leaked it; on the simulator every page must be
		 * None again. */
		size_t backing = 0;
		const void *sim_base = d->sim ? hw_sim_backing(d->pf, &backing) : NULL;
		const void *kept = d->sim ? hw_sim_find_other(d->pf, sim_base, backing,
							      HW_MEM_NONE)
					  : NULL;
		if (!d->failed && d->pf->owned != 0)
			fail(d, "the platform still holds %zu bytes after hw_heap_destroy",
			     d->pf->owned);
		else if (!d->failed && kept != NULL)
			fail(d, "simulated page %p is in state %d after hw_heap_destroy, not None",
			     kept, (int)hw_sim_state(d->pf, kept));
		for (size_t k = 0; !d->sim && !d->failed && k < d->m.narenas; k++) {
			const hw_model_arena *ar = &d->m.arena[k];
			if (hw_platform_resident_bytes((void *)ar->base, ar->npages * d->P) !=
			    SIZE_MAX)
				fail(d, "arena %p is still mapped after hw_heap_destroy",
				     (void *)ar->base);
		}
	}
	if (d->pf != NULL) {
		tr(d, "\thw_platform_destroy(pf);\n");
		/* The simulator stays for the next run, which resets it (D1). */
		if (!d->sim)
			hw_platform_destroy(d->pf);
		d->pf = NULL;
	}
	hw_model_fini(&d->m);
}

int hw_driver_run(const uint8_t *data, size_t size, const hw_driver_options *opt)
{
	static const hw_driver_options defaults = {.trace = -1};
	driver d;
	memset(&d, 0, sizeof d);
	d.opt = opt ? opt : &defaults;
	d.sim = d.opt->backend == HW_DRIVER_SIM;
	if (d.opt->trace < 0) {
		/* Read once: the environment does not change between inputs. */
		static int env_trace = -1;
		if (env_trace < 0) {
			const char *e = getenv("HW_FUZZ_TRACE");
			env_trace = e != NULL && e[0] != '\0' && e[0] != '0';
		}
		d.trace = env_trace != 0;
	} else {
		d.trace = d.opt->trace != 0;
	}
	hw_ops_config_decode(data, size, &d.cfg);
	size_t nops = hw_ops_count(size);
	d.op_index = 0;
	d.op_name = "setup";
	tr(&d, "/* heapward-difftest: %zu ops on the %s platform */\n", nops,
	   d.sim ? "sim" : "os");
	if (setup(&d)) {
		for (size_t i = 0; i < nops && !d.failed; i++) {
			hw_op op = hw_ops_get(data, i);
			d.op_index = i;
			d.op_name = hw_ops_heap_name(op.code);
			d.failures_before = platform_failures(&d);
			d.deep_now = false;
			hw_model_dirty_reset(&d.m);
			tr(&d, "\t/* op %zu: %s */\n", i, d.op_name);
			run_op(&d, &op);
			if (d.failed)
				break;
			if (d.opt->after_op) {
				d.opt->after_op(d.opt->ctx, d.h, i);
				d.called_heap = true; /* the seam may change the heap */
			}
			check_after_op(&d);
		}
	}
	teardown(&d);
	return d.failed ? -1 : 0;
}

/* ---- generator ------------------------------------------------------------------------ */

static uint64_t next_rand(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix64(*s);
}

void hw_driver_generate(uint64_t *seed, size_t nops, uint8_t *out)
{
	/* Weights per thousand, from the op table (ops.h). */
	static const struct {
		uint8_t op;
		unsigned weight;
	} table[] = {
#define HW_OPS_WEIGHT_(name, code, str, changes, weight) {code, weight},
		HW_HEAP_OPS(HW_OPS_WEIGHT_)
#undef HW_OPS_WEIGHT_
			{0x3e, 20}, /* unassigned: must do nothing */
	};
	unsigned total = 0;
	for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
		total += table[k].weight;
	for (size_t i = 0; i < nops; i++) {
		uint64_t r = next_rand(seed);
		unsigned pick = (unsigned)(r % total);
		uint8_t op = HW_OP_NOP;
		for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
			if (pick < table[k].weight) {
				op = table[k].op;
				break;
			}
			pick -= table[k].weight;
		}
		uint64_t x = next_rand(seed);
		uint8_t a = (uint8_t)x;
		uint16_t b = (uint16_t)(x >> 8);
		uint32_t c = (uint32_t)(x >> 24);
		/* Shape the arguments the way interesting inputs look: mostly
		 * small sizes, scavenges of a few pages, limits near the heap. */
		if (op == HW_OP_ALLOC || op == HW_OP_ALLOC_ALIGNED) {
			/* Classes 0-3 tiny half the time, then small, medium,
			 * and large one time in sixteen. */
			unsigned cls = (unsigned)(x >> 60);
			a = (uint8_t)((a & ~7u) | (cls < 8 ? 0 : cls < 13 ? 4
							 : cls < 15       ? 6
									  : 7));
			if (op == HW_OP_ALLOC_ALIGNED && ((x >> 56) & 3) != 0)
				a = (uint8_t)((a & 0x87) | (((x >> 40) % 6) << 3));
		} else if (op == HW_OP_SCAVENGE) {
			c = (uint32_t)((x >> 24) & 0x3fffff);
		} else if (op == HW_OP_SET_LIMIT) {
			b = (x >> 63) ? 0 : (uint16_t)((x >> 8) & 0x3ff);
		} else if (op == HW_OP_INJECT) {
			b = (uint16_t)((x >> 8) & 7);
		}
		hw_ops_put(out + i * HW_OPS_RECORD, op, a, b, c);
	}
}

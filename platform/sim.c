/* sim.c: the checked simulated platform (contract in sim.h).
 *
 * Owns: one real backing reservation, one state byte per simulated page, the
 * exact Ready-page count, and the record of refused (illegal) transitions.
 *
 * What follows describes Linux. On Windows the backing is one reservation
 * whose Ready pages are committed read/write and every other page
 * decommitted: a page leaving Ready gives its memory back at once, so there
 * is no stale memory (no flag is ever set), no junk file (junk is written),
 * no pagemap and no guard fallback; S1 is checked against VirtualQuery.
 *
 * Layout: the instance struct and its state array share one anonymous mmap
 * (fresh mappings read as zero and HW_MEM_NONE == 0, so nothing is
 * initialised page by page: create and destroy cost a handful of system
 * calls whatever the backing size). The backing is the start of one
 * PROT_NONE MAP_NORESERVE mapping (the capacity) aligned to max(2 MiB, huge
 * page, simulated page); a reset may choose any backing within it.
 *
 * Real calls are made only where the protection changes: a page that is not
 * Ready is already inaccessible (S1), so fault and release touch the real
 * mapping only over the span of the Ready pages they cover, and a range of
 * Reserved or Prepared pages costs no system call at all.
 *
 * Stale memory. A page that leaves Ready is made inaccessible but keeps its
 * memory (stale[], per real page), so the next use of the same address costs
 * no page fault and no discard call: what the simulated OS promises about
 * the contents of a page becoming Ready is written then (S5). Zero is
 * written by hand into the stale pages that hold memory, which
 * /proc/self/pagemap names: a page the heap never wrote holds none and reads
 * zero already, and writing it would fault it in for nothing (and cost a
 * walk in every later protection change over it). Without pagemap, a small
 * range is written whole and a large one given back with MADV_DONTNEED. Nothing
 * can read stale memory while it is inaccessible. A reset that finds more
 * than SIM_STALE_MAX bytes of it gives them back to the kernel.
 *
 * Junk. A range that becomes Ready with junk (S5) and holds memory in all
 * but a few pages is written. Otherwise it is mapped, private and
 * read/write, from a file of junk (one memfd of SIM_JUNK_FILE bytes for the
 * process, each address at its offset modulo that size): one call, and only
 * the pages the
 * heap then writes cost memory (a copy on write), where writing the junk
 * would fault in every page. jmap[] marks such pages (always stale too: mincore
 * counts the file's cache); a page becoming Ready with zero there is mapped
 * anonymous again. Without a junk file (no memfd, or Valgrind tracking,
 * which would see the new mapping as defined memory, against K5 of track.h)
 * the junk is written.
 *
 * Reuse (S6): [used_lo, used_hi) covers every page that left None since the
 * last create or reset, so a reset visits only those.
 *
 * Real memory per state (S1):
 *   Ready              PROT_READ|PROT_WRITE
 *   None/Reserved/Prepared  PROT_NONE, holding no memory unless stale
 * so touching a non-Ready page traps with SEGV_ACCERR, which catches a heap
 * that skips a Prepared->Ready call. Every real call covers whole simulated
 * pages, which may be larger than the real page (16 KiB, 64 KiB, ...).
 *
 * Invariants (numbered as in sim.h, plus):
 *   S1. state[i] agrees with the real mapping: Ready pages are read/write;
 *       other pages are PROT_NONE, and resident only where stale[] says
 *       they may be. Kept by construction;
 *       hw_sim_check verifies it against /proc/self/maps and mincore. One
 *       exception: when mprotect(PROT_NONE) runs out of VMAs, the pages are
 *       made to trap with MADV_GUARD_INSTALL instead (guards_used), since
 *       unuse and release cannot fail; such pages trap with SEGV_MAPERR.
 *   S2. ready_pages == count of Ready pages, updated in every transition.
 *   S3. reserve and alloc hand out only None pages; release accepts Reserved,
 *       Prepared and Ready pages and returns them to None.
 *   S4. A refused transition changes nothing: every page of the range is
 *       checked before anything is changed.
 *   S5. A use (Prepared->Ready) on a platform whose released pages do not read
 *       as zero fills the pages with 0xA5, so a heap that assumes zero sees
 *       junk; otherwise the pages read as zero. alloc (None->Ready) hands
 *       out zero pages, as every real OS does for fresh memory.
 *   S6. After hw_sim_reset every page of the capacity is None and
 *       inaccessible, and every field is what create would set (stale
 *       memory may stay: S5 decides what a page reads when it is Ready).
 *   S7. stale_pages == number of real pages with stale[i] set, all inside
 *       [stale_lo, stale_hi); a page without the flag that is not Ready
 *       holds no memory. jmap[i] implies stale[i].
 *   S9. faulted[i] is set exactly when simulated page i is Reserved and the
 *       last transition over it was a fault: set_state clears the flags of
 *       every range it changes and sim_fault sets them after. unfault
 *       accepts only such pages (P9), so a heap that unfaults a reservation
 *       it never faulted is refused like any illegal transition.
 *   S10. sealed[i] is set exactly when simulated page i is Ready and sealed
 *       (P13): its real pages are PROT_NONE (S1's one other exception; on
 *       Windows PAGE_NOACCESS, still committed) and keep their memory and
 *       contents. set_state clears the flags of every range it changes;
 *       seal sets them, unseal clears them. unuse, fault and populate refuse
 *       sealed pages; release takes them as Ready ones. seal and unseal may
 *       also cover pages Reserved by a fault (caps.seal_spans_faults), which
 *       they leave as they are, and make their real call over each stretch
 *       of Ready pages only.
 *   S8. Outside the bytes [since_lo, since_hi) of the base, the simulator
 *       changed no page's state, protection, memory or flags since the last
 *       check that passed (the whole capacity before the first): set_state
 *       and set_stale, the only writers of states and flags and the
 *       companions of every real call, widen it, and so does a reset; a
 *       passing check empties it. hw_sim_check_since walks the real mapping
 *       only there (pages that are not Ready trap every access, so only a
 *       real call can change them: the simulator's, inside the window, or
 *       one made behind its back, which hw_sim_check's whole walk sees).
 *
 * Placement (deterministic):
 *   - reserve at the hint when ignore_hints is off and the hint lies inside
 *     the backing with every page of the range None;
 *   - otherwise, without ignore_hints, the lowest range of None pages that
 *     fits (first fit);
 *   - with ignore_hints, the highest range of None pages that fits with at
 *     least one None page (or the backing's edge) on each side: successive
 *     reservations are never contiguous and come at decreasing addresses.
 *   alloc places like reserve without a hint.
 *
 * Locking: none; the owner serializes calls (sim.h). The two files all
 * instances share (the junk file, pagemap) are opened once, by an atomic
 * compare-and-swap, and never change after.
 */
#include "sim.h"

#include "base.h"
#include "track.h"

#include <errno.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include "madv.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

#define SIM_JUNK 0xA5
#define SIM_MIN_ALIGN ((size_t)2 << 20)
#define SIM_DEFAULT_BACKING ((size_t)1 << 30)
/* Larger backings than this are a configuration error (the state array and
 * page walks are O(backing pages)). */
#define SIM_MAX_BACKING ((size_t)1 << 44)
/* Stale memory a reset keeps for the next run (see Stale memory above). A
 * kept page saves a fault when the next run touches it again, but costs a
 * walk in every protection change over it and a zero fill each time it
 * becomes Ready; pages touched long ago are only cost, and past this bound
 * the reset gives them all back. heap_sim_fuzzer ran fastest at 16 MiB of
 * 4, 16, 32 and 64. */
#define SIM_STALE_MAX ((size_t)16 << 20)
/* Without pagemap, ranges becoming Ready up to this size are filled by hand
 * (zero into every stale page, junk into every page), larger ones given back
 * with MADV_DONTNEED or mapped from the junk file. */
#define SIM_BY_HAND ((size_t)256 << 10)
/* Ranges of up to this many real pages are written with junk by hand
 * whatever holds memory: asking pagemap and mapping the junk file cost
 * more. */
#define SIM_SMALL_PAGES 16
/* The junk file's size: a multiple of every simulated page, and a divisor of
 * the backing's alignment, so every address has the same offset in it each
 * time. */
#define SIM_JUNK_FILE ((size_t)2 << 20)

/* Sets of states, one bit per hw_mem_state, as the transitions accept them. */
enum {
	ACCEPT_NONE = 1u << HW_MEM_NONE,
	ACCEPT_RESERVED = 1u << HW_MEM_RESERVED,
	ACCEPT_PREPARED = 1u << HW_MEM_PREPARED,
	ACCEPT_READY = 1u << HW_MEM_READY,
	OWNED = ACCEPT_RESERVED | ACCEPT_PREPARED | ACCEPT_READY,
	NOT_READY = ACCEPT_NONE | ACCEPT_RESERVED | ACCEPT_PREPARED,
};

typedef struct sim {
	hw_platform pf;
	hw_sim_config cfg;
	unsigned char *base; /* backing, aligned */
	size_t backing;      /* bytes */
	size_t npages;       /* simulated pages */
	unsigned shift;      /* log2(simulated page) */
	size_t capacity;     /* bytes reserved at base (>= backing) */
	void *reservation;   /* the reservation holding them, freed whole */
	size_t self_len;     /* bytes of the mapping holding this struct */
	size_t ready_pages;  /* S2 */
	size_t used_lo;      /* pages [used_lo, used_hi) left None since reset */
	size_t used_hi;
	unsigned rshift;      /* log2(real page) */
	unsigned char *stale; /* per real page: may hold memory (S7) */
	unsigned char *jmap;  /* per real page: mapped from the junk file */
	size_t stale_pages;   /* S7 */
	size_t stale_lo;      /* real pages [stale_lo, stale_hi) hold every flag */
	size_t stale_hi;
	size_t since_lo; /* S8, bytes from base */
	size_t since_hi;
	bool guards_used;       /* S1 exception happened at least once */
	unsigned char *faulted; /* per simulated page: Reserved by fault (S9) */
	unsigned char *sealed;  /* per simulated page: Ready and sealed (S10) */
	uint64_t illegal;
	char last_illegal[192];
	unsigned char state[]; /* hw_mem_state per simulated page */
} sim;

static const hw_platform_ops sim_ops;

/* The scans run over every page a call or a check covers. Their edges and
 * comparisons describe page counts, not the heap: under a coverage-guided
 * fuzzer they would only add noise features and cost time. The transitions'
 * own decisions stay instrumented. */
#if defined(__clang__)
#define SIM_SCAN_INLINE __attribute__((no_sanitize("coverage")))
#else
#define SIM_SCAN_INLINE
#endif
/* Instrumentation is added after inlining: a scan inlined into an
 * instrumented caller would be traced after all. */
#define SIM_SCAN SIM_SCAN_INLINE __attribute__((noinline))
/* The small helpers the scans call are uninstrumented too, or a sanitizer
 * build would keep them out of line, and instrumented, in every scan. */
SIM_SCAN_INLINE static sim *sim_of(const hw_platform *pf)
{
	HW_CHECK(pf != NULL && pf->ops == &sim_ops, "sim: not a simulator instance");
	return pf->impl;
}

static const char *state_name(unsigned st)
{
	switch (st) {
	case HW_MEM_NONE:
		return "None";
	case HW_MEM_RESERVED:
		return "Reserved";
	case HW_MEM_PREPARED:
		return "Prepared";
	case HW_MEM_READY:
		return "Ready";
	}
	return "?";
}

SIM_SCAN_INLINE static size_t page_index(const sim *s, const void *p)
{
	return (size_t)((const unsigned char *)p - s->base) >> s->shift;
}

SIM_SCAN_INLINE static unsigned char *page_addr(const sim *s, size_t i)
{
	return s->base + (i << s->shift);
}

/* ---- state scans, eight pages per step ---- */

#define BYTES_01 0x0101010101010101ull

/* Bit 0 of each byte of the result is set where that byte of w (a state,
 * 0..3, so only bits 0 and 1 are used) equals v. */
SIM_SCAN_INLINE static uint64_t eq_bytes(uint64_t w, unsigned v)
{
	uint64_t x = w ^ (BYTES_01 * v);
	return ~(x | x >> 1) & BYTES_01;
}

/* Bit 0 of each byte set where the state is in `accept` (bit per state). */
SIM_SCAN_INLINE static uint64_t accepted_bytes(uint64_t w, unsigned accept)
{
	uint64_t m = 0;
	for (unsigned v = 0; v < 4; v++)
		if (accept & (1u << v))
			m |= eq_bytes(w, v);
	return m;
}

/* Whether the 32 states at a (8-aligned) are all one state in `accept`: the
 * common case, runs of one state, at four compares per 32 pages. */
SIM_SCAN_INLINE static bool uniform32(const unsigned char *a, unsigned accept)
{
	uint64_t w[4];
	memcpy(w, a, sizeof w);
	unsigned v = (unsigned)(w[0] & 0xff);
	return ((w[0] ^ v * BYTES_01) | (w[1] ^ w[0]) | (w[2] ^ w[0]) | (w[3] ^ w[0])) == 0 &&
	       (accept >> v & 1);
}

/* First page in [i, end) whose state is not in `accept`, or end. */
SIM_SCAN static size_t first_outside(const sim *s, size_t i, size_t end, unsigned accept)
{
	for (; i < end && (i & 7) != 0; i++)
		if (!(accept & (1u << s->state[i])))
			return i;
	for (; i + 8 <= end; i += 8) {
		if (i + 32 <= end && uniform32(s->state + i, accept)) {
			i += 24;
			continue;
		}
		uint64_t w;
		memcpy(&w, s->state + i, sizeof w);
		uint64_t bad = ~accepted_bytes(w, accept) & BYTES_01;
		if (bad != 0)
			return i + (size_t)(__builtin_ctzll(bad) / 8);
	}
	for (; i < end; i++)
		if (!(accept & (1u << s->state[i])))
			return i;
	return end;
}

/* Last page in [lo, end) whose state is not in `accept`, or SIZE_MAX. */
SIM_SCAN static size_t last_outside(const sim *s, size_t lo, size_t end, unsigned accept)
{
	size_t i = end;
	for (; i > lo && (i & 7) != 0; i--)
		if (!(accept & (1u << s->state[i - 1])))
			return i - 1;
	for (; i >= lo + 8; i -= 8) {
		if (i >= lo + 32 && uniform32(s->state + i - 32, accept)) {
			i -= 24;
			continue;
		}
		uint64_t w;
		memcpy(&w, s->state + i - 8, sizeof w);
		uint64_t bad = ~accepted_bytes(w, accept) & BYTES_01;
		if (bad != 0)
			return i - 8 + (size_t)((63 - __builtin_clzll(bad)) / 8);
	}
	for (; i > lo; i--)
		if (!(accept & (1u << s->state[i - 1])))
			return i - 1;
	return SIZE_MAX;
}

/* Words of 0/1 bytes added up before their bytes are summed: each byte of
 * the total stays at most 16, so the eight sum to at most 128, within
 * hw_sum_bytes's bound. */
#define SUM_WORDS 16

/* Number of Ready pages in [i, end). */
SIM_SCAN static size_t count_ready(const sim *s, size_t i, size_t end)
{
	size_t n = 0;
	for (; i < end && (i & 7) != 0; i++)
		n += s->state[i] == HW_MEM_READY;
	for (; i + 8 * SUM_WORDS <= end; i += 8 * SUM_WORDS) {
		uint64_t acc = 0;
		for (unsigned k = 0; k < SUM_WORDS; k++) {
			uint64_t w;
			memcpy(&w, s->state + i + 8 * k, sizeof w);
			acc += eq_bytes(w, HW_MEM_READY);
		}
		n += hw_sum_bytes(acc);
	}
	for (; i + 8 <= end; i += 8) {
		uint64_t w;
		memcpy(&w, s->state + i, sizeof w);
		n += hw_sum_bytes(eq_bytes(w, HW_MEM_READY));
	}
	for (; i < end; i++)
		n += s->state[i] == HW_MEM_READY;
	return n;
}

/* Number of set flags (bytes 0 or 1) in a[i, end). */
SIM_SCAN static size_t count_flags(const unsigned char *a, size_t i, size_t end)
{
	size_t n = 0;
	for (; i < end && (i & 7) != 0; i++)
		n += a[i];
	for (; i + 8 * SUM_WORDS <= end; i += 8 * SUM_WORDS) {
		uint64_t acc = 0;
		for (unsigned k = 0; k < SUM_WORDS; k++) {
			uint64_t w;
			memcpy(&w, a + i + 8 * k, sizeof w);
			acc += w;
		}
		n += hw_sum_bytes(acc);
	}
	for (; i + 8 <= end; i += 8) {
		uint64_t w;
		memcpy(&w, a + i, sizeof w);
		n += hw_sum_bytes(w);
	}
	for (; i < end; i++)
		n += a[i];
	return n;
}

/* First index in [i, end) whose flag is `set`, or end. */
SIM_SCAN static size_t find_flag(const unsigned char *a, size_t i, size_t end, bool set)
{
	uint64_t flip = set ? 0 : BYTES_01;
	for (; i < end && (i & 7) != 0; i++)
		if (a[i] == set)
			return i;
	for (; i + 8 <= end; i += 8) {
		uint64_t w;
		memcpy(&w, a + i, sizeof w);
		w ^= flip;
		if (w != 0)
			return i + (size_t)(__builtin_ctzll(w) / 8);
	}
	for (; i < end; i++)
		if (a[i] == set)
			return i;
	return end;
}

/* ---- S4: refusing illegal transitions ---- */

static int refuse(sim *s, const char *msg)
{
	if (!s->cfg.record_illegal)
		hw_fatal("%s", msg);
	s->illegal++;
	memcpy(s->last_illegal, msg, sizeof s->last_illegal);
	return EINVAL;
}

/* 0 when every page of [p, p+n) is inside the backing and in a state in
 * `accept`; otherwise reports the first offending page (S4). */
static int check_named(sim *s, const char *op, const void *p, size_t n, unsigned accept)
{
	char msg[sizeof s->last_illegal];
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)s->base;
	if (a < lo || a - lo > s->backing || n > s->backing - (a - lo)) {
		const void *where = a < lo || a - lo >= s->backing ? p : s->base + s->backing;
		hw_report_format(
			msg, sizeof msg,
			"heapward: sim: illegal %s at page out-of-backing (%p) in state None", op,
			where);
		return refuse(s, msg);
	}
	size_t first = page_index(s, p), end = first + (n >> s->shift);
	size_t i = first_outside(s, first, end, accept);
	if (i == end)
		return 0;
	hw_report_format(msg, sizeof msg, "heapward: sim: illegal %s at page %zu (%p) in state %s",
			 op, i, (void *)page_addr(s, i), state_name(s->state[i]));
	return refuse(s, msg);
}

static int check_range(sim *s, hw_sys_kind op, const void *p, size_t n, unsigned accept)
{
	return check_named(s, hw_sys_kind_name(op), p, n, accept);
}

/* S10: 0 unless a page of [p, p + n) (in the backing) is sealed, which op
 * refuses. */
static int check_unsealed(sim *s, const char *op, const void *p, size_t n)
{
	size_t first = page_index(s, p), np = n >> s->shift;
	const unsigned char *f = memchr(s->sealed + first, 1, np);
	if (f == NULL)
		return 0;
	char msg[sizeof s->last_illegal];
	size_t i = (size_t)(f - s->sealed);
	hw_report_format(msg, sizeof msg,
			 "heapward: sim: illegal %s at page %zu (%p) in state Ready (sealed)", op,
			 i, (void *)page_addr(s, i));
	return refuse(s, msg);
}

/* S8: bytes [lo, hi) of the base may have changed. */
static void changed(sim *s, size_t lo, size_t hi)
{
	s->since_lo = hw_min(s->since_lo, lo);
	s->since_hi = hw_max(s->since_hi, hi);
}

/* Sets the state of a page range, keeping ready_pages exact (S2). */
static void set_state(sim *s, size_t first, size_t np, hw_mem_state st)
{
	s->ready_pages -= count_ready(s, first, first + np);
	memset(s->state + first, st, np);
	memset(s->faulted + first, 0, np);
	memset(s->sealed + first, 0, np);
	changed(s, first << s->shift, (first + np) << s->shift);
	if (st == HW_MEM_READY)
		s->ready_pages += np;
	if (st != HW_MEM_NONE) {
		s->used_lo = hw_min(s->used_lo, first);
		s->used_hi = hw_max(s->used_hi, first + np);
	}
}

/* ---- real memory (S1) ---- */

/* Real pages of the byte range [p, p + n) of the backing. */
SIM_SCAN_INLINE static size_t real_index(const sim *s, const void *p)
{
	return (size_t)((const unsigned char *)p - s->base) >> s->rshift;
}

/* S7: flags [p, p + n) stale or not. */
static void set_stale(sim *s, const void *p, size_t n, bool stale)
{
	size_t i = real_index(s, p), k = n >> s->rshift;
	size_t had = count_flags(s->stale, i, i + k);
	memset(s->stale + i, stale, k);
	changed(s, i << s->rshift, (i + k) << s->rshift);
	if (!stale) {
		s->stale_pages -= had;
		return;
	}
	s->stale_pages += k - had;
	s->stale_lo = hw_min(s->stale_lo, i);
	s->stale_hi = hw_max(s->stale_hi, i + k);
}

/* The simulated kernel's writes (S5): invisible to the memory tools, which
 * may see the pages as dead heap memory (track.h K5). Filled here rather
 * than in the caller so that the fill loop, which under ASan is a word loop,
 * carries no coverage instrumentation either. */
#if defined(__clang__)
__attribute__((no_sanitize("address", "coverage"), noinline))
#endif
static void
os_fill(void *p, size_t n, unsigned char byte)
{
	hw_track_os_fill(p, n, byte);
}

#ifdef _WIN32
/* Windows. The backing is one reservation: Ready pages are committed
 * read/write, every other page decommitted, so a page that leaves Ready
 * gives its memory back at once and none is ever stale (S7 holds with no
 * flag set), a page that becomes Ready reads zero (or is filled with junk by
 * hand, S5), and there are no mapping counts to run out of (no guards). */

static HW_NORETURN HW_COLD void win_fail(const char *what, const void *p, size_t n)
{
	hw_fatal("heapward: sim: %s(%p, %zu) failed: error %lu", what, p, n,
		 (unsigned long)GetLastError());
}

/* Makes a range inaccessible and drops its memory. Cannot fail. */
static void make_none(sim *s, void *p, size_t n)
{
	if (!VirtualFree(p, n, MEM_DECOMMIT))
		win_fail("VirtualFree(MEM_DECOMMIT)", p, n);
	set_stale(s, p, n, false);
}

/* The same, for a reset's stale range (never used: nothing is stale). */
static void restore_none(sim *s, void *p, size_t n)
{
	make_none(s, p, n);
}

/* Makes [p, p + n) read/write with the contents S5 promises: junk or zero.
 * 0, or ENOMEM (the commit was refused) with the range inaccessible. */
static int make_ready(sim *s, void *p, size_t n, bool junk)
{
	(void)s;
	if (VirtualAlloc(p, n, MEM_COMMIT, PAGE_READWRITE) == NULL) {
		DWORD e = GetLastError();
		/* Wine reports a refused commit as ERROR_ACCESS_DENIED. */
		if (e != ERROR_NOT_ENOUGH_MEMORY && e != ERROR_COMMITMENT_LIMIT &&
		    e != ERROR_OUTOFMEMORY && e != ERROR_ACCESS_DENIED)
			win_fail("VirtualAlloc(MEM_COMMIT)", p, n);
		if (!VirtualFree(p, n, MEM_DECOMMIT))
			win_fail("VirtualFree(MEM_DECOMMIT)", p, n);
		return ENOMEM;
	}
	if (junk)
		os_fill(p, n, SIM_JUNK);
	return 0;
}

/* S10: seals (PAGE_NOACCESS) or unseals committed Ready pages. Cannot
 * fail. */
static int protect_pages(sim *s, void *p, size_t n, bool sealing)
{
	(void)s;
	DWORD old;
	if (!VirtualProtect(p, n, sealing ? PAGE_NOACCESS : PAGE_READWRITE, &old))
		win_fail("VirtualProtect", p, n);
	return 0;
}

#else
static HW_NORETURN HW_COLD void real_fail(const char *what, const void *p, size_t n, int e)
{
	hw_fatal("heapward: sim: %s(%p, %zu) failed: errno %d", what, p, n, e);
}

/* Makes a range inaccessible. Its memory stays, flagged stale, for the next
 * use to overwrite (S5). Cannot fail: when mprotect is out of VMAs, guard
 * markers (which need none, and drop the memory) make the range trap
 * instead. */
static void make_none(sim *s, void *p, size_t n)
{
	if (mprotect(p, n, PROT_NONE) == 0) {
		set_stale(s, p, n, true);
		return;
	}
	int e = errno;
	if (e == ENOMEM && madvise(p, n, MADV_DONTNEED) == 0 &&
	    madvise(p, n, MADV_GUARD_INSTALL) == 0) {
		s->guards_used = true;
		set_stale(s, p, n, false);
		return;
	}
	hw_fatal("heapward: sim: out of VMAs making (%p, %zu) inaccessible (errno %d) and no "
		 "guard regions to fall back on; use a smaller or less fragmented simulation",
		 p, n, e);
}

/* Gives the stale memory of the real pages [i, end) back to the kernel. No
 * page of the range is mapped from the junk file. */
static void drop_stale(sim *s, size_t i, size_t end)
{
	i = find_flag(s->stale, i, end, true);
	if (i == end)
		return;
	size_t last = end;
	while (!s->stale[last - 1])
		last--;
	void *p = s->base + (i << s->rshift);
	size_t n = (last - i) << s->rshift;
	if (madvise(p, n, MADV_DONTNEED) != 0)
		real_fail("madvise(DONTNEED)", p, n, errno);
	set_stale(s, p, n, false);
}

/* Files every instance shares, opened once and kept for the process's
 * life: the junk file (never written after it is made: every mapping of it
 * is private) and /proc/self/pagemap. -2 until first asked for, -1 when
 * unavailable. */
static int junk_fd = -2, pagemap_fd = -2;

/* *slot, made by make() the first time. Instances in different threads may
 * race to make it: one wins, the others close theirs. */
static int shared_fd(int *slot, int (*make)(void))
{
	int fd = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (fd != -2)
		return fd;
	fd = make();
	int expected = -2;
	if (!__atomic_compare_exchange_n(slot, &expected, fd, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		if (fd >= 0)
			close(fd);
		fd = expected;
	}
	return fd;
}

static int open_pagemap(void) { return open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC); }

static int make_junk_file(void);

/* Counts the stale pages of real pages [i, end) that hold memory (present
 * or swapped out, as /proc/self/pagemap says), writing zero into each when
 * `zero` (its entry is read before). SIZE_MAX, having written nothing,
 * when pagemap cannot be read. */
SIM_SCAN static size_t scan_held(sim *s, size_t i, size_t end, bool zero)
{
	int fd = shared_fd(&pagemap_fd, open_pagemap);
	if (fd < 0)
		return SIZE_MAX;
	const uint64_t held = 3ull << 62; /* present, swapped */
	size_t vpage = ((uintptr_t)s->base >> s->rshift) + i, count = 0;
	uint64_t pm[512];
	for (size_t k = i; k < end;) {
		size_t c = hw_min(end - k, sizeof pm / sizeof pm[0]);
		off_t at = (off_t)((vpage + (k - i)) * sizeof pm[0]);
		if (pread(fd, pm, c * sizeof pm[0], at) != (ssize_t)(c * sizeof pm[0])) {
			if (k == i)
				return SIZE_MAX;
			/* Unknown from here on: count it all; drop it all. */
			if (zero)
				drop_stale(s, k, end);
			return count + (end - k);
		}
		for (size_t j = 0; j < c; j++) {
			if (!s->stale[k + j] || !(pm[j] & held))
				continue;
			count++;
			if (zero)
				os_fill(s->base + ((k + j) << s->rshift),
					(size_t)1 << s->rshift, 0);
		}
		k += c;
	}
	return count;
}

/* S5 for a range of anonymous memory that has just become read/write: junk,
 * or zero. Pages that are not stale read as zero already (fresh memory). */
static void fill_ready(sim *s, void *p, size_t n, bool junk)
{
	if (junk) {
		os_fill(p, n, SIM_JUNK);
		set_stale(s, p, n, false);
		return;
	}
	size_t i = real_index(s, p), end = i + (n >> s->rshift);
	size_t stale = count_flags(s->stale, i, end);
	if (stale == 0)
		return;
	if (scan_held(s, i, end, true) != SIZE_MAX) {
		set_stale(s, p, n, false);
		return;
	}
	if (stale << s->rshift > SIM_BY_HAND) {
		drop_stale(s, i, end);
		return;
	}
	for (size_t k = find_flag(s->stale, i, end, true); k < end;) {
		size_t e = find_flag(s->stale, k, end, false);
		os_fill(s->base + (k << s->rshift), (e - k) << s->rshift, 0);
		k = find_flag(s->stale, e, end, true);
	}
	set_stale(s, p, n, false);
}

/* The junk file; -1 when there is none (no memfd, or Valgrind tracking). */
static int make_junk_file(void)
{
	if (HW_TRACK_VALGRIND)
		return -1;
	int fd = memfd_create("heapward-sim-junk", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	unsigned char chunk[4096];
	memset(chunk, SIM_JUNK, sizeof chunk);
	bool ok = ftruncate(fd, (off_t)SIM_JUNK_FILE) == 0;
	for (size_t off = 0; ok && off < SIM_JUNK_FILE; off += sizeof chunk)
		ok = pwrite(fd, chunk, sizeof chunk, (off_t)off) == (ssize_t)sizeof chunk;
	if (!ok) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Replaces [p, p + n) with fresh anonymous memory, inaccessible (prot
 * PROT_NONE) or read/write, in one call: the old memory, stale or mapped
 * from the junk file, is dropped. */
static int remap_anon(sim *s, void *p, size_t n, int prot)
{
	/* MAP_FIXED replaces part of the backing, which destroy unmaps whole. */
	void *q = mmap(p, n, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	if (q == MAP_FAILED)
		return errno;
	size_t i = real_index(s, p);
	memset(s->jmap + i, 0, n >> s->rshift);
	set_stale(s, p, n, false);
	// cppcheck-suppress memleak ; q is p, part of the backing
	return 0;
}

/* After a failed replacement of [p, p + n): whatever the kernel left there,
 * the range must be mapped and inaccessible (S1). */
static void restore_none(sim *s, void *p, size_t n)
{
	int e = remap_anon(s, p, n, PROT_NONE);
	if (e != 0)
		real_fail("mmap(PROT_NONE) restore", p, n, e);
}

/* Maps [p, p + n) read/write from the junk file: 0, or ENOMEM (out of VMAs)
 * with the range inaccessible. */
static int map_junk(sim *s, int fd, void *p, size_t n)
{
	unsigned char *q = p, *end = q + n;
	while (q < end) {
		size_t off = (size_t)(q - s->base) % SIM_JUNK_FILE;
		size_t len = hw_min(SIM_JUNK_FILE - off, (size_t)(end - q));
		/* Inside the backing, which destroy unmaps whole. */
		// cppcheck-suppress leakReturnValNotUsed
		if (mmap(q, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, (off_t)off) ==
		    MAP_FAILED) {
			int e = errno;
			if (e != ENOMEM)
				real_fail("mmap(junk)", q, len, e);
			restore_none(s, p, n);
			return ENOMEM;
		}
		q += len;
	}
	size_t i = real_index(s, p);
	memset(s->jmap + i, 1, n >> s->rshift);
	set_stale(s, p, n, true);
	return 0;
}

/* Makes a range inaccessible (sealing) or read/write: 0, or ENOMEM (out
 * of VMAs) with the range as it was. S10's seal and unseal of Ready pages,
 * and make_rw's change. */
static int protect_pages(sim *s, void *p, size_t n, bool sealing)
{
	(void)s;
	if (mprotect(p, n, sealing ? PROT_NONE : PROT_READ | PROT_WRITE) == 0)
		return 0;
	int e = errno;
	if (e != ENOMEM)
		real_fail(sealing ? "mprotect(NONE)" : "mprotect(RW)", p, n, e);
	/* Undo a partial change; restoring only merges mappings. */
	if (mprotect(p, n, sealing ? PROT_READ | PROT_WRITE : PROT_NONE) != 0)
		real_fail(sealing ? "mprotect(RW) rollback" : "mprotect(NONE) rollback", p, n,
			  errno);
	return ENOMEM;
}

/* Makes a range read/write: 0, or ENOMEM (out of VMAs) with the range as it
 * was. */
static int make_rw(sim *s, void *p, size_t n)
{
	int rc = protect_pages(s, p, n, false);
	if (rc == 0 && s->guards_used && madvise(p, n, MADV_GUARD_REMOVE) != 0)
		real_fail("madvise(GUARD_REMOVE)", p, n, errno);
	return rc;
}

/* Makes [p, p + n) read/write with the contents S5 promises: junk or zero.
 * 0, or ENOMEM (out of VMAs) with the range inaccessible. */
/* Whether junk for [p, p + n) is cheaper from the junk file than written:
 * writing costs a fault for every page that holds no memory yet, the file a
 * copy on write for every page the heap then writes (a run's stamps, about
 * SIM_SMALL_PAGES). */
static bool junk_from_file(sim *s, void *p, size_t n)
{
	size_t i = real_index(s, p), end = i + (n >> s->rshift);
	if (end - i <= SIM_SMALL_PAGES)
		return false;
	size_t held = scan_held(s, i, end, false);
	if (held == SIZE_MAX)
		return n > SIM_BY_HAND;
	return end - i - held > SIM_SMALL_PAGES;
}

static int make_ready(sim *s, void *p, size_t n, bool junk)
{
	int fd = junk && junk_from_file(s, p, n) ? shared_fd(&junk_fd, make_junk_file) : -1;
	if (fd >= 0 && map_junk(s, fd, p, n) == 0)
		return 0;
	size_t i = real_index(s, p), end = i + (n >> s->rshift);
	if (find_flag(s->jmap, i, end, true) != end) {
		/* Junk file pages cannot be made zero in place. */
		int e = remap_anon(s, p, n, PROT_READ | PROT_WRITE);
		if (e != 0) {
			if (e != ENOMEM)
				real_fail("mmap(anonymous)", p, n, e);
			restore_none(s, p, n);
			return ENOMEM;
		}
		if (junk)
			fill_ready(s, p, n, true);
		return 0;
	}
	int rc = make_rw(s, p, n);
	if (rc == 0)
		fill_ready(s, p, n, junk);
	return rc;
}

#endif

/* Makes the Ready pages of [first, first + np) inaccessible, with one call
 * over the span from the first to the last of them: the other pages are
 * inaccessible already (S1). */
static void discard_ready(sim *s, size_t first, size_t np)
{
	size_t lo = first_outside(s, first, first + np, NOT_READY);
	if (lo == first + np)
		return;
	size_t hi = last_outside(s, lo, first + np, NOT_READY) + 1;
	make_none(s, page_addr(s, lo), (hi - lo) << s->shift);
}

/* ---- the instance's own memory, and the reservation of its backing ---- */

#ifdef _WIN32
static size_t real_page_size(void)
{
	SYSTEM_INFO si;
	GetSystemInfo(&si);
	return si.dwPageSize;
}

/* capacity bytes of address space at an align-aligned base, or NULL. A
 * Windows reservation cannot be trimmed: the whole of it (*res) stays, the
 * slack around the base unused. */
static unsigned char *reserve_backing(size_t capacity, size_t align, void **res)
{
	unsigned char *raw = VirtualAlloc(NULL, capacity + align, MEM_RESERVE, PAGE_NOACCESS);
	*res = raw;
	return raw ? (unsigned char *)hw_align_up((uintptr_t)raw, align) : NULL;
}

static void free_backing(void *res, size_t capacity)
{
	(void)capacity;
	VirtualFree(res, 0, MEM_RELEASE);
}

/* Zeroed read/write memory for the instance and its arrays, or NULL. */
static void *alloc_self(size_t len)
{
	return VirtualAlloc(NULL, len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

static void free_self(void *p, size_t len)
{
	(void)len;
	VirtualFree(p, 0, MEM_RELEASE);
}
#else
static size_t real_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* capacity bytes of address space at an align-aligned base, or NULL; the
 * slack of the larger mapping it comes from is unmapped, so *res is the
 * base itself. */
static unsigned char *reserve_backing(size_t capacity, size_t align, void **res)
{
	unsigned char *raw = mmap(NULL, capacity + align, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	unsigned char *base = (unsigned char *)hw_align_up((uintptr_t)raw, align);
	if (base > raw)
		munmap(raw, (size_t)(base - raw));
	if (raw + align > base)
		munmap(base + capacity, (size_t)(raw + align - base));
	*res = base;
	return base;
}

static void free_backing(void *res, size_t capacity)
{
	munmap(res, capacity);
}

/* Zeroed read/write memory for the instance and its arrays, or NULL. */
static void *alloc_self(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	// cppcheck-suppress memleak ; returned to the caller, freed by free_self
	return p == MAP_FAILED ? NULL : p;
}

static void free_self(void *p, size_t len)
{
	munmap(p, len);
}
#endif

/* ---- placement ---- */

static bool all_none(const sim *s, size_t first, size_t np)
{
	return first_outside(s, first, first + np, ACCEPT_NONE) == first + np;
}

/* See the placement rules above. Returns false when nothing fits. */
static bool place(const sim *s, size_t np, const void *hint, size_t *out)
{
	uintptr_t h = (uintptr_t)hint, lo = (uintptr_t)s->base;
	if (!s->cfg.ignore_hints && hint != NULL && h >= lo && h - lo < s->backing) {
		size_t first = page_index(s, hint);
		if (np <= s->npages - first && all_none(s, first, np)) {
			*out = first;
			return true;
		}
	}
	if (!s->cfg.ignore_hints) {
		/* First fit: alternate between the next None page and the
		 * next owned one. */
		for (size_t a = 0; a < s->npages;) {
			a = first_outside(s, a, s->npages, OWNED);
			size_t b = first_outside(s, a, hw_min(s->npages, a + np), ACCEPT_NONE);
			if (b - a == np) {
				*out = a;
				return true;
			}
			a = b;
		}
		return false;
	}
	/* Top-down: b ends the highest None run not yet ruled out. The fit
	 * keeps a None page on each side that is not the backing's edge, so it
	 * needs [start - 1, end + 1) None, clipped to the backing. */
	size_t b = s->npages;
	while (b > 0) {
		size_t top = last_outside(s, 0, b, OWNED);
		if (top == SIZE_MAX)
			return false;
		b = top + 1;
		size_t end = b - (b < s->npages);
		if (end < np)
			return false;
		size_t start = end - np;
		size_t bad = last_outside(s, start - (start > 0), b, ACCEPT_NONE);
		if (bad == SIZE_MAX) {
			*out = start;
			return true;
		}
		b = bad;
	}
	return false;
}

/* ---- the transitions ---- */

static int sim_reserve(hw_platform *pf, void *hint, size_t n, void **out)
{
	sim *s = sim_of(pf);
	size_t first, np = n >> s->shift;
	if (n > s->backing || !place(s, np, hint, &first))
		return ENOMEM;
	/* None pages are already PROT_NONE and discarded (S1). */
	set_state(s, first, np, HW_MEM_RESERVED);
	*out = page_addr(s, first);
	return 0;
}

/* P11: where sim_reserve would put n bytes aligned to align, at or above
 * from. First fit: the lowest aligned None run of n bytes from there. Under
 * ignore_hints, as a reservation made and released: the top-down fit of
 * n + align bytes, aligned up, when that is at or above from. */
static int sim_probe(hw_platform *pf, size_t n, size_t align, uintptr_t from, uintptr_t *out)
{
	sim *s = sim_of(pf);
	uintptr_t lo = (uintptr_t)s->base, end = lo + s->backing;
	size_t first;
	if (s->cfg.ignore_hints) {
		size_t big = n + align;
		if (big < n || big > s->backing || !place(s, big >> s->shift, NULL, &first))
			return ENOMEM;
		uintptr_t a = hw_align_up((uintptr_t)page_addr(s, first), align);
		if (a < from)
			return ENOMEM;
		*out = a;
		return 0;
	}
	uintptr_t a = hw_max(lo, from);
	while (a < end) {
		a = hw_align_up(a, align);
		if (a >= end || n > end - a)
			return ENOMEM;
		size_t i = page_index(s, (void *)a), np = n >> s->shift;
		size_t b = first_outside(s, i, i + np, ACCEPT_NONE);
		if (b == i + np) {
			*out = a;
			return 0;
		}
		/* Past the owned run that ended this try. */
		a = (uintptr_t)page_addr(s, first_outside(s, b, s->npages, OWNED));
	}
	return ENOMEM;
}

static int sim_map(hw_platform *pf, void *p, size_t n)
{
	sim *s = sim_of(pf);
	int rc = check_range(s, HW_SYS_MAP, p, n, ACCEPT_RESERVED);
	if (rc == 0)
		set_state(s, page_index(s, p), n >> s->shift, HW_MEM_PREPARED);
	return rc;
}

static int sim_use(hw_platform *pf, void *p, size_t n)
{
	sim *s = sim_of(pf);
	int rc = check_range(s, HW_SYS_USE, p, n, ACCEPT_PREPARED);
	if (rc == 0)
		rc = make_ready(s, p, n, !s->cfg.released_reads_zero);
	if (rc != 0)
		return rc;
	set_state(s, page_index(s, p), n >> s->shift, HW_MEM_READY);
	return 0;
}

static void sim_unuse(hw_platform *pf, void *p, size_t n)
{
	sim *s = sim_of(pf);
	if (check_range(s, HW_SYS_UNUSE, p, n, ACCEPT_READY) != 0 ||
	    check_unsealed(s, "unuse", p, n) != 0)
		return;
	make_none(s, p, n);
	set_state(s, page_index(s, p), n >> s->shift, HW_MEM_PREPARED);
}

static int sim_fault(hw_platform *pf, void *p, size_t n)
{
	sim *s = sim_of(pf);
	int rc = check_range(s, HW_SYS_FAULT, p, n, ACCEPT_READY | ACCEPT_PREPARED);
	if (rc == 0)
		rc = check_unsealed(s, "fault", p, n);
	if (rc != 0)
		return rc;
	discard_ready(s, page_index(s, p), n >> s->shift);
	set_state(s, page_index(s, p), n >> s->shift, HW_MEM_RESERVED);
	memset(s->faulted + page_index(s, p), 1, n >> s->shift);
	return 0;
}

/* P9, S9: Reserved pages a fault made so, Ready again; they read as a use
 * after fault would leave them (S5). */
static int sim_unfault(hw_platform *pf, void *p, size_t n)
{
	sim *s = sim_of(pf);
	int rc = check_range(s, HW_SYS_UNFAULT, p, n, ACCEPT_RESERVED);
	if (rc != 0)
		return rc;
	size_t first = page_index(s, p), np = n >> s->shift;
	const unsigned char *f = memchr(s->faulted + first, 0, np);
	if (f != NULL) {
		char msg[sizeof s->last_illegal];
		size_t i = (size_t)(f - s->faulted);
		hw_report_format(msg, sizeof msg,
				 "heapward: sim: illegal unfault at page %zu (%p) in state "
				 "Reserved (not by a fault)",
				 i, (void *)page_addr(s, i));
		return refuse(s, msg);
	}
	rc = make_ready(s, p, n, !s->cfg.released_reads_zero);
	if (rc != 0)
		return rc;
	set_state(s, first, np, HW_MEM_READY);
	return 0;
}

/* The populate hint: Ready pages only (S4); it changes nothing, since a
 * Ready page already counts as resident here (S2). */
static void sim_populate(hw_platform *pf, const hw_range *r, size_t k)
{
	sim *s = sim_of(pf);
	for (size_t i = 0; i < k; i++)
		if (check_named(s, "populate", r[i].p, r[i].n, ACCEPT_READY) != 0 ||
		    check_unsealed(s, "populate", r[i].p, r[i].n) != 0)
			return;
}

/* S10: whether page i may take a seal (sealing) or an unseal: Ready and
 * not sealed or sealed, or Reserved by a fault. */
static bool sealable(const sim *s, size_t i, bool sealing)
{
	if (s->state[i] == HW_MEM_RESERVED)
		return s->faulted[i] != 0;
	return s->state[i] == HW_MEM_READY && (s->sealed[i] != 0) != sealing;
}

/* P13, S10: seal (sealing) or unseal [p, p + n). */
static int change_seal(sim *s, hw_sys_kind op, void *p, size_t n, bool sealing)
{
	int rc = check_range(s, op, p, n, ACCEPT_READY | ACCEPT_RESERVED);
	if (rc != 0)
		return rc;
	size_t first = page_index(s, p), end = first + (n >> s->shift);
	for (size_t i = first; i < end; i++) {
		if (sealable(s, i, sealing))
			continue;
		char msg[sizeof s->last_illegal];
		const char *why = s->state[i] == HW_MEM_RESERVED ? "Reserved (not by a fault)"
				  : s->sealed[i]                 ? "Ready (sealed)"
								 : "Ready (not sealed)";
		hw_report_format(msg, sizeof msg,
				 "heapward: sim: illegal %s at page %zu (%p) in state %s",
				 hw_sys_kind_name(op), i, (void *)page_addr(s, i), why);
		return refuse(s, msg);
	}
	/* The real call over each stretch of Ready pages; a refused one
	 * undoes the stretches before it (P2). */
	for (size_t i = first_outside(s, first, end, ACCEPT_RESERVED); i < end;) {
		size_t j = first_outside(s, i, end, ACCEPT_READY);
		rc = protect_pages(s, page_addr(s, i), (j - i) << s->shift, sealing);
		if (rc != 0) {
			for (size_t k = first_outside(s, first, i, ACCEPT_RESERVED); k < i;) {
				size_t e = first_outside(s, k, i, ACCEPT_READY);
				if (protect_pages(s, page_addr(s, k), (e - k) << s->shift,
						  !sealing) != 0)
					hw_fatal("heapward: sim: cannot undo a refused %s",
						 hw_sys_kind_name(op));
				k = first_outside(s, e, i, ACCEPT_RESERVED);
			}
			return rc;
		}
		i = first_outside(s, j, end, ACCEPT_RESERVED);
	}
	for (size_t i = first; i < end; i++)
		if (s->state[i] == HW_MEM_READY)
			s->sealed[i] = sealing;
	changed(s, first << s->shift, end << s->shift);
	return 0;
}

static int sim_seal(hw_platform *pf, void *p, size_t n)
{
	return change_seal(sim_of(pf), HW_SYS_SEAL, p, n, true);
}

static int sim_unseal(hw_platform *pf, void *p, size_t n)
{
	return change_seal(sim_of(pf), HW_SYS_UNSEAL, p, n, false);
}

static void sim_release(hw_platform *pf, void *p, size_t n)
{
	sim *s = sim_of(pf);
	if (check_range(s, HW_SYS_RELEASE, p, n, OWNED) != 0)
		return;
	discard_ready(s, page_index(s, p), n >> s->shift);
	set_state(s, page_index(s, p), n >> s->shift, HW_MEM_NONE);
}

static int sim_alloc(hw_platform *pf, size_t n, void **out)
{
	sim *s = sim_of(pf);
	size_t first, np = n >> s->shift;
	if (n > s->backing || !place(s, np, NULL, &first))
		return ENOMEM;
	void *p = page_addr(s, first);
	int rc = make_ready(s, p, n, false);
	if (rc != 0)
		return rc;
	set_state(s, first, np, HW_MEM_READY);
	*out = p;
	return 0;
}

static void sim_destroy(hw_platform *pf)
{
	sim *s = sim_of(pf);
	free_backing(s->reservation, s->capacity);
	free_self(s, s->self_len);
}

static const void *sim_find_other(const hw_platform *pf, const void *p, size_t n,
				  hw_mem_state st, hw_mem_state *got)
{
	const void *bad = hw_sim_find_other(pf, p, n, st);
	if (bad != NULL)
		*got = hw_sim_state(pf, bad);
	return bad;
}

static const hw_platform_ops sim_ops = {
	.reserve = sim_reserve,
	.map = sim_map,
	.use = sim_use,
	.unuse = sim_unuse,
	.fault = sim_fault,
	.release = sim_release,
	.alloc = sim_alloc,
	.unfault = sim_unfault,
	.populate = sim_populate,
	.seal = sim_seal,
	.unseal = sim_unseal,
	.destroy = sim_destroy,
	.find_other = sim_find_other,
	.probe = sim_probe,
};

/* ---- creation, reset and queries ---- */

/* Fills in the defaults; false when the configuration is invalid (sim.h). */
static bool settle_config(hw_sim_config *cfg, const hw_sim_config *in, size_t real_page)
{
	if (in != NULL)
		*cfg = *in;
	else
		memset(cfg, 0, sizeof *cfg);
	if (cfg->page_size == 0)
		cfg->page_size = 4096;
	if (cfg->backing_bytes == 0)
		cfg->backing_bytes = SIM_DEFAULT_BACKING;
	if (!hw_is_pow2(cfg->page_size) || cfg->page_size < real_page ||
	    cfg->backing_bytes > SIM_MAX_BACKING || cfg->capacity_bytes > SIM_MAX_BACKING ||
	    (cfg->huge_page_size != 0 &&
	     (!hw_is_pow2(cfg->huge_page_size) || cfg->huge_page_size < cfg->page_size)))
		return false;
	return true;
}

static size_t config_align(const hw_sim_config *cfg)
{
	return hw_max(hw_max(SIM_MIN_ALIGN, cfg->huge_page_size), cfg->page_size);
}

/* Everything create sets from the configuration, on an instance whose pages
 * are all None (S6). */
static void apply_config(sim *s, const hw_sim_config *cfg)
{
	s->cfg = *cfg;
	s->backing = hw_align_up(cfg->backing_bytes, cfg->page_size);
	s->npages = s->backing / cfg->page_size;
	s->shift = hw_log2(cfg->page_size);
	s->ready_pages = 0;
	s->used_lo = SIZE_MAX;
	s->used_hi = 0;
	s->illegal = 0;
	s->last_illegal[0] = '\0';

	hw_platform *pf = &s->pf;
	memset(pf, 0, sizeof *pf);
	pf->name = "sim";
	pf->ops = &sim_ops;
	pf->impl = s;
	pf->caps.page_size = cfg->page_size;
	pf->caps.huge_page_size = cfg->huge_page_size;
	pf->caps.granularity = cfg->page_size;
	pf->caps.use_needs_call = cfg->use_needs_call;
	pf->caps.released_reads_zero = cfg->released_reads_zero;
	pf->caps.partial_release = true;
	pf->caps.guard = HW_GUARD_SIM;
	pf->caps.seal_spans_faults = true; /* S10 */
}

hw_platform *hw_platform_sim_create(const hw_sim_config *cfg_in)
{
	hw_sim_config cfg;
	size_t real_page = real_page_size();
	if (!settle_config(&cfg, cfg_in, real_page)) {
		errno = EINVAL;
		return NULL;
	}
	size_t backing = hw_align_up(cfg.backing_bytes, cfg.page_size);
	size_t capacity = hw_align_up(hw_max(backing, cfg.capacity_bytes), cfg.page_size);
	size_t align = config_align(&cfg);

	void *reservation;
	unsigned char *base = reserve_backing(capacity, align, &reservation);
	if (base == NULL) {
		errno = ENOMEM;
		return NULL;
	}

	/* A reset may pick a smaller page: size the state array for the
	 * smallest one allowed. The stale flags follow it. */
	size_t max_pages = hw_align_up(capacity / real_page, 8); /* whole words for scans */
	size_t self_len = hw_align_up(sizeof(sim) + 5 * max_pages, real_page);
	sim *s = alloc_self(self_len);
	if (s == NULL) {
		free_backing(reservation, capacity);
		errno = ENOMEM;
		return NULL;
	}
	s->base = base;
	s->reservation = reservation;
	s->capacity = capacity;
	s->self_len = self_len;
	s->rshift = hw_log2(real_page);
	s->stale = s->state + max_pages;
	s->jmap = s->stale + max_pages;
	s->faulted = s->jmap + max_pages;
	s->sealed = s->faulted + max_pages;
	s->stale_lo = SIZE_MAX;
	s->since_lo = 0;
	s->since_hi = capacity;
	apply_config(s, &cfg);
	return &s->pf;
}

int hw_sim_reset(hw_platform *pf, const hw_sim_config *cfg_in)
{
	sim *s = sim_of(pf);
	hw_sim_config cfg;
	size_t real_page = real_page_size();
	if (!settle_config(&cfg, cfg_in, real_page) ||
	    hw_align_up(cfg.backing_bytes, cfg.page_size) > s->capacity ||
	    (uintptr_t)s->base % config_align(&cfg) != 0)
		return EINVAL;
	/* S6: back to None, in the old page size. Only Ready pages are
	 * accessible (S1); guard markers may sit on any page that was made
	 * inaccessible. */
	if (s->used_lo < s->used_hi) {
		discard_ready(s, s->used_lo, s->used_hi - s->used_lo);
#ifndef _WIN32
		void *p = page_addr(s, s->used_lo);
		size_t n = (s->used_hi - s->used_lo) << s->shift;
		if (s->guards_used && madvise(p, n, MADV_GUARD_REMOVE) != 0)
			real_fail("madvise(GUARD_REMOVE)", p, n, errno);
#endif
		memset(s->state + s->used_lo, HW_MEM_NONE, s->used_hi - s->used_lo);
		memset(s->faulted + s->used_lo, 0, s->used_hi - s->used_lo);
		memset(s->sealed + s->used_lo, 0, s->used_hi - s->used_lo);
		changed(s, s->used_lo << s->shift, s->used_hi << s->shift);
	}
	/* S8: pages joining or leaving the backing change what S1 asks. */
	size_t backing = hw_align_up(cfg.backing_bytes, cfg.page_size);
	if (backing != s->backing)
		changed(s, hw_min(backing, s->backing), hw_max(backing, s->backing));
	s->guards_used = false;
	/* Stale memory is kept for the next run, up to a bound. */
	if (s->stale_pages << s->rshift > SIM_STALE_MAX) {
		restore_none(s, s->base + (s->stale_lo << s->rshift),
			     (s->stale_hi - s->stale_lo) << s->rshift);
		s->stale_lo = SIZE_MAX;
		s->stale_hi = 0;
	}
	apply_config(s, &cfg);
	return 0;
}

SIM_SCAN hw_mem_state hw_sim_state(const hw_platform *pf, const void *p)
{
	const sim *s = sim_of(pf);
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)s->base;
	if (a < lo || a - lo >= s->backing)
		return HW_MEM_NONE;
	return (hw_mem_state)s->state[page_index(s, p)];
}

bool hw_sim_sealed(const hw_platform *pf, const void *p)
{
	const sim *s = sim_of(pf);
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)s->base;
	return a >= lo && a - lo < s->backing && s->sealed[page_index(s, p)];
}

SIM_SCAN const void *hw_sim_find_other(const hw_platform *pf, const void *p, size_t n,
				       hw_mem_state st)
{
	const sim *s = sim_of(pf);
	if (n == 0)
		return NULL;
	size_t page = (size_t)1 << s->shift;
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)s->base, hi = lo + s->backing;
	uintptr_t end = a + n < a ? UINTPTR_MAX : a + n;
	/* Outside the backing every page is None. */
	if (a < lo && st != HW_MEM_NONE)
		return (const void *)hw_align_down(a, page);
	uintptr_t from = a < lo ? lo : a, to = end > hi ? hi : end;
	if (from < to) {
		size_t first = page_index(s, (const void *)from);
		size_t last = page_index(s, (const void *)(to - 1)) + 1;
		size_t i = first_outside(s, first, last, 1u << st);
		if (i != last)
			return page_addr(s, i);
	}
	if (end > hi && st != HW_MEM_NONE)
		return (const void *)(from < hi ? hi : hw_align_down(a, page));
	return NULL;
}

void *hw_sim_backing(const hw_platform *pf, size_t *bytes)
{
	const sim *s = sim_of(pf);
	if (bytes != NULL)
		*bytes = s->backing;
	return s->base;
}

size_t hw_sim_ready_bytes(const hw_platform *pf)
{
	const sim *s = sim_of(pf);
	return s->ready_pages << s->shift;
}

uint64_t hw_sim_illegal_count(const hw_platform *pf, char *msg, size_t len)
{
	const sim *s = sim_of(pf);
	if (msg != NULL && len > 0)
		hw_report_format(msg, len, "%s", s->illegal ? s->last_illegal : "");
	return s->illegal;
}

/* ---- hw_sim_check ---- */

typedef struct check_ctx {
	const sim *s;
	uintptr_t next; /* where the next mapping must start (no holes) */
	char *msg;
	size_t len;
} check_ctx;

/* S1 against one mapping of the backing: read/write exactly on Ready pages. */
static int check_mapping(void *arg, uintptr_t lo, uintptr_t hi, bool rw)
{
	check_ctx *c = arg;
	const sim *s = c->s;
	if (lo != c->next) {
		hw_report_format(c->msg, c->len, "S1: backing not mapped at %p",
				 (void *)c->next);
		return -1;
	}
	c->next = hi;
	/* Guard-marked pages sit in read/write mappings (S1 exception). */
	if (rw && s->guards_used)
		return 0;
	size_t first = page_index(s, (void *)lo);
	size_t end = page_index(s, (void *)(hi - 1)) + 1;
	size_t i = first_outside(s, first, end, rw ? ACCEPT_READY : NOT_READY);
	/* S10: sealed Ready pages are inaccessible. */
	if (rw && i == end) {
		const unsigned char *f = memchr(s->sealed + first, 1, end - first);
		i = f ? (size_t)(f - s->sealed) : end;
	}
	while (!rw && i < end && s->sealed[i])
		i = first_outside(s, i + 1, end, NOT_READY);
	if (i == end)
		return 0;
	hw_report_format(c->msg, c->len, "S1: page %zu (%p) is %s%s but its mapping is %s", i,
			 (void *)page_addr(s, i), state_name(s->state[i]),
			 s->sealed[i] ? " (sealed)" : "", rw ? "read/write" : "inaccessible");
	return -1;
}

/* S7: the first real page mapping the junk file but not flagged stale, or
 * SIZE_MAX. */
SIM_SCAN static size_t jmap_not_stale(const sim *s)
{
	size_t n = s->capacity >> s->rshift, i = 0;
	for (; i + 32 <= n; i += 32) {
		uint64_t j[4], st[4];
		memcpy(j, s->jmap + i, sizeof j);
		memcpy(st, s->stale + i, sizeof st);
		if (((j[0] & ~st[0]) | (j[1] & ~st[1]) | (j[2] & ~st[2]) | (j[3] & ~st[3])) != 0)
			break;
	}
	for (; i < n; i += 8) {
		uint64_t j, st;
		memcpy(&j, s->jmap + i, sizeof j);
		memcpy(&st, s->stale + i, sizeof st);
		if ((j & ~st) != 0)
			return i + (size_t)(__builtin_ctzll(j & ~st) / 8);
	}
	return SIZE_MAX;
}

#ifdef _WIN32
/* Bytes of [p, p + n) holding memory (committed), or SIZE_MAX. */
static size_t resident_bytes(const sim *s, void *p, size_t n)
{
	(void)s;
	return hw_platform_resident_bytes(p, n);
}

/* hw_platform_mappings over [p, p + n): the regions of the one reservation. */
static int backing_mappings(const void *p, size_t n, hw_mapping_fn fn, void *arg)
{
	return hw_platform_mappings(p, n, fn, arg);
}
#else
/* Resident bytes of [p, p + n) (mincore), or SIZE_MAX when it cannot be
 * read; hw_platform_resident_bytes without the comparison tracing of a
 * loop the check runs over the whole backing. */
SIM_SCAN static size_t resident_bytes(const sim *s, void *p, size_t n)
{
	unsigned char vec[4096];
	size_t resident = 0, page = (size_t)1 << s->rshift;
	for (size_t off = 0; off < n;) {
		size_t pages = hw_min((n - off) >> s->rshift, sizeof vec);
		if (mincore((char *)p + off, pages << s->rshift, vec) != 0)
			return SIZE_MAX;
		size_t i = 0;
		for (; i + 8 <= pages; i += 8) {
			uint64_t w;
			memcpy(&w, vec + i, sizeof w);
			resident += hw_sum_bytes(w & BYTES_01);
		}
		for (; i < pages; i++)
			resident += vec[i] & 1;
		off += pages * page;
	}
	return resident * page;
}

/* PROCMAP_QUERY (Linux 6.11): the kernel looks up the mapping covering an
 * address, or the next one, without printing every mapping of the process
 * as /proc/self/maps does. Debian 12's headers predate it. */
struct sim_procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define SIM_PROCMAP_QUERY _IOWR('f', 17, struct sim_procmap_query)
#define SIM_QUERY_READABLE 0x01u
#define SIM_QUERY_WRITABLE 0x02u
#define SIM_QUERY_COVERING_OR_NEXT 0x10u

/* hw_platform_mappings over [p, p + n), asking the kernel for those
 * mappings only when it can. */
static int backing_mappings(const void *p, size_t n, hw_mapping_fn fn, void *arg)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	uintptr_t lo = (uintptr_t)p, hi = lo + n;
	struct sim_procmap_query q;
	memset(&q, 0, sizeof q);
	q.size = sizeof q;
	q.query_flags = SIM_QUERY_COVERING_OR_NEXT;
	q.query_addr = lo;
	if (fd < 0 || ioctl(fd, SIM_PROCMAP_QUERY, &q) != 0) {
		bool none = fd >= 0 && errno == ENOENT;
		if (fd >= 0)
			close(fd);
		/* ENOENT: no mapping at or after p at all. */
		return none ? 0 : hw_platform_mappings(p, n, fn, arg);
	}
	int rc = 0;
	while (rc == 0 && q.vma_start < hi) {
		uintptr_t a = hw_max(q.vma_start, lo), b = hw_min(q.vma_end, hi);
		unsigned rw = SIM_QUERY_READABLE | SIM_QUERY_WRITABLE;
		rc = fn(arg, a, b, (q.vma_flags & rw) == rw);
		if (rc != 0 || q.vma_end >= hi)
			break;
		q.query_addr = q.vma_end;
		if (ioctl(fd, SIM_PROCMAP_QUERY, &q) != 0) {
			if (errno != ENOENT)
				rc = -1;
			break;
		}
	}
	close(fd);
	return rc;
}
#endif

/* S1, S2 and S7, with S1 walked over the bytes [lo, hi) of the backing
 * (page-aligned); a pass empties the S8 window. */
static int check(sim *s, char *msg, size_t len, size_t lo, size_t hi)
{
	char scratch[8];
	if (msg == NULL || len == 0) {
		msg = scratch;
		len = sizeof scratch;
	}
	size_t ready = count_ready(s, 0, s->npages);
	if (ready != s->ready_pages) {
		hw_report_format(msg, len, "S2: ready_pages is %zu but %zu pages are Ready",
				 s->ready_pages, ready);
		return -1;
	}
	msg[0] = '\0';
	check_ctx c = {s, (uintptr_t)s->base + lo, msg, len};
	if (lo < hi && backing_mappings(s->base + lo, hi - lo, check_mapping, &c) != 0) {
		if (msg[0] == '\0')
			hw_report_format(msg, len, "S1: cannot read the process's mappings");
		return -1;
	}
	if (c.next != (uintptr_t)s->base + hi) {
		hw_report_format(msg, len, "S1: backing not mapped at %p", (void *)c.next);
		return -1;
	}
	size_t flags = count_flags(s->stale, 0, s->capacity >> s->rshift);
	if (flags != s->stale_pages) {
		hw_report_format(msg, len, "S7: stale_pages is %zu but %zu pages are flagged",
				 s->stale_pages, flags);
		return -1;
	}
	size_t loose = jmap_not_stale(s);
	if (loose != SIZE_MAX) {
		hw_report_format(msg, len, "S7: page %p maps the junk file, not flagged stale",
				 (void *)(s->base + (loose << s->rshift)));
		return -1;
	}
	/* Non-Ready pages hold no memory unless flagged stale: walk maximal
	 * non-Ready runs, and their unflagged parts. */
	size_t last = hi >> s->shift;
	for (size_t i = first_outside(s, lo >> s->shift, last, ACCEPT_READY); i < last;
	     i = first_outside(s, i, last, ACCEPT_READY)) {
		size_t j = first_outside(s, i, last, NOT_READY);
		size_t ri = real_index(s, page_addr(s, i)), rj = real_index(s, page_addr(s, j));
		for (size_t k = find_flag(s->stale, ri, rj, false); k < rj;) {
			size_t e = find_flag(s->stale, k, rj, true);
			void *p = s->base + (k << s->rshift);
			size_t res = resident_bytes(s, p, (e - k) << s->rshift);
			if (res != 0) {
				hw_report_format(
					msg, len,
					"S1: %zu bytes resident in non-Ready pages %zu..%zu "
					"(%p), not flagged stale",
					res, i, j - 1, p);
				return -1;
			}
			k = find_flag(s->stale, e, rj, false);
		}
		i = j;
	}
	s->since_lo = SIZE_MAX;
	s->since_hi = 0;
	msg[0] = '\0';
	return 0;
}

int hw_sim_check(const hw_platform *pf, char *msg, size_t len)
{
	sim *s = sim_of(pf);
	return check(s, msg, len, 0, s->backing);
}

int hw_sim_check_since(const hw_platform *pf, char *msg, size_t len)
{
	sim *s = sim_of(pf);
	size_t page = (size_t)1 << s->shift;
	size_t lo = hw_align_down(s->since_lo, page);
	size_t hi = hw_min(hw_align_up(s->since_hi, page), s->backing);
	return check(s, msg, len, lo < hi ? lo : 0, lo < hi ? hi : 0);
}

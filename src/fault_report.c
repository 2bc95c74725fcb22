/* fault_report.c: what the heaps say about a memory fault on their pages.
 *
 * Owns: hw_fault_reports_enable, and the classifier the platform's fault
 * handler (platform/fault.h) calls with each fault's address: which listed
 * heap holds it, and what that heap's page bitmaps say about its page.
 *
 * A fault in a heap's arena is reported in two lines, through the heap's
 * report function:
 *   heapward: SEGV on address A in heap H: free run [S, E) (N pages), 0xO bytes into it
 *   heapward: the address is in page K of the run, released; this heap faults
 *   freed runs (fault_on_free is set)
 * ("1 page" for a run of one; "allocated run" for a page in use, whose run
 * is [head, end), and "a guard page" when the page is one of its guard
 * pages, "released inside it" when the run's owner released it
 * (hw_heap_release_inside); "Ready" for a free page still backed; "does
 * not fault freed runs (fault_on_free is not set)"). A free run is
 * maximal: from the allocated page (or the end of the arenas) below it to
 * the one above it. An address inside a heap's window but in none of its
 * arenas gets one line saying so.
 *
 * Invariants:
 *   FR1. Async-signal-safe: no lock, no malloc, no stdio. Lines are formatted
 *        on the stack by the report formatter (report.c, F1) and handed to the
 *        heap's report function, which heapward.h requires to be
 *        async-signal-safe.
 *   FR2. Read-only: no heap state or counter changes.
 *   FR3. One report per fault: from the first listed heap that has the
 *        address in an arena; failing that, from the first whose window holds
 *        it (windows of two heaps may overlap; arenas never do).
 *   FR4. A fault no heap's window holds prints nothing, and the classifier
 *        says it did not report it: the next rank of the chain (fault.h)
 *        is asked. A heap that is the malloc layer's own is reported by the
 *        layer's classifier, which the chain asks first, when its debug
 *        mode is on.
 *
 * Locking: none, on purpose. The interrupted thread may hold a heap's lock
 * (a fault inside an allocation, or another thread's), and a handler that
 * waited for it would hang. The registry is walked lock-free (registry.c,
 * R4, with its residual hazard: a heap destroyed at the instant of the
 * fault). Each heap's fields and bitmaps are read without its lock: if
 * another thread is changing that heap at that instant, the report may mix
 * the states before and after the change (a run's bounds one page off, say).
 * The walks are bounded by the present chunks whatever they read.
 */
#include "fault.h"
#include "heap_internal.h"

/* Which bitmap a walk reads, and whether it looks for set or clear bits. */
typedef struct probe {
	bool head; /* the head map; else the alloc map */
	bool set;  /* look for a set bit; else a clear one */
} probe;

/* Chunk ci of h when it is present (read without the lock, FR2). */
static hw_chunk *present(hw_heap *h, size_t ci)
{
	return ci < h->nchunks ? hw_heap_present_chunk(h, hw_heap_addr(h, ci * HW_BITS_PAGES))
			       : NULL;
}

/* c's map for p, with bits inverted when p looks for clear ones. */
static void load_map(const hw_chunk *c, probe p, uint64_t *w)
{
	const uint64_t *m = p.head ? c->head : c->alloc;
	for (unsigned k = 0; k < HW_BITS_WORDS; k++)
		w[k] = p.set ? m[k] : ~m[k];
}

/* The lowest page >= from matching p, or the end of the present chunks
 * that start at from's chunk. from's chunk is present. */
static size_t scan_up(hw_heap *h, size_t from, probe p)
{
	size_t ci = from / HW_BITS_PAGES;
	unsigned i = (unsigned)(from % HW_BITS_PAGES);
	for (hw_chunk *c; (c = present(h, ci)) != NULL; ci++, i = 0) {
		uint64_t w[HW_BITS_WORDS];
		load_map(c, p, w);
		unsigned j = hw_bits_find_set_from(w, i);
		if (j != HW_BITS_NONE)
			return ci * HW_BITS_PAGES + j;
	}
	return ci * HW_BITS_PAGES;
}

/* The highest page < below matching p (*found), or the first page of the
 * present chunks that end at below's chunk (!*found; below itself when the
 * chunk before it is absent). */
static size_t scan_down(hw_heap *h, size_t below, probe p, bool *found)
{
	*found = false;
	size_t ci = below / HW_BITS_PAGES;
	unsigned i = (unsigned)(below % HW_BITS_PAGES);
	if (i == 0) {
		if (ci == 0)
			return 0;
		ci--;
		i = HW_BITS_PAGES;
	}
	for (;;) {
		hw_chunk *c = present(h, ci);
		if (!c)
			return (ci + 1) * HW_BITS_PAGES;
		uint64_t w[HW_BITS_WORDS];
		load_map(c, p, w);
		unsigned j = hw_bits_find_set_below(w, i);
		if (j != HW_BITS_NONE) {
			*found = true;
			return ci * HW_BITS_PAGES + j;
		}
		if (ci == 0)
			return 0;
		ci--;
		i = HW_BITS_PAGES;
	}
}

/* Reports a fault at a, in a present chunk c of h. */
static void report_page(hw_heap *h, const hw_fault *f, hw_chunk *c)
{
	static const probe alloc_set = {false, true}, alloc_clear = {false, false},
			   head_set = {true, true};
	size_t page = (f->addr - h->base) >> h->page_shift;
	unsigned i = (unsigned)(page % HW_BITS_PAGES);
	bool inuse = hw_bits_test(c->alloc, i);
	bool released = hw_bits_test(c->released, i);
	size_t start, end;
	bool found;
	if (inuse) {
		start = scan_down(h, page + 1, head_set, &found);
		end = hw_min(scan_up(h, page + 1, head_set), scan_up(h, page + 1, alloc_clear));
	} else {
		start = scan_down(h, page, alloc_set, &found);
		if (found)
			start++;
		end = scan_up(h, page + 1, alloc_set);
	}
	uintptr_t lo = hw_heap_addr(h, start), hi = hw_heap_addr(h, end);
	hw_heap_report(h, "heapward: %s on address %p in heap %p: %s run [%p, %p) (%zu page%s), "
			  "0x%zx bytes into it",
		       f->signal, (void *)f->addr, (void *)h, inuse ? "allocated" : "free",
		       (void *)lo, (void *)hi, end - start, end - start == 1 ? "" : "s",
		       (size_t)(f->addr - lo));
	if (inuse && hw_bits_test(c->guard, i)) {
		hw_heap_report(h, "heapward: the address is in page %zu of the run, a guard "
				  "page: the run's owner made it trap (hw_heap_guard)",
			       page - start);
		return;
	}
	if (inuse && hw_bits_test(c->inside, i)) {
		hw_heap_report(h, "heapward: the address is in page %zu of the run, released "
				  "inside it: the run's owner gave its memory back "
				  "(hw_heap_release_inside) and has not reused it",
			       page - start);
		return;
	}
	if (inuse) {
		hw_heap_report(h, "heapward: the address is in page %zu of the run, in use: "
				  "not a touch of freed memory",
			       page - start);
		return;
	}
	hw_heap_report(h, "heapward: the address is in page %zu of the run, %s; this heap %s",
		       page - start, released ? "released" : "Ready",
		       h->fault_on_free ? "faults freed runs (fault_on_free is set)"
					: "does not fault freed runs (fault_on_free is not set)");
}

/* The page heaps' classifier (fault.h rank HW_FAULT_RANK_PAGES): whether
 * it reported (FR3, FR4). */
static bool classify(const hw_fault *f)
{
	hw_heap *in_window = NULL;
	for (hw_heap *h = hw_registry_first(); h; h = hw_registry_next(h)) {
		hw_chunk *c = hw_heap_present_chunk(h, f->addr);
		if (c) {
			report_page(h, f, c);
			return true;
		}
		if (!in_window && h->base != 0 && f->addr - h->base < h->address_space)
			in_window = h;
	}
	if (!in_window)
		return false;
	hw_heap *h = in_window;
	hw_heap_report(h, "heapward: %s on address %p inside heap %p's address window "
			  "[%p, %p), in none of its arenas: not heap memory",
		       f->signal, (void *)f->addr, (void *)h, (void *)h->base,
		       (void *)(h->base + h->address_space));
	return true;
}

int hw_fault_reports_enable(void) { return hw_fault_install(classify, HW_FAULT_RANK_PAGES); }

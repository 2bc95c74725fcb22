/* plant.cc: the fuzzed detector's victim. It makes a random sequence of
 * allocations, reallocations and frees from a seed, plants one heap bug of
 * the class it is told on one chosen object, and says on stdout exactly
 * what it planted, so the checker (detector_test.c) can hold the report
 * to it. Built with -O0 -g -fno-omit-frame-pointer and not linked against
 * heapward: it runs under the preload library (LD_PRELOAD or `heapward
 * run`).
 *
 * Usage: detector_plant SEED CLASS
 *   CLASS: clean, double-free, bad-free-interior, bad-free-misaligned,
 *   bad-free-stack, bad-free-global, mismatch, sized-delete, free-sized,
 *   canary, uaf-write-evict, uaf-write-exit, guard-underflow,
 *   guard-overflow-trap, guard-underflow-trap, guard-uaf-trap, leak-direct,
 *   leak-indirect.
 *
 * Owns: the sequence (what SEED makes), the allocation sites (site_*: one
 * noinline function per form, each named for it), the deallocations
 * (drop_*), and the plant line.
 *
 * Invariants:
 *   PV1. The same SEED and CLASS make the same sequence of calls, sizes,
 *        alignments and choices (splitmix64; nothing else is random), so a
 *        report is replayed by running the same command again.
 *   PV2. Every object comes from one site_* function and goes back through
 *        the drop_* function of its kind (sized or not, with its own size
 *        and alignment: the malloc family's sized frees are C23's
 *        free_sized, and free_aligned_sized for an object of an aligned
 *        site), so a clean sequence has no bug for the heap to
 *        report, and every stack of a planted bug starts with a function
 *        named here.
 *   PV3. Before the bug, one line is printed and flushed on stdout:
 *          plant class=C addr=0x.. obj=0x.. size=N site=F drop=G k=K ...
 *        addr is the address the report must name, [obj, obj+size) the
 *        object, site the function that allocated it, drop the function
 *        that makes the error (key=value pairs, detector_test.c reads
 *        them). A double free or a write after free whose object's memory
 *        was handed out again before the bug is not planted (the line says
 *        reused=1 and the run goes on clean): the bug would hit a live
 *        object. Under the debug mode's quarantine that cannot happen, and
 *        the checker counts it as a miss.
 *   PV4. Objects the program still holds are reachable from the global
 *        table objs[] until they are freed; a leaked object's pointer is
 *        removed from it, from every object (all bytes are the fill
 *        pattern 0xa5, or calloc's zeros, never a pointer, but an indirect
 *        leak's link) and, by scrub(), from the dead part of the stack, so
 *        the leak check at exit sees the leak and nothing else.
 *   PV5. After an error the plant returns straight from main (the process
 *        is aborted by the library unless abort_on_error=0); after a leak,
 *        and in a clean run, every other object is freed first.
 *
 * Locking: none (one thread).
 */
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <new>

#define NOINLINE __attribute__((noinline))

/* C23's, which glibc declares from 2.43 on. Weak: an older C library has
 * none to link against, and the preload library supplies them at run time
 * (main checks). */
extern "C" void free_sized(void *p, size_t size) noexcept __attribute__((weak));
extern "C" void free_aligned_sized(void *p, size_t align, size_t size) noexcept
	__attribute__((weak));

namespace
{

uint64_t rng;

/* PV1: splitmix64. */
uint64_t next()
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

size_t below(size_t n) { return n ? (size_t)(next() % n) : 0; }

/* Small to large: most requests small, some spanning pages, a few large
 * objects of their own page runs (MC_SMALL_MAX is 64 KiB). */
size_t random_size()
{
	size_t r = below(100);
	if (r < 60)
		return 1 + below(256);
	if (r < 85)
		return 257 + below(4096 - 256);
	if (r < 95)
		return 4097 + below(65536 - 4096);
	return 65537 + below(300000);
}

size_t random_align()
{
	static const size_t aligns[] = {8, 16, 32, 64, 128, 256, 4096};
	return aligns[below(sizeof aligns / sizeof aligns[0])];
}

} // namespace

/* The allocation kinds, as the heap's kind check tells them apart. */
enum kind { K_MALLOC,
	    K_NEW,
	    K_NEW_ARRAY,
	    K_NEW_ALIGNED,
	    K_NEW_ARRAY_ALIGNED,
	    K_COUNT };

struct obj {
	void *p;
	size_t size, align;
	unsigned kind;
	const char *site;
};

enum { MAX_LIVE = 256 };

/* PV4: the roots of everything live. */
obj objs[MAX_LIVE];
size_t nlive;
int global_target[8];

extern "C" {

/* ---- allocation sites (PV2) ---- */

NOINLINE void *site_malloc(size_t n) { return std::malloc(n); }
NOINLINE void *site_calloc(size_t n) { return std::calloc(n, 1); }
NOINLINE void *site_realloc_null(size_t n) { return std::realloc(nullptr, n); }
NOINLINE void *site_realloc(void *p, size_t n) { return std::realloc(p, n); }
NOINLINE void *site_aligned_alloc(size_t n, size_t a) { return aligned_alloc(a, n); }
NOINLINE void *site_posix_memalign(size_t n, size_t a)
{
	void *p = nullptr;
	return posix_memalign(&p, a, n) == 0 ? p : nullptr;
}
NOINLINE void *site_memalign(size_t n, size_t a) { return memalign(a, n); }
NOINLINE void *site_new(size_t n) { return ::operator new(n); }
NOINLINE void *site_new_array(size_t n) { return ::operator new[](n); }
NOINLINE void *site_new_aligned(size_t n, size_t a)
{
	return ::operator new(n, std::align_val_t(a));
}
NOINLINE void *site_new_array_aligned(size_t n, size_t a)
{
	return ::operator new[](n, std::align_val_t(a));
}

/* ---- deallocations (PV2) ---- */

NOINLINE void drop_free(void *p) { std::free(p); }
NOINLINE void drop_free_sized(void *p, size_t n) { free_sized(p, n); }
NOINLINE void drop_free_aligned_sized(void *p, size_t n, size_t a) { free_aligned_sized(p, a, n); }
NOINLINE void drop_delete(void *p) { ::operator delete(p); }
NOINLINE void drop_delete_sized(void *p, size_t n) { ::operator delete(p, n); }
NOINLINE void drop_delete_array(void *p) { ::operator delete[](p); }
NOINLINE void drop_delete_array_sized(void *p, size_t n) { ::operator delete[](p, n); }
NOINLINE void drop_delete_aligned(void *p, size_t a)
{
	::operator delete(p, std::align_val_t(a));
}
NOINLINE void drop_delete_aligned_sized(void *p, size_t n, size_t a)
{
	::operator delete(p, n, std::align_val_t(a));
}
NOINLINE void drop_delete_array_aligned(void *p, size_t a)
{
	::operator delete[](p, std::align_val_t(a));
}
NOINLINE void drop_delete_array_aligned_sized(void *p, size_t n, size_t a)
{
	::operator delete[](p, n, std::align_val_t(a));
}

} // extern "C"

namespace
{

/* A deallocation of kind `kind`, sized (with size n) or not; returns the
 * function's name. */
const char *drop_as(unsigned kind, bool sized, void *p, size_t n, size_t a)
{
	switch (kind) {
	case K_NEW:
		if (sized) {
			drop_delete_sized(p, n);
			return "drop_delete_sized";
		}
		drop_delete(p);
		return "drop_delete";
	case K_NEW_ARRAY:
		if (sized) {
			drop_delete_array_sized(p, n);
			return "drop_delete_array_sized";
		}
		drop_delete_array(p);
		return "drop_delete_array";
	case K_NEW_ALIGNED:
		if (sized) {
			drop_delete_aligned_sized(p, n, a);
			return "drop_delete_aligned_sized";
		}
		drop_delete_aligned(p, a);
		return "drop_delete_aligned";
	case K_NEW_ARRAY_ALIGNED:
		if (sized) {
			drop_delete_array_aligned_sized(p, n, a);
			return "drop_delete_array_aligned_sized";
		}
		drop_delete_array_aligned(p, a);
		return "drop_delete_array_aligned";
	default:
		if (sized && a) {
			drop_free_aligned_sized(p, n, a);
			return "drop_free_aligned_sized";
		}
		if (sized) {
			drop_free_sized(p, n);
			return "drop_free_sized";
		}
		drop_free(p);
		return "drop_free";
	}
}

/* The function name drop_as would call with these arguments, without
 * calling it. */
const char *drop_name(unsigned kind, bool sized, size_t a)
{
	static const char *const plain[K_COUNT] = {"drop_free", "drop_delete", "drop_delete_array",
						   "drop_delete_aligned",
						   "drop_delete_array_aligned"};
	static const char *const with_size[K_COUNT] = {
		"drop_free_sized", "drop_delete_sized", "drop_delete_array_sized",
		"drop_delete_aligned_sized", "drop_delete_array_aligned_sized"};
	if (kind == K_MALLOC && sized && a)
		return "drop_free_aligned_sized";
	return (sized ? with_size : plain)[kind];
}

/* Watch for a double free's slot being handed out again (PV3). */
uintptr_t watch_lo, watch_hi;
bool watch_hit;

/* A new object from a random site; false when the allocation failed. */
bool make(obj *o, size_t n)
{
	o->size = n;
	o->align = 0;
	switch (below(10)) {
	case 0:
		o->p = site_malloc(n), o->kind = K_MALLOC, o->site = "site_malloc";
		break;
	case 1:
		o->p = site_calloc(n), o->kind = K_MALLOC, o->site = "site_calloc";
		break;
	case 2:
		o->p = site_realloc_null(n), o->kind = K_MALLOC, o->site = "site_realloc_null";
		break;
	case 3:
		o->align = random_align();
		o->align = o->align < 16 ? 16 : o->align;
		o->p = site_aligned_alloc(n, o->align), o->kind = K_MALLOC,
		o->site = "site_aligned_alloc";
		break;
	case 4:
		o->align = random_align();
		o->p = site_posix_memalign(n, o->align), o->kind = K_MALLOC,
		o->site = "site_posix_memalign";
		break;
	case 5:
		o->align = random_align();
		o->p = site_memalign(n, o->align), o->kind = K_MALLOC, o->site = "site_memalign";
		break;
	case 6:
		o->p = site_new(n), o->kind = K_NEW, o->site = "site_new";
		break;
	case 7:
		o->p = site_new_array(n), o->kind = K_NEW_ARRAY, o->site = "site_new_array";
		break;
	case 8:
		o->align = 32u << below(5);
		o->p = site_new_aligned(n, o->align), o->kind = K_NEW_ALIGNED,
		o->site = "site_new_aligned";
		break;
	default:
		o->align = 32u << below(5);
		o->p = site_new_array_aligned(n, o->align), o->kind = K_NEW_ARRAY_ALIGNED,
		o->site = "site_new_array_aligned";
		break;
	}
	if (!o->p)
		return false;
	if (o->kind != K_MALLOC || std::strcmp(o->site, "site_calloc") != 0)
		std::memset(o->p, 0xa5, n); /* PV4: no pointer in it */
	uintptr_t a = (uintptr_t)o->p;
	if (a < watch_hi && a + n > watch_lo)
		watch_hit = true;
	return true;
}

/* Removes objs[i] from the table, leaving no copy of its pointer (PV4). */
obj take(size_t i)
{
	obj o = objs[i];
	objs[i] = objs[--nlive];
	objs[nlive] = obj{};
	return o;
}

void release(const obj &o) { drop_as(o.kind, below(2), o.p, o.size, o.align); }

/* One random operation of the sequence. */
void step()
{
	size_t r = below(100);
	if (nlive < MAX_LIVE && (r < 50 || nlive == 0)) {
		obj o;
		if (make(&o, random_size()))
			objs[nlive++] = o;
	} else if (r < 85) {
		release(take(below(nlive)));
	} else {
		obj &o = objs[below(nlive)];
		if (o.kind != K_MALLOC || o.align > 16)
			return; /* realloc keeps 16-byte alignment only */
		size_t n = random_size();
		void *q = site_realloc(o.p, n);
		if (!q)
			return;
		if (n > o.size)
			std::memset((char *)q + o.size, 0xa5, n - o.size);
		/* Of no aligned site now: free_sized's, not free_aligned_sized's
		 * (under guard_align=1, not even 16-byte aligned). */
		o.p = q, o.size = n, o.align = 0, o.site = "site_realloc";
		uintptr_t a = (uintptr_t)q;
		if (a < watch_hi && a + n > watch_lo)
			watch_hit = true;
	}
}

void steps(size_t n)
{
	for (size_t i = 0; i < n; i++)
		step();
}

/* A live object matching want(), made when none is in the table. */
size_t pick(bool (*want)(const obj &), size_t (*size)())
{
	size_t start = below(nlive ? nlive : 1);
	for (size_t i = 0; i < nlive; i++)
		if (want(objs[(start + i) % nlive]))
			return (start + i) % nlive;
	for (;;) {
		obj o;
		if (make(&o, size()) && want(o)) {
			objs[nlive++] = o;
			return nlive - 1;
		}
		if (o.p)
			release(o);
	}
}

bool any(const obj &) { return true; }

void say(const char *cls, const void *addr, const obj &o, const char *drop, size_t k,
	 const char *extra)
{
	std::printf("plant class=%s addr=%p obj=%p size=%zu site=%s drop=%s k=%zu kind=%u%s%s\n",
		    cls, addr, o.p, o.size, o.site, drop, k, o.kind, extra[0] ? " " : "", extra);
	std::fflush(stdout);
}

} // namespace

extern "C" {

/* Overwrites the dead part of the stack below the caller (PV4). */
NOINLINE void scrub()
{
	volatile char b[32768];
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = 0;
}

NOINLINE void cleanup()
{
	while (nlive)
		release(take(nlive - 1));
}

NOINLINE void plant_double_free()
{
	obj o = take(pick(any, random_size));
	size_t n = below(40);
	bool sized = below(2);
	watch_lo = (uintptr_t)o.p;
	watch_hi = watch_lo + (o.size ? o.size : 1);
	drop_as(o.kind, sized, o.p, o.size, o.align);
	steps(n);
	char extra[64];
	std::snprintf(extra, sizeof extra, "n=%zu reused=%d", n, watch_hit);
	say("double-free", o.p, o, drop_name(o.kind, sized, o.align), 0, extra);
	if (watch_hit) {
		cleanup();
		return;
	}
	drop_as(o.kind, sized, o.p, o.size, o.align);
}

bool big_enough(const obj &o) { return o.size >= 2; }
bool has_16(const obj &o) { return o.size > 16; }

/* A free of obj + k, k inside the object: a multiple of 16 (interior) or
 * not (misaligned). */
NOINLINE void plant_bad_free_inside(bool aligned)
{
	size_t i = pick(aligned ? has_16 : big_enough, random_size);
	obj o = objs[i];
	size_t k;
	if (aligned)
		k = 16 * (1 + below((o.size - 1) / 16));
	else
		do
			k = 1 + below(o.size - 1);
		while (k % 16 == 0);
	bool sized = below(2);
	say(aligned ? "bad-free-interior" : "bad-free-misaligned", (char *)o.p + k, o,
	    drop_name(o.kind, sized, o.align), k, "");
	drop_as(o.kind, sized, (char *)o.p + k, o.size, o.align);
}

NOINLINE void plant_bad_free_stack()
{
	int local[8] = {0};
	obj o = {local, sizeof local, 0, K_MALLOC, "-"};
	say("bad-free-stack", local, o, "drop_free", 0, "");
	drop_free(local);
}

NOINLINE void plant_bad_free_global()
{
	obj o = {global_target, sizeof global_target, 0, K_MALLOC, "-"};
	say("bad-free-global", global_target, o, "drop_free", 0, "");
	drop_free(global_target);
}

/* Freed by a deallocation of another kind (sized or not), or, for an
 * object of operator new, reallocated (drop_kind K_COUNT: realloc). */
NOINLINE void plant_mismatch()
{
	size_t i = pick(any, random_size);
	obj o = objs[i];
	unsigned wrong = (o.kind + 1 + (unsigned)below(K_COUNT - 1)) % K_COUNT;
	bool sized = wrong != K_MALLOC && below(2);
	bool by_realloc = wrong == K_MALLOC && below(2);
	char extra[32];
	std::snprintf(extra, sizeof extra, "drop_kind=%u", by_realloc ? (unsigned)K_COUNT : wrong);
	say("mismatch", o.p, o,
	    by_realloc ? "site_realloc" : drop_name(wrong, sized, o.align ? o.align : 16), 0,
	    extra);
	if (!by_realloc) {
		drop_as(wrong, sized, o.p, o.size, o.align ? o.align : 16);
		return;
	}
	/* Continuing past the report, realloc refuses (NULL, EINVAL) and the
	 * object stays the program's. */
	size_t n = random_size();
	void *q = site_realloc(o.p, n);
	if (q)
		objs[i] = obj{q, n, 0, K_MALLOC, "site_realloc"};
}

bool from_new(const obj &o) { return o.kind != K_MALLOC; }

/* Freed by the sized deallocation of its kind with a size not its own. */
NOINLINE void plant_sized_delete()
{
	obj o = objs[pick(from_new, random_size)];
	size_t wrong;
	do
		wrong = below(2) ? o.size + 1 + below(64) : below(o.size);
	while (wrong == o.size);
	char extra[32];
	std::snprintf(extra, sizeof extra, "given=%zu", wrong);
	say("sized-delete", o.p, o, drop_name(o.kind, true, o.align), 0, extra);
	drop_as(o.kind, true, o.p, wrong, o.align);
}

bool from_malloc(const obj &o) { return o.kind == K_MALLOC; }

/* A malloc-family object freed by C23's sized free of its site (PV2) with
 * a size not its own, or, by free_aligned_sized, with twice the largest
 * power of two dividing its address, which cannot divide it. */
NOINLINE void plant_free_sized()
{
	obj o = objs[pick(from_malloc, random_size)];
	char extra[48];
	if (below(3) == 0) {
		size_t bad = ((uintptr_t)o.p & -(uintptr_t)o.p) * 2;
		std::snprintf(extra, sizeof extra, "given_align=%zu", bad);
		say("free-sized", o.p, o, "drop_free_aligned_sized", 0, extra);
		drop_free_aligned_sized(o.p, o.size, bad);
		return;
	}
	size_t wrong;
	do
		wrong = below(2) ? o.size + 1 + below(64) : below(o.size + 1);
	while (wrong == o.size);
	std::snprintf(extra, sizeof extra, "given=%zu", wrong);
	say("free-sized", o.p, o, drop_name(K_MALLOC, true, o.align), 0, extra);
	drop_as(K_MALLOC, true, o.p, wrong, o.align);
}

bool holds_pointer(const obj &o) { return o.size >= sizeof(void *); }

/* Forgets one object (and, indirect, a second one only the first points
 * to), then goes on and frees everything else (PV4, PV5). */
NOINLINE void plant_leak(bool indirect)
{
	obj o = take(pick(indirect ? holds_pointer : any, random_size));
	char extra[128] = "";
	if (indirect) {
		obj c;
		while (!make(&c, random_size()))
			;
		std::memcpy(o.p, &c.p, sizeof c.p);
		std::snprintf(extra, sizeof extra, "child=%p child_size=%zu child_site=%s", c.p,
			      c.size, c.site);
		c = obj{};
	}
	say(indirect ? "leak-indirect" : "leak-direct", o.p, o, "-", 0, extra);
	o = obj{};
	steps(below(40));
	cleanup();
}

/* The canary covers the requested end up to the next multiple of 16
 * (MC6): objects whose size is not one have some. */
bool has_canary(const obj &o) { return o.size % 16 != 0; }

/* One byte k bytes past the end changed, then the object freed (or, for
 * the malloc family, reallocated), which checks the canary. */
NOINLINE void plant_canary()
{
	size_t i = pick(has_canary, random_size);
	obj o = objs[i];
	size_t k = below(16 - o.size % 16);
	unsigned char *at = (unsigned char *)o.p + o.size + k;
	bool by_realloc = o.kind == K_MALLOC && o.align <= 16 && below(3) == 0;
	bool sized = below(2);
	say("canary", at, o, by_realloc ? "site_realloc" : drop_name(o.kind, sized, o.align), k,
	    "");
	*at ^= 0xff;
	if (by_realloc) {
		/* Continuing past the report (abort_on_error=0), realloc goes on:
		 * the program keeps what it returns. */
		size_t n = random_size();
		void *q = site_realloc(o.p, n);
		if (q)
			objs[i] = obj{q, n, 0, K_MALLOC, "site_realloc"};
	} else
		drop_as(o.kind, sized, o.p, o.size, o.align);
}

/* The frees that push a quarantined object out. */
NOINLINE void evict_free(void *p) { std::free(p); }

/* A write into a freed object while the quarantine holds it (0x11: not
 * the quarantine's 0xdd), found when it leaves the quarantine: pushed out
 * by 80 MiB of frees (evict, under quarantine_bytes=64m), or at exit. A
 * freed object handed out again before the write is not written (PV3). */
NOINLINE void plant_uaf_write(bool evict)
{
	obj o = take(pick(any, random_size));
	size_t k = below(o.size);
	watch_lo = (uintptr_t)o.p;
	watch_hi = watch_lo + o.size;
	const char *first = drop_as(o.kind, below(2), o.p, o.size, o.align);
	size_t n = below(40);
	steps(n);
	unsigned char *at = (unsigned char *)o.p + k;
	char extra[128];
	std::snprintf(extra, sizeof extra, "n=%zu reused=%d first=%s", n, watch_hit, first);
	say(evict ? "uaf-write-evict" : "uaf-write-exit", at, o, evict ? "evict_free" : "-", k,
	    extra);
	if (watch_hit) {
		cleanup();
		return;
	}
	*at = 0x11;
	if (evict)
		for (int i = 0; i < 80; i++)
			evict_free(site_malloc(1 << 20));
}

NOINLINE void plant_uaf_evict() { plant_uaf_write(true); }
NOINLINE void plant_uaf_exit() { plant_uaf_write(false); }

/* With every object guarded (guard=all), the pattern before an object
 * that does not start its page: one byte k bytes before the start (k at
 * most the object's offset in its page), then the free checks it. */
bool room_before(const obj &o) { return (uintptr_t)o.p % 4096 != 0; }

NOINLINE void plant_underflow()
{
	obj o = objs[pick(room_before, random_size)];
	size_t k = 1 + below((uintptr_t)o.p % 4096);
	unsigned char *at = (unsigned char *)o.p - k;
	bool sized = below(2);
	say("guard-underflow", at, o, drop_name(o.kind, sized, o.align), k, "");
	*at ^= 0xff;
	drop_as(o.kind, sized, o.p, o.size, o.align);
}

/* The accesses that trap, one function each so the stack names them. */
NOINLINE int touch_read(const volatile unsigned char *at) { return *at; }
NOINLINE void touch_write(volatile unsigned char *at) { *at = 0x11; }

bool unaligned(const obj &o) { return o.align == 0; }

/* With every object guarded, an access k bytes past the end (the guard
 * page, under guard_align=1: an object not of an aligned form ends
 * against it), k bytes before the start (guard_side=left: every object
 * starts its page), or k bytes inside a freed, quarantined object after n
 * other operations. It traps: the process dies of SIGSEGV at the access. */
NOINLINE void plant_touch(int where)
{
	const char *cls = where == 0   ? "guard-overflow-trap"
			  : where == 1 ? "guard-underflow-trap"
				       : "guard-uaf-trap";
	bool write = below(2);
	char extra[128];
	obj o;
	unsigned char *at;
	size_t k;
	if (where == 2) {
		o = take(pick(any, random_size));
		k = below(o.size);
		watch_lo = (uintptr_t)o.p;
		watch_hi = watch_lo + o.size;
		const char *first = drop_as(o.kind, below(2), o.p, o.size, o.align);
		size_t n = below(40);
		steps(n);
		at = (unsigned char *)o.p + k;
		std::snprintf(extra, sizeof extra, "access=%s n=%zu reused=%d first=%s",
			      write ? "WRITE" : "READ", n, watch_hit, first);
	} else {
		o = objs[pick(where == 0 ? unaligned : any, random_size)];
		k = below(4096);
		at = where == 0 ? (unsigned char *)o.p + o.size + k : (unsigned char *)o.p - 1 - k;
		k += where == 1;
		std::snprintf(extra, sizeof extra, "access=%s", write ? "WRITE" : "READ");
	}
	say(cls, at, o, write ? "touch_write" : "touch_read", k, extra);
	if (watch_hit) {
		cleanup();
		return;
	}
	if (write)
		touch_write(at);
	else
		touch_read(at);
}

NOINLINE void plant_overflow_trap() { plant_touch(0); }
NOINLINE void plant_underflow_trap() { plant_touch(1); }
NOINLINE void plant_uaf_trap() { plant_touch(2); }

NOINLINE void plant_nothing()
{
	std::printf("plant class=clean live=%zu\n", nlive);
	std::fflush(stdout);
	cleanup();
}

NOINLINE void plant_interior() { plant_bad_free_inside(true); }
NOINLINE void plant_misaligned() { plant_bad_free_inside(false); }
NOINLINE void plant_leak_direct() { plant_leak(false); }
NOINLINE void plant_leak_indirect() { plant_leak(true); }

} // extern "C"

/* The classes, by the name detector_test.c gives them. */
static const struct {
	const char *name;
	void (*plant)();
} classes[] = {
	{"clean", plant_nothing},
	{"double-free", plant_double_free},
	{"bad-free-interior", plant_interior},
	{"bad-free-misaligned", plant_misaligned},
	{"bad-free-stack", plant_bad_free_stack},
	{"bad-free-global", plant_bad_free_global},
	{"mismatch", plant_mismatch},
	{"sized-delete", plant_sized_delete},
	{"free-sized", plant_free_sized},
	{"canary", plant_canary},
	{"uaf-write-evict", plant_uaf_evict},
	{"uaf-write-exit", plant_uaf_exit},
	{"guard-underflow", plant_underflow},
	{"guard-overflow-trap", plant_overflow_trap},
	{"guard-underflow-trap", plant_underflow_trap},
	{"guard-uaf-trap", plant_uaf_trap},
	{"leak-direct", plant_leak_direct},
	{"leak-indirect", plant_leak_indirect},
};

int main(int argc, char **argv)
{
	void (*plant)() = nullptr;
	for (const auto &c : classes)
		if (argc == 3 && !std::strcmp(argv[2], c.name))
			plant = c.plant;
	if (!plant) {
		std::fprintf(stderr, "usage: %s SEED CLASS (an unknown class: %s)\n", argv[0],
			     argc == 3 ? argv[2] : "none given");
		return 2;
	}
	if (!free_sized || !free_aligned_sized) {
		std::fprintf(stderr, "%s: no free_sized: run it under libheapward-malloc.so\n",
			     argv[0]);
		return 2;
	}
	/* stdio's own buffer would be malloc'd at the first printf, after
	 * the sequence began: an object this program does not track, which
	 * could take a freed slot the plant watches (PV3). */
	static char outbuf[BUFSIZ];
	std::setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);
	rng = std::strtoull(argv[1], nullptr, 0);
	steps(20 + below(200));
	plant();
	scrub();
	return 0;
}

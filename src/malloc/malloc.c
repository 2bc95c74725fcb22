/* malloc.c: the prefixed C allocation API (heapward.h's hw_malloc family),
 * lazy initialisation and fork safety.
 *
 * Owns: hw_malloc, hw_free, hw_calloc, hw_realloc, hw_reallocarray,
 * hw_posix_memalign, hw_aligned_alloc, hw_memalign, hw_valloc, hw_pvalloc,
 * hw_malloc_usable_size, hw_malloc_trim, hw_malloc_stats_get and
 * hw_malloc_leak_check (debug_leak.c does the work); the
 * layer's one-time set-up (class tables, the private heap and its window,
 * the page map's top array, the thread-exit key, the fork hooks, the
 * background scavenger); HEAPWARD_OPTIONS applied to the layer (hw_mc_cfg)
 * and its heap, help=1 and verbosity at start-up, stats_at_exit; and the
 * per-object checks on every free.
 *
 * Fast paths. hw_malloc of a small size pops its class's bin in the
 * thread's cache; hw_free of a small object checks it (span, slot start,
 * state, canary) and pushes it on the bin. Neither takes a lock nor makes
 * an atomic read-modify-write (MC7); everything else is a slow path. The
 * override library's twins, hw_mc_malloc_kind and hw_mc_free_kind, are
 * the same fast paths with the allocation kind (MC8) recorded or checked
 * on the same lookup, so a preloaded free or operator delete finds its
 * object once, not once for kind.c and again for hw_free.
 *
 * Invariants (malloc_internal.h MC1-MC7, and):
 *   MA1. Initialisation runs once, on the first call that needs it (or
 *        the preload library's constructor, hw_mc_init_env, if no call
 *        came first), under init_lock, and is published by a release
 *        store of hw_mc_ready. An allocation made by the
 *        initialisation itself (through a library it calls: the scavenger's
 *        pthread_create allocates the thread's TLS vector) is served by the
 *        bootstrap arena (boot.c) instead of deadlocking; when the arena is
 *        full it fails with ENOMEM.
 *   MA2. Every failing call sets errno to ENOMEM (EINVAL where heapward.h
 *        says so) and changes nothing; hw_free never changes errno;
 *        hw_posix_memalign returns its error and leaves errno alone.
 *   MA3. A free or realloc checks, before touching anything: the pointer
 *        maps to a span (else "not heap memory" or "in freed heap memory"),
 *        is a slot's start (else "not the start of an object"), the slot is
 *        live (else "double free"), and its canary is intact (else "heap
 *        buffer overflow"). A bad free is ignored after the report when
 *        the layer continues on errors; a damaged canary is reported once
 *        (realloc rewrites it after its report, so the free of a moving
 *        realloc does not report it again) and the free or realloc goes
 *        on. The layer starts before the checks, so that even a first
 *        call's report follows the options (abort_on_error).
 *   MA4. Fork: the prepare hook takes init_lock, then every lock of the
 *        layer in MC order; the parent and child hooks release them. The
 *        child, which has no scavenger thread (threads do not survive
 *        fork), restarts it on its next slow path. These hooks must be
 *        registered after the heap's (so they prepare first), which is
 *        only possible once init has created the heap; a fork while
 *        another thread is still initialising would leave init_lock held
 *        in the child forever. So a child-only hook, registered before
 *        init takes init_lock, resets an unfinished initialisation in the
 *        child (leaking whatever it had made), and the child's first
 *        call starts over.
 *
 *   MA5. Options are read once, at initialisation, from HEAPWARD_OPTIONS
 *        (hw_options_load: no allocation), or from hw_mc_start's string.
 *        hw_mc_cfg's values set before start-up (tests) are kept where they
 *        are stricter: abort_on_error and the scavenger are on only when
 *        both say on; a fill is the option's when it sets one. If the
 *        environment cannot be read yet (hw_env_available false: a first
 *        call from inside the loader, before libc set environ), the layer
 *        starts on the defaults without the scavenger, and the first slow
 *        path of hw_malloc after the environment appears (alloc_slow:
 *        every refill, large object and thread's first call), or the
 *        preload library's constructor, whichever comes first, reads it
 *        and applies it, except retain_percent, scavenger_cpu_percent and
 *        arenas, which only the start takes (so they keep their defaults
 *        then, and verbosity=1 says so).
 *   MA6. Fills: fill_on_alloc covers the requested bytes of each new
 *        object (not calloc's, which stay zero), after the canary is
 *        written; fill_on_free covers the whole slot of a small object
 *        after the free's checks passed, and the requested bytes of a
 *        large one before its run goes back to the heap. The layer keeps
 *        no metadata in a freed slot (MC5, MC7), so the fill stays until
 *        the slot is handed out again.
 *        With a fill set, hw_mc_tls stays NULL, so every call takes the slow
 *        paths and the fast paths do not test for fills.
 *   MA7. The background scavenger runs whenever the configuration asks for
 *        it and the process has a second thread or work for it, even when
 *        the first start fails (inside the dynamic loader, pthread_create
 *        answers EAGAIN): a failed start is retried on a later slow path,
 *        up to 64 times. While the process is single-threaded (thread.h
 *        T10) the start waits (scav_deferred), since a thread of ours would
 *        make every lock of the C library atomic for the rest of the
 *        process (gcc compiling a file took 1% more time for it:
 *        docs/scavenging.md, "When"). It happens at the first slow path
 *        of malloc or free (a refill, a flush, a large object) that finds
 *        a second thread, or the heap's wake flag (inspect.h):
 *        MC_SCAV_WAKE_BYTES of ready memory above the scavenger's target.
 *        So a single-threaded program keeps at most that much above its
 *        retained goal until it frees more, as glibc keeps what it has not
 *        trimmed. And the thread ends (layer_idle; scavenger.c SG4) once
 *        the layer has been idle for MC_IDLE_RETIRE_NS past its idle trim
 *        (span.c SP4) while at most one thread has a cache: the process
 *        is then a one-thread program again, as far as the kernel can see
 *        (unshare(CLONE_NEWUSER) works in it, for one), and the start
 *        waits as above (scav_idle) until the wake flag, or until a second
 *        thread has a cache.
 *   MA8. hw_mc_reset (tests and fuzz targets) leaves the layer exactly as
 *        before its first call in a new process, except that the next start
 *        takes its platform, heap geometry and options from the reset:
 *        every byte the layer took from its platform is given back (the
 *        private heap, the page map, metadata chunks, thread-cache
 *        records, the debug mode's depot, ring and quarantine), and every
 *        counter, list and configuration value holds
 *        its initial value. The once-per-process registrations (fork
 *        hooks, the thread-exit key, help=1's output) stay.
 *   MA9. Out of memory with freed memory held back: an allocation the
 *        heap cannot serve while the debug mode's quarantine holds objects
 *        (an address-space limit reached, say) empties the quarantine
 *        (each object checked as it leaves, as always; hw_mc_give_backs
 *        counts these), says so once, and is tried once more; ENOMEM only
 *        when that fails too. Not for a request the heap's window could
 *        never hold (hw_heap_fits: its pages and its alignment's slack
 *        more than the window), which nothing given back could serve.
 *   MA10. With the leak check on, every allocation (and realloc) returns
 *        through hw_mc_debug_scrub as a tail call, after its last use of
 *        the object (the kind set included: alloc_slow takes the kind), so
 *        no copy of the pointer it returns stays in the stack below the
 *        caller, where the conservative scan would take it for a root
 *        (debug.c DM6).
 *
 * Locking: see malloc_internal.h for the order; this file takes init_lock
 * and, through span.c and cache.c, the others.
 */
#include "malloc_internal.h"

#include "debug.h"
#include "env.h"
#include "guard.h"
#include "inspect.h"
#include "options.h"

#include <errno.h>
#include <string.h>

#define MA_NOINLINE __attribute__((noinline))
#define MA_ALWAYS_INLINE inline __attribute__((always_inline))
/* The two fast paths keep no frame pointer (the build keeps them
 * everywhere else, for the debug mode's stack walk): with one, gcc gives
 * hw_free's fast path a frame set-up it otherwise shrink-wraps away (four
 * more instructions per free, callgrind; without it, one more than a build
 * without the flag, since gcc still leaves the register unused). They reach their slow paths by
 * tail calls (asked for here, since -O1 makes none), so a slow path's own
 * frame record holds the program's return address and the walk loses no
 * frame of the program's. Not at -O0, which makes no tail call; clang has
 * no per-function form and keeps the frame pointer here too. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#define MA_FAST __attribute__((optimize("omit-frame-pointer", "optimize-sibling-calls")))
#else
#define MA_FAST
#endif

/* hw_mc_cfg's initial values (hw_mc_reset puts them back). */
#define MA_CONFIG_DEFAULTS                                                      \
	{                                                                       \
		.abort_on_error = true, .alloc_dealloc_mismatch = true,         \
		.free_size_mismatch = true, .background_scavenger = true,       \
		.fill_on_alloc = HW_OPTIONS_OFF, .fill_on_free = HW_OPTIONS_OFF \
	}

/* MA7: ready bytes above the scavenger's target that start it in a
 * single-threaded process. */
#define MC_SCAV_WAKE_BYTES ((size_t)32 << 20)

mc_global hw_mc_g;
mc_config hw_mc_cfg = MA_CONFIG_DEFAULTS;
int hw_mc_ready;

static hw_mutex init_lock = HW_MUTEX_INIT;
static HW_THREAD_LOCAL bool in_init;
static bool hooks_registered;    /* under init_lock */
static int early_state;          /* atomic: 0, 1 registering, 2 registered */
static int scav_restart;         /* atomic: set in a fork child (MA4), after a failed start (MA7) */
static int scav_deferred;        /* atomic: MA7's start waits for a thread or the wake flag */
static int scav_idle;            /* atomic: MA7: the thread ended in a one-thread program */
static int scav_retries = 64;    /* failed starts left to retry (MA7) */
static const char *start_string; /* hw_mc_start's, under init_lock */
static bool start_given;         /* under init_lock */
static int env_pending;          /* atomic: MA5's late read is due */
static bool help_done;           /* under init_lock */

/* What the next start uses (hw_mc_reset, MA8); under init_lock. */
static mc_start_config next_start;

static void fork_prepare(void)
{
	hw_mutex_lock(&init_lock);
	hw_mc_cache_lock();
	hw_mc_span_lock_all();
	hw_mc_guard_lock();
	hw_mc_debug_lock();
}

static void fork_parent(void)
{
	hw_mc_debug_unlock();
	hw_mc_guard_unlock();
	hw_mc_span_unlock_all();
	hw_mc_cache_unlock();
	hw_mutex_unlock(&init_lock);
}

void hw_mc_lock_all(void) { fork_prepare(); }
void hw_mc_unlock_all(void) { fork_parent(); }

static void fork_child(void)
{
	hw_mc_debug_unlock();
	hw_mc_guard_unlock();
	hw_mc_span_unlock_all();
	hw_mc_cache_fork_child(); /* cache.c CA6 */
	hw_mc_cache_unlock();
	if (hw_mc_cfg.background_scavenger)
		__atomic_store_n(&scav_restart, 1, __ATOMIC_RELAXED);
	hw_mutex_unlock(&init_lock);
}

/* MA5: o onto hw_mc_cfg. */
static void apply_options(const hw_options *o)
{
	hw_mc_cfg.abort_on_error = hw_mc_cfg.abort_on_error && o->abort_on_error;
	hw_mc_cfg.alloc_dealloc_mismatch =
		hw_mc_cfg.alloc_dealloc_mismatch && o->alloc_dealloc_mismatch;
	hw_mc_cfg.free_size_mismatch = hw_mc_cfg.free_size_mismatch && o->free_size_mismatch;
	hw_mc_cfg.background_scavenger = hw_mc_cfg.background_scavenger && o->scavenger;
	if (o->fill_on_alloc != HW_OPTIONS_OFF)
		hw_mc_cfg.fill_on_alloc = o->fill_on_alloc;
	if (o->fill_on_free != HW_OPTIONS_OFF)
		hw_mc_cfg.fill_on_free = o->fill_on_free;
	hw_mc_cfg.stats_at_exit = hw_mc_cfg.stats_at_exit || o->stats_at_exit;
	hw_mc_cfg.verbosity = o->verbosity;
	hw_mc_cfg.exitcode = o->exitcode;
	hw_mc_slow_only = hw_mc_cfg.fill_on_alloc != HW_OPTIONS_OFF ||
			  hw_mc_cfg.fill_on_free != HW_OPTIONS_OFF;
	hw_mc_guard_configure(o);
	hw_mc_debug_configure(o); /* DM1: may set hw_mc_slow_only */
}

/* help=1 (once per process) and verbosity >= 1: the options in effect. */
static void announce(const hw_options *o, bool late)
{
	if (o->help && !help_done) {
		help_done = true;
		hw_options_help(o, hw_options_write_console, NULL);
	}
	if (hw_mc_cfg.verbosity >= 1) {
		char buf[HW_OPTIONS_FORMAT_MAX];
		if (hw_options_format(o, buf, sizeof buf) == 0)
			buf[0] = 0;
		/* debug=0 does not mean the mode is off: guard and
		 * detect_leaks imply it (debug.c DM1). */
		hw_report_write("heapward: options in effect%s: %s%s\n",
				late ? " (read late: retain_percent, scavenger_cpu_percent and "
				       "arenas kept their defaults)"
				     : "",
				buf,
				hw_mc_debug_on() && !o->debug
					? " (debug mode on: implied by guard or detect_leaks)"
					: "");
	}
}

/* MA7: whether the scavenger's start waits: the process is single-threaded
 * (or the thread ended idle and one thread at most has a cache) and the
 * heap's wake flag is down. */
static bool scavenger_waits(void)
{
	bool one = hw_process_single_threaded() ||
		   (__atomic_load_n(&scav_idle, __ATOMIC_RELAXED) &&
		    __atomic_load_n(&hw_mc_threads_live, __ATOMIC_RELAXED) < 2);
	return one && !hw_heap_wake_due(hw_mc_g.heap);
}

/* MA7: the start waits from now on, until the heap's wake flag (armed once
 * per wait) or a second thread. */
static void defer_start(void)
{
	if (!__atomic_exchange_n(&scav_deferred, 1, __ATOMIC_RELAXED))
		hw_heap_set_wake_bytes(hw_mc_g.heap, MC_SCAV_WAKE_BYTES);
}

/* The heap's idle hook (inspect.h), on the scavenger thread: span.c SP4's
 * trim, and MA7's end of the thread in a program with one thread that has
 * stayed idle, with the start made to wait again. */
static bool layer_idle(void *unused)
{
	(void)unused;
	if (!hw_mc_span_idle() || __atomic_load_n(&hw_mc_threads_live, __ATOMIC_RELAXED) > 1)
		return false;
	__atomic_store_n(&scav_idle, 1, __ATOMIC_RELAXED);
	defer_start();
	return true;
}

/* Starts the heap's background scavenger (MA7). A start can fail where the
 * first call comes from: inside the dynamic loader, before main (a preloaded
 * library's first malloc, from libstdc++'s start-up), pthread_create answers
 * EAGAIN. The start is then retried on a later slow path, up to
 * scav_retries times, so a preloaded program still gets its scavenger. */
static void start_scavenger(void)
{
	if (scavenger_waits()) {
		defer_start();
		return;
	}
	if (__atomic_exchange_n(&scav_deferred, 0, __ATOMIC_RELAXED))
		hw_heap_set_wake_bytes(hw_mc_g.heap, 0);
	__atomic_store_n(&scav_idle, 0, __ATOMIC_RELAXED);
	int rc = hw_heap_scavenger_start(hw_mc_g.heap);
	if (rc != 0 && rc != EALREADY &&
	    __atomic_sub_fetch(&scav_retries, 1, __ATOMIC_RELAXED) > 0)
		__atomic_store_n(&scav_restart, 1, __ATOMIC_RELAXED);
}

static bool init_locked(void)
{
	hw_options o;
	hw_options_defaults(&o);
	const char *given = start_given ? start_string : next_start.options;
	bool env_now = given || hw_env_available();
	if (given)
		(void)hw_options_parse(given, &o, hw_options_warn_console, NULL);
	else if (env_now)
		(void)hw_options_load(&o, hw_options_warn_console, NULL);
	apply_options(&o);
	hw_mc_classes_init();
	hw_mc_span_init();
	hw_mc_g.pf = next_start.platform ? next_start.platform
		     : o.guard_regions   ? hw_platform_os()
					 : hw_platform_os_plain_guards();
	hw_mc_g.narenas = o.arenas ? o.arenas : hw_min(hw_cpu_count(), MC_ARENAS_MAX);
	hw_heap_config cfg = {0};
	cfg.platform = hw_mc_g.pf;
	cfg.page_size = MC_PAGE;
	cfg.address_space = next_start.address_space;
	cfg.arena_size = next_start.arena_size;
	cfg.memory_limit = o.memory_limit;
	cfg.retain_percent = o.retain_percent;
	cfg.scavenger_cpu_percent = o.scavenger_cpu_percent;
	hw_heap *h = hw_heap_create(&cfg);
	if (!h)
		return false;
	uintptr_t base;
	size_t wsize;
	/* The window is fixed at the first grow: grow now, so the page map
	 * can cover it (reserves address space only). */
	if (hw_heap_grow(h, 1) != 0)
		goto fail;
	hw_heap_window(h, &base, &wsize);
	if (hw_mc_map_init(&hw_mc_g.map, base, wsize, MC_PAGE_SHIFT) != 0)
		goto fail;
	hw_mc_g.heap = h;
	if (hw_mc_cache_init() != 0)
		goto fail_top;
	hw_mc_debug_start(&o);
	if (!hooks_registered) {
		/* Registered after the heap's own hooks, so ours prepare first
		 * (MA4): this layer's locks come before the heap's. */
		if (hw_fork_hooks(fork_prepare, fork_parent, fork_child) != 0)
			goto fail_top;
		hooks_registered = true;
	}
	hw_mc_guard_start();
	/* span.c SP4: memory goes back while the program is idle; MA7: the
	 * thread ends in an idle one-thread program. */
	hw_heap_set_idle_hook(h, layer_idle, NULL);
	if (env_now) {
		if (hw_mc_cfg.background_scavenger)
			start_scavenger();
		announce(&o, false);
	} else {
		__atomic_store_n(&env_pending, 1, __ATOMIC_RELAXED);
	}
	return true;
fail_top:
	hw_mc_map_release(&hw_mc_g.map);
	memset(&hw_mc_g, 0, sizeof hw_mc_g);
fail:
	hw_heap_destroy(h);
	return false;
}

static void early_child(void)
{
	/* With the full hooks registered, fork_prepare held init_lock across
	 * the fork and fork_child releases it: nothing to reset. */
	if (!__atomic_load_n(&hw_mc_ready, __ATOMIC_ACQUIRE) && !hooks_registered)
		hw_mutex_init(&init_lock);
}

bool hw_mc_init_slow(void)
{
	if (in_init) {
		errno = ENOMEM;
		return false;
	}
	int zero = 0;
	if (__atomic_compare_exchange_n(&early_state, &zero, 1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		if (hw_fork_hooks(NULL, NULL, early_child) != 0) {
			__atomic_store_n(&early_state, 0, __ATOMIC_RELEASE);
			errno = ENOMEM;
			return false;
		}
		__atomic_store_n(&early_state, 2, __ATOMIC_RELEASE);
	}
	while (__atomic_load_n(&early_state, __ATOMIC_ACQUIRE) != 2)
		hw_sleep_ns(1000);
	hw_mutex_lock(&init_lock);
	bool ok = hw_mc_ready;
	if (!ok) {
		in_init = true;
		ok = init_locked();
		in_init = false;
		if (ok)
			__atomic_store_n(&hw_mc_ready, 1, __ATOMIC_RELEASE);
	}
	hw_mutex_unlock(&init_lock);
	if (!ok)
		errno = ENOMEM;
	return ok;
}

/* MA5's late read, under init_lock. */
static void late_options(void)
{
	hw_options o;
	hw_options_defaults(&o);
	(void)hw_options_load(&o, hw_options_warn_console, NULL);
	apply_options(&o);
	/* Threads with a cache keep their fast paths; this one (in practice the
	 * only one this early) follows hw_mc_slow_only now. */
	if (hw_mc_tls_cache)
		hw_mc_tls = hw_mc_slow_only ? NULL : hw_mc_tls_cache;
	if (o.memory_limit)
		(void)hw_heap_set_memory_limit(hw_mc_g.heap, o.memory_limit);
	hw_mc_debug_start(&o);
	hw_mc_guard_start();
	if (hw_mc_cfg.background_scavenger)
		start_scavenger();
	announce(&o, true);
}

static HW_COLD void maybe_late_options(void)
{
	if (!hw_env_available())
		return;
	hw_mutex_lock(&init_lock);
	if (__atomic_load_n(&env_pending, __ATOMIC_RELAXED)) {
		in_init = true;
		late_options();
		in_init = false;
		__atomic_store_n(&env_pending, 0, __ATOMIC_RELAXED);
	}
	hw_mutex_unlock(&init_lock);
}

void hw_mc_init_env(void)
{
	int saved = errno;
	if (mc_init() && __atomic_load_n(&env_pending, __ATOMIC_RELAXED))
		maybe_late_options();
	errno = saved;
}

bool hw_mc_start(const char *s)
{
	hw_mutex_lock(&init_lock);
	bool fresh = !hw_mc_ready;
	if (fresh) {
		start_string = s;
		start_given = true;
	}
	hw_mutex_unlock(&init_lock);
	if (!fresh)
		return false;
	bool ok = hw_mc_init_slow();
	hw_mutex_lock(&init_lock);
	start_given = false;
	start_string = NULL;
	hw_mutex_unlock(&init_lock);
	return ok;
}

/* MA7's late starts, on the slow paths, with no lock of the layer held
 * (pthread_create allocates). */
static void maybe_restart_scavenger(void)
{
	if (HW_UNLIKELY(__atomic_load_n(&scav_restart, __ATOMIC_RELAXED)) &&
	    __atomic_exchange_n(&scav_restart, 0, __ATOMIC_RELAXED))
		start_scavenger();
	if (HW_UNLIKELY(__atomic_load_n(&scav_deferred, __ATOMIC_RELAXED)) && !scavenger_waits())
		start_scavenger();
}

/* MC4, MC6: slot p, whose state entry is st, of a class of size bytes
 * becomes live with n requested bytes (a new object: the canary window may
 * cover its last bytes). Without slack the window goes to spare, a
 * 16-byte scratch area, instead of taking a branch. */
static inline void mark_new(void *p, mc_state *st, size_t size, size_t n, unsigned char *spare)
{
	size_t slack = size - n;
	*st = (mc_state)(slack + 1);
	mc_canary_put(slack ? (unsigned char *)p + n : spare);
}

/* The same for a live object whose bytes stay (realloc in place); its
 * kind stays. */
static void mark_resized(mc_span *s, void *p, size_t n)
{
	size_t idx = mc_slot_index(s, (uintptr_t)p - s->start);
	size_t slack = s->size - n;
	s->state[idx] = (s->state[idx] & ~MC_STATE_SLACK_MASK) | (mc_state)(slack + 1);
	hw_mc_canary_write((unsigned char *)p + n, slack);
}

/* The calling thread's cache for the slow paths, created now if it has
 * none (CA1). */
static mc_cache *own_cache(void)
{
	mc_cache *tc = hw_mc_tls_cache;
	return tc ? tc : hw_mc_cache_create();
}

/* The class for n bytes aligned to align, or MC_NCLASSES when the object
 * must be a large one. A slot is aligned when its size is a multiple of
 * the alignment, since spans start on heap pages. */
static unsigned class_for(size_t n, size_t align)
{
	if (n > MC_SMALL_MAX)
		return MC_NCLASSES;
	unsigned c = mc_class_of(n);
	if (align <= 16)
		return c;
	if (align > MC_PAGE)
		return MC_NCLASSES;
	for (; c < MC_NCLASSES; c++)
		if (hw_mc_classes[c].size % align == 0 && hw_mc_classes[c].size - n < UINT16_MAX)
			return c;
	return MC_NCLASSES;
}

/* A free slot of class c, from the cache (refilled if empty) or, for a
 * thread without one, straight from the central list; false on ENOMEM. */
static bool small_slot(unsigned c, mc_slot *out)
{
	mc_cache *tc = own_cache();
	if (tc == &hw_mc_dead_cache)
		return hw_mc_central_take(c, out, 1) != 0;
	mc_bin *b = &tc->bin[c];
	bool ok = true;
	mc_cache_enter(tc); /* MC7 */
	if (b->n) {
		*out = b->slot[--b->n];
	} else {
		size_t got =
			hw_mc_central_take(c, b->slot, hw_min(b->cap, hw_mc_classes[c].batch));
		if (got) {
			if (b->cap < hw_mc_classes[c].cap)
				b->cap++; /* CA4 */
			b->n = (uint32_t)got - 1;
			*out = b->slot[b->n];
		}
		ok = got != 0;
	}
	mc_cache_leave(tc);
	return ok;
}

/* MA9: how many times the quarantine was emptied for an allocation, and
 * whether that was said. */
static uint64_t give_backs;
static int give_back_warned;

uint64_t hw_mc_give_backs(void) { return __atomic_load_n(&give_backs, __ATOMIC_RELAXED); }

/* MA9: whether memory held back was given back for a retry of an
 * allocation of n bytes at align. Called with no lock of the layer held.
 * A request the heap's window could never hold (its pages and its
 * alignment's slack more than the whole window) cannot be served by any
 * give-back: the quarantine keeps its objects (and its use-after-free
 * checks). */
static HW_COLD bool give_back_held(size_t n, size_t align)
{
	size_t count, bytes;
	hw_mc_quar_stats(&count, &bytes);
	if (count == 0 || !hw_heap_fits(hw_mc_g.heap, hw_align_up(n, MC_PAGE) / MC_PAGE, align))
		return false;
	hw_mc_quar_drain();
	__atomic_fetch_add(&give_backs, 1, __ATOMIC_RELAXED);
	if (!__atomic_exchange_n(&give_back_warned, 1, __ATOMIC_RELAXED))
		hw_report_write("heapward: warning: out of memory: the quarantine's %zu freed "
				"object(s) (%zu bytes) were released early to serve an allocation; "
				"a use after free of them is no longer caught\n",
				count, bytes);
	return true;
}

/* Every allocation off the fast paths: n bytes at align (0: the class's),
 * zero for calloc, of the given kind (MC8; MC_KIND_MALLOC sets none). */
static MA_NOINLINE HW_COLD void *alloc_slow(size_t n, size_t align, bool zero, unsigned kind)
{
	int saved = errno;
	if (!mc_init()) {
		/* A call from inside this thread's own start (boot.c). */
		void *b = in_init ? hw_mc_boot_alloc(n, align) : NULL;
		if (b)
			errno = saved;
		return b;
	}
	if (n > MC_MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	maybe_restart_scavenger();
	if (HW_UNLIKELY(__atomic_load_n(&env_pending, __ATOMIC_RELAXED)))
		maybe_late_options();
	unsigned c = class_for(n, align);
	void *p = NULL;
	bool known_zero = false;
	/* Its pattern written, its bytes zero for calloc (guard.c GD13). No
	 * local's address may escape here: it would cost MA10's tail call. */
	if (HW_UNLIKELY(hw_mc_guard_on()) && (p = hw_mc_guard_alloc(n, align, zero)) != NULL)
		known_zero = zero;
	if (!p && c < MC_NCLASSES) {
		mc_slot e;
		if (!small_slot(c, &e) && !(give_back_held(n, align) && small_slot(c, &e))) {
			errno = ENOMEM;
			return NULL;
		}
		p = e.p;
		unsigned char spare[16] __attribute__((aligned(16)));
		mark_new(p, e.state, hw_mc_classes[c].size, n, spare);
		/* MA10: e lies in this frame, in memory (small_slot fills it
		 * through a pointer). gcc's tail call to the scrub reuses the
		 * frame and clears e with its locals; clang calls the scrub
		 * from here instead, and e.p stayed in the dead frame below
		 * the caller. Cleared by a volatile store, which the compiler
		 * keeps. */
		*(void *volatile *)&e.p = NULL;
	} else if (!p) {
		bool zeroed = false;
		p = hw_mc_large_alloc(n, align, &zeroed);
		if (!p && give_back_held(n, align))
			p = hw_mc_large_alloc(n, align, &zeroed);
		if (!p) {
			errno = ENOMEM;
			return NULL;
		}
		/* calloc's bytes stay zero: cleared unless known zero, never
		 * filled (MA6). */
		if (zero && zeroed)
			known_zero = true;
		size_t np = mc_large_pages(n);
		hw_mc_canary_write((unsigned char *)p + n, np * MC_PAGE - n);
	}
	/* After the canary: mark_new's window may cover the object's end. */
	if (zero) {
		if (!known_zero)
			memset(p, 0, n);
	} else if (hw_mc_cfg.fill_on_alloc != HW_OPTIONS_OFF) {
		memset(p, hw_mc_cfg.fill_on_alloc, n);
	}
	if (kind != MC_KIND_MALLOC)
		hw_mc_kind_set(p, kind);
	if (HW_UNLIKELY(hw_mc_debug_on())) {
		hw_mc_debug_alloc(p);
		return hw_mc_debug_scrub(p); /* MA10 */
	}
	return p;
}

/* hw_malloc's fast path: a cached slot of n's class made live (its state
 * entry in *st), or NULL when the slow path must serve n. */
static MA_ALWAYS_INLINE void *malloc_fast(size_t n, mc_state **st)
{
	mc_cache *tc = hw_mc_tls;
	/* While a drain holds the cache (MC7), the slow path waits for it. */
	if (HW_LIKELY(tc != NULL && n <= MC_SMALL_MAX) && HW_LIKELY(mc_cache_try_enter(tc))) {
		mc_bin *b = &tc->bin[mc_class_of(n)];
		uint32_t k = b->n;
		if (HW_LIKELY(k != 0)) {
			mc_slot e = b->slot[k - 1];
			b->n = k - 1;
			uint32_t size = b->size;
			mc_cache_leave(tc);
			mark_new(e.p, e.state, size, n, tc->spare);
			*st = e.state;
			return e.p;
		}
		mc_cache_leave(tc);
	}
	return NULL;
}

MA_FAST void *hw_malloc(size_t n)
{
	mc_state *st;
	void *p = malloc_fast(n, &st);
	if (HW_LIKELY(p != NULL))
		return p;
	return alloc_slow(n, 0, false, MC_KIND_MALLOC);
}

MA_FAST void *hw_mc_malloc_kind(size_t n, unsigned kind)
{
	mc_state *st;
	void *p = malloc_fast(n, &st);
	if (HW_LIKELY(p != NULL)) {
		/* MC8 without kind.c's checks: p is a small slot just made live. */
		*st |= (mc_state)kind << MC_STATE_KIND_SHIFT;
		return p;
	}
	return alloc_slow(n, 0, false, kind);
}

/* MA3 for a pointer that is not a small span's: large, freed, foreign. */
static void free_other(void *p, mc_span *s)
{
	if (!s)
		s = hw_mc_guard_span((uintptr_t)p);
	if (!s) {
		if (hw_mc_boot_owns(p))
			return; /* kept for good (boot.c BT2) */
		hw_mc_misuse(MC_BAD_FOREIGN, "free", p, NULL, 0, NULL);
		return;
	}
	if (s->kind == MC_SPAN_FREED) {
		bool start = ((uintptr_t)p & (MC_PAGE - 1)) == 0;
		hw_mc_misuse(start ? MC_BAD_DOUBLE_FREE : MC_BAD_FREED_MEMORY, "free", p, NULL, 0,
			     NULL);
		return;
	}
	if (s->kind == MC_SPAN_QUARANTINED) {
		/* Freed, its record kept (debug_quarantine.c): both stacks. */
		hw_mc_misuse((uintptr_t)p == s->start ? MC_BAD_DOUBLE_FREE : MC_BAD_FREED_MEMORY,
			     "free", p, s, 0, NULL);
		return;
	}
	if (s->kind == MC_SPAN_GUARDED) {
		int saved = errno;
		hw_mc_guard_free(p, s, "free");
		errno = saved;
		return;
	}
	if ((uintptr_t)p != s->start) {
		hw_mc_misuse(MC_BAD_INTERIOR, "free", p, s, 0, NULL);
		return;
	}
	size_t slack = (size_t)s->npages * MC_PAGE - s->req;
	const unsigned char *bad = hw_mc_canary_find((unsigned char *)p + s->req, slack);
	if (HW_UNLIKELY(bad))
		hw_mc_misuse(MC_BAD_OVERFLOW, "free", p, s, 0, bad);
	if (HW_UNLIKELY(hw_mc_debug_on())) {
		int saved = errno;
		hw_mc_debug_free(p, s, 0);
		errno = saved;
		if (hw_mc_quar_large(s))
			return;
	}
	hw_mc_large_release(s);
	maybe_restart_scavenger(); /* MA7 */
}

void hw_mc_large_release(mc_span *s)
{
	if (hw_mc_cfg.fill_on_free != HW_OPTIONS_OFF)
		memset((void *)s->start, hw_mc_cfg.fill_on_free, s->req);
	int saved = errno;
	hw_mc_large_free(s);
	errno = saved;
}

/* Caches e in a bin free_finish found full or held by a drain: when it is
 * (still) full, grows it (CA4) or first gives its oldest batch back (the
 * newest stay, warm); a thread without a cache gives e back at once. */
static MA_NOINLINE void free_flush(mc_cache *tc, unsigned c, mc_slot e)
{
	int saved = errno;
	mc_bin *b = &tc->bin[c];
	if (tc == &hw_mc_dead_cache) {
		hw_mc_central_give(c, &e, 1);
		errno = saved;
		return;
	}
	mc_cache_enter(tc); /* MC7 */
	if (b->n < b->cap) {
		b->slot[b->n++] = e; /* a drain emptied it meanwhile */
	} else if (b->cap < hw_mc_classes[c].cap) {
		b->cap++; /* CA4 */
		b->slot[b->n++] = e;
	} else {
		uint32_t k = hw_mc_classes[c].batch;
		hw_mc_central_give(c, b->slot, k);
		memmove(b->slot, b->slot + k, (b->n - k) * sizeof(mc_slot));
		b->n -= k;
		b->slot[b->n++] = e;
	}
	mc_cache_leave(tc);
	maybe_restart_scavenger(); /* MA7: the give may have freed spans */
	errno = saved;
}

/* The end of a free of slot p of s, whose state entry is st, once MA3's
 * checks are done: in debug mode (dbg: the fast path passes a constant
 * false, so it has no such code) the free's stack, and the quarantine,
 * which then has the slot; else the fill (unless HW_OPTIONS_OFF: the whole
 * slot, which is why it comes after the canary check), state 0, and the
 * slot into tc's bin (through free_flush when the bin is full). */
static MA_ALWAYS_INLINE void free_finish(mc_cache *tc, void *p, mc_span *s, mc_state *st,
					 int fill, bool dbg)
{
	if (dbg) {
		hw_mc_debug_free(p, s, (size_t)(st - s->state));
		if (hw_mc_quar_small(p, s, st))
			return;
	}
	if (fill != HW_OPTIONS_OFF)
		memset(p, fill, s->size);
	*st = 0;
	mc_slot e = {p, st};
	/* MC7: a full bin, or one a drain holds, takes free_flush's path. */
	if (HW_LIKELY(mc_cache_try_enter(tc))) {
		mc_bin *b = &tc->bin[s->cls];
		uint32_t k = b->n;
		if (HW_LIKELY(k < b->cap)) {
			b->slot[k] = e;
			b->n = k + 1;
			mc_cache_leave(tc);
			return;
		}
		mc_cache_leave(tc);
	}
	free_flush(tc, s->cls, e);
}

void hw_mc_slot_release(void *p, mc_span *s, size_t idx)
{
	int saved = errno;
	mc_cache *tc = own_cache();
	errno = saved;
	free_finish(tc, p, s, &s->state[idx], hw_mc_cfg.fill_on_free, false);
}

static MA_NOINLINE HW_COLD void free_bad(int what, void *p, mc_span *s, size_t idx)
{
	hw_mc_misuse(what, "free", p, s, idx, NULL);
}

/* An overwritten canary: the report, then (if the layer continues) the
 * free goes on. */
static MA_NOINLINE HW_COLD void free_overflow(mc_cache *tc, void *p, mc_span *s, size_t idx,
					      int fill, bool dbg)
{
	mc_state *st = &s->state[idx];
	const unsigned char *end = (unsigned char *)p + mc_state_len(s, *st);
	hw_mc_misuse(MC_BAD_OVERFLOW, "free", p, s, idx,
		     hw_mc_canary_find(end, mc_state_slack(*st)));
	free_finish(tc, p, s, st, fill, dbg);
}

/* What hw_mc_free_kind checks besides MA3 (kind.c, MC8); check false for
 * hw_free, which checks no kind. */
typedef struct kind_req {
	bool check;
	bool sized;
	unsigned kind;
	size_t size;
	const char *op;
} kind_req;

static void free_slow(void *p);

/* hw_mc_free_kind off its fast path, or on a kind or size mismatch: kind.c's
 * check (and report; the object then stays live), then the free. */
static MA_NOINLINE HW_COLD void free_kind_bad(void *p, unsigned kind, bool sized, size_t size,
					      const char *op)
{
	if (hw_mc_kind_check(p, kind, sized, size, op))
		free_slow(p);
}

/* MA3 for p in small span s, then (with k.check) the kind check, then
 * free_finish. Every exit but the common one is a call to a cold function
 * that finishes the free itself, so the common one needs no saved
 * registers. */
static MA_ALWAYS_INLINE void free_small(mc_cache *tc, void *p, mc_span *s, int fill, bool dbg,
					const kind_req k)
{
	uintptr_t off = (uintptr_t)p - s->start;
	size_t idx = mc_slot_index(s, off);
	if (HW_UNLIKELY(idx * s->size != off || idx >= s->nobjs)) {
		free_bad(MC_BAD_INTERIOR, p, s, idx);
		return;
	}
	mc_state *st = &s->state[idx];
	mc_state v = *st;
	if (HW_UNLIKELY(v == 0)) {
		free_bad(MC_BAD_DOUBLE_FREE, p, s, idx);
		return;
	}
	/* kind.c's check on the lookup just made (KD1: a live start); the
	 * kind goes with the state at free_finish. */
	if (k.check && HW_UNLIKELY(mc_state_kind(v) != k.kind ||
				   (k.sized && k.size != mc_state_len(s, v)))) {
		free_kind_bad(p, k.kind, k.sized, k.size, k.op);
		return;
	}
	/* Without slack the pattern itself is checked: no branch. */
	size_t slack = mc_state_slack(v);
	const unsigned char *end =
		slack ? (const unsigned char *)p + s->size - slack : hw_mc_canary.b;
	if (HW_UNLIKELY(mc_canary_bad(end))) {
		free_overflow(tc, p, s, idx, fill, dbg);
		return;
	}
	free_finish(tc, p, s, st, fill, dbg);
}

/* Everything hw_free's fast path does not handle: NULL, a thread without a
 * cache (or the layer not started), fill_on_free, large objects, bad
 * pointers. */
static MA_NOINLINE HW_COLD void free_slow(void *p)
{
	if (!p)
		return;
	int saved = errno;
	/* Started first, so that a report follows HEAPWARD_OPTIONS
	 * (abort_on_error) even for a first call that frees a foreign
	 * pointer. If the start fails, nothing was ever allocated (the
	 * options are applied all the same: init_locked reads them first). */
	if (!mc_init()) {
		errno = saved;
		if (!hw_mc_boot_owns(p))
			hw_mc_misuse(MC_BAD_FOREIGN, "free", p, NULL, 0, NULL);
		return;
	}
	mc_cache *tc = own_cache();
	errno = saved;
	mc_span *s = mc_span_of((uintptr_t)p);
	if (!s || s->kind != MC_SPAN_SMALL) {
		free_other(p, s);
		return;
	}
	free_small(tc, p, s, hw_mc_cfg.fill_on_free, hw_mc_debug_on(), (kind_req){.check = false});
}

MA_FAST void hw_free(void *p)
{
	mc_cache *tc = hw_mc_tls;
	mc_span *s;
	if (HW_LIKELY(tc != NULL) && HW_LIKELY((s = mc_span_of((uintptr_t)p)) != NULL) &&
	    HW_LIKELY(s->kind == MC_SPAN_SMALL)) {
		free_small(tc, p, s, HW_OPTIONS_OFF, false, (kind_req){.check = false});
		return;
	}
	free_slow(p);
}

MA_FAST void hw_mc_free_kind(void *p, unsigned kind, bool sized, size_t size, const char *op)
{
	mc_cache *tc = hw_mc_tls;
	mc_span *s;
	if (HW_LIKELY(tc != NULL) && HW_LIKELY((s = mc_span_of((uintptr_t)p)) != NULL) &&
	    HW_LIKELY(s->kind == MC_SPAN_SMALL)) {
		free_small(tc, p, s, HW_OPTIONS_OFF, false,
			   (kind_req){true, sized, kind, size, op});
		return;
	}
	if (p)
		free_kind_bad(p, kind, sized, size, op);
}

/* C23's sized frees (kind.c KD5): the malloc family's kind, so that the
 * override library's free_sized of an operator new object is the mismatch
 * its free would be. */
MA_FAST void hw_free_sized(void *p, size_t size)
{
	hw_mc_free_kind(p, MC_KIND_MALLOC, hw_mc_cfg.free_size_mismatch, size, "free_sized");
}

/* hw_free_aligned_sized with an alignment that is not a power of two
 * dividing p: kind.c's check (and report), then the free. Reached by a
 * tail call, as free_kind_bad is, so that the report's stack, walked by
 * frame pointers, still holds the caller's frame. */
static MA_NOINLINE HW_COLD void free_aligned_bad(void *p, size_t align, size_t size)
{
	if (hw_mc_align_check(p, align, "free_aligned_sized"))
		hw_mc_free_kind(p, MC_KIND_MALLOC, true, size, "free_aligned_sized");
}

MA_FAST void hw_free_aligned_sized(void *p, size_t align, size_t size)
{
	bool check = hw_mc_cfg.free_size_mismatch;
	if (check && p && HW_UNLIKELY(!mc_aligned_to(p, align))) {
		free_aligned_bad(p, align, size);
		return;
	}
	hw_mc_free_kind(p, MC_KIND_MALLOC, check, size, "free_aligned_sized");
}

/* MA3 for realloc and malloc_usable_size: p's span when p is a live
 * object's start (its slot in *idx), else NULL after the report. With
 * check_canary, an overwritten canary is reported too (and p still
 * returned when the layer continues). */
static mc_span *live_object(void *p, const char *op, size_t *idx, bool check_canary)
{
	/* Started first, as in free_slow. */
	if (!mc_init()) {
		hw_mc_misuse(MC_BAD_FOREIGN, op, p, NULL, 0, NULL);
		return NULL;
	}
	mc_span *s = mc_span_of((uintptr_t)p);
	if (!s)
		s = hw_mc_guard_span((uintptr_t)p);
	if (!s) {
		hw_mc_misuse(MC_BAD_FOREIGN, op, p, NULL, 0, NULL);
		return NULL;
	}
	if (s->kind == MC_SPAN_FREED || s->kind == MC_SPAN_QUARANTINED) {
		/* A quarantined object's record names its stacks. */
		hw_mc_misuse(MC_BAD_FREED_MEMORY, op, p,
			     s->kind == MC_SPAN_QUARANTINED ? s : NULL, 0, NULL);
		return NULL;
	}
	if (s->kind == MC_SPAN_GUARDED) {
		if ((uintptr_t)p != s->start || !s->live) {
			hw_mc_misuse((uintptr_t)p != s->start ? MC_BAD_INTERIOR
							      : MC_BAD_FREED_MEMORY,
				     op, p, s, 0, NULL);
			return NULL;
		}
		const unsigned char *bad = check_canary ? hw_mc_guard_damage(s, true) : NULL;
		if (bad)
			hw_mc_misuse(bad < (const unsigned char *)p ? MC_BAD_UNDERFLOW
								    : MC_BAD_OVERFLOW,
				     op, p, s, 0, bad);
		*idx = 0;
		return s;
	}
	size_t i = 0, slack;
	uintptr_t end;
	if (s->kind == MC_SPAN_LARGE) {
		if ((uintptr_t)p != s->start) {
			hw_mc_misuse(MC_BAD_INTERIOR, op, p, s, 0, NULL);
			return NULL;
		}
		end = s->start + s->req;
		slack = (size_t)s->npages * MC_PAGE - s->req;
	} else {
		uintptr_t off = (uintptr_t)p - s->start;
		i = mc_slot_index(s, off);
		if (i * s->size != off || i >= s->nobjs) {
			hw_mc_misuse(MC_BAD_INTERIOR, op, p, s, i, NULL);
			return NULL;
		}
		mc_state st = s->state[i];
		if (st == 0) {
			/* A realloc or size query of a freed object. */
			hw_mc_misuse(MC_BAD_FREED_MEMORY, op, p, s, i, NULL);
			return NULL;
		}
		slack = mc_state_slack(st);
		end = (uintptr_t)p + s->size - slack;
	}
	if (check_canary && slack) {
		const unsigned char *bad = hw_mc_canary_find((const unsigned char *)end, slack);
		if (bad) {
			hw_mc_misuse(MC_BAD_OVERFLOW, op, p, s, i, bad);
			/* Continuing: one report per damage. A realloc that moves
			 * frees p next, whose check would report it again. */
			hw_mc_canary_write((unsigned char *)end, slack);
		}
	}
	*idx = i;
	return s;
}

static size_t object_size(const mc_span *s, size_t idx)
{
	if (s->kind != MC_SPAN_SMALL) /* large or guarded */
		return s->req;
	return mc_state_len(s, s->state[idx]);
}

void *hw_calloc(size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	/* A guarded object may be known zero (guard.c GD13): the slow path
	 * knows when, and every allocation takes it while guards are on. */
	if (n <= MC_SMALL_MAX && HW_LIKELY(!hw_mc_guard_on())) {
		void *p = hw_malloc(n);
		if (p)
			memset(p, 0, n);
		return p;
	}
	return alloc_slow(n, 0, true, MC_KIND_MALLOC);
}

void *hw_realloc(void *p, size_t n)
{
	if (!p)
		return hw_malloc(n);
	if (n == 0) {
		hw_free(p);
		return NULL;
	}
	if (HW_UNLIKELY(hw_mc_boot_owns(p))) {
		/* Moved out of the arena; the block stays (boot.c BT2). */
		void *q = hw_malloc(n);
		if (q)
			memcpy(q, p, hw_min(n, hw_mc_boot_size(p)));
		return q;
	}
	size_t idx;
	mc_span *s = live_object(p, "realloc", &idx, true);
	if (!s) {
		errno = EINVAL;
		return NULL;
	}
	if (n > MC_MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	size_t old = object_size(s, idx);
	if (s->kind == MC_SPAN_SMALL) {
		if (n <= MC_SMALL_MAX && mc_class_of(n) == s->cls) {
			mark_resized(s, p, n);
			if (HW_UNLIKELY(hw_mc_debug_on())) {
				hw_mc_debug_alloc(p);
				return hw_mc_debug_scrub(p); /* MA10 */
			}
			return p;
		}
	} else if (s->kind == MC_SPAN_LARGE && n > MC_SMALL_MAX && hw_mc_large_resize(s, n)) {
		/* In place: shrunk (its tail back to the heap), or grown into
		 * the free pages after it. The slack runs to the end of the
		 * run's pages (MC6). */
		s->req = n;
		hw_mc_canary_write((unsigned char *)p + n, (size_t)s->npages * MC_PAGE - n);
		if (HW_UNLIKELY(hw_mc_debug_on())) {
			hw_mc_debug_alloc(p);
			return hw_mc_debug_scrub(p); /* MA10 */
		}
		return p;
	}
	/* Moved (a guarded object always is: a new object, guarded as the
	 * policy says, and the old one into the quarantine). */
	void *q = hw_malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, hw_min(old, n));
	hw_free(p);
	if (HW_UNLIKELY(hw_mc_debug_on()))
		return hw_mc_debug_scrub(q); /* MA10 */
	return q;
}

void *hw_reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return hw_realloc(p, n);
}

/* Every object is 16-byte aligned, so a request for 16 or less is
 * hw_malloc's; but not a guarded one, placed against its guard page at
 * guard_align, which may be less: the alignment asked for goes with it. */
static void *aligned(size_t align, size_t n)
{
	if (align <= 16 && HW_LIKELY(!hw_mc_guard_on()))
		return hw_malloc(n);
	return alloc_slow(n, align, false, MC_KIND_MALLOC);
}

int hw_posix_memalign(void **out, size_t align, size_t n)
{
	if (!hw_is_pow2(align) || align % sizeof(void *) != 0)
		return EINVAL;
	int saved = errno;
	void *p = aligned(align, n);
	errno = saved;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *hw_aligned_alloc(size_t align, size_t n)
{
	if (!hw_is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, n);
}

void *hw_mc_aligned_kind(size_t align, size_t n, unsigned kind)
{
	if (!hw_is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	if (align <= 16 && HW_LIKELY(!hw_mc_guard_on())) /* as aligned() */
		return hw_mc_malloc_kind(n, kind);
	return alloc_slow(n, align, false, kind);
}

void *hw_memalign(size_t align, size_t n)
{
	if (align > (SIZE_MAX >> 1) + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (!hw_is_pow2(align) && align > 1)
		align = (size_t)1 << (hw_log2(align) + 1);
	return aligned(align, n);
}

void hw_mc_reset(const mc_start_config *next)
{
	hw_mutex_lock(&init_lock);
	if (hw_mc_ready) {
		mc_cache *own = hw_mc_tls_cache;
		HW_CHECK(__atomic_load_n(&hw_mc_threads_live, __ATOMIC_RELAXED) ==
				 (own && own != &hw_mc_dead_cache ? 1u : 0u),
			 "malloc: hw_mc_reset while another thread has a cache");
		/* The scavenger first: its idle hook reads the span lists and
		 * counters the resets below clear. */
		hw_heap_scavenger_stop(hw_mc_g.heap);
		hw_mc_cache_reset();
		hw_mc_guard_reset();
		hw_mc_debug_reset();
		hw_mc_span_reset();
		hw_heap_destroy(hw_mc_g.heap);
		memset(&hw_mc_g, 0, sizeof hw_mc_g);
		__atomic_store_n(&hw_mc_ready, 0, __ATOMIC_RELEASE);
	}
	mc_config defaults = MA_CONFIG_DEFAULTS;
	hw_mc_cfg = defaults;
	hw_mc_slow_only = false;
	__atomic_store_n(&hw_mc_errors, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&scav_restart, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&scav_deferred, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&scav_idle, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&scav_retries, 64, __ATOMIC_RELAXED);
	__atomic_store_n(&env_pending, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&give_backs, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&give_back_warned, 0, __ATOMIC_RELAXED);
	memset(&next_start, 0, sizeof next_start);
	if (next)
		next_start = *next;
	hw_mutex_unlock(&init_lock);
}

hw_heap *hw_mc_heap(void)
{
	return __atomic_load_n(&hw_mc_ready, __ATOMIC_ACQUIRE) ? hw_mc_g.heap : NULL;
}

static size_t os_page(void) { return hw_platform_os()->caps.page_size; }

void *hw_valloc(size_t n) { return aligned(os_page(), n); }

void *hw_pvalloc(size_t n)
{
	size_t pg = os_page();
	if (n > MC_MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	return aligned(pg, n ? hw_align_up(n, pg) : pg);
}

size_t hw_malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (HW_UNLIKELY(hw_mc_boot_owns(p)))
		return hw_mc_boot_size(p);
	size_t idx;
	mc_span *s = live_object(p, "malloc_usable_size", &idx, false);
	return s ? object_size(s, idx) : 0;
}

int hw_malloc_trim(size_t pad)
{
	(void)pad;
	if (!__atomic_load_n(&hw_mc_ready, __ATOMIC_ACQUIRE))
		return 0;
	int saved = errno;
	size_t released = hw_mc_span_trim_all();
	hw_mc_guard_trim();
	errno = saved;
	return released != 0;
}

void hw_malloc_stats_get(hw_malloc_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!__atomic_load_n(&hw_mc_ready, __ATOMIC_ACQUIRE))
		return;
	mc_span_stats ss;
	hw_mc_span_stats(&ss);
	out->small_spans = ss.small_spans;
	out->small_span_bytes = ss.small_bytes;
	out->large_objects = ss.large_objects;
	out->large_bytes = ss.large_bytes;
	out->meta_bytes = ss.meta_bytes;
	out->thread_caches = __atomic_load_n(&hw_mc_threads_live, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&hw_mc_errors, __ATOMIC_RELAXED);
	hw_mc_depot_stats(&out->stacks, &out->stack_bytes, &out->stacks_dropped);
	hw_mc_quar_stats(&out->quarantine_objects, &out->quarantine_bytes);
	mc_guard_stats gs;
	hw_mc_guard_stats(&gs);
	out->guarded_objects = gs.live;
	out->guarded_bytes = gs.live_bytes;
	out->guard_over_budget = gs.over_budget;
	out->guard_refused = gs.refused;
	hw_heap_stats hs;
	hw_heap_stats_get(hw_mc_g.heap, &hs);
	out->heap_mapped = hs.mapped;
	out->heap_inuse = hs.inuse;
	out->heap_released = hs.released;
	out->heap_ready = hs.ready;
	out->heap_released_inside = hs.released_inside;
}

size_t hw_malloc_leak_check(void) { return hw_mc_leak_check(); }

/* stats_at_exit: the layer's and its heap's statistics, formatted on the
 * stack (hw_report_write: no allocation), when the process exits. A
 * destructor, not atexit: registering needs no call at start-up (atexit
 * may allocate). */
__attribute__((destructor)) static void print_stats_at_exit(void)
{
	if (!__atomic_load_n(&hw_mc_ready, __ATOMIC_ACQUIRE) || !hw_mc_cfg.stats_at_exit)
		return;
	hw_malloc_stats m;
	hw_malloc_stats_get(&m);
	hw_report_write("heapward: malloc stats: small_spans %zu small_span_bytes %zu "
			"large_objects %zu large_bytes %zu meta_bytes %zu thread_caches %llu "
			"errors %llu\n",
			m.small_spans, m.small_span_bytes, m.large_objects, m.large_bytes,
			m.meta_bytes, (unsigned long long)m.thread_caches,
			(unsigned long long)m.errors);
	hw_heap_stats h;
	hw_heap_stats_get(hw_mc_g.heap, &h);
	hw_report_write("heapward: heap stats: mapped %zu inuse %zu idle %zu released %zu "
			"ready %zu memory_limit %zu scavenged_bytes %llu bg_scavenged_bytes "
			"%llu\n",
			h.mapped, h.inuse, h.idle, h.released, h.ready, h.memory_limit,
			(unsigned long long)h.scavenged_bytes,
			(unsigned long long)h.bg_scavenged_bytes);
}

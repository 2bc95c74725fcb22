/* heap_env.h: heaps on either backend for the heap tests.
 *
 * Owns: a small fixture that creates a heap on the checked simulator or on a
 * private Linux platform instance, checks the accounting identities and the
 * validator after every step the test asks for, and tears everything down,
 * checking that the heap returned every simulated page.
 *
 * Invariants:
 *   E1. env_check() fails the test on any broken identity or invariant.
 *   E2. env_done() leaves no Ready simulated page behind and the platform
 *       instance owning nothing (P8: every reservation released), on either
 *       backend (the heap's own leak check: LeakSanitizer cannot see pages
 *       it did not allocate).
 */
#ifndef HW_TESTS_HEAP_ENV_H
#define HW_TESTS_HEAP_ENV_H

#include "check.h"
#include "heapward.h"
#include "inspect.h"
#include "platform.h"
#include "sim.h"
#include "trap.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

typedef struct env {
	hw_platform *pf;
	hw_heap *h;
	bool sim;
	char last_report[512];
	unsigned reports;
} env;

static void env_report(void *arg, const char *line)
{
	env *e = arg;
	snprintf(e->last_report, sizeof e->last_report, "%s", line);
	e->reports++;
}

/* A heap on the simulator (sim != NULL) or on a private OS instance. */
static inline bool env_open(env *e, const hw_sim_config *sim, hw_heap_config cfg)
{
	memset(e, 0, sizeof *e);
	e->sim = sim != NULL;
	e->pf = sim ? hw_platform_sim_create(sim) : hw_platform_os_create();
	if (!e->pf)
		return false;
	cfg.platform = e->pf;
	cfg.report = env_report;
	cfg.report_arg = e;
	e->h = hw_heap_create(&cfg);
	return e->h != NULL;
}

static inline hw_heap_stats env_stats(env *e)
{
	hw_heap_stats s;
	hw_heap_stats_get(e->h, &s);
	return s;
}

/* E1: the identities, the simulator's residency, and the validator. */
#define env_check(e)                                                                           \
	do {                                                                                   \
		hw_heap_stats s_ = env_stats(e);                                               \
		EXPECT(s_.mapped == s_.inuse + s_.idle, "mapped %zu inuse %zu idle %zu",       \
		       s_.mapped, s_.inuse, s_.idle);                                          \
		EXPECT(s_.released <= s_.idle, "released %zu idle %zu", s_.released, s_.idle); \
		EXPECT(s_.ready == s_.mapped - s_.released - s_.guarded - s_.released_inside,  \
		       "ready %zu", s_.ready);                                                 \
		if ((e)->sim)                                                                  \
			EXPECT(hw_sim_ready_bytes((e)->pf) == s_.ready + s_.meta_ready,        \
			       "sim ready %zu, heap ready %zu + meta %zu",                     \
			       hw_sim_ready_bytes((e)->pf), s_.ready, s_.meta_ready);          \
		char m_[512];                                                                  \
		int v_ = hw_heap_validate((e)->h, m_, sizeof m_);                              \
		EXPECT(v_ == 0, "validate: %s", m_);                                           \
	} while (0)

/* E2. */
static inline void env_done(env *e)
{
	hw_heap_destroy(e->h);
	EXPECT(e->pf->owned == 0, "heap left %zu bytes reserved", e->pf->owned);
	if (e->sim)
		EXPECT(hw_sim_ready_bytes(e->pf) == 0, "heap left %zu Ready bytes",
		       hw_sim_ready_bytes(e->pf));
	hw_platform_destroy(e->pf);
}

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
/* The heap's default page (hw_heap_config.page_size 0). */
#define P (8 * KiB)

/* A read of p traps (a faulted or guarded page). */
static inline bool traps(void *p)
{
	return hw_trap_probe((volatile void *)p, false) != HW_TRAP_NONE;
}

/* Fills page i of run a with a byte of its own, and checks it back. */
static inline void fill_page(char *a, size_t i) { memset(a + i * P, (int)(0x40 + i), P); }
static inline bool intact(const char *a, size_t i)
{
	for (size_t j = 0; j < P; j += 511)
		if (a[i * P + j] != (char)(0x40 + i))
			return false;
	return true;
}

/* Fills a run with a pattern and checks it back. */
static inline void fill(void *p, size_t n, unsigned char v) { memset(p, v, n); }
static inline bool holds(const void *p, size_t n, unsigned char v)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* What most heap tests share: the simulator they use (4 KiB pages, a
 * 256 MiB backing), a small heap on it (one 512-page chunk per 4 MiB
 * arena), and a body run once on the simulator and once on Linux. */
static const hw_sim_config sim4k = {.backing_bytes = (size_t)256 << 20,
				    .released_reads_zero = true};

static inline hw_heap_config small_cfg(void)
{
	hw_heap_config c = {0};
	c.arena_size = (size_t)4 << 20;
	c.address_space = (size_t)256 << 20;
	return c;
}

#define BOTH(e, cfg, ...)                                                           \
	for (int b_ = 0; b_ < 2; b_++) {                                            \
		env e##_s, *e = &e##_s;                                             \
		REQUIRE(env_open(e, b_ == 0 ? &sim4k : NULL, cfg), "env_open (%s)", \
			b_ == 0 ? "sim" : "linux");                                 \
		__VA_ARGS__;                                                        \
		env_done(e);                                                        \
	}

#endif

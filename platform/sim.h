/* sim.h: the checked simulated platform.
 *
 * Owns: a backend that keeps one hw_mem_state per simulated OS page over a real
 * reservation (the memory is real and touchable: Ready pages are read/write,
 * every other state is PROT_NONE, so a touch of a Reserved or Prepared page
 * traps), rejects every transition the contract does not allow, and counts
 * Ready pages exactly as resident memory.
 *
 * Invariants:
 *   S1. state[i] is the contract state of simulated page i; the real mapping's
 *       protection agrees (READY <=> PROT_READ|PROT_WRITE).
 *   S2. ready_pages == number of i with state[i] == HW_MEM_READY.
 *   S3. A reservation handed out by reserve/alloc covers pages that were all
 *       None; release returns pages of any state to None.
 *   S4. An illegal transition (a page of the range is in a state the call does
 *       not accept, or the range is outside the backing) is reported as
 *       "heapward: sim: illegal <op> at page <i> (<addr>) in state <s>" (for a
 *       range outside the backing: "at page out-of-backing (<addr>) in state
 *       None") and handled by the configured policy: abort (default) or record
 *       and refuse, changing nothing (hw_sys_* then returns EINVAL, P6).
 *       Legal: map Reserved; use Prepared; unuse Ready; fault Ready|Prepared;
 *       release Reserved|Prepared|Ready; unfault Reserved by a fault (no
 *       reserve, map or release over the page since; otherwise "in state
 *       Reserved (not by a fault)"); the populate hint Ready (it changes
 *       nothing: "illegal populate at page ..." otherwise). reserve and alloc pick None pages
 *       themselves and cannot be illegal.
 *   S6. hw_sim_reset makes an instance indistinguishable from a new one
 *       created with the same configuration at the same address: every page
 *       None (inaccessible, nothing resident), no Ready bytes, no recorded
 *       illegal transition, counters and injection cleared. Placement is
 *       relative to the backing's base, so a reset instance hands out the
 *       same offsets, in the same order, as a fresh one.
 *
 * Locking: none; the owner serializes calls.
 */
#ifndef HW_PLATFORM_SIM_H
#define HW_PLATFORM_SIM_H

#include "platform.h"

typedef struct hw_sim_config {
	size_t backing_bytes;  /* simulated address space; 0 = 1 GiB */
	size_t page_size;      /* simulated OS page: power of two >= 4096; 0 = 4096 */
	size_t huge_page_size; /* reported huge page (0 = none); multiple of page_size */
	bool use_needs_call;   /* report Prepared->Ready as a real commit */
	/* false: use (Prepared->Ready) fills the pages with junk (0xA5), as
	 * MADV_FREE may leave old data */
	bool released_reads_zero;
	/* never honour hints: place each reservation at the highest fit with a
	 * None page on each side (discontiguous arenas) */
	bool ignore_hints;
	/* S4 policy: record and refuse with EINVAL instead of aborting (tests of
	 * illegal transitions) */
	bool record_illegal;
	/* Address space to set aside for later hw_sim_reset calls, which may
	 * ask for any backing up to this size; 0 = backing_bytes. Only the
	 * backing is simulated: the rest is inaccessible and outside it. */
	size_t capacity_bytes;
} hw_sim_config;

/* NULL cfg means every default. Returns NULL with errno ENOMEM (the backing
 * reservation or its state array) or EINVAL (page_size not a power of two at
 * least the real page, huge_page_size not 0 or a power-of-two multiple of
 * page_size, backing_bytes above 16 TiB). Create and destroy cost a few
 * system calls whatever the backing size. */
hw_platform *hw_platform_sim_create(const hw_sim_config *cfg);

/* Returns the instance to the state of a new one created with cfg (NULL: every
 * default) at the same base address (S6), so one instance can serve many short
 * runs. Costs O(pages used since the last create or reset) and one system call
 * pair per run of Ready pages left. 0, or EINVAL with the instance unchanged
 * when cfg is invalid (as for create), its backing is beyond the instance's
 * capacity, or its alignment (max(2 MiB, huge page, page)) does not divide
 * the base. */
int hw_sim_reset(hw_platform *pf, const hw_sim_config *cfg);

/* State of the simulated page containing p (None outside the backing). */
hw_mem_state hw_sim_state(const hw_platform *pf, const void *p);

/* Whether the simulated page containing p is Ready and sealed (P13, S10). */
bool hw_sim_sealed(const hw_platform *pf, const void *p);

/* The first simulated page of [p, p + n) whose state is not st, or NULL when
 * every page is in st (pages outside the backing are None). p and n need not
 * be page multiples: the pages they overlap count. Eight pages per step, for
 * checks that compare long runs. */
const void *hw_sim_find_other(const hw_platform *pf, const void *p, size_t n, hw_mem_state st);

/* The backing's base address; *bytes (may be NULL) receives its size. */
void *hw_sim_backing(const hw_platform *pf, size_t *bytes);

/* Bytes of simulated pages in state Ready (S2). */
size_t hw_sim_ready_bytes(const hw_platform *pf);

/* Number of illegal transitions recorded under record_illegal; the last one's
 * message is copied into msg (NUL-terminated, truncated to len). */
uint64_t hw_sim_illegal_count(const hw_platform *pf, char *msg, size_t len);

/* Full check of S1/S2 (and of the stale-memory bookkeeping) by walking every
 * page; 0 when consistent, otherwise -1 with a message. O(backing pages),
 * with a system call per mapping and per 4096 pages that are not Ready. */
int hw_sim_check(const hw_platform *pf, char *msg, size_t len);

/* The same, walking the real mapping only over the pages the simulator
 * changed since the last check that passed (either kind): the simulator's
 * own calls cannot leave the rest inconsistent, but a protection changed
 * behind its back there is seen only by hw_sim_check. The state and flag
 * counts still cover everything (a few ns per page, no system call). */
int hw_sim_check_since(const hw_platform *pf, char *msg, size_t len);

#endif

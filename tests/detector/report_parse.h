/* report_parse.h: reads heapward's reports in the sanitizers' layout back
 * into fields, the way a tool that parses AddressSanitizer's output would,
 * for the fuzzed detector (detector_test.c).
 *
 * Owns: the grammar of a report as docs/debug-mode.md writes it:
 *   heapward: <one line>                          (before the banner)
 *   =================================================================
 *   ==PID==ERROR: heapward: <kind> on address 0x... in thread T<n>:
 *   ==PID==ERROR: heapward: <kind> on address 0x... at pc 0x... bp 0x... sp 0x...
 *   ==PID==ERROR: heapward: detected memory leaks
 *   READ|WRITE|EXECUTE|UNKNOWN of <text>     (the access, after an ERROR line)
 *       #N 0x<pc> in <function> <file>:<line>[:<column>]
 *       #N 0x<pc> in <function> (<module>+0x<offset>)
 *       #N 0x<pc> (<module>+0x<offset>)
 *   0x... is located K bytes <relation> [a freed ]N-byte region|slot [0x...,0x...)
 *       [, made by <call>, freed by <call>[ with size S]]
 *   0x... is located K bytes inside of freed N-byte region [0x...,0x...)
 *   (<relation>: "inside of", "after", "before", or the longer "after the
 *   end of", "before the start of"; kept as written)
 *   0x... is located in freed heap memory (its object is no longer known)
 *   0x... is not heap memory: <where>
 *   freed by thread T<n> here:
 *   [previously ]allocated by thread T<n> here:
 *   Direct|Indirect leak of N byte(s) in M object(s) allocated from:
 *   SUMMARY: heapward: <text>
 *   ==PID==ABORTING
 *
 * Invariants:
 *   RR1. Every line of the input is either one of the forms above, an
 *        empty line, or counted in `unknown` (the first one kept), so a
 *        caller can insist that the output holds nothing but the report.
 *   RR2. Frames go to the block opened last (the error's stack after an
 *        ERROR line, a history after its heading, a leak after its
 *        heading); a frame outside any block is unknown.
 *
 * Locking: none (pure functions over the caller's buffers).
 */
#ifndef HW_TESTS_DETECTOR_REPORT_PARSE_H
#define HW_TESTS_DETECTOR_REPORT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RR_FRAMES 16
#define RR_LEAKS 8
#define RR_TEXT 256

typedef struct rr_frame {
	uintptr_t pc;
	char function[RR_TEXT]; /* "" when the frame has none */
	char place[RR_TEXT];    /* "file:line[:column]" or "(module+0xoffset)" */
} rr_frame;

typedef struct rr_stack {
	bool present;    /* its heading (or ERROR line) was seen */
	unsigned tid;    /* the heading's thread */
	size_t n;        /* frames kept (at most RR_FRAMES) */
	size_t numbered; /* frames seen, each numbered in order from #0 */
	bool misnumbered;
	rr_frame f[RR_FRAMES];
} rr_stack;

typedef struct rr_leak {
	bool direct;
	size_t bytes, count;
	rr_stack stack;
} rr_leak;

typedef struct rr_report {
	int pid;              /* from the first ERROR line; 0 when none */
	unsigned errors;      /* ERROR lines */
	unsigned onelines;    /* "heapward: ..." lines before a banner */
	unsigned banners;     /* "=====" lines */
	char oneline[512];    /* the first of them */
	char kind[64];        /* "double-free", ..., or "detected memory leaks" */
	uintptr_t address;    /* the ERROR line's */
	unsigned tid;         /* the ERROR line's thread */
	rr_stack error;       /* the error's own stack */
	char access[RR_TEXT]; /* the access line after the ERROR line; "" when none */
	/* The "is located" line. */
	bool located;
	uintptr_t loc_address;
	size_t offset;            /* K */
	char relation[24];        /* as written: "inside of", "after", ... */
	bool freed;               /* "a freed" or "freed" before the size */
	size_t region_size;       /* N */
	char region_word[16];     /* "region" or "slot" */
	uintptr_t lo, hi;         /* [lo,hi) */
	char made_by[RR_TEXT];    /* ", made by X" */
	char freed_with[RR_TEXT]; /* ", freed by Y" (with " with size S" when sized) */
	bool freed_memory;        /* "is located in freed heap memory" */
	char not_heap[RR_TEXT];   /* "is not heap memory: <where>" */
	rr_stack freed_by, allocated_by;
	bool previously; /* "previously allocated by" */
	size_t nleaks;
	rr_leak leaks[RR_LEAKS];
	unsigned summaries;
	char summary[512]; /* the SUMMARY line, without "SUMMARY: heapward: " */
	bool aborting;     /* "==PID==ABORTING" */
	unsigned unknown;  /* RR1 */
	char first_unknown[RR_TEXT];
} rr_report;

/* Parses text (NUL-terminated) into *r (RR1, RR2). */
void rr_parse(const char *text, rr_report *r);

#endif

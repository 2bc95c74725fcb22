/* fault_victim.c: a program with one trapping access per scenario, for the
 * fault report tests (fault_test.c). Built with -O0 -g
 * -fno-omit-frame-pointer, linked against libheapward.so, with the debug
 * mode on through HEAPWARD_OPTIONS (the driver sets it).
 *
 * Owns: the scenarios, named by argv[1], and their markers: a comment
 * "@name" at the end of a line names that line for the driver (the line
 * of the faulting access, or of the allocation).
 *
 * Invariants:
 *   FV1. Each scenario prints "addr 0x..." (the faulting address the
 *        report must name) on stdout, flushed, before the access; a
 *        scenario that comes back from its access prints "survived" and
 *        exits 3 (leak_nofp, which makes no bad access, returns 0: the
 *        leak check at exit sets the status).
 *   FV2. The layer starts at the scenario's first hw_malloc, after the
 *        scenario installed its own handler (chained), so the layer's
 *        handler chains to it.
 *
 * Locking: none (the thread scenario joins its one thread).
 */
#include "heapward.h"

#include "fault_victim_nocfi.h"
#include "fault_victim_nofp.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void say(const volatile void *p)
{
	printf("addr %p\n", (const void *)p);
	fflush(stdout);
}

NOINLINE static char *make(size_t n) { return hw_malloc(n); /* @make */ }
NOINLINE static void drop(void *p) { hw_free(p); /* @drop */ }
NOINLINE static char *grow(void *p, size_t n) { return hw_realloc(p, n); /* @grow */ }

/* A guarded object (the driver's options guard every allocation): its
 * start and size on stdout ("obj 0x... size N"), for the bounds the report
 * must give. */
static char *object(size_t n, char *p)
{
	printf("obj %p size %zu\n", (void *)p, n);
	return p;
}

/* Guarded objects, with the driver's guard options: overflow with
 * guard_align=1 (the end against the guard page), underflow with
 * guard_side=left, use after free (the object quarantined, faulted), by
 * one byte and by a page. */
NOINLINE static void ovf_write1(void)
{
	volatile char *p = object(13, make(13)); /* @ovf_write1_alloc */
	say(p + 13);
	p[13] = 1; /* @ovf_write1 */
}

NOINLINE static void ovf_read1(void)
{
	volatile char *p = object(13, make(13)); /* @ovf_read1_alloc */
	say(p + 13);
	(void)p[13]; /* @ovf_read1 */
}

NOINLINE static void ovf_read_page(void)
{
	volatile char *p = object(13, make(13)); /* @ovf_read_page_alloc */
	say(p + 13 + 4095);
	(void)p[13 + 4095]; /* @ovf_read_page */
}

NOINLINE static void udf_read1(void)
{
	volatile char *p = object(13, make(13)); /* @udf_read1_alloc */
	say(p - 1);
	(void)p[-1]; /* @udf_read1 */
}

NOINLINE static void udf_write_page(void)
{
	volatile char *p = object(13, make(13)); /* @udf_write_page_alloc */
	say(p - 4096);
	p[-4096] = 1; /* @udf_write_page */
}

NOINLINE static void uaf_read(void)
{
	volatile char *p = object(64, make(64)); /* @uaf_read_alloc */
	drop((char *)p);                         /* @uaf_read_free */
	say(p + 16);
	(void)p[16]; /* @uaf_read */
}

NOINLINE static void uaf_write(void)
{
	volatile char *p = object(64, make(64)); /* @uaf_write_alloc */
	drop((char *)p);                         /* @uaf_write_free */
	say(p + 16);
	p[16] = 1; /* @uaf_write */
}

/* The use after free of uaf_write, each call made three calls deep in code
 * built without frame pointers (fault_victim_nofp.c). */
NOINLINE static void uaf_nofp(void)
{
	char *p = object(64, nofp_alloc1(64)); /* @uaf_nofp_alloc */
	nofp_free1(p);                         /* @uaf_nofp_free */
	say(p + 16);
	nofp_touch1(p); /* @uaf_nofp */
}

/* A leak made in code whose rbp is not a frame pointer: recorded by frame
 * pointers, its stack ends after nofp_alloc_busy. The stack below is
 * scrubbed, so no stale copy of the pointer keeps it reachable. */
NOINLINE static void leak_nofp_make(void)
{
	static const volatile unsigned v[8] = {3, 5, 7, 11, 13, 17, 19, 23};
	say(nofp_alloc_busy(40, v)); /* @leak_nofp */
}

NOINLINE static void scrub(void)
{
	volatile char b[16384];
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = 0;
}

/* The use after free of uaf_write, made in nofp_touch3 (unwind tables)
 * called through two functions with frame pointers and no unwind tables
 * (fault_victim_nocfi.c), as from a JIT's code. */
NOINLINE static void uaf_nocfi(void)
{
	char *p = object(64, make(64));
	drop(p);
	say(p + 16);
	nocfi_touch1(p); /* @uaf_nocfi */
}

/* uaf_write after an overflow on the stack overwrote this function's saved
 * frame pointer: the table walk of the fault's stack faults at the caller
 * and must end there, with the report still whole (stackwalk.h UW7). */
NOINLINE static void uaf_smashed(void)
{
	volatile char *p = object(64, make(64)); /* @uaf_smashed_alloc */
	drop((char *)p);                         /* @uaf_smashed_free */
	say(p + 16);
	volatile uintptr_t *rec = __builtin_frame_address(0);
	rec[0] = 0x1000;
	p[16] = 1; /* @uaf_smashed */
}

NOINLINE static void uaf_realloc(void)
{
	volatile char *p = object(64, make(64)); /* @uaf_realloc_alloc */
	char *q = grow((char *)p, 200);          /* @uaf_realloc_free */
	say(p + 8);
	(void)p[8]; /* @uaf_realloc */
	drop(q);
}

/* A freed large object's first page, made to trap (mprotect behind the
 * heap's back: the process dies next), above the 13-byte object *below
 * (the nearest object). With quarantine_bytes=0 the object's pages go
 * back to the heap at once (heap pages of no object, as the heap's faulted
 * freed pages are); with the quarantine, the object is held there, freed. */
static volatile char *freed_page(char **below)
{
	*below = make(13);             /* @wild_alloc */
	char *big = hw_malloc(200000); /* @big_alloc */
	drop(big);                     /* @big_free */
	if (mprotect(big, 8192, PROT_NONE) != 0)
		exit(4);
	return big + 100;
}

NOINLINE static void wild_read(void)
{
	char *below;
	volatile char *q = freed_page(&below);
	say(q);
	(void)*q; /* @wild_read */
}

NOINLINE static void wild_write(void)
{
	char *below;
	volatile char *q = freed_page(&below);
	say(q);
	*q = 1; /* @wild_write */
}

/* The faulting access in the C library's memset, which keeps no frame
 * record: the report must still show this function (stackwalk.h UW5). */
NOINLINE static void wild_memset(void)
{
	char *below;
	volatile char *q = freed_page(&below);
	volatile size_t n = 16; /* a call, not an inlined store */
	say(q);
	memset((char *)q, 0, n); /* @wild_memset */
}

NOINLINE static void null_write(void)
{
	hw_free(make(1));
	volatile char *q = (char *)16;
	say(q);
	*q = 1; /* @null_write */
}

/* A fault inside the layer: it stores the object's address where the
 * caller's bad pointer says. */
NOINLINE static void layer_fault(void)
{
	hw_free(make(1));
	say((void *)16);
	(void)hw_posix_memalign((void **)16, 16, 32); /* @layer_fault */
}

/* Recurses until the stack runs out; each frame keeps a page of it. */
NOINLINE static unsigned deep(unsigned n)
{
	volatile char frame[4096];
	frame[n % sizeof frame] = (char)n;
	if (n == UINT_MAX) /* never: the stack ends long before */
		return 0;
	return deep(n + 1) + frame[(n + 1) % sizeof frame]; /* @deep */
}

NOINLINE static void overflow(void)
{
	hw_free(make(1));
	say(NULL);
	(void)deep(0);
}

static void *overflow_thread_fn(void *arg)
{
	(void)arg;
	hw_free(make(1)); /* the thread's first call: its alternate stack */
	(void)deep(0);
	return NULL;
}

NOINLINE static void overflow_thread(void)
{
	hw_free(make(1));
	say(NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, overflow_thread_fn, NULL) == 0)
		pthread_join(t, NULL);
}

static void own_handler(int signo, siginfo_t *si, void *uctx)
{
	(void)uctx;
	char line[64];
	int n = snprintf(line, sizeof line, "own handler: signal %d at %p\n", signo, si->si_addr);
	(void)!write(2, line, (size_t)n);
	_exit(42);
}

/* FV2: the program's handler first, then the layer's start. */
NOINLINE static void chained(const char *what)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = own_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	char *below;
	volatile char *q = strcmp(what, "heap") == 0 ? freed_page(&below) : (char *)16;
	say(q);
	*q = 1;
}

NOINLINE static void sent(void)
{
	hw_free(make(1));
	say(NULL);
	kill(getpid(), SIGSEGV);
}

int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "";
	if (strcmp(s, "wild_read") == 0)
		wild_read(); /* @call_wild_read */
	else if (strcmp(s, "wild_write") == 0)
		wild_write(); /* @call_wild_write */
	else if (strcmp(s, "wild_memset") == 0)
		wild_memset(); /* @call_wild_memset */
	else if (strcmp(s, "null_write") == 0)
		null_write();
	else if (strcmp(s, "layer_fault") == 0)
		layer_fault();
	else if (strcmp(s, "overflow") == 0)
		overflow();
	else if (strcmp(s, "overflow_thread") == 0)
		overflow_thread();
	else if (strcmp(s, "chained_heap") == 0)
		chained("heap");
	else if (strcmp(s, "chained_other") == 0)
		chained("other");
	else if (strcmp(s, "sent") == 0)
		sent();
	else if (strcmp(s, "ovf_write1") == 0)
		ovf_write1(); /* @call_ovf_write1 */
	else if (strcmp(s, "ovf_read1") == 0)
		ovf_read1(); /* @call_ovf_read1 */
	else if (strcmp(s, "ovf_read_page") == 0)
		ovf_read_page(); /* @call_ovf_read_page */
	else if (strcmp(s, "udf_read1") == 0)
		udf_read1(); /* @call_udf_read1 */
	else if (strcmp(s, "udf_write_page") == 0)
		udf_write_page(); /* @call_udf_write_page */
	else if (strcmp(s, "uaf_read") == 0)
		uaf_read(); /* @call_uaf_read */
	else if (strcmp(s, "uaf_write") == 0)
		uaf_write(); /* @call_uaf_write */
	else if (strcmp(s, "uaf_smashed") == 0)
		uaf_smashed(); /* @call_uaf_smashed */
	else if (strcmp(s, "uaf_nofp") == 0)
		uaf_nofp(); /* @call_uaf_nofp */
	else if (strcmp(s, "uaf_nocfi") == 0)
		uaf_nocfi(); /* @call_uaf_nocfi */
	else if (strcmp(s, "uaf_realloc") == 0)
		uaf_realloc(); /* @call_uaf_realloc */
	else if (strcmp(s, "leak_nofp") == 0) {
		leak_nofp_make(); /* @call_leak_nofp */
		scrub();
		return 0; /* the leak check's status, not survived's */
	} else
		return 2;
	printf("survived\n");
	return 3;
}

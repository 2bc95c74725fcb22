/* fault_victim_nofp.h: fault_victim_nofp.c's functions, built without frame
 * pointers (see there). */
#ifndef HW_TESTS_FAULT_VICTIM_NOFP_H
#define HW_TESTS_FAULT_VICTIM_NOFP_H

#include <stddef.h>

/* hw_malloc(n), three calls deep. */
char *nofp_alloc1(size_t n);
char *nofp_alloc2(size_t n);
char *nofp_alloc3(size_t n);
/* hw_malloc(n) called with rbp holding a value of v[], not a frame record
 * (v: 8 values). */
char *nofp_alloc_busy(size_t n, const volatile unsigned *v);
/* hw_free(p), three calls deep. */
void nofp_free1(char *p);
void nofp_free2(char *p);
void nofp_free3(char *p);
/* Writes p[16], three calls deep. */
void nofp_touch1(volatile char *p);
void nofp_touch2(volatile char *p);
void nofp_touch3(volatile char *p);

#endif

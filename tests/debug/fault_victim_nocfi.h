/* fault_victim_nocfi.h: fault_victim_nocfi.c's functions, built without
 * unwind tables (see there). */
#ifndef HW_TESTS_FAULT_VICTIM_NOCFI_H
#define HW_TESTS_FAULT_VICTIM_NOCFI_H

/* nofp_touch3(p) (fault_victim_nofp.h), two calls deep. */
void nocfi_touch1(volatile char *p);
void nocfi_touch2(volatile char *p);

#endif

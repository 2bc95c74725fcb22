#include "check.h"
static void t(void) { EXPECT(1); }
HW_TEST_MAIN(T(t))

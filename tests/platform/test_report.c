/* test_report.c: the report formatter, writer and hw_fatal (src/report.c).
 *
 * Checks each conversion against the text it must produce, truncation and
 * NUL termination (F2), that writes reach fd 2 whole (F3), and that hw_fatal
 * writes its line plus a newline and aborts.
 */
#include "base.h"
#include "ptest.h"

#include <limits.h>
#include <stdint.h>

/* Formats through the va_list entry point without compile-time format
 * checking, for the conversions the formatter must pass through. */
static size_t fmt_unchecked(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = hw_report_vformat(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

#define EXPECT_FMT(want, ...)                                                 \
	do {                                                                  \
		char buf_[256];                                               \
		size_t n_ = hw_report_format(buf_, sizeof buf_, __VA_ARGS__); \
		EXPECT(strcmp(buf_, (want)) == 0 && n_ == strlen(want),       \
		       "got \"%s\" (%zu), want \"%s\"", buf_, n_, (want));    \
	} while (0)

static void test_conversions(void)
{
	const char *volatile null_str = NULL;
	EXPECT_FMT("ab|-5|7", "%s|%d|%u", "ab", -5, 7u);
	EXPECT_FMT("123456 abc", "%zu %zx", (size_t)123456, (size_t)0xabc);
	/* long is 64 bits on Linux, 32 on Windows: the C library says which. */
	char lu[64];
	snprintf(lu, sizeof lu, "%lu 18446744073709551615 deadbeef", ULONG_MAX);
	EXPECT_FMT(lu, "%lu %llu %llx", ULONG_MAX, ULLONG_MAX, 0xdeadbeefULL);
	EXPECT_FMT("0x1234", "%p", (void *)0x1234);
	EXPECT_FMT("x%", "%c%%", 'x');
	EXPECT_FMT("0000beef", "%08llx", 0xbeefULL);
	EXPECT_FMT("   42|-0042|  -42", "%5d|%05d|%5d", 42, -42, -42);
	EXPECT_FMT("-2147483648", "%d", INT_MIN);
	EXPECT_FMT("-9223372036854775808", "%lld", LLONG_MIN);
	EXPECT_FMT("-3 -4", "%ld %zd", -3L, (ptrdiff_t)-4);
	EXPECT_FMT("(null)", "%s", null_str);
	EXPECT_FMT("0", "%u", 0u);
	EXPECT_FMT("ffffffff", "%x", 0xffffffffu);
	EXPECT_FMT("", "%s", "");
}

static void test_unknown_conversion_passes_through(void)
{
	char buf[64];
	size_t n = fmt_unchecked(buf, sizeof buf, "a%qb%lq%", 1);
	EXPECT(strcmp(buf, "a%qb%lq%") == 0, "got \"%s\"", buf);
	EXPECT(n == 8, "n = %zu", n);
}

static void test_truncation(void)
{
	char buf[8];
	memset(buf, 'Z', sizeof buf);
	size_t n = hw_report_format(buf, sizeof buf, "%s", "abcdefghij");
	EXPECT(n == 7 && strcmp(buf, "abcdefg") == 0, "got \"%s\" (%zu)", buf, n);

	n = hw_report_format(buf, sizeof buf, "%llx", 0x123456789abcULL);
	EXPECT(n == 7 && strcmp(buf, "1234567") == 0, "got \"%s\" (%zu)", buf, n);

	memset(buf, 'Z', sizeof buf);
	n = hw_report_format(buf, 1, "%d", 12345);
	EXPECT(n == 0 && buf[0] == '\0' && buf[1] == 'Z', "len 1: n=%zu", n);

	memset(buf, 'Z', sizeof buf);
	n = hw_report_format(buf, 0, "%d", 12345);
	EXPECT(n == 0 && buf[0] == 'Z', "len 0 must not write");
}

static void write_line(void *arg)
{
	hw_report_write("x=%d y=%s\n", *(int *)arg, "ok");
}

static void test_write_reaches_stderr(void)
{
	char err[128];
	int v = 5;
	hw_child_status st;
	REQUIRE(hw_trap_child(write_line, &v, err, sizeof err, &st) == 0);
	EXPECT(st.signo == 0 && st.exit_code == 0, "signo %d exit %d", st.signo, st.exit_code);
	EXPECT(strcmp(err, "x=5 y=ok\n") == 0, "got \"%s\"", err);
}

static void write_long(void *arg)
{
	static char big[4000];
	memset(big, 'q', sizeof big - 1);
	hw_report_write("%s", big);
}

static void test_long_line_is_bounded(void)
{
	static char err[8192];
	hw_child_status st;
	REQUIRE(hw_trap_child(write_long, NULL, err, sizeof err, &st) == 0);
	size_t len = strlen(err);
	/* One stack line of 1024 bytes: 1023 characters and the NUL. */
	EXPECT(len == 1023, "wrote %zu bytes", len);
	EXPECT(count_of(err, "q") == len, "only the formatted text is written");
}

static void fatal_now(void *arg)
{
	hw_fatal("heapward: boom %d at %p", 7, (void *)0x10);
}

static void test_fatal_writes_line_and_aborts(void)
{
	char err[128];
	EXPECT(dies_with(fatal_now, NULL, "heapward: boom 7 at 0x10\n", err, sizeof err),
	       "stderr \"%s\"", err);
	EXPECT(strcmp(err, "heapward: boom 7 at 0x10\n") == 0, "exactly one line: \"%s\"", err);
}

static void fatal_long(void *arg)
{
	static char big[3000];
	memset(big, 'w', sizeof big - 1);
	hw_fatal("%s", big);
}

static void test_fatal_truncated_keeps_newline(void)
{
	static char err[4096];
	EXPECT(dies_with(fatal_long, NULL, "www", err, sizeof err), "did not abort");
	size_t len = strlen(err);
	/* 1022 characters and the newline fill the 1024-byte line with its NUL. */
	EXPECT(len == 1023 && err[len - 1] == '\n' && count_of(err, "w") == 1022, "len %zu", len);
}

static void check_fails(void *arg)
{
	HW_CHECK(arg == NULL, "test: the fixed message");
}

static void test_hw_check_message(void)
{
	char err[128];
	EXPECT(dies_with(check_fails, err, "heapward: test: the fixed message\n", err, sizeof err),
	       "stderr \"%s\"", err);
}

HW_TEST_MAIN(T(test_conversions), T(test_unknown_conversion_passes_through), T(test_truncation),
	     T(test_write_reaches_stderr), T(test_long_line_is_bounded),
	     T(test_fatal_writes_line_and_aborts), T(test_fatal_truncated_keeps_newline),
	     T(test_hw_check_message))

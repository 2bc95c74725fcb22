/* base.h: configuration macros, the two check levels, and small bit helpers.
 *
 * Owns: HW_DEBUG (0, 1 or 2), the sanitizer detection (HW_TSAN, HW_ASAN),
 * HW_CHECK (always on: for what callers can break; reports a fixed message
 * and aborts), HW_ASSERT (HW_DEBUG >= 1: internal invariants) and
 * HW_ASSERT_SLOW (HW_DEBUG >= 2: O(heap) checks).
 * Planted bugs for the mutation self-check are patches (ci/mutants/), never
 * behind a switch here.
 *
 * Every config macro is defined to a number here when the build did not, so
 * `#if HW_X` never silently reads an undefined name (-Wundef is on).
 *
 * Reports go through hw_report_write (report.c): formatted into a stack
 * buffer, never malloc, so they are safe in a fault handler and under a
 * malloc layer built on this heap.
 *
 * The base floor is the lowest layer: it includes nothing of the project's
 * and makes no OS call. Its two outputs, writing a line and aborting, are OS
 * services: base declares them below and the platform layer defines them
 * (platform/console_posix.c, platform/console_windows.c), so the include arrows
 * all point down and the one dependency up is this declared, link-time
 * pair.
 */
#ifndef HW_BASE_H
#define HW_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef HW_DEBUG
#define HW_DEBUG 0
#endif
#ifndef HW_TRACK_ASAN
#define HW_TRACK_ASAN 0
#endif
#ifndef HW_TRACK_VALGRIND
#define HW_TRACK_VALGRIND 0
#endif

/* HW_TSAN: 1 when the compiler instruments this file for ThreadSanitizer
 * (gcc's __SANITIZE_THREAD__, clang's __has_feature); code whose
 * correctness rests on something the tool cannot see (a process-wide
 * barrier: src/malloc/cache.c CA5) makes it visible under it. HW_ASAN the
 * same for AddressSanitizer. The one detection: tests use these too
 * (tests/sanitizers.h). */
#if defined(__SANITIZE_THREAD__)
#define HW_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HW_TSAN 1
#endif
#endif
#ifndef HW_TSAN
#define HW_TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HW_ASAN 1
#endif
#endif
#ifndef HW_ASAN
#define HW_ASAN 0
#endif

#define HW_LIKELY(x) __builtin_expect(!!(x), 1)
#define HW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HW_NORETURN __attribute__((noreturn))
#define HW_COLD __attribute__((cold))
/* gcc's "printf" format is the system C runtime's on Windows (no %zu);
 * "gnu_printf" is C99's on every target. clang knows only "printf", which is
 * C99's for it everywhere. */
#if defined(__clang__)
#define HW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HW_PRINTF(a, b) __attribute__((format(gnu_printf, a, b)))
#endif

/* Provided by the platform layer. hw_console_write writes n bytes to the
 * process's error output (fd 2 on POSIX) with no allocation, retrying partial
 * writes and interruptions, keeping errno, and dropping the rest on any other
 * error; it is async-signal-safe. hw_process_abort ends the process as
 * abort(3) does. */
void hw_console_write(const char *buf, size_t n);
HW_NORETURN void hw_process_abort(void);

/* sort.c: sorts n elements of size bytes at base in place so that no
 * element is less than one before it, with no allocation and no recursion
 * (heapsort; not stable). */
void hw_heapsort(void *base, size_t n, size_t size, bool (*less)(const void *, const void *));

/* Formats into a bounded stack buffer and writes it with hw_console_write.
 * Supports %s %d %u %zu %zx %lu %llu %llx %p %c and %%; nothing else. */
void hw_report_write(const char *fmt, ...) HW_PRINTF(1, 2);
void hw_report_vwrite(const char *fmt, va_list ap);
/* The same formatter into a caller buffer; always NUL-terminates. */
size_t hw_report_format(char *buf, size_t len, const char *fmt, ...) HW_PRINTF(3, 4);
size_t hw_report_vformat(char *buf, size_t len, const char *fmt, va_list ap);
HW_NORETURN HW_COLD void hw_fatal(const char *fmt, ...) HW_PRINTF(1, 2);
/* Writes line and a newline in one hw_console_write, so that lines of
 * two threads never interleave inside a line: for the parsers' warnings
 * (options.h OP3, suppress.h SU2), which are longer than hw_report_write's
 * buffer may hold. A line of HW_REPORT_LINE_MAX bytes or more is cut. */
#define HW_REPORT_LINE_MAX 2048
void hw_report_line(const char *line);
/* s[0, n) for quoting in a warning: printable ASCII as is but \ and ',
 * which get a backslash, every other byte as \xNN; cut after max bytes
 * of s with "...". buf holds HW_REPORT_QUOTE_BUF(max) bytes; it is
 * NUL-terminated. */
#define HW_REPORT_QUOTE_BUF(max) (4 * (size_t)(max) + 4)
void hw_report_quote(const char *s, size_t n, size_t max, char *buf);

/* Always-on check: `msg` is a fixed string that tests match. */
#define HW_CHECK(cond, msg)                              \
	do {                                             \
		if (HW_UNLIKELY(!(cond)))                \
			hw_fatal("heapward: %s", (msg)); \
	} while (0)

#if HW_DEBUG >= 1
#define HW_ASSERT(cond)                                                           \
	do {                                                                      \
		if (HW_UNLIKELY(!(cond)))                                         \
			hw_fatal("heapward: assertion failed: %s (%s:%d)", #cond, \
				 __FILE__, __LINE__);                             \
	} while (0)
#else
#define HW_ASSERT(cond) ((void)sizeof(!(cond)))
#endif
#if HW_DEBUG >= 2
#define HW_ASSERT_SLOW(cond) HW_ASSERT(cond)
#else
#define HW_ASSERT_SLOW(cond) ((void)sizeof(!(cond)))
#endif

static inline bool hw_is_pow2(size_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}
static inline uintptr_t hw_align_down(uintptr_t x, size_t a) { return x & ~(uintptr_t)(a - 1); }
static inline uintptr_t hw_align_up(uintptr_t x, size_t a)
{
	return (x + a - 1) & ~(uintptr_t)(a - 1);
}
static inline unsigned hw_log2(size_t x)
{
	return (unsigned)(63 - __builtin_clzll((unsigned long long)x));
}
/* The largest power of two at most x (x > 0). */
static inline size_t hw_pow2_floor(size_t x) { return (size_t)1 << hw_log2(x); }
/* The sum of w's eight bytes, when it is below 256 (eight bytes of 0 or 1,
 * say): one multiply gathers them into the top byte with nothing carried out
 * of it, where a population count is a library call on baseline x86-64. */
static inline unsigned hw_sum_bytes(uint64_t w)
{
	return (unsigned)((w * 0x0101010101010101ull) >> 56);
}
static inline size_t hw_min(size_t a, size_t b) { return a < b ? a : b; }
static inline size_t hw_max(size_t a, size_t b) { return a > b ? a : b; }
/* splitmix64's step: x plus the golden ratio, then its finalizer, a
 * bijection of 64-bit words that spreads every input bit over the output.
 * hw_mix64(s) for s = seed, seed + 0x9e3779b97f4a7c15, ... is splitmix64's
 * sequence. */
static inline uint64_t hw_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

#endif

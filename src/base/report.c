/* report.c: the formatter behind every report line.
 *
 * Owns: hw_report_vformat (a small printf subset into a caller buffer),
 * hw_report_write (format into a stack buffer, hand it to the platform's
 * hw_console_write), hw_report_line (a finished line plus "\n", in one
 * write), hw_fatal (one line plus "\n", then the platform's
 * hw_process_abort) and hw_report_quote (bytes from the outside, escaped
 * for a warning line). The base floor makes no OS call itself.
 *
 * Invariants:
 *   F1. No malloc and no stdio: everything is formatted into a bounded buffer
 *       on the stack, so reports are safe in a signal handler and under a
 *       malloc layer built on this heap.
 *   F2. The output buffer is always NUL-terminated (when its length is not
 *       0); an over-long line is truncated, never overflowed.
 *   F3. A report line goes to hw_console_write whole, in one call (the
 *       platform retries partial writes; base.h states its contract).
 *
 * Supported conversions: %s %d %i %u %x %p %c %%, with the length modifiers
 * l, ll and z, a '0' flag and a decimal minimum width (%08llx, %5zu). An
 * unknown conversion is copied through literally, so a bad format string
 * shows up in the output instead of reading a wrong argument type.
 *
 * Locking: none; every call works on its own stack buffer.
 */
#include "base.h"

/* Longest line a report can write in one go; long enough for the heap's
 * reports, short enough to sit on a signal handler's stack. */
#define HW_REPORT_LINE 1024

typedef struct out_buf {
	char *buf;
	size_t len; /* capacity including the NUL */
	size_t pos; /* characters stored so far */
} out_buf;

static void put_char(out_buf *o, char c)
{
	if (o->pos + 1 < o->len)
		o->buf[o->pos++] = c;
}

static void put_str(out_buf *o, const char *s)
{
	while (*s)
		put_char(o, *s++);
}

/* Writes digits of v in base (10 or 16), left-padded to width with pad;
 * a '-' sign, when negative, precedes zero padding and follows space padding. */
static void put_num(out_buf *o, unsigned long long v, unsigned base, bool negative,
		    unsigned width, char pad)
{
	char tmp[24];
	unsigned n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v != 0);
	unsigned used = n + (negative ? 1u : 0u);
	if (negative && pad == '0')
		put_char(o, '-');
	for (; used < width; used++)
		put_char(o, pad);
	if (negative && pad != '0')
		put_char(o, '-');
	while (n > 0)
		put_char(o, tmp[--n]);
}

enum { LEN_INT,
       LEN_LONG,
       LEN_LLONG,
       LEN_SIZE };

static unsigned long long arg_unsigned(va_list *ap, int len)
{
	switch (len) {
	case LEN_LONG:
		return va_arg(*ap, unsigned long);
	case LEN_LLONG:
		return va_arg(*ap, unsigned long long);
	case LEN_SIZE:
		return va_arg(*ap, size_t);
	default:
		return va_arg(*ap, unsigned int);
	}
}

static long long arg_signed(va_list *ap, int len)
{
	switch (len) {
	case LEN_LONG:
		return va_arg(*ap, long);
	case LEN_LLONG:
		return va_arg(*ap, long long);
	case LEN_SIZE:
		/* The signed type of size_t's width; ptrdiff_t on every ABI
		 * this builds for. */
		return va_arg(*ap, ptrdiff_t);
	default:
		return va_arg(*ap, int);
	}
}

size_t hw_report_vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	out_buf o = {buf, len, 0};
	va_list aq;
	va_copy(aq, ap);
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			put_char(&o, *f);
			continue;
		}
		const char *start = f++;
		char pad = ' ';
		unsigned width = 0;
		int lenmod = LEN_INT;
		if (*f == '0') {
			pad = '0';
			f++;
		}
		while (*f >= '0' && *f <= '9' && width < 64)
			width = width * 10 + (unsigned)(*f++ - '0');
		if (*f == 'l') {
			lenmod = LEN_LONG;
			if (*++f == 'l') {
				lenmod = LEN_LLONG;
				f++;
			}
		} else if (*f == 'z') {
			lenmod = LEN_SIZE;
			f++;
		}
		switch (*f) {
		case 'd':
		case 'i': {
			long long v = arg_signed(&aq, lenmod);
			/* The magnitude without signed or unsigned overflow (the
			 * fuzz builds trap on both), LLONG_MIN included. */
			unsigned long long mag = v < 0 ? (unsigned long long)(-(v + 1)) + 1
						       : (unsigned long long)v;
			put_num(&o, mag, 10, v < 0, width, pad);
			break;
		}
		case 'u':
			put_num(&o, arg_unsigned(&aq, lenmod), 10, false, width, pad);
			break;
		case 'x':
			put_num(&o, arg_unsigned(&aq, lenmod), 16, false, width, pad);
			break;
		case 'p':
			put_str(&o, "0x");
			put_num(&o, (uintptr_t)va_arg(aq, void *), 16, false, width, pad);
			break;
		case 'c':
			put_char(&o, (char)va_arg(aq, int));
			break;
		case 's': {
			const char *s = va_arg(aq, const char *);
			put_str(&o, s ? s : "(null)");
			break;
		}
		case '%':
			put_char(&o, '%');
			break;
		default:
			/* Unknown or truncated conversion: show it as written. */
			for (const char *c = start; c <= f && *c; c++)
				put_char(&o, *c);
			if (*f == '\0')
				f--;
			break;
		}
	}
	va_end(aq);
	if (len > 0)
		buf[o.pos] = '\0';
	return o.pos;
}

size_t hw_report_format(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = hw_report_vformat(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

void hw_report_vwrite(const char *fmt, va_list ap)
{
	char line[HW_REPORT_LINE];
	size_t n = hw_report_vformat(line, sizeof line, fmt, ap);
	hw_console_write(line, n);
}

void hw_report_write(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hw_report_vwrite(fmt, ap);
	va_end(ap);
}

void hw_fatal(const char *fmt, ...)
{
	char line[HW_REPORT_LINE];
	va_list ap;
	va_start(ap, fmt);
	/* Leave room for the newline even when the message is truncated. */
	size_t n = hw_report_vformat(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	hw_console_write(line, n);
	hw_process_abort();
}

void hw_report_line(const char *line)
{
	char buf[HW_REPORT_LINE_MAX];
	size_t n = 0;
	while (n < sizeof buf - 1 && line[n])
		n++;
	for (size_t i = 0; i < n; i++)
		buf[i] = line[i];
	buf[n++] = '\n';
	hw_console_write(buf, n);
}

void hw_report_quote(const char *s, size_t n, size_t max, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;
	for (size_t i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == '\'') {
			buf[k++] = '\\';
			buf[k++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[k++] = (char)c;
		} else {
			buf[k++] = '\\';
			buf[k++] = 'x';
			buf[k++] = hex[c >> 4];
			buf[k++] = hex[c & 15];
		}
	}
	if (n > max) {
		buf[k++] = '.';
		buf[k++] = '.';
		buf[k++] = '.';
	}
	buf[k] = '\0';
}

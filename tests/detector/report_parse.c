/* report_parse.c: the report reader of report_parse.h (its comment has the
 * grammar and the invariants RR1, RR2).
 *
 * Locking: none.
 */
#include "report_parse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void keep(char *dst, size_t len, const char *src, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void unknown(rr_report *r, const char *line)
{
	if (r->unknown++ == 0)
		keep(r->first_unknown, sizeof r->first_unknown, line, strlen(line));
}

/* "    #N 0x<pc> in <function> <place>" or "    #N 0x<pc> (<place>)" into
 * the open stack; false when the line is not a frame. */
static bool frame(rr_stack *s, const char *line)
{
	unsigned n;
	uintptr_t pc;
	int used = 0;
	if (sscanf(line, "    #%u 0x%" SCNxPTR "%n", &n, &pc, &used) != 2 || used == 0)
		return false;
	const char *rest = line + used;
	if (*rest != ' ')
		return false;
	rest++;
	rr_frame f;
	memset(&f, 0, sizeof f);
	f.pc = pc;
	if (starts(rest, "in ")) {
		rest += 3;
		/* The place is the last word: file:line[:col] or (module+0xoff);
		 * a function name may hold spaces ("(anonymous namespace)::f(int, int)"). */
		const char *sp = strrchr(rest, ' ');
		if (!sp || sp == rest)
			return false;
		keep(f.function, sizeof f.function, rest, (size_t)(sp - rest));
		keep(f.place, sizeof f.place, sp + 1, strlen(sp + 1));
	} else if (rest[0] == '(' && rest[strlen(rest) - 1] == ')') {
		keep(f.place, sizeof f.place, rest, strlen(rest));
	} else {
		return false;
	}
	if (n != s->numbered)
		s->misnumbered = true;
	s->numbered++;
	if (s->n < RR_FRAMES)
		s->f[s->n++] = f;
	return true;
}

/* "0x... is located ..." and "0x... is not heap memory: ..." */
static bool located(rr_report *r, const char *line)
{
	uintptr_t a;
	int used = 0;
	if (sscanf(line, "0x%" SCNxPTR "%n", &a, &used) != 1 || used == 0)
		return false;
	const char *rest = line + used;
	if (starts(rest, " is not heap memory: ")) {
		rest += strlen(" is not heap memory: ");
		keep(r->not_heap, sizeof r->not_heap, rest, strlen(rest));
		r->loc_address = a;
		return true;
	}
	if (strcmp(rest, " is located in freed heap memory (its object is no longer known)") == 0) {
		r->freed_memory = true;
		r->loc_address = a;
		return true;
	}
	size_t k, n;
	if (sscanf(rest, " is located %zu bytes %n", &k, &used) != 1)
		return false;
	rest += used;
	/* The longer forms first: "after the end of" is no "after". */
	static const char *const rel[] = {"inside of ", "after the end of ", "before the start of ",
					  "after ", "before "};
	const char *how = NULL;
	for (size_t i = 0; i < sizeof rel / sizeof rel[0] && !how; i++)
		if (starts(rest, rel[i]))
			how = rel[i];
	if (!how)
		return false;
	keep(r->relation, sizeof r->relation, how, strlen(how) - 1);
	rest += strlen(how);
	if (starts(rest, "a freed "))
		r->freed = true, rest += strlen("a freed ");
	else if (starts(rest, "freed "))
		r->freed = true, rest += strlen("freed ");
	char word[16];
	uintptr_t lo, hi;
	if (sscanf(rest, "%zu-byte %15[a-z] [0x%" SCNxPTR ",0x%" SCNxPTR ")%n", &n, word, &lo, &hi,
		   &used) != 4)
		return false;
	rest += used;
	r->located = true;
	r->loc_address = a;
	r->offset = k;
	r->region_size = n;
	keep(r->region_word, sizeof r->region_word, word, strlen(word));
	r->lo = lo;
	r->hi = hi;
	if (starts(rest, ", made by ")) {
		rest += strlen(", made by ");
		const char *f = strstr(rest, ", freed by ");
		if (!f)
			return false;
		keep(r->made_by, sizeof r->made_by, rest, (size_t)(f - rest));
		f += strlen(", freed by ");
		keep(r->freed_with, sizeof r->freed_with, f, strlen(f));
	} else if (*rest) {
		return false;
	}
	return true;
}

static bool heading(rr_report *r, const char *line, rr_stack **open)
{
	unsigned t;
	int used = 0;
	bool prev = starts(line, "previously ");
	const char *l = prev ? line + strlen("previously ") : line;
	if (sscanf(l, "freed by thread T%u here:%n", &t, &used) == 1 && used && !l[used] && !prev) {
		*open = &r->freed_by;
	} else if (sscanf(l, "allocated by thread T%u here:%n", &t, &used) == 1 && used &&
		   !l[used]) {
		*open = &r->allocated_by;
		r->previously = prev;
	} else {
		return false;
	}
	if ((*open)->present)
		return false; /* a second history of the same kind */
	(*open)->present = true;
	(*open)->tid = t;
	return true;
}

static bool leak(rr_report *r, const char *line, rr_stack **open)
{
	char which[16];
	size_t bytes, count;
	int used = 0;
	if (sscanf(line, "%15[A-Za-z] leak of %zu byte(s) in %zu object(s) allocated from:%n",
		   which, &bytes, &count, &used) != 3 ||
	    !used || line[used])
		return false;
	bool direct = strcmp(which, "Direct") == 0;
	if ((!direct && strcmp(which, "Indirect") != 0) || r->nleaks == RR_LEAKS)
		return false;
	rr_leak *k = &r->leaks[r->nleaks++];
	k->direct = direct;
	k->bytes = bytes;
	k->count = count;
	k->stack.present = true;
	*open = &k->stack;
	return true;
}

static void line_of(rr_report *r, const char *line, rr_stack **open)
{
	int pid, used = 0;
	if (!line[0]) {
		*open = NULL;
		return;
	}
	if (starts(line, "    #")) {
		if (!*open || !frame(*open, line))
			unknown(r, line);
		return;
	}
	/* The access: right after the ERROR line, before its stack's frames. */
	if (*open == &r->error && r->error.numbered == 0 && !r->access[0] &&
	    (starts(line, "READ of ") || starts(line, "WRITE of ") || starts(line, "EXECUTE of ") ||
	     starts(line, "UNKNOWN of "))) {
		keep(r->access, sizeof r->access, line, strlen(line));
		return;
	}
	*open = NULL;
	if (strcmp(line, "=================================================================") ==
	    0) {
		r->banners++;
		return;
	}
	if (starts(line, "heapward: ") && r->banners == r->errors && r->errors == 0) {
		if (r->onelines++ == 0)
			keep(r->oneline, sizeof r->oneline, line, strlen(line));
		return;
	}
	if (sscanf(line, "==%d==ERROR: heapward: %n", &pid, &used) == 1 && used) {
		const char *rest = line + used;
		if (r->errors++ == 0)
			r->pid = pid;
		if (strcmp(rest, "detected memory leaks") == 0) {
			keep(r->kind, sizeof r->kind, rest, strlen(rest));
			return;
		}
		const char *on = strstr(rest, " on address 0x");
		unsigned t = 0;
		uintptr_t a, pc, bp, sp;
		int end = 0;
		/* "in thread T<n>:", or a fault's "at pc 0x.. bp 0x.. sp 0x.." (its
		 * thread is on the access line). */
		bool ok = on && ((sscanf(on, " on address 0x%" SCNxPTR " in thread T%u:%n", &a, &t,
					 &end) == 2 &&
				  end && !on[end]) ||
				 (sscanf(on,
					 " on address 0x%" SCNxPTR " at pc 0x%" SCNxPTR
					 " bp 0x%" SCNxPTR " sp 0x%" SCNxPTR "%n",
					 &a, &pc, &bp, &sp, &end) == 4 &&
				  end && !on[end]));
		if (!ok) {
			unknown(r, line);
			return;
		}
		keep(r->kind, sizeof r->kind, rest, (size_t)(on - rest));
		r->address = a;
		r->tid = t;
		r->error.present = true;
		r->error.tid = t;
		*open = &r->error;
		return;
	}
	if (sscanf(line, "==%d==ABORTING%n", &pid, &used) == 1 && used && !line[used]) {
		r->aborting = true;
		return;
	}
	if (starts(line, "SUMMARY: heapward: ")) {
		const char *s = line + strlen("SUMMARY: heapward: ");
		if (r->summaries++ == 0)
			keep(r->summary, sizeof r->summary, s, strlen(s));
		return;
	}
	if (located(r, line) || heading(r, line, open) || leak(r, line, open))
		return;
	unknown(r, line);
}

void rr_parse(const char *text, rr_report *r)
{
	memset(r, 0, sizeof *r);
	rr_stack *open = NULL;
	char line[2048];
	const char *p = text;
	while (*p) {
		size_t n = strcspn(p, "\n");
		keep(line, sizeof line, p, n);
		line_of(r, line, &open);
		p += n;
		if (*p == '\n')
			p++;
	}
}

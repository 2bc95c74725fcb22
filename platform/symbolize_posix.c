/* symbolize_posix.c: symbolize.h with a child process (vfork, execve,
 * a socketpair).
 *
 * Owns: finding llvm-symbolizer or addr2line, the child's life, the two
 * question-and-answer protocols:
 *   llvm-symbolizer --inlines --demangle: "CODE \"<module>\" 0x<addr>\n";
 *     the answer is pairs of lines "function" and "file:line:column", one
 *     pair per (inlined) frame, then an empty line; "??" is unknown.
 *   addr2line -C -f -e <module>: "0x<addr>\n"; the answer is two lines,
 *     "function" and "file:line" (maybe followed by " (discriminator N)").
 *     One child reads one module, so it is restarted when the module
 *     changes. No inlined frames (-i gives a variable number of lines with
 *     no end marker).
 *
 * Invariants: SZ1-SZ4 of symbolize.h.
 *
 * Locking: none (symbolize.h).
 */
#include "symbolize.h"

#include "base.h"
#include "env.h"
#include "nocancel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The vfork of the C library itself. A sanitizer's runtime intercepts
 * vfork and, in the parent, clears its marks on the stack from the stack
 * pointer up to the thread's stack top: from a signal handler running on
 * an alternate stack (a fault report) that range spans unrelated memory
 * and the runtime itself faults. glibc exports the same call as __vfork,
 * which no interceptor replaces. Compilers know vfork by its name as a
 * function that returns twice (the child's return, then the parent's, on
 * the same stack); __vfork must say so itself. */
#if defined(__GLIBC__)
extern pid_t __vfork(void) __attribute__((returns_twice));
#define start_vfork __vfork
#else
#define start_vfork vfork
#endif

static void copy(char *to, size_t len, const char *from, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(to, from, n);
	to[n] = '\0';
}

/* Whether dir/name is an executable file; its path into out. */
static bool found_in(const char *dir, size_t dn, const char *name, char *out, size_t len)
{
	size_t nn = strlen(name);
	if (dn == 0 || dn + 1 + nn >= len)
		return false;
	memcpy(out, dir, dn);
	out[dn] = '/';
	memcpy(out + dn + 1, name, nn + 1);
	return access(out, X_OK) == 0;
}

/* name on PATH (or /usr/bin:/bin when PATH is unset). */
static bool search(const char *name, char *out, size_t len)
{
	const char *path = hw_env_get("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t dn = end ? (size_t)(end - path) : strlen(path);
		if (found_in(path, dn, name, out, len))
			return true;
		path += dn + (end != NULL);
	}
	return false;
}

/* llvm-symbolizer, or a versioned one as Debian's llvm-N packages install
 * it (llvm-symbolizer-14), newest first. */
static bool search_llvm(char *out, size_t len)
{
	if (search("llvm-symbolizer", out, len))
		return true;
	for (unsigned v = 30; v >= 11; v--) {
		char name[32];
		hw_report_format(name, sizeof name, "llvm-symbolizer-%u", v);
		if (search(name, out, len))
			return true;
	}
	return false;
}

void hw_symbolizer_open(hw_symbolizer *s, bool enabled, const char *path)
{
	s->tool = HW_SYM_NONE;
	s->path[0] = s->module[0] = '\0';
	s->fd = s->pid = -1;
	s->broken = false;
	s->have = 0;
	if (!enabled)
		return;
	if (path && path[0]) {
		copy(s->path, sizeof s->path, path, strlen(path));
		s->tool = strstr(path, "addr2line") ? HW_SYM_ADDR2LINE : HW_SYM_LLVM;
	} else if (search_llvm(s->path, sizeof s->path)) {
		s->tool = HW_SYM_LLVM;
	} else if (search("addr2line", s->path, sizeof s->path)) {
		s->tool = HW_SYM_ADDR2LINE;
	}
}

/* fd moved to a number above 2 (so dup2 onto 0-2 in the child never finds
 * it already there), close-on-exec; -1 on failure (fd closed). */
static int high_fd(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	hw_nc_close(fd);
	return h;
}

static void stop_child(hw_symbolizer *s)
{
	if (s->fd >= 0)
		hw_nc_close(s->fd);
	if (s->pid > 0) {
		int st;
		while (hw_nc_waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	s->fd = s->pid = -1;
	s->have = 0;
}

static void give_up(hw_symbolizer *s)
{
	if (s->pid > 0)
		kill(s->pid, SIGKILL);
	stop_child(s);
	s->broken = true;
}

static bool start_child(hw_symbolizer *s, const char *module)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return false;
	int parent = high_fd(sv[0]), child = high_fd(sv[1]);
	int null = high_fd(hw_nc_open("/dev/null", O_RDWR | O_CLOEXEC, 0));
	char *const llvm_argv[] = {s->path, "--inlines", "--demangle", NULL};
	char *const a2l_argv[] = {s->path, "-C", "-f", "-e", (char *)module, NULL};
	char *const *argv = s->tool == HW_SYM_LLVM ? llvm_argv : a2l_argv;
	char *const envp[] = {"LC_ALL=C", NULL};
	pid_t pid = -1;
	if (parent >= 0 && child >= 0) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pid = start_vfork();
		if (pid == 0) {
			dup2(child, 0);
			dup2(child, 1);
			if (null >= 0)
				dup2(null, 2);
			execve(argv[0], argv, envp);
			_exit(127);
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (child >= 0)
		hw_nc_close(child);
	if (null >= 0)
		hw_nc_close(null);
	if (pid < 0) {
		if (parent >= 0)
			hw_nc_close(parent);
		return false;
	}
	s->fd = parent;
	s->pid = pid;
	s->have = 0;
	return true;
}

static bool send_all(hw_symbolizer *s, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = hw_nc_send(s->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Reads until buf holds `lines` complete lines (lines > 0) or an empty
 * line (lines == 0); false on timeout, end of file or a full buffer. */
static bool read_answer(hw_symbolizer *s, unsigned lines)
{
	for (;;) {
		unsigned seen = 0;
		for (size_t i = 0; i < s->have; i++) {
			if (s->buf[i] != '\n')
				continue;
			seen++;
			if (lines ? seen == lines : (i == 0 || s->buf[i - 1] == '\n'))
				return true;
		}
		if (s->have == sizeof s->buf)
			return false;
		struct pollfd pfd = {s->fd, POLLIN, 0};
		int r = hw_nc_poll(&pfd, 1, HW_SYMBOLIZE_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		ssize_t got = hw_nc_recv(s->fd, s->buf + s->have, sizeof s->buf - s->have, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;
		s->have += (size_t)got;
	}
}

/* Parses "file:line[:column]" (anything after a space dropped, "??" and
 * line 0 or "?" as unknown: addr2line says "file:?" when it knows only the
 * file) into sym. */
static void parse_location(const char *p, size_t n, hw_symbol *sym)
{
	const char *sp = memchr(p, ' ', n);
	if (sp)
		n = (size_t)(sp - p);
	if (n >= 2 && p[n - 2] == ':' && p[n - 1] == '?')
		n -= 2;
	unsigned nums[2] = {0, 0}, k = 0;
	/* Up to two trailing ":number" fields, last first. */
	while (k < 2) {
		size_t i = n;
		unsigned v = 0, mul = 1;
		while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9' && mul <= 100000000) {
			v += (unsigned)(p[i - 1] - '0') * mul;
			mul *= 10;
			i--;
		}
		if (i == n || i == 0 || p[i - 1] != ':')
			break;
		nums[k++] = v;
		n = i - 1;
	}
	sym->line = k == 2 ? nums[1] : k == 1 ? nums[0]
					      : 0;
	sym->column = k == 2 ? nums[0] : 0;
	if (n == 2 && p[0] == '?' && p[1] == '?')
		n = 0;
	copy(sym->file, sizeof sym->file, p, n);
}

static void parse_function(const char *p, size_t n, hw_symbol *sym)
{
	if (n == 2 && p[0] == '?' && p[1] == '?')
		n = 0;
	copy(sym->function, sizeof sym->function, p, n);
}

/* The answer in buf, pairs of lines up to `pairs` of them (or to the empty
 * line), into out; returns the known frames. */
static size_t parse_pairs(hw_symbolizer *s, hw_symbol *out, size_t max)
{
	size_t n = 0, pos = 0;
	while (pos < s->have && s->buf[pos] != '\n') {
		const char *f = s->buf + pos;
		const char *fe = memchr(f, '\n', s->have - pos);
		if (!fe)
			break;
		const char *l = fe + 1;
		const char *le = memchr(l, '\n', (size_t)(s->buf + s->have - l));
		if (!le)
			break;
		if (n < max) {
			parse_function(f, (size_t)(fe - f), &out[n]);
			parse_location(l, (size_t)(le - l), &out[n]);
			if (out[n].function[0] || out[n].file[0])
				n++;
		}
		pos = (size_t)(le + 1 - s->buf);
		if (s->tool == HW_SYM_ADDR2LINE)
			break;
	}
	s->have = 0;
	return n;
}

size_t hw_symbolize(hw_symbolizer *s, const char *module, uintptr_t addr, hw_symbol *out,
		    size_t max)
{
	if (s->tool == HW_SYM_NONE || s->broken || !module[0] || max == 0)
		return 0;
	if (s->tool == HW_SYM_ADDR2LINE && s->fd >= 0 && strcmp(s->module, module) != 0)
		stop_child(s);
	if (s->fd < 0) {
		if (!start_child(s, module)) {
			s->broken = true;
			return 0;
		}
		copy(s->module, sizeof s->module, module, strlen(module));
	}
	char req[HW_MODULE_PATH_MAX + 64];
	size_t rn;
	if (s->tool == HW_SYM_LLVM) {
		if (strchr(module, '"'))
			return 0;
		rn = hw_report_format(req, sizeof req, "CODE \"%s\" 0x%llx\n", module,
				      (unsigned long long)addr);
	} else {
		rn = hw_report_format(req, sizeof req, "0x%llx\n", (unsigned long long)addr);
	}
	if (!send_all(s, req, rn) || !read_answer(s, s->tool == HW_SYM_LLVM ? 0 : 2)) {
		give_up(s);
		return 0;
	}
	return parse_pairs(s, out, max);
}

void hw_symbolizer_close(hw_symbolizer *s)
{
	stop_child(s);
	s->tool = HW_SYM_NONE;
}

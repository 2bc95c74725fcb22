/* heapward.c: the `heapward` launcher, the command a person types to run
 * a program on heapward's malloc:
 *
 *   heapward run [--OPTION=VALUE ...] [--] PROGRAM [ARG ...]
 *
 * Owns: the command line (run, options, --help, --version), finding the
 * preload library relative to the launcher's own file, and the two
 * variables it sets before it execs PROGRAM:
 *   LD_PRELOAD        the library's absolute path, then any entries the
 *                     variable already had (separated by ':');
 *   HEAPWARD_OPTIONS  the launcher's defaults (LA_DEFAULTS: detect_leaks=1,
 *                     the leak check at exit, and guard=all, every
 *                     allocation a guarded object within the guard
 *                     budgets), then any value it already
 *                     had, then the OPTION=VALUE pairs given, in order
 *                     (separated by ','; the last pair for a key wins, so
 *                     the command line beats the environment, which beats
 *                     the defaults: --detect_leaks=0 turns the check off,
 *                     --guard=none the guards).
 * It is a user of the malloc layer, not part of it: it never links
 * libheapward-malloc.so (only the pure option parser, to name a bad option
 * before the program starts) and allocates with the C library's malloc.
 *
 * Invariants:
 *   LA1. The library is <dir of the launcher's real path>/HW_LAUNCHER_LIB
 *        (the relative path from the install's bindir to its libdir, fixed
 *        at configure; the build tree has the same layout), so an install
 *        moved elsewhere or installed with --prefix still finds its own.
 *   LA2. Nothing is executed unless every option parsed cleanly, a
 *        --suppressions file given can be read, and the library exists;
 *        each error is one line "heapward: ..." on stderr.
 *   LA3. Exit status: the program's own once it runs (exec replaces the
 *        launcher; with the leak check on, the library ends a process that
 *        leaked or continued past an error with exitcode, 23 by default);
 *        0 for --help, --version and options; 2 for a usage error, a bad
 *        option (an unreadable --suppressions file included) or a missing
 *        library; 127 when PROGRAM is not found, 126 when it is found but
 *        cannot be executed.
 *   LA4. The leak check and guarded objects are on by default (LA_DEFAULTS
 *        first in HEAPWARD_OPTIONS, so anything later overrides them).
 *   LA5. A program the dynamic loader will not preload the library into
 *        gets one warning line before it runs, naming why: it is
 *        statically linked (no PT_INTERP), a 32-bit program, or it runs
 *        in secure-execution mode (set-user-ID or set-group-ID to someone
 *        else, on a file system that honours it, or with file
 *        capabilities), where the loader ignores LD_PRELOAD's paths. It
 *        still runs, as it would have without heapward: only what the file
 *        says is checked, and the program's own result stays its own.
 *
 * Locking: none (single-threaded).
 */
#include "options.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

/* What `heapward run` turns on unless told otherwise (LA4). */
#define LA_DEFAULTS "detect_leaks=1,guard=all"

#ifndef HW_VERSION
#error "HW_VERSION must be defined (the project version)"
#endif
#ifndef HW_LAUNCHER_LIB
#error "HW_LAUNCHER_LIB must be defined (the library's path from the bindir)"
#endif

static const char usage_text[] =
	"usage: heapward run [--OPTION=VALUE ...] [--] PROGRAM [ARG ...]\n"
	"       heapward options\n"
	"       heapward --help | --version\n"
	"\n"
	"  run      runs PROGRAM with heapward's malloc (libheapward-malloc.so,\n"
	"           prepended to LD_PRELOAD) and each --OPTION=VALUE appended to\n"
	"           HEAPWARD_OPTIONS, e.g.\n"
	"             heapward run --stats_at_exit=1 -- python3 script.py\n"
	"           The leak check at exit is on (--detect_leaks=0 turns it off;\n"
	"           --suppressions=FILE names the leaks to accept, in\n"
	"           LeakSanitizer's format), and every allocation is a guarded\n"
	"           object (--guard=none or --guard=sample:N) within the guard\n"
	"           budgets (the live guarded objects and their pages:\n"
	"           --guard_budget_count=N, --guard_budget_bytes=N; `heapward\n"
	"           options` shows them). Allocation stacks are walked by frame\n"
	"           pointers; for a program built without them (-O2's default)\n"
	"           --fast_unwind_on_malloc=0 walks the unwind tables instead:\n"
	"           whole stacks, slower. Reports and warnings go to PROGRAM's\n"
	"           standard error; --log_path=PREFIX writes them to PREFIX.PID\n"
	"           instead (for test suites that compare what a program\n"
	"           writes there, or count its open descriptors).\n"
	"  options  lists every option, its value under run and what it does\n"
	"\n"
	"Exit status: PROGRAM's own, or 23 (--exitcode) when it leaked or went on\n"
	"past a heap error; 2 for a usage error, a bad option or a missing\n"
	"library; 127 when PROGRAM is not found, 126 when it cannot run. A heap\n"
	"error (a bad free, a damaged object) ends PROGRAM with SIGABRT (a shell\n"
	"says 134) unless --abort_on_error=0, and an access a guard traps with\n"
	"SIGSEGV (139), each after its report.\n"
	"The programs PROGRAM starts run under heapward too, and each that leaks\n"
	"exits 23 as well (as under LeakSanitizer): a test runner sees which test\n"
	"leaked, but a parent that checks its children (make running a compiler\n"
	"that leaks at exit, git gc) stops; --exitcode=0 keeps every status and\n"
	"still prints the reports.\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("heapward: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n(heapward --help shows the usage)\n", stderr);
	va_end(ap);
	return 2;
}

static void write_stdout(void *arg, const char *buf, size_t n)
{
	(void)arg;
	fwrite(buf, 1, n, stdout);
}

/* The parser's problem with a bad --OPTION=VALUE, said as the launcher's.
 * What the library would do next ("kept ...", "ignored") is left out: the
 * launcher refuses the option instead. */
static void warn_stderr(void *arg, const char *problem, const char *consequence)
{
	(void)arg;
	(void)consequence;
	fprintf(stderr, "heapward: %s\n", problem);
}

/* Why the file at path cannot be read as a suppressions file, or NULL
 * when it can (LA2). */
static const char *unreadable(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 || access(path, R_OK) != 0)
		return strerror(errno);
	if (S_ISDIR(st.st_mode))
		return strerror(EISDIR);
	return NULL;
}

/* LA1: the library's path, or NULL (reported). */
static char *library_path(void)
{
	char self[PATH_MAX];
	if (!realpath("/proc/self/exe", self)) {
		fprintf(stderr, "heapward: cannot find the launcher's own file: %s\n",
			strerror(errno));
		return NULL;
	}
	char *slash = strrchr(self, '/');
	*slash = '\0';
	const char *rel = HW_LAUNCHER_LIB;
	size_t n = strlen(self) + strlen(rel) + 2;
	char *lib = malloc(n);
	if (!lib) {
		fputs("heapward: out of memory\n", stderr);
		return NULL;
	}
	if (rel[0] == '/')
		snprintf(lib, n, "%s", rel);
	else
		snprintf(lib, n, "%s/%s", self, rel);
	char *real = realpath(lib, NULL);
	if (!real || access(real, R_OK) != 0) {
		fprintf(stderr,
			"heapward: the preload library %s is missing (%s); reinstall heapward "
			"with -DHW_BUILD_MALLOC=ON\n",
			lib, strerror(errno));
		free(lib);
		free(real);
		return NULL;
	}
	free(lib);
	return real;
}

/* The file execvp runs for name: name when it holds a '/', else the first
 * executable regular file among PATH's directories (execvp's default when
 * PATH is unset). NULL when there is none; the caller frees. */
static char *program_file(const char *name)
{
	if (strchr(name, '/'))
		return strdup(name);
	const char *path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin";
	for (const char *dir = path;; dir++) {
		size_t len = strcspn(dir, ":");
		char *f = malloc(len + strlen(name) + 3);
		if (!f)
			return NULL;
		/* An empty entry is the working directory. */
		sprintf(f, "%.*s%s%s", (int)len, len ? dir : ".", "/", name);
		struct stat st;
		if (stat(f, &st) == 0 && S_ISREG(st.st_mode) && access(f, X_OK) == 0)
			return f;
		free(f);
		dir += len;
		if (!*dir)
			return NULL;
	}
}

/* LA5: what the ELF header of the file open at fd says. */
typedef enum elf_kind {
	ELF_OTHER,   /* not ELF (a script, say), or not one this can read */
	ELF_32,      /* a 32-bit program */
	ELF_STATIC,  /* 64-bit, no PT_INTERP: no dynamic loader runs */
	ELF_DYNAMIC, /* 64-bit, with PT_INTERP */
} elf_kind;

static elf_kind elf_kind_of(int fd)
{
	Elf64_Ehdr eh;
	if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return ELF_OTHER;
	if (eh.e_ident[EI_CLASS] == ELFCLASS32)
		return ELF_32;
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
		return ELF_OTHER;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (Elf64_Off)i * sizeof ph)) !=
		    (ssize_t)sizeof ph)
			return ELF_OTHER;
		if (ph.p_type == PT_INTERP)
			return ELF_DYNAMIC;
	}
	return ELF_STATIC;
}

/* LA5: why the loader will not preload the library into the program file
 * at path, or NULL when, as far as the file says, it will. */
static const char *no_preload(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL; /* execvp reports it */
	const char *why = NULL;
	elf_kind kind = elf_kind_of(fd);
	struct stat st;
	struct statvfs vfs;
	if (kind == ELF_32)
		why = "is a 32-bit program";
	else if (kind == ELF_STATIC)
		why = "is statically linked";
	else if (fstat(fd, &st) == 0 &&
		 (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
		  ((st.st_mode & S_ISGID) && st.st_gid != getegid())) &&
		 fstatvfs(fd, &vfs) == 0 && !(vfs.f_flag & ST_NOSUID))
		why = "runs set-user-ID or set-group-ID";
	else if (fgetxattr(fd, "security.capability", NULL, 0) >= 0)
		why = "has file capabilities";
	close(fd);
	return why;
}

/* "old<sep>add", or add alone when old is unset or empty; NULL on ENOMEM. */
static char *joined(const char *first, char sep, const char *second)
{
	if (!first || !*first)
		return strdup(second);
	if (!second || !*second)
		return strdup(first);
	size_t n = strlen(first) + strlen(second) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%c%s", first, sep, second);
	return s;
}

static int run(int argc, char **argv)
{
	int i = 0;
	char *opts = NULL; /* the pairs given, ',' between them */
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strncmp(a, "--", 2) != 0)
			break;
		const char *pair = a + 2;
		const char *eq = strchr(pair, '=');
		if (!eq || eq == pair)
			return usage_error("%s is not an option setting: write --OPTION=VALUE "
					   "(heapward options lists them)",
					   a);
		if (strchr(pair, ','))
			return usage_error("%s: a value may not contain ','", a);
		hw_options o;
		hw_options_defaults(&o);
		if (hw_options_parse(pair, &o, warn_stderr, NULL) != 0)
			return usage_error("bad option %s (heapward options lists them)", a);
		const char *why = o.suppressions[0] ? unreadable(o.suppressions) : NULL;
		if (why)
			return usage_error("%s: cannot read %s: %s", a, o.suppressions, why);
		char *next = joined(opts, ',', pair);
		free(opts);
		if (!next) {
			fputs("heapward: out of memory\n", stderr);
			return 2;
		}
		opts = next;
	}
	if (i >= argc) {
		free(opts);
		return usage_error("%s", "run needs a program to run");
	}
	char *lib = library_path();
	if (!lib) {
		free(opts);
		return 2;
	}
	char *preload = joined(lib, ':', getenv("LD_PRELOAD"));
	char *env_opts = joined(LA_DEFAULTS, ',', getenv("HEAPWARD_OPTIONS"));
	char *all_opts = env_opts && opts ? joined(env_opts, ',', opts) : env_opts;
	if (!preload || !all_opts || setenv("LD_PRELOAD", preload, 1) != 0 ||
	    setenv("HEAPWARD_OPTIONS", all_opts, 1) != 0) {
		fputs("heapward: out of memory\n", stderr);
		return 2;
	}
	char *file = program_file(argv[i]);
	const char *why = file ? no_preload(file) : NULL;
	if (why)
		fprintf(stderr,
			"heapward: warning: %s %s: the dynamic loader will not preload "
			"libheapward-malloc.so into it, so it runs without heapward\n",
			file, why);
	free(file);
	execvp(argv[i], argv + i);
	int e = errno;
	struct stat st;
	/* execve says EACCES for a directory. */
	if (e == EACCES && strchr(argv[i], '/') && stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
		e = EISDIR;
	fprintf(stderr, "heapward: %s: %s\n", argv[i],
		e == ENOENT ? "command not found" : strerror(e));
	return e == ENOENT ? 127 : 126;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	bool alone = strcmp(cmd, "--version") == 0 || strcmp(cmd, "options") == 0;
	if (alone && argc > 2)
		return usage_error("%s takes no arguments (got '%s')", cmd, argv[2]);
	if (strcmp(cmd, "--version") == 0) {
		printf("heapward %s\n", HW_VERSION);
		return 0;
	}
	if (strcmp(cmd, "options") == 0) {
		/* The values heapward run gives a program (LA4), the library's
		 * own defaults in brackets. */
		hw_options o;
		hw_options_defaults(&o);
		if (hw_options_parse(LA_DEFAULTS, &o, warn_stderr, NULL) != 0)
			return 2;
		printf("Under heapward run (%s set; [default] is the library's own):\n",
		       LA_DEFAULTS);
		hw_options_help(&o, write_stdout, NULL);
		return 0;
	}
	if (strcmp(cmd, "run") == 0)
		return run(argc - 2, argv + 2);
	return usage_error("unknown command '%s'", cmd);
}

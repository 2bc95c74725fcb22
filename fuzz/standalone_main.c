/* standalone_main.c: the replay main for builds without a fuzzing engine
 * (HW_FUZZ_ENGINE=none: gcc, Valgrind, plain ctest).
 *
 * Owns: reading each input named on the command line (files, and
 * directories walked recursively in name order) into an exact-size malloc
 * buffer, so ASan and Valgrind see any read past the end, and passing it to
 * LLVMFuzzerTestOneInput. Arguments that start with '-' are libFuzzer flags
 * and are skipped, so one command line works with and without an engine.
 *
 * Invariants:
 *   SA1. Every input is run exactly once, in the order given (directory
 *        entries sorted by name, README files in them skipped as ctest
 *        and the OSS-Fuzz build skip them), and its buffer is freed
 *        before the next; one that cannot be read is reported and the
 *        others still run.
 *   SA2. Exit status: 0 when every input ran; 1 when an input could not be
 *        read (a failed check aborts inside the target and never returns);
 *        2 when the command line names no input at all.
 *   SA3. LLVMFuzzerInitialize runs once, before the first input, when the
 *        target defines it (weak reference).
 *
 * Locking: single-threaded.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#pragma weak LLVMFuzzerInitialize

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "standalone: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "standalone: cannot stat %s: %s\n", path, strerror(errno));
		fclose(f);
		return 1;
	}
	size_t size = (size_t)st.st_size;
	/* Exact size, so a read past the end is caught; malloc(0) may return
	 * NULL, so an empty input gets a 1-byte buffer it never reads. */
	uint8_t *buf = malloc(size ? size : 1);
	if (buf == NULL || (size && fread(buf, 1, size, f) != size)) {
		fprintf(stderr, "standalone: cannot read %s\n", path);
		free(buf);
		fclose(f);
		return 1;
	}
	fclose(f);
	fprintf(stderr, "Running: %s (%zu bytes)\n", path, size);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, unsigned *count)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "standalone: cannot stat %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	DIR *dir = opendir(path);
	if (dir == NULL) {
		fprintf(stderr, "standalone: cannot open directory %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int bad = 0;
	struct dirent *e;
	/* One thread, one stream: readdir is safe here (readdir_r is
	 * deprecated by glibc). */
	/* cppcheck-suppress readdirCalled */
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strncmp(e->d_name, "README", 6) == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **nn = realloc(names, cap * sizeof *names);
			if (nn == NULL) {
				bad = 1;
				break;
			}
			names = nn;
		}
		size_t len = strlen(path) + strlen(e->d_name) + 2;
		names[n] = malloc(len);
		if (names[n] == NULL) {
			bad = 1;
			break;
		}
		size_t plen = strlen(path);
		bool slash = plen > 0 && path[plen - 1] == '/';
		snprintf(names[n], len, "%s%s%s", path, slash ? "" : "/", e->d_name);
		n++;
	}
	closedir(dir);
	if (n > 1)
		qsort(names, n, sizeof *names, by_name);
	if (bad)
		fprintf(stderr, "standalone: could not list all of %s\n", path);
	for (size_t i = 0; i < n; i++) {
		bad |= run_path(names[i], count);
		free(names[i]);
	}
	free(names);
	return bad;
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	unsigned count = 0;
	int bad = 0, named = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		named++;
		bad |= run_path(argv[i], &count);
	}
	if (!named) {
		fprintf(stderr, "usage: %s [-flag ...] FILE|DIRECTORY ...: replays each input (a "
				"build without a fuzzing engine)\n",
			argv[0]);
		return 2;
	}
	fprintf(stderr, "standalone: %u inputs replayed%s\n", count,
		bad ? ", some unreadable" : "");
	return bad ? 1 : 0;
}

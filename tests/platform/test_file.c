/* test_file.c: reading a small file whole (platform/file.h), on POSIX and
 * Windows.
 *
 * Owns: files of known bytes written with stdio in the working directory
 * (the build's test directory), read back through hw_file_read: a whole
 * file, an empty one, one of exactly the buffer's size, a longer one
 * (EFBIG with the first bytes), a missing file (ENOENT) and a directory
 * (EISDIR; EACCES on Windows, file.h FI2).
 *
 * Locking: single-threaded.
 */
#include "check.h"
#include "file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NAME "hw_file_test.tmp"

/* Writes n bytes of a pattern (binary: NUL and newlines included). */
static bool write_file(size_t n)
{
	FILE *f = fopen(NAME, "wb");
	if (!f)
		return false;
	for (size_t i = 0; i < n; i++)
		fputc((int)(i * 7 % 256), f);
	return fclose(f) == 0;
}

static bool pattern(const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] != i * 7 % 256)
			return false;
	return true;
}

static void test_whole_files(void)
{
	static char buf[8192];
	size_t len = 1;
	REQUIRE(write_file(0));
	EXPECT(hw_file_read(NAME, buf, sizeof buf, &len) == 0 && len == 0, "%zu", len);
	REQUIRE(write_file(5000));
	EXPECT(hw_file_read(NAME, buf, sizeof buf, &len) == 0 && len == 5000, "%zu", len);
	EXPECT(pattern(buf, 5000));
	/* Exactly the buffer's size is not too large. */
	REQUIRE(write_file(sizeof buf));
	EXPECT(hw_file_read(NAME, buf, sizeof buf, &len) == 0 && len == sizeof buf, "%zu", len);
	EXPECT(pattern(buf, sizeof buf));
	remove(NAME);
}

static void test_too_large(void)
{
	static char buf[4096];
	size_t len = 0;
	REQUIRE(write_file(sizeof buf + 1));
	EXPECT(hw_file_read(NAME, buf, sizeof buf, &len) == EFBIG && len == sizeof buf, "%zu",
	       len);
	EXPECT(pattern(buf, sizeof buf));
	/* A zero-byte buffer: any byte is too many. */
	EXPECT(hw_file_read(NAME, buf, 0, &len) == EFBIG && len == 0);
	remove(NAME);
}

static void test_errors(void)
{
	char buf[64];
	size_t len = 1;
	remove(NAME);
	EXPECT(hw_file_read(NAME, buf, sizeof buf, &len) == ENOENT && len == 0);
	EXPECT(hw_file_read("no-such-dir/x", buf, sizeof buf, &len) == ENOENT);
	/* A directory: EISDIR, or EACCES on Windows (file.h FI2). */
	int rc = hw_file_read(".", buf, sizeof buf, &len);
	EXPECT((rc == EISDIR || rc == EACCES) && len == 0, "%d %zu", rc, len);
}

static const hw_test tests[] = {
	T(test_whole_files),
	T(test_too_large),
	T(test_errors),
};

int main(int argc, char **argv)
{
	return hw_test_main(tests, sizeof tests / sizeof tests[0], argc, argv);
}

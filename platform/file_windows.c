/* file_windows.c: file.h on Windows: CreateFileA, ReadFile, CloseHandle.
 *
 * Owns: hw_file_read (FI1, FI2 of file.h). The Win32 errors a caller can
 * act on get their errno names (ERROR_FILE_NOT_FOUND and
 * ERROR_PATH_NOT_FOUND: ENOENT; ERROR_ACCESS_DENIED: EACCES, also what
 * opening a directory without backup semantics gives); every other one is
 * EIO. The thread's last error is as the caller had it.
 *
 * Locking: none.
 */
#include "file.h"

#include <errno.h>
#include <stdbool.h>

#include <windows.h>

static int errno_of(DWORD e)
{
	switch (e) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
		return ENOENT;
	case ERROR_ACCESS_DENIED:
		return EACCES;
	default:
		return EIO;
	}
}

int hw_file_read(const char *path, char *buf, size_t cap, size_t *len)
{
	DWORD last = GetLastError();
	*len = 0;
	HANDLE h = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
			       OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		int rc = errno_of(GetLastError());
		SetLastError(last);
		return rc;
	}
	int rc = 0;
	for (;;) {
		char probe;
		/* Once buf is full, one more byte tells a file of exactly cap
		 * bytes from a longer one. */
		bool full = *len == cap;
		size_t room = cap - *len;
		DWORD want = full ? 1 : (room > 0x40000000u ? 0x40000000u : (DWORD)room), got = 0;
		if (!ReadFile(h, full ? &probe : buf + *len, want, &got, NULL)) {
			rc = errno_of(GetLastError());
			break;
		}
		if (got > 0 && full)
			rc = EFBIG;
		if (got == 0 || full)
			break;
		*len += got;
	}
	CloseHandle(h);
	SetLastError(last);
	return rc;
}

# stale_write.py: a heap bug in a Python program, through ctypes, for
# crash_handler.sh: "overflow" writes one byte past a 13-byte malloc'd
# block (past its 16-byte-aligned end), "uaf" writes to it after its free.
import ctypes
import sys

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
p = libc.malloc(13)
if sys.argv[1] == "overflow":
    ctypes.memset(p + 16, 0, 1)
else:
    libc.free(p)
    ctypes.memset(p, 0, 1)
print("not reached")

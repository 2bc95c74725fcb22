# pymalloc_dicts.py: CPython with its own object allocator (no
# PYTHONMALLOC) builds and dumps a list of dicts, for the preload test
# preload_python_pymalloc: the lists and dicts live in arenas CPython maps
# itself, their item arrays past 512 bytes come from malloc, and at exit
# some are still held only from those arenas (src/malloc/debug_leak.c LK6).
import json

x = [{"k%d" % i: i, "v": [i, str(i)]} for i in range(100000)]
print(len(json.dumps(x)))

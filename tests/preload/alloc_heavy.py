# alloc_heavy.py: an allocation-heavy Python workload for the preload test
# (run with PYTHONMALLOC=malloc so every object comes from malloc). Prints
# deterministic results only.
import hashlib

words = ["w%d-%s" % (i, "x" * (i % 37)) for i in range(200000)]
index = {}
for i, w in enumerate(words):
    index.setdefault(len(w), []).append(i)
print("buckets", len(index), "largest", max(len(v) for v in index.values()))

chunks = [bytes([i % 251]) * (i % 5000) for i in range(20000)]
h = hashlib.sha256()
for c in chunks:
    h.update(c)
print("sha256", h.hexdigest())

tree = {}
for i in range(100000):
    node = tree
    for part in ("a%d" % (i % 7), "b%d" % (i % 13), "c%d" % (i % 101)):
        node = node.setdefault(part, {})
    node[i] = str(i) * 3
print("leaves", sum(len(c) for a in tree.values() for b in a.values() for c in b.values()))

text = " ".join(sorted(set(words[::3]), key=lambda s: (len(s), s))[:1000])
print("text", len(text), hashlib.md5(text.encode()).hexdigest())
del words, index, chunks, tree
print("done")

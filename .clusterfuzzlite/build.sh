#!/bin/bash -eu
# .clusterfuzzlite/build.sh: ClusterFuzzLite builds exactly as OSS-Fuzz does;
# the one build script is ci/oss-fuzz/build.sh.
exec bash "$SRC/heapward/ci/oss-fuzz/build.sh"

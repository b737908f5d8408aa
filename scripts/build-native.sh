#!/usr/bin/env bash
# Compile the predictor's C kernels (src/housing/model/leaf_tables.c: the trees;
# feature_kernels.c: the numeric branch's columns) into one library next to their sources.
# The one definition of how they are built: `make install` and the predictor's image run this.
# Without a C compiler it says so and exits 0: the predictor then computes with numpy.
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/src/housing/model"
# In this order: housing/model/native.py hashes them the same way.
sources=("$dir/leaf_tables.c" "$dir/feature_kernels.c")
CC="${CC:-cc}"
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "build-native: no C compiler ($CC); the predictor will compute with numpy" >&2
  exit 0
fi
sha="$(cat "${sources[@]}" | sha256sum | cut -d' ' -f1)"
# Portable code (no -march=native): the image is built on one machine and run on another.
# No fused multiply-add: the kernels must give numpy's bits (see feature_kernels.c).
"$CC" -O3 -std=c11 -ffp-contract=off -Wall -Wextra -Werror -shared -fPIC \
  -DKERNELS_SOURCE_SHA256="\"$sha\"" -o "$dir/_kernels.so.tmp" "${sources[@]}" -lm
mv "$dir/_kernels.so.tmp" "$dir/_kernels.so"
echo "build-native: $dir/_kernels.so"

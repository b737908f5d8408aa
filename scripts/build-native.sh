#!/usr/bin/env bash
# Compile the predictor's C tree kernel (src/housing/model/leaf_tables.c) next to its source.
# The one definition of how it is built: `make install` and the predictor's image run this.
# Without a C compiler it says so and exits 0: the predictor then evaluates trees with numpy.
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/src/housing/model"
source="$dir/leaf_tables.c"
CC="${CC:-cc}"
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "build-native: no C compiler ($CC); the predictor will evaluate trees with numpy" >&2
  exit 0
fi
sha="$(sha256sum "$source" | cut -d' ' -f1)"
# Portable code (no -march=native): the image is built on one machine and run on another.
"$CC" -O3 -std=c11 -Wall -Wextra -Werror -shared -fPIC \
  -DLEAF_TABLES_SOURCE_SHA256="\"$sha\"" -o "$dir/_leaf_tables.so.tmp" "$source"
mv "$dir/_leaf_tables.so.tmp" "$dir/_leaf_tables.so"
echo "build-native: $dir/_leaf_tables.so"

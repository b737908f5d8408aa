#!/bin/sh
# Put the uv that pyproject.toml's [tool.uv] required-version names into a venv of its own at DEST
# (DEST/bin/uv). `make install` and the Dockerfile both call this: the version is written once.
set -eu
dest=${1:?usage: install-uv.sh DEST [PYPROJECT]}
pyproject=${2:-pyproject.toml}
spec=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["tool"]["uv"]["required-version"])' "$pyproject")
python3 -m venv "$dest"
"$dest/bin/pip" install --quiet --disable-pip-version-check "uv$spec"

"""The C tree kernel (leaf_tables.c), when it was built; None otherwise, and numpy does the work.

The library is used only if it was compiled from the source file beside it (the build embeds the
source's sha256), so a stale build after an edit is ignored rather than trusted.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
SOURCE = _HERE / "leaf_tables.c"
LIBRARY = _HERE / "_leaf_tables.so"
DISABLE_ENV = "HOUSING_NATIVE_TREES"  # "0" turns the kernel off (numpy then)

log = logging.getLogger(__name__)
_i64, _f64, _ptr = ctypes.c_int64, ctypes.c_double, ctypes.c_void_p


def load(library_path: Path = LIBRARY, source: Path = SOURCE) -> ctypes.CDLL | None:
    if os.environ.get(DISABLE_ENV, "1") == "0" or not library_path.exists():
        return None
    try:
        library = ctypes.CDLL(str(library_path))
    except OSError as exc:
        log.warning("tree kernel %s not loaded (%s); using numpy", library_path, exc)
        return None
    library.leaf_tables_source_sha256.restype = ctypes.c_char_p
    built_from = library.leaf_tables_source_sha256().decode()
    if not source.exists() or built_from != hashlib.sha256(source.read_bytes()).hexdigest():
        log.warning("tree kernel %s was not built from %s; using numpy", library_path, source)
        return None
    library.leaf_tables_predict.restype = None
    library.leaf_tables_predict.argtypes = [
        _ptr, _i64, _i64, _ptr, _ptr, _i64, _ptr, _i64, _ptr, _ptr, _i64, _ptr, _f64, _ptr, _ptr
    ]  # fmt: skip
    return library


KERNEL = load()


def _c(array: np.ndarray, dtype) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=dtype)


def predict(tables, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """`LeafTables.predict` through the kernel (which must be loaded). Releases the GIL."""
    X, codes = _c(X, np.float64), _c(codes, np.int64)
    n_rows, n_categories = X.shape[0], tables.table.shape[0] - int(tables.offsets[-1])
    # The kernel indexes memory with these: check them here, where a mistake is an exception.
    if codes.shape != (n_rows,) or (n_rows and not 0 <= codes.min() <= codes.max() < n_categories):
        raise ValueError("category codes out of range")
    if n_rows and tables.features.size and tables.features.max() >= X.shape[1]:
        raise ValueError(f"X has {X.shape[1]} columns, the trees split on more")
    parts = (
        _c(tables.features, np.int64),
        _c(tables.thresholds, np.float64),
        _c(tables.offsets, np.int64),
        _c(tables.table, np.uint64),
        _c(tables.leaf_values, np.float64),
    )
    features, thresholds, offsets, table, leaf_values = parts
    n_trees = table.shape[1]
    possible = np.empty(n_trees, dtype=np.uint64)
    out = np.empty(n_rows, dtype=np.float64)
    KERNEL.leaf_tables_predict(
        X.ctypes.data, n_rows, X.shape[1], codes.ctypes.data,
        features.ctypes.data, len(features), thresholds.ctypes.data, thresholds.shape[1],
        offsets.ctypes.data, table.ctypes.data, n_trees,
        leaf_values.ctypes.data, tables.baseline, possible.ctypes.data, out.ctypes.data,
    )  # fmt: skip
    return out

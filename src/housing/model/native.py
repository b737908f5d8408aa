"""The C tree kernel (leaf_tables.c), when it was built; None otherwise, and numpy does the work.

The library is used only if it was compiled from the source file beside it (the build embeds the
source's sha256), so a stale build after an edit is ignored rather than trusted.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Bound:
    """One `LeafTables`' arrays, laid out for the kernel once, when the tables are built."""

    arrays: tuple[np.ndarray, ...]  # kept alive: `static` points into them
    static: tuple  # the kernel's arguments from `features` to `baseline`
    n_trees: int
    n_codes: int  # category codes run from 0 to n_codes - 1
    min_columns: int  # X must have more columns than the highest feature the trees split on

    def predict(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """`LeafTables.predict` through the kernel (which must be loaded). Releases the GIL."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        codes = np.ascontiguousarray(codes, dtype=np.int64)
        n_rows = X.shape[0]
        # The kernel indexes memory with these: check them here, where a mistake is an exception.
        if codes.shape != (n_rows,) or (
            n_rows and not 0 <= codes.min() <= codes.max() < self.n_codes
        ):
            raise ValueError("category codes out of range")
        if X.shape[1] < self.min_columns:
            raise ValueError(f"X has {X.shape[1]} columns, the trees split on more")
        possible = np.empty(self.n_trees, dtype=np.uint64)
        out = np.empty(n_rows, dtype=np.float64)
        KERNEL.leaf_tables_predict(
            X.ctypes.data, n_rows, X.shape[1], codes.ctypes.data, *self.static,
            possible.ctypes.data, out.ctypes.data,
        )  # fmt: skip
        return out


def bind(tables) -> Bound:
    """Lay out a `LeafTables` for the kernel (no copy when its arrays are already so)."""
    features = np.ascontiguousarray(tables.features, dtype=np.int64)
    thresholds = np.ascontiguousarray(tables.thresholds, dtype=np.float64)
    offsets = np.ascontiguousarray(tables.offsets, dtype=np.int64)
    table = np.ascontiguousarray(tables.table, dtype=np.uint64)
    leaf_values = np.ascontiguousarray(tables.leaf_values, dtype=np.float64)
    static = (
        features.ctypes.data, len(features), thresholds.ctypes.data, thresholds.shape[1],
        offsets.ctypes.data, table.ctypes.data, table.shape[1], leaf_values.ctypes.data,
        float(tables.baseline),
    )  # fmt: skip
    return Bound(
        arrays=(features, thresholds, offsets, table, leaf_values),
        static=static,
        n_trees=table.shape[1],
        n_codes=table.shape[0] - int(offsets[-1]),
        min_columns=int(features.max()) + 1 if len(features) else 0,
    )

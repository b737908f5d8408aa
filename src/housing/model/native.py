"""The C kernels (leaf_tables.c: the trees; feature_kernels.c: the numeric branch's columns), when
they were built; None otherwise, and numpy does the work.

The library is used only if it was compiled from the source files beside it (the build embeds the
sha256 of their concatenation), so a stale build after an edit is ignored rather than trusted.
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
# In this order: scripts/build-native.sh hashes them the same way.
SOURCES = (_HERE / "leaf_tables.c", _HERE / "feature_kernels.c")
LIBRARY = _HERE / "_kernels.so"
DISABLE_ENV = "HOUSING_NATIVE_TREES"  # "0" turns the kernels off (numpy then)

log = logging.getLogger(__name__)
_i64, _f64, _ptr = ctypes.c_int64, ctypes.c_double, ctypes.c_void_p


class Projection(ctypes.Structure):
    """feature_kernels.c's struct projection."""

    _fields_ = [("lon", _i64), ("lat", _i64), ("east", _f64), ("north", _f64)]


class LeafTablesArgs(ctypes.Structure):
    """leaf_tables.c's struct leaf_tables."""

    _fields_ = [
        ("features", _ptr), ("k", _i64), ("thresholds", _ptr), ("width", _i64),
        ("offsets", _ptr), ("blocked", _ptr), ("table_rows", _i64), ("n_trees", _i64),
        ("leaf_values", _ptr), ("baseline", _f64), ("nodes", _ptr), ("depths", _ptr),
        ("code_slots", _ptr), ("n_onehot", _i64), ("n_codes", _i64),
    ]  # fmt: skip


class Grid(ctypes.Structure):
    """feature_kernels.c's struct grid."""

    _fields_ = [
        ("x0", _f64), ("y0", _f64), ("cell", _f64), ("nx", _i64), ("ny", _i64),
        ("start", _ptr), ("xy", _ptr), ("index", _ptr), ("table", _ptr), ("n", _i64),
    ]  # fmt: skip


class BranchArgs(ctypes.Structure):
    """feature_kernels.c's struct branch."""

    _fields_ = [
        ("fill", _ptr), ("n_numeric", _i64),
        ("ratios_at", _i64), ("pairs", _ptr), ("n_pairs", _i64), ("limit", _f64),
        ("geo_at", _i64), ("turns", _ptr), ("n_angles", _i64), ("points", _ptr),
        ("n_cities", _i64), ("n_coast", _i64), ("n_clusters", _i64),
        ("neighbours_at", _i64), ("grid", _ptr), ("ks", _ptr), ("n_ks", _i64),
        ("projection", Projection),
    ]  # fmt: skip


def sources_sha256(sources: tuple[Path, ...] = SOURCES) -> str:
    return hashlib.sha256(b"".join(source.read_bytes() for source in sources)).hexdigest()


def load(library_path: Path = LIBRARY, sources: tuple[Path, ...] = SOURCES) -> ctypes.CDLL | None:
    if os.environ.get(DISABLE_ENV, "1") == "0" or not library_path.exists():
        return None
    try:
        library = ctypes.CDLL(str(library_path))
    except OSError as exc:
        log.warning("kernels %s not loaded (%s); using numpy", library_path, exc)
        return None
    library.kernels_source_sha256.restype = ctypes.c_char_p
    built_from = library.kernels_source_sha256().decode()
    if not all(s.exists() for s in sources) or built_from != sources_sha256(sources):
        log.warning("kernels %s were not built from %s; using numpy", library_path, sources)
        return None
    signatures = {
        "leaf_tables_predict": [_ptr, _ptr, _i64, _i64, _ptr, _ptr, _ptr],
        "impute_rows": [_ptr, _i64, _i64, _ptr, _ptr, _i64],
        "ratio_columns": [_ptr, _i64, _i64, _ptr, _i64, _f64, _i64],
        "geo_columns": [_ptr, _i64, _i64, _ptr, _ptr, _i64, _ptr, _i64, _i64, _i64, _i64],
        "neighbour_columns": [_ptr, _i64, _i64, _ptr, _ptr, _ptr, _i64, _i64],
        "branch_rows": [_ptr, _ptr, _i64, _ptr, _i64],
    }  # fmt: skip
    for constant in ("leaf_tables_tree_block", "leaf_tables_walk_lanes", "leaf_tables_tree_nodes"):
        getattr(library, constant).restype = _i64
        getattr(library, constant).argtypes = []
    for name, argtypes in signatures.items():
        function = getattr(library, name)
        function.argtypes = argtypes
        returns_status = ("neighbour_columns", "branch_rows", "leaf_tables_predict")
        function.restype = ctypes.c_int if name in returns_status else None
    return library


KERNEL = load()


@dataclass(frozen=True)
class Bound:
    """One `LeafTables`' arrays, laid out for the kernel once, when the tables are built."""

    arrays: tuple[np.ndarray, ...]  # kept alive: `args` points into them
    args: LeafTablesArgs
    ref: object  # ctypes.byref(args), made once
    n_features: int  # the numeric columns the trees split on
    n_codes: int  # category codes run from 0 to n_codes - 1
    min_columns: int  # X must have more columns than the highest feature the trees split on

    def predict(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """`LeafTables.predict` through the kernel (which must be loaded). Releases the GIL."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        codes = np.ascontiguousarray(codes, dtype=np.int64)
        n_rows = X.shape[0]
        # The kernel indexes memory with these: checked here (shapes) and by the kernel (each
        # code), where a mistake is an exception.
        if codes.shape != (n_rows,):
            raise ValueError("one category code per row")
        if X.shape[1] < self.min_columns:
            raise ValueError(f"X has {X.shape[1]} columns, the trees split on more")
        rows = np.empty((n_rows, self.n_features + 1), dtype=np.int64)
        out = np.empty(n_rows, dtype=np.float64)
        refused = KERNEL.leaf_tables_predict(
            self.ref, X.ctypes.data, n_rows, X.shape[1], codes.ctypes.data, rows.ctypes.data,
            out.ctypes.data,
        )  # fmt: skip
        if refused:
            raise ValueError("category codes out of range")
        return out


def grouped(nodes: np.ndarray, depths: np.ndarray, lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """Walked trees padded to a multiple of `lanes` (with copies of the last tree, never summed),
    and the depth of each group of `lanes` trees: its deepest."""
    n_trees = len(nodes)
    padded = -(-n_trees // lanes) * lanes
    index = np.minimum(np.arange(padded), n_trees - 1)
    group_depths = np.asarray(depths)[index].reshape(-1, lanes).max(axis=1)
    return (
        np.ascontiguousarray(np.asarray(nodes)[index], dtype=np.uint32),
        np.ascontiguousarray(group_depths, dtype=np.int64),
    )


def bind(tables) -> Bound | None:
    """Lay out a `LeafTables` for the kernel; None when the kernel is not loaded."""
    if KERNEL is None:
        return None
    features = np.ascontiguousarray(tables.features, dtype=np.int64)
    thresholds = np.ascontiguousarray(tables.thresholds, dtype=np.float64)
    offsets = np.ascontiguousarray(tables.offsets, dtype=np.int64)
    table = np.ascontiguousarray(tables.table, dtype=np.uint64)  # (blocks, rows, block)
    if table.shape[2] != KERNEL.leaf_tables_tree_block():
        log.warning(
            "tables in blocks of %d trees, the kernel's are not; using numpy", table.shape[2]
        )
        return None
    n_trees = len(tables.tree_base)
    leaf_values = np.ascontiguousarray(tables.leaf_values, dtype=np.float64)
    nodes, depths = grouped(tables.nodes, tables.depths, KERNEL.leaf_tables_walk_lanes())
    code_slots = np.ascontiguousarray(tables.code_slots, dtype=np.uint8)
    n_codes = table.shape[1] - int(offsets[-1])
    if tables.nodes.shape != (n_trees, KERNEL.leaf_tables_tree_nodes()) or (
        code_slots.shape[0] != n_codes
    ):
        raise ValueError("the walked trees do not match the tables")
    arrays = (features, thresholds, offsets, table, leaf_values, nodes, depths, code_slots)
    args = LeafTablesArgs(
        features.ctypes.data, len(features), thresholds.ctypes.data, thresholds.shape[1],
        offsets.ctypes.data, table.ctypes.data, table.shape[1], n_trees,
        leaf_values.ctypes.data, float(tables.baseline), nodes.ctypes.data, depths.ctypes.data,
        code_slots.ctypes.data, code_slots.shape[1], n_codes,
    )  # fmt: skip
    return Bound(
        arrays=arrays,
        args=args,
        ref=ctypes.byref(args),
        n_features=len(features),
        n_codes=n_codes,
        min_columns=int(features.max()) + 1 if len(features) else 0,
    )

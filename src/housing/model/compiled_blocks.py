"""The numeric branch's steps, compiled: each fitted step becomes a block that writes the columns
it appends into the rows being built, through the C kernel (feature_kernels.c) when it is built,
else with the step's own numpy function. Both give the same bits (tests/model prove it).

Every block reads the imputed fields (the first columns of `rows`, `contract.NUMERIC` order) and
writes `columns` columns from `at` on; `rows` is a C-contiguous float64 array that the compiled
pipeline allocates, so the kernel's writes stay inside it.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from housing.model import native
from housing.model.features import RATIO_INDICES, RATIO_LIMIT, RatioFeatures, ratio_columns
from housing.model.geography import (
    ANCHORS_KM,
    CITIES,
    LAT,
    LON,
    N_FIXED,
    PROJECTION,
    TURNS,
    GeoFeatures,
    geo_columns,
)
from housing.model.neighbours import STATS, NeighbourFeatures, neighbour_columns

# The grid the kernel buckets the training districts in: cells of this side (km). Small enough
# that a dense city's first ring holds few more than the neighbours sought, large enough that a
# rural query crosses few empty cells; the predictor's speed barely moves between 5 and 20.
GRID_CELL_KM = 8.0
# feature_kernels.c's MAX_K: the most neighbours its fixed buffers hold.
KERNEL_MAX_K = 256


def _pointer(array: np.ndarray) -> int:
    return array.ctypes.data


def _projection() -> native.Projection:
    return native.Projection(LON, LAT, float(PROJECTION[0]), float(PROJECTION[1]))


class NotCompilable(TypeError):
    """The pipeline has a shape this module does not know; serve it with scikit-learn."""


@dataclass(frozen=True)
class Impute:
    """SimpleImputer: NaN -> the fitted statistic, copied into the first columns of `rows`."""

    fill: np.ndarray  # (n_numeric,)

    def __call__(self, numeric: np.ndarray, rows: np.ndarray) -> None:
        n, width = numeric.shape
        if native.KERNEL is None:
            np.copyto(rows[:, :width], numeric)
            np.copyto(rows[:, :width], self.fill, where=np.isnan(numeric))
            return
        numeric = np.ascontiguousarray(numeric, dtype=np.float64)
        native.KERNEL.impute_rows(
            _pointer(numeric), n, width, _pointer(self.fill), _pointer(rows), rows.shape[1]
        )


@dataclass(frozen=True)
class Ratios:
    columns: int = len(RATIO_INDICES)
    pairs: np.ndarray = field(
        default_factory=lambda: np.ascontiguousarray(RATIO_INDICES, dtype=np.int64)
    )

    def describe(self, args: native.BranchArgs, at: int) -> None:
        args.ratios_at, args.pairs, args.n_pairs = at, _pointer(self.pairs), len(self.pairs)
        args.limit = RATIO_LIMIT

    def __call__(self, rows: np.ndarray, at: int, width: int) -> None:
        if native.KERNEL is None:
            rows[:, at : at + self.columns] = ratio_columns(rows[:, :width])
            return
        native.KERNEL.ratio_columns(
            _pointer(rows), rows.shape[0], rows.shape[1], _pointer(self.pairs),
            len(self.pairs), RATIO_LIMIT, at,
        )  # fmt: skip


@dataclass(frozen=True)
class Geography:
    points: np.ndarray  # (cities + coast + clusters, 2) km, geography.geo_points
    columns: int
    turns: np.ndarray = field(
        default_factory=lambda: np.ascontiguousarray(TURNS.T, dtype=np.float64)
    )
    projection: native.Projection = field(default_factory=_projection)

    @classmethod
    def of(cls, step: GeoFeatures) -> Geography:
        if hasattr(step, "gamma_"):
            raise NotCompilable("cluster similarities (a model from before cluster distances)")
        points = np.ascontiguousarray(step.points_km_, dtype=np.float64)
        return cls(points=points, columns=N_FIXED + len(points) - len(ANCHORS_KM))

    def describe(self, args: native.BranchArgs, at: int) -> None:
        args.geo_at, args.turns, args.n_angles = at, _pointer(self.turns), len(self.turns)
        args.points, args.n_cities = _pointer(self.points), len(CITIES)
        args.n_coast = len(ANCHORS_KM) - len(CITIES)
        args.n_clusters = len(self.points) - len(ANCHORS_KM)

    def __call__(self, rows: np.ndarray, at: int, width: int) -> None:
        if native.KERNEL is None:
            rows[:, at : at + self.columns] = geo_columns(rows[:, :width], self.points)
            return
        coast = len(ANCHORS_KM) - len(CITIES)
        native.KERNEL.geo_columns(
            _pointer(rows), rows.shape[0], rows.shape[1], ctypes.byref(self.projection),
            _pointer(self.turns), len(self.turns), _pointer(self.points), len(CITIES), coast,
            len(self.points) - len(ANCHORS_KM), at,
        )  # fmt: skip


@dataclass(frozen=True)
class Neighbours:
    """The KD-tree (numpy's path) and the grid (the kernel's) are built once, here."""

    index: cKDTree
    table: np.ndarray  # (n, 3): NeighbourFeatures.table_
    ks: np.ndarray  # (len(ks),) int64, ascending
    columns: int
    grid: native.Grid
    arrays: tuple = field(repr=False)  # what `grid` points into, kept alive
    projection: native.Projection = field(default_factory=_projection)

    @classmethod
    def of(cls, step: NeighbourFeatures, cell_km: float = GRID_CELL_KM) -> Neighbours:
        xy = np.ascontiguousarray(step.xy_, dtype=np.float64)
        table = np.ascontiguousarray(step.table_, dtype=np.float64)
        ks = np.ascontiguousarray(sorted(step.ks), dtype=np.int64)
        if list(ks) != list(step.ks) or not ks[0] >= 1 or ks[-1] > min(len(xy), KERNEL_MAX_K):
            raise NotCompilable(f"neighbour ks {step.ks}: ascending, from 1 to {KERNEL_MAX_K}")
        x0, y0 = xy.min(axis=0)
        nx, ny = (np.floor((xy.max(axis=0) - (x0, y0)) / cell_km).astype(np.int64) + 1).tolist()
        cells = np.floor((xy[:, 1] - y0) / cell_km).astype(np.int64) * nx + np.floor(
            (xy[:, 0] - x0) / cell_km
        ).astype(np.int64)
        order = np.argsort(cells, kind="stable")
        start = np.searchsorted(cells[order], np.arange(nx * ny + 1)).astype(np.int64)
        arrays = (
            start,
            np.ascontiguousarray(xy[order]),
            order.astype(np.int64),
            np.ascontiguousarray(table[order]),
        )
        grid = native.Grid(
            float(x0), float(y0), float(cell_km), nx, ny, *map(_pointer, arrays), len(xy)
        )
        return cls(
            index=cKDTree(xy),
            table=table,
            ks=ks,
            columns=len(ks) * len(STATS),
            grid=grid,
            arrays=arrays,
        )

    def describe(self, args: native.BranchArgs, at: int) -> None:
        args.neighbours_at, args.grid = at, ctypes.addressof(self.grid)
        args.ks, args.n_ks = _pointer(self.ks), len(self.ks)

    def __call__(self, rows: np.ndarray, at: int, width: int) -> None:
        if native.KERNEL is None:
            rows[:, at : at + self.columns] = neighbour_columns(
                self.index, self.table, rows[:, :width], tuple(self.ks.tolist())
            )
            return
        failed = native.KERNEL.neighbour_columns(
            _pointer(rows), rows.shape[0], rows.shape[1], ctypes.byref(self.projection),
            ctypes.byref(self.grid), _pointer(self.ks), len(self.ks), at,
        )  # fmt: skip
        if failed:
            raise ValueError(f"the neighbour kernel refused ks={self.ks.tolist()}")


@dataclass(frozen=True)
class Branch:
    """The imputer and every block in one kernel call (feature_kernels.c, branch_rows): a call
    from Python costs more than most blocks' work on a row."""

    args: native.BranchArgs
    parts: tuple  # the imputer and the blocks, whose arrays `args` points into
    ref: object = field(init=False, repr=False)  # ctypes.byref(args), made once

    def __post_init__(self):
        object.__setattr__(self, "ref", ctypes.byref(self.args))

    @classmethod
    def of(cls, impute: Impute, blocks: tuple) -> Branch | None:
        """None without the kernel, or when a kind of block comes twice (the kernel has one
        place for each): the blocks are then called one by one."""
        if native.KERNEL is None or len({type(b) for b in blocks}) < len(blocks):
            return None
        args = native.BranchArgs(
            fill=_pointer(impute.fill), n_numeric=len(impute.fill), ratios_at=-1, geo_at=-1,
            neighbours_at=-1, projection=_projection(),
        )  # fmt: skip
        at = len(impute.fill)
        for block in blocks:
            block.describe(args, at)
            at += block.columns
        return cls(args=args, parts=(impute, *blocks))

    def __call__(self, numeric: np.ndarray, rows: np.ndarray) -> None:
        numeric = np.ascontiguousarray(numeric, dtype=np.float64)
        failed = native.KERNEL.branch_rows(
            self.ref, _pointer(numeric), numeric.shape[0], _pointer(rows), rows.shape[1]
        )
        if failed:
            raise ValueError("the neighbour kernel refused its ks")


def compile_step(step):
    """A fitted step of the numeric branch (after the imputer) -> its block."""
    if isinstance(step, RatioFeatures):
        return Ratios()
    if isinstance(step, GeoFeatures):
        return Geography.of(step)
    if isinstance(step, NeighbourFeatures):
        return Neighbours.of(step)
    raise NotCompilable(f"no compiled form for the step {type(step).__name__}")

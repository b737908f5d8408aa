"""What the neighbours cost: statistics of the k nearest training districts by location.

A district's price is mostly where it is and what the districts around it cost. For each k, the
mean, spread and median of the neighbours' log price, their mean income and mean premium (log
price over log income), and the distance to the k-th (how dense the area is). The fitted
transformer keeps the training districts' locations, log prices and incomes, and a query runs
against all of them (scipy's KD-tree).

Training rows are the exception: their features are computed out of fold (`fit_transform`). The
training rows are cut into folds, and each fold's rows query only the other folds, so that no
training row sees its own price or a fold-mate's; otherwise the regressor would learn to trust a
neighbour price that, for a new district, is never that good. Rows the transformer was not fitted
on (the test split, requests) query the whole training set, and are never in it.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import KFold

from housing.contract import NUMERIC
from housing.model.geography import project

INCOME = NUMERIC.index("median_income")
# Per k, in this order. None depends on the district's own income: the regressor is held
# non-decreasing in income (pipeline.INCREASING), and no other column may move with it.
STATS = (
    "log_price_mean",
    "log_price_std",
    "log_price_median",
    "income_mean",
    "km_to_kth",
    "premium_mean",
)
INCOME_FLOOR = 0.1  # a request may say 0; the data's lowest is about 0.5


def log_income(income: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(income, INCOME_FLOOR))


def neighbour_table(log_price: np.ndarray, income: np.ndarray) -> np.ndarray:
    """What a query reads of each indexed district: (n, 3) log price, log income, income."""
    return np.column_stack([log_price, log_income(income), income])


# Candidates beyond k that the KD-tree supplies, so that ties at the k-th distance sort out.
MARGIN = 16


def squared_km(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(q, 2) and (q, m, 2) km -> (q, m) squared distances, as feature_kernels.c computes them."""
    dx, dy = queries[:, None, 0] - points[..., 0], queries[:, None, 1] - points[..., 1]
    return dx * dx + dy * dy


def nearest(index: cKDTree, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest indexed points to each query (km), ascending by squared distance and then
    by position in the index: (squared distances, positions), each (q, k).

    Districts share coordinates, so distances tie often, and which of two tied districts counts
    changes the statistics: the order is defined here, exactly, and the predictor's kernel
    follows it. The KD-tree's own tie order is not defined, so it supplies k + MARGIN candidates
    whose distances are recomputed and sorted; a row where the candidates do not reach past the
    k-th distance is searched in full.
    """
    points, n = index.data, index.n
    found = index.query(queries, k=min(k + MARGIN, n))[1].reshape(len(queries), -1)
    d2 = squared_km(queries, points[found])
    order = np.lexsort((found, d2), axis=1)
    d2, found = np.take_along_axis(d2, order, 1), np.take_along_axis(found, order, 1)
    if found.shape[1] < n:
        for row in np.flatnonzero(~(d2[:, -1] > d2[:, k - 1] * (1 + 1e-9))):
            every = squared_km(queries[row : row + 1], points[None])[0]
            order = np.lexsort((np.arange(n), every))[: found.shape[1]]
            d2[row], found[row] = every[order], order
    return d2[:, :k], found[:, :k]


def neighbour_columns(
    index: cKDTree, table: np.ndarray, X: np.ndarray, ks: tuple[int, ...]
) -> np.ndarray:
    """For each k in `ks`, the STATS of the k nearest indexed districts (`table`'s rows) to each
    row of X (imputed, `contract.NUMERIC` order). Means and spreads come from running sums in
    distance order (feature_kernels.c sums in the same order, for the same bits)."""
    d2, found = nearest(index, project(X), max(ks))
    near = table[found]  # (n, kmax, 3)
    at, k = np.asarray(ks) - 1, np.asarray(ks, dtype=np.float64)[None, :]
    sums = np.cumsum(near, axis=1)[:, at, :] / k[..., None]  # (n, len(ks), 3) means
    squares = np.cumsum(np.square(near[:, :, 0]), axis=1)[:, at] / k
    out = np.empty((X.shape[0], len(ks), len(STATS)))
    out[:, :, 0] = sums[:, :, 0]
    out[:, :, 1] = np.sqrt(np.maximum(squares - np.square(sums[:, :, 0]), 0.0))
    for j, kth in enumerate(ks):
        ranked = np.sort(near[:, :kth, 0], axis=1)
        out[:, j, 2] = (ranked[:, (kth - 1) // 2] + ranked[:, kth // 2]) / 2
    out[:, :, 3] = sums[:, :, 2]
    out[:, :, 4] = np.sqrt(d2[:, at])
    out[:, :, 5] = sums[:, :, 0] - sums[:, :, 1]
    return out.reshape(X.shape[0], -1)


class NeighbourFeatures(TransformerMixin, BaseEstimator):
    """Append `neighbour_columns` to an imputed array laid out in `contract.NUMERIC` order (after
    any columns already appended): out of fold for the rows it is fitted on, else against all."""

    def __init__(self, ks: tuple[int, ...] = (8, 32), folds: int = 10, seed: int = 42):
        self.ks = ks
        self.folds = folds
        self.seed = seed

    def fit(self, X, y):  # noqa: N803 - scikit-learn's signature
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if y.shape[0] != X.shape[0] or not np.all(y > 0):
            raise ValueError("neighbour features need one positive price per training row")
        smallest_index = X.shape[0] - -(-X.shape[0] // max(self.folds, 1))  # the other folds
        if min(self.ks) < 1 or self.folds < 2 or max(self.ks) > smallest_index:
            raise ValueError(f"ks={self.ks} does not fit {X.shape[0]} rows in {self.folds} folds")
        self.n_features_in_ = X.shape[1]
        self.xy_ = project(X)
        self.table_ = neighbour_table(np.log(y), X[:, INCOME])
        return self

    def fit_transform(self, X, y):  # noqa: N803
        self.fit(X, y)
        X = np.asarray(X, dtype=np.float64)
        out = np.empty((X.shape[0], len(self.ks) * len(STATS)), dtype=np.float64)
        for others, fold in KFold(self.folds, shuffle=True, random_state=self.seed).split(X):
            index = cKDTree(self.xy_[others])
            out[fold] = neighbour_columns(index, self.table_[others], X[fold], self.ks)
        return np.hstack([X, out])

    def transform(self, X):  # noqa: N803
        X = np.asarray(X, dtype=np.float64)
        return np.hstack([X, neighbour_columns(cKDTree(self.xy_), self.table_, X, self.ks)])

    def get_feature_names_out(self, input_features=None):
        names = [f"near{k}_{stat}" for k in self.ks for stat in STATS]
        return np.asarray(
            [*(() if input_features is None else input_features), *names], dtype=object
        )

"""Ratio features, computed inside the model so that serving never re-implements them."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from housing.contract import NUMERIC

_COL = {name: i for i, name in enumerate(NUMERIC)}

# (name, numerator, denominator), appended after the numeric columns in this order.
RATIOS: tuple[tuple[str, str, str], ...] = (
    ("rooms_per_household", "total_rooms", "households"),
    ("bedrooms_per_room", "total_bedrooms", "total_rooms"),
    ("population_per_household", "population", "households"),
)
RATIO_LIMIT = 1e30
RATIO_INDICES: tuple[tuple[int, int], ...] = tuple((_COL[n], _COL[d]) for _, n, d in RATIOS)
_NUMERATORS = np.array([n for n, _ in RATIO_INDICES])
_DENOMINATORS = np.array([d for _, d in RATIO_INDICES])


class RatioFeatures(TransformerMixin, BaseEstimator):
    """Append the ratio columns to an imputed array laid out in `contract.NUMERIC` order.

    A zero denominator (a district with no rooms) gives 0 rather than inf, and ratios are clipped
    to +-1e30, so that the later steps and the trees never see a non-finite value whatever
    finite input a client sends (the data set's largest ratio is about 1,250).
    """

    def fit(self, X, y=None):  # noqa: N803 - scikit-learn's signature
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):  # noqa: N803
        X = np.asarray(X, dtype=np.float64)
        return np.hstack([X, ratio_columns(X)])

    def get_feature_names_out(self, input_features=None):
        names = list(input_features) if input_features is not None else list(NUMERIC)
        return np.asarray(names + [name for name, _, _ in RATIOS], dtype=object)


def ratio_columns(X: np.ndarray) -> np.ndarray:
    denominator = X[:, _DENOMINATORS]
    out = np.zeros((X.shape[0], len(RATIO_INDICES)), dtype=np.float64)
    with np.errstate(over="ignore"):
        np.divide(X[:, _NUMERATORS], denominator, out=out, where=denominator != 0)
    return np.clip(out, -RATIO_LIMIT, RATIO_LIMIT, out=out)

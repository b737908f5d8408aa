"""Build and fit the scikit-learn pipeline from `params.yaml`'s `train` section."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from housing.contract import CATEGORICAL, CATEGORIES, FEATURES, NUMERIC, TARGET
from housing.model.features import RatioFeatures
from housing.model.geography import GeoFeatures
from housing.model.neighbours import NeighbourFeatures

# The steps' names: housing.model.compiled finds each fitted step by them.
PREPROCESS, REGRESSOR = "preprocess", "regressor"
NUMERIC_BRANCH, CATEGORICAL_BRANCH = "numeric", "categorical"
IMPUTE, RATIOS, GEO, NEIGHBOURS = "impute", "ratios", "geo", "neighbours"


@dataclass(frozen=True)
class TrainParams:
    seed: int = 42
    learning_rate: float = 0.05
    max_iter: int = 600
    max_leaf_nodes: int = 63
    # Levels below the root (0: no limit). Shallower trees are quicker to walk in the predictor
    # (leaf_tables.c), whose single-row path takes as many steps as the deepest tree of a group.
    max_depth: int = 0
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    # The share of features each split may choose from: decorrelates the trees.
    max_features: float = 1.0
    # Bins per feature: each distinct threshold is a row of the predictor's tree tables.
    max_bins: int = 255
    geo_clusters: int = 12
    neighbour_ks: tuple[int, ...] = (8, 32)
    neighbour_folds: int = 10
    # Folds of the cross-validation on train that the train stage reports (0: none).
    cv_folds: int = 5
    progress_every: int = field(default=50, compare=False)

    def __post_init__(self):
        # Checked here, before any work, each named as params.yaml spells it: scikit-learn would
        # find some of these only after minutes (or never: fit() grows the trees in steps of
        # progress_every, so max_iter below 1 would leave the regressor unfitted without an error).
        for name, (kind, ok, expected) in _RULES.items():
            value = getattr(self, name)
            if not (_is(value, kind) and ok(value)):
                raise ValueError(f"train.{name} must be {expected}, got {json.dumps(value)}")
        object.__setattr__(self, "neighbour_ks", tuple(self.neighbour_ks))

    @classmethod
    def from_dict(cls, values: dict) -> TrainParams:
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown train parameter(s): {', '.join(sorted(unknown))}")
        return cls(**values)


# Columns the price may only rise with (HistGradientBoosting's monotonic constraints): a person
# expects a richer district to cost more, all else equal, and the trees alone would not ensure it
# where the neighbours' prices dominate. No other column is computed from the income.
INCREASING = ("median_income",)


def _is(value, kind) -> bool:
    """`value` is of `kind` as YAML gives it: an int is a float too; a bool is neither."""
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, int | float)
    if kind is list:
        return isinstance(value, list | tuple) and all(_is(v, int) for v in value)
    return isinstance(value, kind)


# Each parameter: its kind, its range, and both in words for the error.
_RULES = {
    "seed": (int, lambda v: v >= 0, "an integer ≥ 0"),
    "learning_rate": (float, lambda v: v > 0, "a number > 0"),
    "max_iter": (int, lambda v: v >= 1, "an integer ≥ 1"),
    "max_leaf_nodes": (int, lambda v: v >= 2, "an integer ≥ 2"),
    "max_depth": (int, lambda v: v >= 0, "an integer ≥ 0 (0: no limit)"),
    "min_samples_leaf": (int, lambda v: v >= 1, "an integer ≥ 1"),
    "l2_regularization": (float, lambda v: v >= 0, "a number ≥ 0"),
    "max_features": (float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "max_bins": (int, lambda v: 2 <= v <= 255, "an integer from 2 to 255"),
    "geo_clusters": (int, lambda v: v >= 1, "an integer ≥ 1"),
    "neighbour_ks": (list, lambda v: len(v) > 0 and min(v) >= 1, "a list of integers ≥ 1"),
    "neighbour_folds": (int, lambda v: v >= 2, "an integer ≥ 2"),
    "cv_folds": (int, lambda v: v == 0 or v >= 2, "0 (none) or an integer ≥ 2"),
    "progress_every": (int, lambda v: v >= 1, "an integer ≥ 1"),
}


def build_pipeline(params: TrainParams) -> Pipeline:
    # No scaling: the trees bin every column by its quantiles.
    numeric = Pipeline(
        [
            (IMPUTE, SimpleImputer(strategy="median")),
            (RATIOS, RatioFeatures()),
            (GEO, GeoFeatures(n_clusters=params.geo_clusters, seed=params.seed)),
            (
                NEIGHBOURS,
                NeighbourFeatures(
                    ks=params.neighbour_ks, folds=params.neighbour_folds, seed=params.seed
                ),
            ),
        ]
    )
    categorical = OneHotEncoder(
        categories=[list(CATEGORIES)], handle_unknown="ignore", sparse_output=False
    )
    preprocess = ColumnTransformer(
        [
            (NUMERIC_BRANCH, numeric, list(NUMERIC)),
            (CATEGORICAL_BRANCH, categorical, [CATEGORICAL]),
        ],
        verbose_feature_names_out=False,
    )
    names = numeric.steps[-1][1].get_feature_names_out(
        numeric.steps[-2][1].get_feature_names_out(
            RatioFeatures().get_feature_names_out(list(NUMERIC))
        )
    )
    names = [*names, *(f"{CATEGORICAL}_{c}" for c in CATEGORIES)]  # the one-hot columns
    regressor = HistGradientBoostingRegressor(
        loss="squared_error",
        monotonic_cst=[int(name in INCREASING) for name in names],
        learning_rate=params.learning_rate,
        max_iter=params.max_iter,
        max_leaf_nodes=params.max_leaf_nodes,
        max_depth=params.max_depth or None,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        max_features=params.max_features,
        max_bins=params.max_bins,
        early_stopping=False,
        random_state=params.seed,
    )
    return Pipeline([(PREPROCESS, preprocess), (REGRESSOR, regressor)])


def split_xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    return frame[list(FEATURES)], frame[TARGET].to_numpy(dtype=np.float64)


def fit(
    pipeline: Pipeline,
    X: pd.DataFrame,
    y: np.ndarray,
    params: TrainParams,
    progress: Callable[[int, int], None] | None = None,
) -> Pipeline:
    """Fit, telling `progress(done, total)` every `progress_every` boosting iterations (by
    default a line on stderr).

    Boosting is resumed with warm_start, which grows the same trees as one uninterrupted fit
    (no early stopping, no subsampling), so progress costs nothing in the result.
    """
    preprocess, regressor = pipeline.named_steps.values()
    started = time.perf_counter()
    if progress is None:

        def progress(done: int, total: int) -> None:
            elapsed = time.perf_counter() - started
            print(
                f"  trained {done}/{total} boosting iterations ({elapsed:.1f}s)",
                file=sys.stderr,
                flush=True,
            )

    features = preprocess.fit_transform(X, y)
    regressor.set_params(warm_start=True)
    step = max(1, params.progress_every)
    for done in range(step, params.max_iter + step, step):
        regressor.set_params(max_iter=min(done, params.max_iter))
        regressor.fit(features, y)
        progress(regressor.n_iter_, params.max_iter)
    regressor.set_params(warm_start=False)
    return pipeline

"""Build and fit the scikit-learn pipeline from `params.yaml`'s `train` section."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from housing.contract import CATEGORICAL, CATEGORIES, FEATURES, NUMERIC, TARGET
from housing.model.features import RatioFeatures

# The steps' names: housing.model.compiled finds each fitted step by them.
PREPROCESS, REGRESSOR = "preprocess", "regressor"
NUMERIC_BRANCH, CATEGORICAL_BRANCH = "numeric", "categorical"
IMPUTE, RATIOS, SCALE = "impute", "ratios", "scale"


@dataclass(frozen=True)
class TrainParams:
    seed: int = 42
    learning_rate: float = 0.05
    max_iter: int = 600
    max_leaf_nodes: int = 63
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    progress_every: int = field(default=50, compare=False)

    def __post_init__(self):
        # Checked here, not by scikit-learn: fit() grows the trees in steps of progress_every, so
        # max_iter below 1 would leave the regressor unfitted without an error.
        bounds = {
            "learning_rate": self.learning_rate > 0,
            "max_iter": self.max_iter >= 1,
            "max_leaf_nodes": self.max_leaf_nodes >= 2,
            "min_samples_leaf": self.min_samples_leaf >= 1,
            "l2_regularization": self.l2_regularization >= 0,
            "progress_every": self.progress_every >= 1,
        }
        wrong = [name for name, ok in bounds.items() if not ok]
        if wrong:
            shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in wrong)
            raise ValueError(f"train parameter(s) out of range: {shown}")

    @classmethod
    def from_dict(cls, values: dict) -> TrainParams:
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown train parameter(s): {', '.join(sorted(unknown))}")
        return cls(**values)


def build_pipeline(params: TrainParams) -> Pipeline:
    numeric = Pipeline(
        [
            (IMPUTE, SimpleImputer(strategy="median")),
            (RATIOS, RatioFeatures()),
            (SCALE, StandardScaler()),
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
    regressor = HistGradientBoostingRegressor(
        loss="squared_error",
        learning_rate=params.learning_rate,
        max_iter=params.max_iter,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        early_stopping=False,
        random_state=params.seed,
    )
    return Pipeline([(PREPROCESS, preprocess), (REGRESSOR, regressor)])


def split_xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    return frame[list(FEATURES)], frame[TARGET].to_numpy(dtype=np.float64)


def fit(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, params: TrainParams) -> Pipeline:
    """Fit with a progress line every `progress_every` boosting iterations.

    Boosting is resumed with warm_start, which grows the same trees as one uninterrupted fit
    (no early stopping, no subsampling), so progress costs nothing in the result.
    """
    preprocess, regressor = pipeline.named_steps.values()
    started = time.perf_counter()
    features = preprocess.fit_transform(X, y)
    regressor.set_params(warm_start=True)
    step = max(1, params.progress_every)
    for done in range(step, params.max_iter + step, step):
        regressor.set_params(max_iter=min(done, params.max_iter))
        regressor.fit(features, y)
        print(
            f"  trained {regressor.n_iter_}/{params.max_iter} boosting iterations "
            f"({time.perf_counter() - started:.1f}s)",
            file=sys.stderr,
            flush=True,
        )
    regressor.set_params(warm_start=False)
    return pipeline

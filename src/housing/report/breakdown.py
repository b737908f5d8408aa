"""The test split's errors, cut the ways the model card shows them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from housing.contract import CATEGORICAL, NUMERIC, PRICE_CAP
from housing.model.geography import project
from housing.model.neighbours import nearest
from housing.model.pipeline import NEIGHBOURS, NUMERIC_BRANCH, PREPROCESS

# Median income (tens of thousands of dollars) bands: the data's quintiles, rounded.
INCOME_BANDS = (0.0, 2.0, 3.0, 4.0, 5.5, np.inf)
# A district whose 8th nearest training district is farther than this is "sparse": its
# neighbour features speak of places farther away.
SPARSE_KM = 10.0
SPARSE_K = 8


def errors(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    residual = predicted - actual
    return {
        "districts": int(len(actual)),
        "rmse": float(np.sqrt(np.mean(np.square(residual)))) if len(actual) else float("nan"),
        "mae": float(np.mean(np.abs(residual))) if len(actual) else float("nan"),
        "bias": float(np.mean(residual)) if len(actual) else float("nan"),
    }


def income_band(income: np.ndarray) -> np.ndarray:
    labels = np.array(
        [
            f"{low:g}-{high:g}" if np.isfinite(high) else f"{low:g}+"
            for low, high in zip(INCOME_BANDS[:-1], INCOME_BANDS[1:], strict=True)
        ]
    )
    return labels[np.digitize(income, INCOME_BANDS[1:-1])]


def km_to_training_neighbour(pipeline, X: pd.DataFrame, k: int = SPARSE_K) -> np.ndarray | None:
    """Each district's distance to its k-th nearest training district, or None for a pipeline
    without neighbour features."""
    numeric = pipeline.named_steps[PREPROCESS].named_transformers_[NUMERIC_BRANCH]
    step = numeric.named_steps.get(NEIGHBOURS)
    if step is None:
        return None
    d2, _ = nearest(cKDTree(step.xy_), project(X[list(NUMERIC)].to_numpy(np.float64)), k)
    return np.sqrt(d2[:, -1])


def by_group(actual: np.ndarray, predicted: np.ndarray, groups: np.ndarray) -> dict[str, dict]:
    return {
        str(g): errors(actual[groups == g], predicted[groups == g]) for g in sorted(set(groups))
    }


def breakdown(pipeline, X: pd.DataFrame, actual: np.ndarray, predicted: np.ndarray) -> dict:
    out = {
        "overall": errors(actual, predicted),
        "by_ocean_proximity": by_group(actual, predicted, X[CATEGORICAL].to_numpy(str)),
        "by_income_band": by_group(
            actual, predicted, income_band(X["median_income"].to_numpy(np.float64))
        ),
        "capped": by_group(
            actual, predicted, np.where(actual >= PRICE_CAP, "at the cap", "below the cap")
        ),
    }
    km = km_to_training_neighbour(pipeline, X)
    if km is not None:
        sparse = np.where(km > SPARSE_KM, f"sparse (> {SPARSE_KM:g} km)", "dense")
        out["by_density"] = by_group(actual, predicted, sparse)
    return out

"""Prediction intervals: split conformal prediction on out-of-fold relative residuals.

The train stage's cross-validation predicts every training district from a model that never saw
it; the residuals of those predictions, relative to the prediction ((actual - predicted) /
predicted), are what a new district's error looks like. Sorted, they are kept with the fitted
pipeline (`SCORES_ATTRIBUTE`), and an interval at level L takes the predicted price times one
plus their conformal quantiles at (1 - L) / 2 and (1 + L) / 2, with the finite-sample correction
of split conformal prediction (Vovk et al.; Angelopoulos & Bates, "A Gentle Introduction to
Conformal Prediction", 2021, section 1). So:

- relative, not absolute: the errors grow with the price, and a $60,000 district does not get the
  same ±$40,000 as a $400,000 one (narrower where prices are low, at the same coverage);
- two quantiles, not one of |residual|: the errors are skewed (capped prices, a floor at zero), and
  the interval follows them;
- no upper bound above the data's cap: the data never records more than $500,001.

What is served stays compiled: an interval is two lookups in the sorted residuals and two
multiplications per record. The coverage on the test split is in the model card.
"""

from __future__ import annotations

import math

import numpy as np

from housing.contract import INTERVAL_LEVELS, PRICE_CAP

RANK_NUDGE = 1e-9
# Where the pipeline keeps its calibration (a fitted attribute, saved by skops with the rest).
SCORES_ATTRIBUTE = "interval_scores_"


def relative_residuals(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The calibration: sorted (actual - predicted) / predicted of out-of-fold predictions."""
    actual, predicted = np.asarray(actual, np.float64), np.asarray(predicted, np.float64)
    if actual.shape != predicted.shape or not np.all(predicted > 0):
        raise ValueError("calibration needs one positive out-of-fold prediction per price")
    return np.sort((actual - predicted) / predicted)


def attach(pipeline, scores: np.ndarray) -> None:
    setattr(pipeline, SCORES_ATTRIBUTE, np.ascontiguousarray(scores, dtype=np.float64))


def scores_of(pipeline) -> np.ndarray | None:
    """The pipeline's calibration, or None for a model trained without one."""
    return getattr(pipeline, SCORES_ATTRIBUTE, None)


def factors(scores: np.ndarray, level: float) -> tuple[float, float]:
    """(low, high): the interval at `level` is prediction * (1 + low) to prediction * (1 + high).
    Split conformal's ranks: with n scores, the floor((n + 1) a / 2)-th smallest and the
    ceil((n + 1)(1 - a / 2))-th, a = 1 - level; past either end the bound is open."""
    low_level, high_level = INTERVAL_LEVELS
    if not low_level <= level <= high_level:
        raise ValueError(f"interval level {level} is outside [{low_level}, {high_level}]")
    n, alpha = len(scores), 1.0 - level
    # 1 - 0.8 is 0.19999999999999996 in binary: without the nudge, 100 * alpha / 2 floors to 9.
    low_rank = math.floor((n + 1) * alpha / 2 + RANK_NUDGE)
    high_rank = math.ceil((n + 1) * (1 - alpha / 2) - RANK_NUDGE)
    low = float(scores[low_rank - 1]) if low_rank >= 1 else -1.0
    high = float(scores[high_rank - 1]) if high_rank <= n else math.inf
    return max(low, -1.0), high


def bounds(predictions: np.ndarray, scores: np.ndarray, level: float) -> np.ndarray:
    """(n, 2) [low, high] per prediction: never below 0, and above the data's cap only as far as
    the prediction itself is."""
    low, high = factors(scores, level)
    out = np.empty((len(predictions), 2), dtype=np.float64)
    np.multiply(predictions, 1.0 + low, out=out[:, 0])
    np.multiply(predictions, 1.0 + high, out=out[:, 1])
    np.maximum(out[:, 0], 0.0, out=out[:, 0])
    np.minimum(out[:, 1], np.maximum(predictions, PRICE_CAP), out=out[:, 1])
    return out


# Up to this many predictions, `pairs` works in plain Python: a request's few numpy calls cost more
# than the arithmetic on a cold cache (`make bench`, the predictor with and without ?interval=).
FEW = 16


def pairs(predictions: np.ndarray, scores: np.ndarray, level: float) -> list[list[float]]:
    """`bounds` as JSON-ready [low, high] lists: the same numbers, cheaper for a request."""
    if len(predictions) > FEW:
        return bounds(predictions, scores, level).tolist()
    low, high = factors(scores, level)
    return [
        [max(p * (1.0 + low), 0.0), min(p * (1.0 + high), max(p, PRICE_CAP))]
        for p in predictions.tolist()
    ]

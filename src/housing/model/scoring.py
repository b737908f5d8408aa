"""How good a fitted pipeline is on a labelled CSV: the metrics the gate and the reports use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from housing.contract import PRICE_CAP
from housing.data.validate import read_raw
from housing.model import intervals
from housing.model.pipeline import split_xy

# A capped district's true price is unknown, which bounds every model's error; the RMSE below the
# cap (contract.PRICE_CAP) shows the rest.


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    mse = float(mean_squared_error(y_true, y_pred))
    below = y_true < PRICE_CAP
    return {
        "rmse": float(np.sqrt(mse)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "mse": mse,
        "r2": float(r2_score(y_true, y_pred)),
        "rmse_below_cap": float(np.sqrt(mean_squared_error(y_true[below], y_pred[below]))),
    }


# The interval levels every evaluation reports (coverage and mean width on the test split).
REPORTED_LEVELS = (0.8, 0.9)


def interval_metrics(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray) -> dict:
    """Per reported level: the share of true prices inside their interval, the mean width."""
    out = {}
    for level in REPORTED_LEVELS:
        low, high = intervals.bounds(y_pred, scores, level).T
        name = f"{round(level * 100)}"
        out[f"interval_{name}_coverage"] = float(np.mean((y_true >= low) & (y_true <= high)))
        out[f"interval_{name}_mean_width"] = float(np.mean(high - low))
    return out


def score(model, labelled_csv: Path) -> dict[str, float]:
    X, y = split_xy(read_raw(labelled_csv))
    predicted = model.predict(X)
    scores = intervals.scores_of(model)
    return {
        **metrics(y, predicted),
        **({} if scores is None else interval_metrics(y, predicted, scores)),
    }

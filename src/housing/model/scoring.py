"""How good a fitted pipeline is on a labelled CSV: the metrics the gate and the reports use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from housing.data.validate import read_raw
from housing.model.pipeline import split_xy


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    mse = float(mean_squared_error(y_true, y_pred))
    return {
        "rmse": float(np.sqrt(mse)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "mse": mse,
        "r2": float(r2_score(y_true, y_pred)),
    }


def score(model, labelled_csv: Path) -> dict[str, float]:
    X, y = split_xy(read_raw(labelled_csv))
    return metrics(y, model.predict(X))

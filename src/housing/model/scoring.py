"""How good a fitted pipeline is on a labelled CSV: the metrics the gate and the reports use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from housing.data.validate import read_raw
from housing.model.pipeline import split_xy

# The census capped prices here (about 5 % of districts): a capped district's true price is
# unknown, which bounds every model's error; the RMSE below the cap shows the rest.
PRICE_CAP = 500_001.0


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


def score(model, labelled_csv: Path) -> dict[str, float]:
    X, y = split_xy(read_raw(labelled_csv))
    return metrics(y, model.predict(X))

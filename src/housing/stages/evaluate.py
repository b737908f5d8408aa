"""Stage `evaluate`: metrics of a fitted pipeline on the test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from housing.data.validate import read_raw
from housing.model.pipeline import split_xy
from housing.stages.io import write_json
from housing.stages.train import load_model


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    error = y_pred - y_true
    mse = float(np.mean(error**2))
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(mse)),
        "mae": float(np.mean(np.abs(error))),
        "mse": mse,
        "r2": float(1.0 - np.sum(error**2) / total),
    }


def score(model, test_csv: Path) -> dict[str, float]:
    X, y = split_xy(read_raw(test_csv))
    return metrics(y, model.predict(X))


def run(model_dir: Path, test_csv: Path, metrics_file: Path) -> dict[str, float]:
    result = score(load_model(model_dir), test_csv)
    write_json(metrics_file, result)
    return result

"""Stage `train`: cross-validate the configuration on the train split, fit the pipeline on all of
it, calibrate its intervals on the cross-validation's out-of-fold residuals, and save it with
skops. The test split is not read here: it is scored once, by `evaluate`."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from housing.data.validate import read_raw
from housing.files import atomic_path, load_params, sha256_of, write_json
from housing.model import intervals, persist
from housing.model.pipeline import TrainParams, build_pipeline, fit, split_xy


def cross_validate(params: TrainParams, X, y) -> tuple[dict, np.ndarray | None]:
    """RMSE over `cv_folds` folds of the train split (the neighbour features are fitted inside
    each fold, as in the real fit): the figure configurations are chosen by. And the out-of-fold
    predictions, which calibrate the intervals (housing.model.intervals)."""
    if not params.cv_folds:
        return {}, None
    from sklearn.model_selection import KFold, cross_val_predict

    folds = KFold(params.cv_folds, shuffle=True, random_state=params.seed)
    predicted = cross_val_predict(build_pipeline(params), X, y, cv=folds)
    rmse = [
        float(np.sqrt(np.mean(np.square(predicted[rows] - y[rows])))) for _, rows in folds.split(X)
    ]
    return {"cv_rmse_mean": float(np.mean(rmse)), "cv_rmse_std": float(np.std(rmse))}, predicted


def run(train_csv: Path, out_dir: Path, params_file: Path, progress=None) -> dict:
    """Fit on the train split and save the model; `progress(done, total)`: see `fit`."""
    params = TrainParams.from_dict(load_params(params_file, "train"))
    X, y = split_xy(read_raw(train_csv))
    validated, out_of_fold = cross_validate(params, X, y)
    started = time.perf_counter()
    pipeline = fit(build_pipeline(params), X, y, params, progress)
    if out_of_fold is not None:
        intervals.attach(pipeline, intervals.relative_residuals(y, out_of_fold))
    info = {
        "fit_seconds": round(time.perf_counter() - started, 3),
        "train_rows": len(y),
        "train_sha256": sha256_of(train_csv),
        **validated,
    }
    with atomic_path(out_dir / persist.MODEL_FILE) as tmp:
        persist.save(pipeline, tmp)
    write_json(out_dir / persist.INFO_FILE, info)
    return info

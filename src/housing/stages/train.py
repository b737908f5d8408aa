"""Stage `train`: cross-validate the configuration on the train split, fit the pipeline on all of
it, and save it with skops. The test split is not read here: it is scored once, by `evaluate`."""

from __future__ import annotations

import time
from pathlib import Path

from housing.data.validate import read_raw
from housing.files import atomic_path, load_params, write_json
from housing.model import persist
from housing.model.pipeline import TrainParams, build_pipeline, fit, split_xy


def cross_validate(params: TrainParams, X, y) -> dict:
    """RMSE over `cv_folds` folds of the train split (the neighbour features are fitted inside
    each fold, as in the real fit): the figure configurations are chosen by."""
    if not params.cv_folds:
        return {}
    from sklearn.model_selection import KFold, cross_val_score

    folds = KFold(params.cv_folds, shuffle=True, random_state=params.seed)
    scores = -cross_val_score(
        build_pipeline(params), X, y, cv=folds, scoring="neg_root_mean_squared_error"
    )
    return {"cv_rmse_mean": float(scores.mean()), "cv_rmse_std": float(scores.std())}


def run(train_csv: Path, out_dir: Path, params_file: Path) -> dict:
    params = TrainParams.from_dict(load_params(params_file, "train"))
    X, y = split_xy(read_raw(train_csv))
    validated = cross_validate(params, X, y)
    started = time.perf_counter()
    pipeline = fit(build_pipeline(params), X, y, params)
    info = {
        "fit_seconds": round(time.perf_counter() - started, 3),
        "train_rows": len(y),
        **validated,
    }
    with atomic_path(out_dir / persist.MODEL_FILE) as tmp:
        persist.save(pipeline, tmp)
    write_json(out_dir / persist.INFO_FILE, info)
    return info

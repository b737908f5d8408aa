"""Stage `train`: fit the pipeline on the train split and save it with skops."""

from __future__ import annotations

import time
from pathlib import Path

from housing.data.validate import read_raw
from housing.files import atomic_path, load_params, write_json
from housing.model import persist
from housing.model.pipeline import TrainParams, build_pipeline, fit, split_xy


def run(train_csv: Path, out_dir: Path, params_file: Path) -> dict:
    params = TrainParams.from_dict(load_params(params_file, "train"))
    X, y = split_xy(read_raw(train_csv))
    started = time.perf_counter()
    pipeline = fit(build_pipeline(params), X, y, params)
    info = {"fit_seconds": round(time.perf_counter() - started, 3), "train_rows": len(y)}
    with atomic_path(out_dir / persist.MODEL_FILE) as tmp:
        persist.save(pipeline, tmp)
    write_json(out_dir / persist.INFO_FILE, info)
    return info

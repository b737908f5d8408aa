"""Stage `prepare`: validate the raw CSV and split it, stratified on income."""

from __future__ import annotations

from pathlib import Path

from housing.data.split import stratified_split
from housing.data.validate import read_raw
from housing.files import atomic_path, load_params


def run(raw: Path, out_dir: Path, params_file: Path) -> tuple[int, int]:
    params = load_params(params_file, "prepare")
    frame = read_raw(raw)
    train, test = stratified_split(frame, float(params["test_size"]), int(params["seed"]))
    for name, part in (("train", train), ("test", test)):
        with atomic_path(out_dir / f"{name}.csv") as tmp:
            part.to_csv(tmp, index=False)
    return len(train), len(test)

"""Stage `evaluate`: metrics of a fitted pipeline on the test split."""

from __future__ import annotations

from pathlib import Path

from housing.files import write_json
from housing.model.persist import load_model
from housing.model.scoring import score


def run(model_dir: Path, test_csv: Path, metrics_file: Path) -> dict[str, float]:
    result = score(load_model(model_dir), test_csv)
    write_json(metrics_file, result)
    return result

"""Stage `prepare`: validate the raw CSV and split it, stratified on income; with
`prepare.feedback`, add the live feedback (data/feedback/feedback.csv: `housing feedback export`,
then `dvc add`) to the training split.

The test split is always the raw data's own, so that every version is scored on the same rows
and stays comparable; feedback rows that repeat a test district (a caller may well send one)
are left out of training, which would otherwise have seen the answers it is scored on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from housing.contract import FEATURES
from housing.data.split import stratified_split
from housing.data.validate import read_raw
from housing.files import atomic_path, load_params


def _feedback_flag(params: dict) -> bool:
    value = params.get("feedback", False)
    if not isinstance(value, bool):
        raise ValueError(f"prepare.feedback must be true or false, got {json.dumps(value)}")
    return value


def read_feedback(feedback: Path, test: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The feedback rows fit for training, and how many repeated a test district."""
    if not feedback.is_file():
        raise FileNotFoundError(
            f"prepare.feedback is true but {feedback} is missing: write it with "
            f"`housing feedback export -o {feedback}`, then `dvc add {feedback}`"
        )
    rows = read_raw(feedback)
    key = list(FEATURES)
    seen = test[key].drop_duplicates()
    marked = rows.merge(seen, on=key, how="left", indicator=True)["_merge"].to_numpy()
    kept = rows[marked == "left_only"]
    return kept, len(rows) - len(kept)


def run(raw: Path, out_dir: Path, params_file: Path, feedback: Path | None = None) -> dict:
    """Writes train.csv and test.csv; returns the counts (train, test, feedback, left_out)."""
    params = load_params(params_file, "prepare")
    with_feedback = _feedback_flag(params)
    frame = read_raw(raw)
    train, test = stratified_split(frame, float(params["test_size"]), int(params["seed"]))
    counts = {"feedback": 0, "feedback_left_out": 0}
    if with_feedback:
        if feedback is None:
            raise ValueError("prepare.feedback is true: give the feedback file (--feedback)")
        rows, left_out = read_feedback(feedback, test)
        train = pd.concat([train, rows[train.columns]], ignore_index=True)
        counts = {"feedback": len(rows), "feedback_left_out": left_out}
    for name, part in (("train", train), ("test", test)):
        with atomic_path(out_dir / f"{name}.csv") as tmp:
            part.to_csv(tmp, index=False)
    return {"train": len(train), "test": len(test), **counts}

"""The monitor against a real prediction log (written by the predictors' own writer), the real
data set and the model as params.yaml trains it."""

from __future__ import annotations

import types
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import insert

from housing.contract import FEATURES, TARGET, HousingRecord
from housing.model.pipeline import split_xy
from housing.monitor import reference
from housing.monitor.references import ReferenceStore
from housing.monitor.run import run_pass
from housing.monitor.settings import MonitorSettings
from housing.predictions import store
from housing.predictions.settings import PredictionLogSettings
from housing.predictions.table import actuals
from housing.predictions.writer import PredictionLog

RUN_ID = "0123456789abcdef0123456789abcdef"


def model(version: str, run_id: str = RUN_ID):
    return types.SimpleNamespace(name="housing-price", version=version, run_id=run_id)


@pytest.fixture(scope="session")
def references_dir(tmp_path_factory, split, fitted) -> Path:
    """A reference of the fitted model, cached as a pass finds one it downloaded."""
    root = tmp_path_factory.mktemp("references")
    features, _ = split_xy(split[0])
    reference.save(reference.build(features, fitted, 5_000, "train-sha"), root / RUN_ID)
    return root


def records_of(frame: pd.DataFrame) -> list[HousingRecord]:
    rows = frame[list(FEATURES)].astype(object).where(frame[list(FEATURES)].notna(), None)
    return [HousingRecord(**row) for row in rows.to_dict("records")]


def log_traffic(url, frame, predictions, version="1", bounds=None, labelled=True, prefix="r"):
    """Log `frame`'s rows as answered requests of 50 records, and post their real prices back."""
    log = PredictionLog(PredictionLogSettings(url=url), CollectorRegistry(), "t")
    records = records_of(frame)
    ids = []
    for start in range(0, len(records), 50):
        rid = f"{prefix}{start}"
        part = slice(start, start + 50)
        log.record(
            rid,
            records[part],
            [float(p) for p in predictions[part]],
            None if bounds is None else 0.9,
            None if bounds is None else [tuple(b) for b in bounds[part]],
            model(version),
        )
        ids.extend((rid, index) for index in range(len(records[part])))
    assert log.flush() == len(records)
    log.stop()
    if labelled:
        now = datetime.now(UTC).replace(tzinfo=None)
        engine = store.connect(url)
        with engine.begin() as connection:
            connection.execute(
                insert(actuals),
                [
                    {"request_id": rid, "record_index": i, "actual": float(a), "recorded_at": now}
                    for (rid, i), a in zip(ids, frame[TARGET], strict=True)
                ],
            )
        engine.dispose()


def one_pass(url: str, state_dir: Path, references_dir: Path, **settings) -> dict:
    engine = store.connect(url)
    store.ensure_schema(engine)
    refs = ReferenceStore(references_dir, "unused:", None, 5_000)
    try:
        return run_pass(
            MonitorSettings(state_dir=state_dir, experiment="", **settings), engine, refs
        )
    finally:
        engine.dispose()


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))

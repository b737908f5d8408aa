"""The predictor's writer: what it writes, and what it does while the store is away."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import insert, select

from housing.contract import EXAMPLE_RECORD, FEATURES
from housing.predictions import store
from housing.predictions.settings import PredictionLogSettings
from housing.predictions.table import actuals, predictions
from housing.predictions.writer import PredictionLog
from tests.predictions.conftest import MODEL, fast, slow


def new_log(url: str, **settings) -> PredictionLog:
    return PredictionLog(PredictionLogSettings(url=url, **settings), CollectorRegistry(), "t")


def rows(url: str) -> list[dict]:
    engine = store.connect(url)
    store.ensure_schema(engine)
    query = select(predictions).order_by(predictions.c.request_id, predictions.c.record_index)
    with engine.connect() as connection:
        found = [dict(row._mapping) for row in connection.execute(query)]
    engine.dispose()
    return found


def test_each_record_is_written_with_what_was_answered(log_url):
    log = new_log(log_url)
    before = datetime.now(UTC).replace(tzinfo=None)
    log.record("a", [fast()], [123456.5], None, None, MODEL)
    batch = [fast(median_income=2.5), slow(total_bedrooms=None, ocean_proximity="INLAND")]
    log.record("b", batch, [1.5, 2.5], 0.9, [(1.0, 2.0), (3.0, 4.0)], MODEL)
    assert log.flush() == 3
    written = rows(log_url)
    assert [(r["request_id"], r["record_index"]) for r in written] == [("a", 0), ("b", 0), ("b", 1)]
    first, second, third = written
    assert {name: first[name] for name in FEATURES} == EXAMPLE_RECORD
    assert first["prediction"] == 123456.5
    assert (first["interval_level"], first["interval_low"], first["interval_high"]) == (None,) * 3
    assert (first["model_name"], first["model_version"], first["run_id"]) == (
        "housing-price",
        "3",
        "0123abcd",
    )
    assert before - timedelta(seconds=1) <= first["logged_at"] <= before + timedelta(seconds=5)
    assert second["median_income"] == 2.5
    assert (second["interval_level"], second["interval_low"], second["interval_high"]) == (
        0.9,
        1.0,
        2.0,
    )
    assert third["total_bedrooms"] is None and third["ocean_proximity"] == "INLAND"
    assert (third["prediction"], third["interval_low"], third["interval_high"]) == (2.5, 3.0, 4.0)
    assert log.written._value.get() == 3


def test_a_reused_request_id_keeps_the_first_request(log_url):
    log = new_log(log_url)
    log.record("same", [fast()], [1.0], None, None, MODEL)
    log.flush()
    log.record("same", [fast(), fast()], [2.0, 3.0], None, None, MODEL)
    log.flush()
    assert [(r["record_index"], r["prediction"]) for r in rows(log_url)] == [(0, 1.0), (1, 3.0)]


def test_store_down_keeps_the_buffer_drops_the_overflow_and_writes_when_back(tmp_path):
    missing = tmp_path / "not-yet"
    url = f"sqlite:///{missing / 'predictions.db'}"
    log = new_log(url, buffer_rows=5, connect_timeout_s=1)
    for i in range(3):
        log.record(f"r{i}", [fast()], [float(i)], None, None, MODEL)
    assert log.flush() == 0  # the folder does not exist: the write fails, the records stay
    assert log.failures._value.get() == 1
    log.record("r3", [fast(), fast()], [3.0, 3.5], None, None, MODEL)  # 5: the buffer is full
    log.record("r4", [fast()], [4.0], None, None, MODEL)  # dropped
    assert log.dropped._value.get() == 1
    missing.mkdir()
    assert log.flush() == 5
    assert [r["request_id"] for r in rows(url)] == ["r0", "r1", "r2", "r3", "r3"]
    assert log.dropped._value.get() == 1


def test_the_thread_writes_on_its_own_and_stop_writes_the_rest(log_url):
    log = new_log(log_url, flush_interval_s=0.05)
    log.start()
    log.record("early", [fast()], [1.0], None, None, MODEL)
    deadline = time.monotonic() + 10
    while not rows(log_url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r["request_id"] for r in rows(log_url)] == ["early"]
    log.settings.flush_interval_s = 60.0  # the next round is far off: only stop() writes now
    time.sleep(0.1)
    log.record("late", [fast()], [2.0], None, None, MODEL)
    log.stop()
    assert [r["request_id"] for r in rows(log_url)] == ["early", "late"]


def test_retention_deletes_old_rows_and_their_actuals(log_url):
    log = new_log(log_url, retention_days=30)
    log.record("new", [fast()], [1.0], None, None, MODEL)
    log.flush()
    old = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=31)
    engine = store.connect(log_url)
    row = {name: EXAMPLE_RECORD[name] for name in FEATURES}
    with engine.begin() as connection:
        connection.execute(
            insert(predictions),
            [
                {
                    **row,
                    "request_id": "old",
                    "record_index": 0,
                    "logged_at": old,
                    "prediction": 1.0,
                    "model_name": "m",
                    "model_version": "1",
                },
            ],
        )
        connection.execute(
            insert(actuals),
            [
                {"request_id": rid, "record_index": 0, "actual": 5.0, "recorded_at": old}
                for rid in ("old", "new")
            ],
        )
    assert log.prune() == 1
    assert [r["request_id"] for r in rows(log_url)] == ["new"]
    with engine.connect() as connection:
        assert [r.request_id for r in connection.execute(select(actuals))] == ["new"]
    engine.dispose()


def test_retention_zero_keeps_everything(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = new_log(url, retention_days=0)
    log.record("kept", [fast()], [1.0], None, None, MODEL)
    log.flush()
    assert log.prune() == 0
    assert len(rows(url)) == 1


def test_a_batch_being_written_still_counts_against_the_buffer(tmp_path):
    """A slow store (here: SQLite locked by another writer) holds the thread in a write; the
    records it took stay in memory and count, so the buffer never holds more than its size."""
    import sqlite3
    import threading

    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = new_log(url, buffer_rows=3, connect_timeout_s=1)
    log.record("first", [fast()], [1.0], None, None, MODEL)
    log.flush()  # creates the schema
    blocker = sqlite3.connect(tmp_path / "log.db")
    blocker.execute("BEGIN EXCLUSIVE")
    for i in range(3):
        log.record(f"r{i}", [fast()], [1.0], None, None, MODEL)
    writing = threading.Thread(target=log.flush)
    writing.start()
    time.sleep(0.3)  # the thread waits on the lock with three records in hand
    assert log.held() == 3
    log.record("r3", [fast()], [1.0], None, None, MODEL)
    assert log.dropped._value.get() == 1
    writing.join()  # the lock outlasts the store's timeout: the write fails, the records stay
    assert log.held() == 3 and log.failures._value.get() == 1
    blocker.rollback()
    blocker.close()
    assert log.flush() == 3 and log.held() == 0
    assert [r["request_id"] for r in rows(url)] == ["first", "r0", "r1", "r2"]

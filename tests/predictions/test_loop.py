"""The log on real processes: a prediction through the real gateway and predictor is in the log
with what the response said; its actual, posted back, is joined to it; the export has it."""

from __future__ import annotations

import csv
import subprocess
import sys
import time

import httpx
from sqlalchemy import select

from housing.contract import EXAMPLE_RECORD, FEATURES, RAW_COLUMNS, TARGET
from housing.predictions import store
from housing.predictions.table import predictions
from tests.conftest import GATEWAY_KEY

KEY = {"X-API-Key": GATEWAY_KEY}


def logged(url: str, request_id: str, timeout_s: float = 10.0) -> list[dict]:
    """The rows of `request_id`, once the predictor's writer has written them."""
    engine = store.connect(url)
    store.ensure_schema(engine)
    query = (
        select(predictions)
        .where(predictions.c.request_id == request_id)
        .order_by(predictions.c.record_index)
    )
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with engine.connect() as connection:
                rows = [dict(row._mapping) for row in connection.execute(query)]
            if rows or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)
    finally:
        engine.dispose()


def export(url: str, out) -> subprocess.CompletedProcess:
    """`housing feedback export -o out` on the log at `url`, as a person runs it."""
    return subprocess.run(
        [sys.executable, "-m", "housing", "feedback", "export", "-o", str(out)],
        env={"PREDICTION_LOG_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_prediction_is_logged_labelled_and_exported(gateway_url, predictor, tmp_path):
    cheaper = {**EXAMPLE_RECORD, "median_income": 2.0, "total_bedrooms": None}
    answer = httpx.post(
        gateway_url + "/predict?interval=0.8",
        json={"records": [EXAMPLE_RECORD, cheaper]},
        headers=KEY,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    said = answer.json()
    rows = logged(predictor["log_url"], said["request_id"])
    assert [row["record_index"] for row in rows] == [0, 1]
    for row, record, price, (low, high) in zip(
        rows, [EXAMPLE_RECORD, cheaper], said["predictions"], said["intervals"], strict=True
    ):
        assert {name: row[name] for name in FEATURES} == record
        assert (row["prediction"], row["interval_low"], row["interval_high"]) == (price, low, high)
        assert row["interval_level"] == 0.8
        assert (row["model_name"], row["model_version"]) == (
            said["model"]["name"],
            said["model"]["version"],
        )
        assert row["run_id"]

    posted = httpx.post(
        gateway_url + "/feedback",
        json={"request_id": said["request_id"], "actuals": [452_600.0, 150_000.0]},
        headers=KEY,
    )
    assert posted.status_code == 202, posted.text

    out = tmp_path / "feedback.csv"
    done = export(predictor["log_url"], out)
    assert done.returncode == 0, done.stderr
    with open(out, newline="") as fh:
        exported = list(csv.DictReader(fh))
    assert tuple(exported[0]) == RAW_COLUMNS
    mine = [row for row in exported if float(row["median_income"]) in (8.3252, 2.0)]
    assert [float(row[TARGET]) for row in mine][-2:] == [452_600.0, 150_000.0]
    assert mine[-1]["total_bedrooms"] == ""


def test_the_predictor_counts_what_it_wrote(predictor):
    answer = predictor["client"].post("/predict", json=EXAMPLE_RECORD)
    assert answer.status_code == 200
    rid = answer.json()["request_id"]
    assert rid and answer.headers["x-request-id"] == rid  # minted when the caller sent none
    assert logged(predictor["log_url"], rid)
    metrics = httpx.get(predictor["metrics"]).text
    written = [
        line for line in metrics.splitlines() if line.startswith("predictor_log_written_total")
    ]
    assert written and float(written[0].split()[-1]) >= 1
    assert "predictor_log_dropped_total 0.0" in metrics


def test_export_with_nothing_labelled_is_one_line_and_no_file(tmp_path):
    out = tmp_path / "feedback.csv"
    done = export(f"sqlite:///{tmp_path / 'empty.db'}", out)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "nothing to export" in done.stderr
    assert not out.exists()

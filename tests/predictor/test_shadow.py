"""The challenger in shadow, for real: a predictor with PREDICTOR_SHADOW_ALIAS=challenger against
a real MLflow answers with the champion only and logs the challenger's prices for the same
records; the monitor's pass compares the two on the labelled ones; `housing promote
--from-shadow` refuses when the challenger is not better, and promotes it when it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sqlalchemy import delete, insert, select

from housing.contract import EXAMPLE_RECORD, FEATURES
from housing.defaults import MODEL_SHA256_TAG
from housing.model import persist
from housing.predictions import store
from housing.predictions.table import actuals, predictions, shadow_predictions
from tests.conftest import PREDICTOR_MODEL as MODEL
from tests.support.apps import predictor_env, service

NAME = "housing-price-shadowed"
RECORDS = 240
BATCH = 40


@pytest.fixture(scope="module")
def aliases(registered):
    """NAME: v1 a copy of MODEL's champion (champion), v2 of its second version (challenger)."""
    client = MlflowClient(registered["server"].url)
    for alias, source_version in (
        ("champion", registered["first"]),
        ("challenger", registered["second"]),
    ):
        source = client.get_model_version(MODEL, source_version)
        copied = client.copy_model_version(f"models:/{MODEL}/{source_version}", NAME)
        tags = (MODEL_SHA256_TAG, source.tags[MODEL_SHA256_TAG])
        client.set_model_version_tag(NAME, str(copied.version), *tags)
        client.set_registered_model_alias(NAME, alias, str(copied.version))
    return {"client": client, "champion": "1", "challenger": "2"}


@pytest.fixture(scope="module")
def shadowed(registered, aliases, tmp_path_factory):
    work = tmp_path_factory.mktemp("shadow")
    env = predictor_env(
        registered["server"].url,
        NAME,
        work / "cache",
        PREDICTOR_SHADOW_ALIAS="challenger",
        PREDICTOR_SHADOW_FRACTION="1.0",
    )
    with service("predictor", env, work / "p.log", "/health/ready") as (url, proc, metrics):
        with httpx.Client(base_url=url, timeout=30) as client:
            deadline = time.monotonic() + 60
            while client.get("/model").json().get("shadow") is None:
                assert time.monotonic() < deadline, "the challenger never loaded in shadow"
                time.sleep(0.2)
            yield {"client": client, "log_url": env["PREDICTION_LOG_URL"], "work": work,
                   "metrics": metrics, "env": env}  # fmt: skip


@pytest.fixture(scope="module")
def answered(shadowed, split, registered):
    """RECORDS test districts sent in batches: the answers, and each model's own prices."""
    test = split[1].iloc[:RECORDS]
    frame = test[list(FEATURES)]
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    answers = []
    for start in range(0, RECORDS, BATCH):
        response = shadowed["client"].post(
            "/predict",
            json={"records": records[start : start + BATCH]},
            headers={"X-Request-ID": f"shadow-{start}"},
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    work = registered["work"]
    champion = persist.load_model(work / "trained").predict(frame)
    challenger = persist.load_model(work / "fewer-trees").predict(frame)
    return {"answers": answers, "champion": champion, "challenger": challenger,
            "actual": test["median_house_value"].to_numpy()}  # fmt: skip


def shadow_rows(engine, count: int, timeout_s: float = 30) -> pd.DataFrame:
    query = select(shadow_predictions).order_by(
        shadow_predictions.c.request_id, shadow_predictions.c.record_index
    )
    return rows_once_written(engine, query, count, timeout_s)


def rows_once_written(engine, query, count: int, timeout_s: float = 30) -> pd.DataFrame:
    """The query's rows once there are `count` (or at the deadline): the log's writers flush on
    their own cadence."""
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as connection:
            rows = pd.DataFrame(connection.execute(query).mappings().all())
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_the_answers_are_the_champions_and_the_challenger_is_logged_beside(shadowed, answered):
    answers = answered["answers"]
    assert {a["model"]["version"] for a in answers} == {"1"}
    served = np.concatenate([a["predictions"] for a in answers])
    np.testing.assert_allclose(served, answered["champion"], rtol=1e-6)
    assert not np.allclose(answered["champion"], answered["challenger"])  # two models, truly

    engine = store.connect(shadowed["log_url"])
    rows = shadow_rows(engine, RECORDS)
    assert len(rows) == RECORDS
    assert set(rows["model_version"]) == {"2"} and set(rows["model_name"]) == {NAME}
    ordered = rows.assign(start=rows["request_id"].str.removeprefix("shadow-").astype(int))
    ordered = ordered.sort_values(["start", "record_index"])
    np.testing.assert_allclose(ordered["prediction"], answered["challenger"], rtol=1e-6)
    logged = rows_once_written(engine, select(predictions.c.model_version), RECORDS)
    assert len(logged) == RECORDS and set(logged["model_version"]) == {"1"}  # the champion's
    engine.dispose()
    described = shadowed["client"].get("/model").json()
    assert described["version"] == "1" and described["shadow"]["version"] == "2"
    # Counted right after the rows are committed: read until it is (or 10 s).
    counted = f"predictor_shadow_scored_total {float(RECORDS)}"
    deadline = time.monotonic() + 10
    while counted not in (scored := httpx.get(shadowed["metrics"], timeout=10).text):
        assert time.monotonic() < deadline, scored[-2000:]
        time.sleep(0.1)


def label(log_url: str, truth: np.ndarray) -> None:
    """The records' actuals, replacing any posted before (as a caller's later feedback would)."""
    engine = store.connect(log_url)
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {
            "request_id": f"shadow-{start}",
            "record_index": i,
            "actual": float(truth[start + i]),
            "recorded_at": now,
        }  # fmt: skip
        for start in range(0, RECORDS, BATCH)
        for i in range(BATCH)
    ]
    with engine.begin() as connection:
        connection.execute(delete(actuals))
        connection.execute(insert(actuals), rows)
    engine.dispose()


def housing(shadowed, *args: str, **env) -> subprocess.CompletedProcess:
    """The CLI against this module's registry and log, with `env` set."""
    return subprocess.run(
        [sys.executable, "-m", "housing", *args],
        env={**os.environ, **shadowed["env"], "MONITOR_EXPERIMENT": "", **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def promote(shadowed, min_labelled: int) -> subprocess.CompletedProcess:
    return housing(
        shadowed,
        "promote",
        "--from-shadow",
        MONITOR_SHADOW_MIN_LABELLED=str(min_labelled),
    )


def test_the_monitor_compares_champion_and_challenger_on_the_same_labelled_records(
    shadowed, answered, registered, tmp_path
):
    shadow_rows(store.connect(shadowed["log_url"]), RECORDS)
    label(shadowed["log_url"], answered["actual"])
    done = housing(shadowed, "monitor", "run", "--json", MONITOR_STATE_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    pair = summary["shadow"]["2"]
    actual = answered["actual"]

    def rmse(predicted):
        return float(np.sqrt(np.mean((predicted - actual) ** 2)))

    assert pair["champion"] == "1" and pair["scored"] == RECORDS and pair["labelled"] == RECORDS
    assert pair["rmse"]["champion"] == pytest.approx(rmse(answered["champion"]), rel=1e-6)
    assert pair["rmse"]["challenger"] == pytest.approx(rmse(answered["challenger"]), rel=1e-6)
    print(f"\nshadow on {RECORDS} labelled test districts: {pair['rmse']}")


def test_promote_from_shadow_refuses_a_worse_challenger_and_promotes_a_better_one(
    shadowed, answered, aliases, registered
):
    client = aliases["client"]
    shadow_rows(store.connect(shadowed["log_url"]), RECORDS)
    # The truth as the champion priced it: the challenger can only be worse.
    label(shadowed["log_url"], answered["champion"])
    refused = promote(shadowed, 100)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "not promoted: not better by the margin" in refused.stderr, refused.stderr
    assert f"on {RECORDS} labelled live records" in refused.stderr
    assert client.get_model_version_by_alias(NAME, "champion").version in ("1", 1)

    # Too few labelled records decide nothing, whatever they say.
    label(shadowed["log_url"], answered["challenger"])
    few = promote(shadowed, RECORDS + 1)
    assert few.returncode == 1 and "MONITOR_SHADOW_MIN_LABELLED" in few.stderr, few.stderr

    # The truth as the challenger priced it: better by far more than the margin.
    promoted = promote(shadowed, 100)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert "champion is now v2" in promoted.stdout
    version = client.get_model_version(NAME, "2")
    assert client.get_model_version_by_alias(NAME, "champion").version in ("2", 2)
    assert version.tags["gate"].startswith("promoted: in shadow on 240 labelled live records")
    print(f"\n{refused.stderr.strip()}\n{promoted.stdout.strip()}")


def test_nothing_is_scored_in_shadow_while_the_challenger_is_the_champion(shadowed, answered):
    """After the promotion both aliases name v2: the answers are v2's, no shadow row is added."""
    client = shadowed["client"]
    deadline = time.monotonic() + 30
    while client.get("/model").json()["version"] != "2":
        assert time.monotonic() < deadline, "the promoted challenger was not served"
        time.sleep(0.2)
    # Promoted, it was taken from the shadow as it was loaded there: not downloaded again.
    assert client.get("/model").json()["source"] == "shadow"
    engine = store.connect(shadowed["log_url"])
    before = len(shadow_rows(engine, 0))
    response = client.post("/predict", json={"records": [EXAMPLE_RECORD] * 5})
    assert response.status_code == 200 and response.json()["model"]["version"] == "2"
    time.sleep(1.5)  # three of the scorer's rounds
    assert len(shadow_rows(engine, 0)) == before
    engine.dispose()

"""Retrain requests: what makes a pass ask for one, and the request's life on a real MLflow
registry (recorded once, kept while pending, settled by the trainer, quiet for the cooldown);
`housing retrain pending` as retrain.yml reads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from housing.monitor import retrain
from housing.monitor.settings import MonitorSettings

SETTINGS = MonitorSettings(retrain_rmse_usd=60_000, retrain_min_labelled=100)


def summary(rmse: float | None, labelled: int, drifted: tuple[str, ...] = ()) -> dict:
    fields = ("median_income", "longitude", "housing_median_age")
    return {
        "served": {"version": "3", "run_id": "r", "predictions": 500},
        "models": {"3": {"predictions": 500, "labelled": labelled, "rmse": rmse}},
        "drift": {field: {"score": 0.5, "drifted": field in drifted} for field in fields},
    }


def test_a_pass_asks_for_a_retrain_on_a_high_live_rmse_or_a_drifted_field():
    assert retrain.reasons(summary(40_000, 500), SETTINGS) == []
    assert retrain.reasons(summary(90_000, 99), SETTINGS) == []  # too few labelled to tell
    assert retrain.reasons(summary(90_000, 100), SETTINGS) == [
        "v3's live RMSE 90,000 USD on 100 labelled predictions is above 60,000 "
        "(MONITOR_RETRAIN_RMSE_USD)"
    ]
    drifted = summary(None, 0, ("median_income", "longitude"))
    assert retrain.reasons(drifted, SETTINGS) == [
        "inputs drifted from v3's training data: longitude, median_income"
    ]
    quiet = SETTINGS.model_copy(update={"retrain_on_drift": False})
    assert retrain.reasons(drifted, quiet) == []
    assert retrain.reasons({"served": None, "models": {}, "drift": {}}, SETTINGS) == []


@pytest.fixture()
def model(mlflow_server, request):
    client = MlflowClient(mlflow_server.url)
    name = f"housing-price-retrain-{request.node.name[-20:]}"
    client.create_registered_model(name)
    yield client, name
    client.delete_registered_model(name)


def test_a_request_is_recorded_once_settled_by_the_trainer_then_quiet_for_the_cooldown(model):
    client, name = model
    why = ["inputs drifted from v3's training data: median_income"]
    assert retrain.request(client, name, why, "3", cooldown_hours=24)
    first = retrain.pending(client, name)
    assert first["reasons"] == why and first["version"] == "3"
    # Pending: a later pass keeps the first request (its time and reasons).
    assert not retrain.request(client, name, ["other"], "3", cooldown_hours=24)
    assert retrain.pending(client, name) == first
    retrain.settle(client, name, first, {"version": "4", "promoted": True, "reason": "better"})
    assert retrain.pending(client, name) is None
    outcome = json.loads(client.get_registered_model(name).tags[retrain.OUTCOME_TAG])
    assert outcome["request"] == first and outcome["version"] == "4" and outcome["at"]
    assert not retrain.request(client, name, why, "4", cooldown_hours=24)  # just acted on
    assert retrain.pending(client, name) is None
    assert retrain.request(client, name, why, "4", cooldown_hours=0)


def test_retrain_pending_exits_0_with_the_request_and_1_without(model, mlflow_server):
    client, name = model
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.url, "HOUSING_MODEL_NAME": name}

    def pending() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "housing", "retrain", "pending"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    none = pending()
    assert none.returncode == 1
    assert none.stderr.strip() == f"error: no retrain request is pending on {name}"
    retrain.request(client, name, ["live RMSE too high"], "2", cooldown_hours=0)
    found = pending()
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["reasons"] == ["live RMSE too high"]


def test_retrain_pending_exits_2_when_the_registry_cannot_be_asked(tmp_path):
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
        "HOUSING_TRACKING_TIMEOUT_S": "2",
    }
    done = subprocess.run(
        [sys.executable, "-m", "housing", "retrain", "pending"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1


def test_no_request_is_pending_on_a_model_not_registered_yet(mlflow_server):
    assert (
        retrain.pending(MlflowClient(mlflow_server.url), "housing-price-never-registered") is None
    )

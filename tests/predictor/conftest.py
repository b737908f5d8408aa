"""A real MLflow server with a registered champion, and a real predictor process serving it."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import retrain
from tests.support.apps import predictor_env, service

MODEL = "housing-price-predictor"


@pytest.fixture(scope="session")
def registered(mlflow_server, stage_inputs):
    """Version 1 of MODEL, registered and champion, plus a second, better version (not champion)."""
    from housing.settings import TrainingSettings
    from housing.stages import evaluate, register

    def register_dir(model_dir: str, params) -> dict:
        metrics_file = stage_inputs / f"p-{model_dir}.json"
        evaluate.run(stage_inputs / model_dir, stage_inputs / "prepared/test.csv", metrics_file)
        settings = TrainingSettings(
            MLFLOW_TRACKING_URI=mlflow_server.url,
            HOUSING_MODEL_NAME=MODEL,
            MLFLOW_EXPERIMENT_NAME="predictor",
        )
        return register.run(
            settings,
            stage_inputs / "housing.csv",
            stage_inputs / model_dir,
            stage_inputs / "prepared/train.csv",
            stage_inputs / "prepared/test.csv",
            metrics_file,
            params,
            stage_inputs / f"p-{model_dir}-reg.json",
        )

    first = register_dir("trained", stage_inputs / "params.yaml")
    # A second version, registered but not champion: the swap test moves the alias to it by hand.
    other_params = retrain(stage_inputs, "fewer-trees", max_iter=300)
    second = register_dir("fewer-trees", other_params)
    assert first["promoted"] and not second["promoted"]
    return {
        "server": mlflow_server,
        "first": first["version"],
        "second": second["version"],
        "work": stage_inputs,
    }


@pytest.fixture(scope="session")
def predictor(registered, tmp_path_factory):
    """A predictor serving MODEL, with small limits so that the limit tests stay cheap."""
    cache = tmp_path_factory.mktemp("predictor-cache")
    env = predictor_env(
        registered["server"].url,
        MODEL,
        cache,
        PREDICTOR_MAX_RECORDS=50,
        PREDICTOR_MAX_BODY_BYTES=65536,
    )
    log = tmp_path_factory.mktemp("logs") / "predictor.log"
    with service("predictor", env, log, ready_path="/health/ready") as (url, proc):
        with httpx.Client(base_url=url, timeout=30) as client:
            yield {"url": url, "client": client, "cache": cache, "log": log, "proc": proc}

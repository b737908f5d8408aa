"""Each service's settings read the documented variables (prefix or MLflow's own name)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.settings import GatewaySettings
from housing import defaults
from housing.settings import TrainingSettings
from predictor.settings import PredictorSettings
from trainer.settings import TrainerSettings

KEY = "env-key-0123456789abcdef"


OURS = ("HOUSING_", "PREDICTOR_", "GATEWAY_", "TRAINER_", "TRAIN_PARAMS", "MLFLOW_")


@pytest.fixture
def env(monkeypatch):
    """Set these variables, with none of ours (or MLflow's) left from elsewhere in the run."""
    for name in [n for n in os.environ if n.startswith(OURS)]:
        monkeypatch.delenv(name)

    def setenv(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))

    return setenv


def test_defaults_come_from_housing_defaults(env):
    env(GATEWAY_API_KEYS=KEY)
    gateway, predictor, training = GatewaySettings(), PredictorSettings(), TrainingSettings()
    assert gateway.port == defaults.GATEWAY_PORT and predictor.port == defaults.PREDICTOR_PORT
    assert gateway.predictor_urls == [f"http://127.0.0.1:{defaults.PREDICTOR_PORT}"]
    assert predictor.model_name == training.model_name == defaults.MODEL_NAME
    assert predictor.tracking_uri == training.tracking_uri == defaults.LOCAL_TRACKING_URI
    assert gateway.max_body_bytes == predictor.max_body_bytes == defaults.MAX_BODY_BYTES
    assert gateway.max_records == predictor.max_records == defaults.MAX_RECORDS
    assert predictor.model_alias == defaults.CHAMPION_ALIAS


def test_gateway_reads_its_variables(env):
    env(
        GATEWAY_API_KEYS=f"{KEY},other-key-0123456789abcdef",
        PREDICTOR_URLS="http://a:1/, http://b:2",
        GATEWAY_RATE_PER_S=7,
        GATEWAY_RATE_BURST=9,
        GATEWAY_RESOLVE_REPLICAS="true",
        GATEWAY_PORT=9000,
    )
    s = GatewaySettings()
    assert s.keys() == [KEY, "other-key-0123456789abcdef"]
    assert s.predictor_urls == ["http://a:1", "http://b:2"]
    assert (s.rate_per_s, s.rate_burst, s.resolve_replicas, s.port) == (7, 9, True, 9000)


def test_predictor_and_training_read_theirs(env):
    env(
        MLFLOW_TRACKING_URI="http://mlflow:1",
        HOUSING_MODEL_NAME="m",
        PREDICTOR_MODEL_ALIAS="challenger",
        PREDICTOR_POLL_INTERVAL_S=2,
        PREDICTOR_CACHE_DIR="/c",
        HOUSING_DATA_URL="file:///d.csv",
        HOUSING_TRACKING_TIMEOUT_S=3,
        MLFLOW_EXPERIMENT_NAME="e",
    )
    p, t = PredictorSettings(), TrainingSettings()
    assert (p.tracking_uri, p.model_name, p.model_alias) == ("http://mlflow:1", "m", "challenger")
    assert (p.poll_interval_s, p.cache_dir) == (2, Path("/c"))
    assert (t.tracking_uri, t.model_name, t.data_url) == ("http://mlflow:1", "m", "file:///d.csv")
    assert (t.tracking_timeout_s, t.experiment) == (3, "e")


def test_trainer_reads_its_variables(env):
    env(TRAIN_PARAMS="train.max_iter=5", TRAINER_FORCE="true", TRAINER_DVC_REMOTE="r")
    s = TrainerSettings()
    assert (s.train_params, s.force, s.dvc_remote) == ("train.max_iter=5", True, "r")

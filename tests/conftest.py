"""Shared fixtures: the real data set, a trained pipeline, and the backing servers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from housing.data.fetch import fetch, sha256_of
from housing.defaults import DATA_SHA256
from tests.support.apps import predictor_env, service

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def raw_csv(tmp_path_factory) -> Path:
    """The real data set: the fetched copy, else fetched from ../shared (never the web)."""
    local = ROOT / "data/raw/housing.csv"
    if local.is_file() and sha256_of(local) == DATA_SHA256:
        return local
    url = (
        os.environ.get("HOUSING_TEST_DATA_URL")
        or (ROOT.parent / "shared/data/housing.csv").as_uri()
    )
    return fetch(url, tmp_path_factory.mktemp("data") / "housing.csv", DATA_SHA256)


@pytest.fixture(scope="session")
def raw_frame(raw_csv):
    from housing.data.validate import read_raw

    return read_raw(raw_csv)


@pytest.fixture(scope="session")
def split(raw_frame):
    from housing.data.split import stratified_split

    return stratified_split(raw_frame, test_size=0.2, seed=42)


@pytest.fixture(scope="session")
def fitted(split):
    """The pipeline as params.yaml trains it."""
    import yaml

    from housing.model.pipeline import TrainParams, build_pipeline, fit, split_xy

    params = TrainParams.from_dict(yaml.safe_load((ROOT / "params.yaml").read_text())["train"])
    X, y = split_xy(split[0])
    return fit(build_pipeline(params), X, y, params)


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def postgres_uri():
    from tests.support.services import postgres

    with postgres() as uri:
        yield uri


@pytest.fixture(scope="session")
def predictions_pg_url(postgres_uri):
    """A database of its own for the prediction log, on the suite's PostgreSQL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(postgres_uri, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("CREATE DATABASE predictions"))
    engine.dispose()
    return make_url(postgres_uri).set(database="predictions").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def s3_endpoint(services_dir):
    from tests.support.services import moto_s3

    with moto_s3(services_dir) as url:
        yield url


@pytest.fixture(scope="session")
def mlflow_server(services_dir, postgres_uri, s3_endpoint):
    from tests.support.services import mlflow_server

    with mlflow_server(services_dir, postgres_uri, s3_endpoint) as server:
        yield server


@pytest.fixture(scope="session")
def stage_inputs(tmp_path_factory, raw_csv):
    """prepare and train run once (small params for speed); each test registers from here."""
    import yaml

    from housing.stages import prepare, train

    work = tmp_path_factory.mktemp("stages")
    shutil.copy(raw_csv, work / "housing.csv")
    # Fewer trees than params.yaml's, for speed: these tests are about registering and serving;
    # `fitted` is the model as params.yaml trains it.
    config = yaml.safe_load((ROOT / "params.yaml").read_text())
    config["train"]["max_iter"] = STAGE_TREES
    params = work / "params.yaml"
    params.write_text(yaml.safe_dump(config))
    prepare.run(work / "housing.csv", work / "prepared", params)
    train.run(work / "prepared/train.csv", work / "trained", params)
    return work


def retrain(work: Path, name: str, **train_params) -> Path:
    """Train a variant of the model into work/<name> with some parameters changed."""
    import yaml

    from housing.stages import train

    params = yaml.safe_load((work / "params.yaml").read_text())
    params["train"].update(train_params)
    params_file = work / f"{name}.yaml"
    params_file.write_text(yaml.safe_dump(params))
    train.run(work / "prepared/train.csv", work / name, params_file)
    return params_file


STAGE_TREES = 200  # stage_inputs' model: fewer than half of params.yaml's trees
PREDICTOR_MODEL = "housing-price-predictor"
GATEWAY_KEY = "wire-key-0123456789abcdef"


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
            HOUSING_MODEL_NAME=PREDICTOR_MODEL,
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
    other_params = retrain(stage_inputs, "fewer-trees", max_iter=STAGE_TREES // 3)
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
        PREDICTOR_MODEL,
        cache,
        PREDICTOR_MAX_RECORDS=50,
        PREDICTOR_MAX_BODY_BYTES=65536,
    )
    log = tmp_path_factory.mktemp("logs") / "predictor.log"
    with service("predictor", env, log, ready_path="/health/ready") as (url, proc, metrics):
        with httpx.Client(base_url=url, timeout=30) as client:
            yield {
                "log_url": env["PREDICTION_LOG_URL"],
                "url": url,
                "client": client,
                "cache": cache,
                "log": log,
                "proc": proc,
                "metrics": metrics,
            }


@pytest.fixture(scope="session")
def gateway_url(predictor, tmp_path_factory):
    """A real gateway process in front of the real predictor."""
    env = {
        "PREDICTOR_URLS": predictor["url"],
        "GATEWAY_API_KEYS": GATEWAY_KEY,
        "PREDICTION_LOG_URL": predictor["log_url"],  # /feedback: the predictor's own log
    }
    log = tmp_path_factory.mktemp("gw") / "gateway.log"
    with service("gateway", env, log, "/health/ready", port_var="GATEWAY_PORT") as (url, _, _):
        yield url

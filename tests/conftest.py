"""Shared fixtures: the real data set, a trained pipeline, and the backing servers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from housing.data.fetch import fetch, sha256_of
from housing.settings import DATA_SHA256

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
    from housing.stages import prepare, train

    work = tmp_path_factory.mktemp("stages")
    shutil.copy(raw_csv, work / "housing.csv")
    params = work / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text())
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

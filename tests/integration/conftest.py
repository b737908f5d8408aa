"""Integration fixtures: a real MLflow server (PostgreSQL store, S3 artifacts) and stage inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT


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

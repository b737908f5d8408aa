"""`dvc repro` runs the whole pipeline offline, a second run does nothing; push/pull via S3."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from housing.defaults import DATA_SHA256
from housing.files import sha256_of
from housing.stages.register import MODEL_CARD_PATH
from tests.conftest import ROOT
from tests.support.services import S3_KEYS, make_bucket

BIN = str(Path(sys.executable).parent)


@pytest.fixture(scope="module")
def project(tmp_path_factory, raw_csv):
    """A fresh copy of the project's pipeline files in its own git repository."""
    work = tmp_path_factory.mktemp("project")
    for item in (
        "dvc.yaml",
        ".dvcignore",
        "src",
        ".dvc/config",
        "data/raw/housing.csv.dvc",
        "data/raw/.gitignore",
    ):
        source, target = ROOT / item, work / item
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["max_iter"] = 60  # the pipeline's mechanics, not its quality, are tested here
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copy(raw_csv, work / "data/raw/housing.csv")
    run(work, "git", "init", "-q")
    return work


def run(cwd: Path, *cmd: str, env: dict | None = None) -> str:
    full_env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{cwd}/mlflow.db",
        **(env or {}),
    }
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=full_env)
    assert result.returncode == 0, f"{cmd}: {result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def test_repro_runs_every_stage_then_nothing(project):
    first = run(project, "dvc", "repro")
    for stage in ("prepare", "train", "evaluate", "report", "register"):
        assert f"Running stage '{stage}'" in first
    metrics = json.loads((project / "metrics/test.json").read_text())
    intervals = {f"interval_{n}_{m}" for n in (80, 90) for m in ("coverage", "mean_width")}
    assert set(metrics) == {"rmse", "mae", "mse", "r2", "rmse_below_cap", *intervals}
    card = (project / "reports/model_card.md").read_text()
    assert f"| {metrics['rmse']:,.0f} | {metrics['mae']:,.0f} |" in card
    registration = json.loads((project / "models/registration.json").read_text())
    assert registration["promoted"] and str(registration["version"]) == "1"
    client = MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")
    logged = {a.path for a in client.list_artifacts(registration["run_id"], MODEL_CARD_PATH)}
    assert f"{MODEL_CARD_PATH}/model_card.md" in logged and len(logged) >= 5
    second = run(project, "dvc", "repro")
    assert "Running stage" not in second and "up to date" in second


def test_changed_train_param_reruns_only_downstream(project):
    run(project, "dvc", "repro")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["max_iter"] = 40
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    out = run(project, "dvc", "repro")
    assert "Running stage 'prepare'" not in out and "Running stage 'train'" in out
    registration = json.loads((project / "models/registration.json").read_text())
    assert (
        str(registration["version"]) == "2" and not registration["promoted"]
    )  # fewer trees: worse


def test_push_and_pull_raw_data_through_s3(project, s3_endpoint):
    make_bucket(s3_endpoint, "dvc-it")
    env = {**S3_KEYS}
    run(project, "dvc", "remote", "add", "--local", "-f", "-d", "it", "s3://dvc-it/housing")
    run(project, "dvc", "remote", "modify", "--local", "it", "endpointurl", s3_endpoint)
    run(project, "dvc", "push", "data/raw/housing.csv.dvc", env=env)
    (project / "data/raw/housing.csv").unlink()
    shutil.rmtree(project / ".dvc/cache")
    run(project, "dvc", "pull", "data/raw/housing.csv.dvc", env=env)
    assert sha256_of(project / "data/raw/housing.csv") == DATA_SHA256

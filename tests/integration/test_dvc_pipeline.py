"""`dvc repro` runs the whole pipeline offline, a second run does nothing; push/pull via S3."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from housing.contract import FEATURES, TARGET
from housing.defaults import DATA_SHA256
from housing.files import sha256_of
from housing.stages.register import MODEL_CARD_PATH
from housing.tracking.lineage import dvc_md5
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
        "data/feedback/README.md",
        "data/feedback/.gitignore",
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


def test_a_retrain_on_raw_data_and_feedback_names_both_and_keeps_the_test_split(project):
    """prepare.feedback: the feedback file (DVC-tracked) joins the training split, less the rows
    that repeat a test district; the test split is the raw data's as before; the registered run
    names both data sets. The feedback here is made up: raw districts with another price."""
    run(project, "dvc", "repro")
    test_csv, train_csv = project / "data/prepared/test.csv", project / "data/prepared/train.csv"
    test_before, train_before = sha256_of(test_csv), len(pd.read_csv(train_csv))
    feedback = pd.read_csv(project / "data/raw/housing.csv").sample(300, random_state=3)
    feedback[TARGET] = (feedback[TARGET] * 1.1).clip(upper=500_001).round()
    feedback_csv = project / "data/feedback/feedback.csv"
    feedback.to_csv(feedback_csv, index=False)
    run(project, "dvc", "add", "data/feedback/feedback.csv")
    params_file = project / "params.yaml"
    kept_params = params_file.read_text()
    params = yaml.safe_load(kept_params)
    params["prepare"]["feedback"] = True
    params_file.write_text(yaml.safe_dump(params))
    try:
        out = run(project, "dvc", "repro")
        assert "Running stage 'prepare'" in out and "Running stage 'register'" in out
        assert sha256_of(test_csv) == test_before
        test = pd.read_csv(test_csv)
        in_test = len(feedback.merge(test[list(FEATURES)].drop_duplicates(), on=list(FEATURES)))
        assert 0 < in_test < len(feedback)  # both kinds are there
        assert len(pd.read_csv(train_csv)) == train_before + len(feedback) - in_test
        registration = json.loads((project / "models/registration.json").read_text())
        tags = MlflowClient(f"sqlite:///{project}/mlflow.db").get_run(registration["run_id"])
        tags = tags.data.tags
        assert tags["data.raw_sha256"] == DATA_SHA256
        assert tags["data.feedback_sha256"] == sha256_of(feedback_csv)
        assert tags["data.feedback_dvc_md5"] == dvc_md5(feedback_csv)
        print(f"\nretrained on raw + {len(feedback) - in_test} feedback rows ({in_test} left out)")
    finally:
        params_file.write_text(kept_params)

"""Training against a real tracking server: PostgreSQL store, artifacts on an S3 API."""

from __future__ import annotations

import time
from importlib.metadata import version
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from housing.settings import TrainingSettings
from housing.stages import evaluate, register
from housing.tracking.registry import CHALLENGER, CHAMPION, version_by_alias
from housing.tracking.server import TrackingUnavailable
from tests.conftest import ROOT, STAGE_TREES, retrain
from tests.support.procs import free_port

MODEL = "housing-price-it"


def settings_for(uri: str) -> TrainingSettings:
    return TrainingSettings(
        MLFLOW_TRACKING_URI=uri,
        HOUSING_MODEL_NAME=MODEL,
        MLFLOW_EXPERIMENT_NAME="it",
        HOUSING_TRACKING_TIMEOUT_S=2,
    )


def register_variant(server, work, model_dir, params_file):
    metrics = evaluate.run(work / model_dir, work / "prepared/test.csv", work / f"{model_dir}.json")
    result = register.run(
        settings_for(server.url),
        work / "housing.csv",
        work / model_dir,
        work / "prepared/train.csv",
        work / "prepared/test.csv",
        work / f"{model_dir}.json",
        params_file,
        work / f"{model_dir}-registration.json",
    )
    return metrics, result


@pytest.fixture(scope="module")
def first(mlflow_server, stage_inputs):
    return register_variant(mlflow_server, stage_inputs, "trained", stage_inputs / "params.yaml")


def test_first_model_becomes_champion_and_loads_from_the_server(mlflow_server, stage_inputs, first):
    metrics, result = first
    assert result["promoted"] and result["champion_version"] == result["version"]
    mlflow.set_tracking_uri(mlflow_server.url)
    model = mlflow.sklearn.load_model(f"models:/{MODEL}@{CHAMPION}")
    score = evaluate.score(model, stage_inputs / "prepared/test.csv")
    assert score["rmse"] == pytest.approx(metrics["rmse"], rel=1e-9)


def test_run_has_metrics_params_lineage_and_model(mlflow_server, first):
    _, result = first
    run = MlflowClient(mlflow_server.url).get_run(result["run_id"])
    assert {"rmse", "mae", "mse", "r2", "rmse_below_cap"} <= set(run.data.metrics)
    # the cross-validation on train that chose the configuration, beside the test figures
    assert {"cv_rmse_mean", "cv_rmse_std"} <= set(run.data.metrics)
    assert run.data.metrics["cv_rmse_std"] > 0
    assert run.data.params["train.max_iter"] == str(STAGE_TREES)
    for tag in ("data.raw_sha256", "data.raw_dvc_md5", "data.test_sha256", "git.commit"):
        assert run.data.tags[tag], tag
    model_info = mlflow.models.get_model_info(f"models:/{MODEL}/{result['version']}")
    assert model_info.signature is not None
    assert [i.name for i in model_info.signature.inputs.inputs][-1] == "ocean_proximity"
    # What loading it needs, pinned, and nothing the registering process happened to import.
    stored = mlflow.artifacts.download_artifacts(f"models:/{MODEL}/{result['version']}")
    required = (Path(stored) / "requirements.txt").read_text().split()
    assert required == [f"{name}=={version(name)}" for name in register.MODEL_DISTRIBUTIONS]
    assert f"scikit-learn=={version('scikit-learn')}" in required
    assert not [line for line in required if line.startswith(("pytest", "rich", "psutil"))]


def test_worse_model_never_moves_champion(mlflow_server, stage_inputs, first):
    params = retrain(stage_inputs, "worse", max_iter=20)
    metrics, result = register_variant(mlflow_server, stage_inputs, "worse", params)
    assert metrics["rmse"] > first[0]["rmse"]
    assert not result["promoted"]
    client = MlflowClient(mlflow_server.url)
    assert version_by_alias(client, MODEL, CHAMPION).version == first[1]["version"]
    assert version_by_alias(client, MODEL, CHALLENGER).version == result["version"]


def test_better_model_takes_champion(mlflow_server, stage_inputs, first):
    # params.yaml's own number of trees: the model as the pipeline trains it
    trees = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]["max_iter"]
    params = retrain(stage_inputs, "better", max_iter=trees)
    metrics, result = register_variant(mlflow_server, stage_inputs, "better", params)
    assert metrics["rmse"] < first[0]["rmse"]
    assert result["promoted"]
    client = MlflowClient(mlflow_server.url)
    assert version_by_alias(client, MODEL, CHAMPION).version == result["version"]


def test_unreachable_server_fails_fast_and_registers_nothing(mlflow_server, stage_inputs, first):
    client = MlflowClient(mlflow_server.url)
    before = len(client.search_model_versions(f"name='{MODEL}'"))
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingUnavailable, match="cannot reach the MLflow tracking server"):
        register_variant(
            type("S", (), {"url": dead}), stage_inputs, "trained", stage_inputs / "params.yaml"
        )
    assert time.monotonic() - started < 10
    assert len(client.search_model_versions(f"name='{MODEL}'")) == before


def test_promote_by_hand_records_the_reason(mlflow_server, first):
    import subprocess
    import sys

    client = MlflowClient(mlflow_server.url)
    target = first[1]["version"]
    env = {
        "MLFLOW_TRACKING_URI": mlflow_server.url,
        "HOUSING_MODEL_NAME": MODEL,
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "housing", "promote", target, "--reason", "rollback drill"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert version_by_alias(client, MODEL, CHAMPION).version == target
    tag = client.get_model_version(MODEL, target).tags["gate"]
    assert "by hand" in tag and "rollback drill" in tag
    refused = subprocess.run(
        [sys.executable, "-m", "housing", "promote", "999", "--reason", "typo"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1


class Trap:
    """Unpickling this touches a file: proof that a pickle from the registry ran code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))

    def predict(self, X):  # pragma: no cover - never reached when the trap is refused
        return [0.0] * len(X)


def test_the_gate_never_unpickles_a_champion(mlflow_server, stage_inputs, first, tmp_path):
    """A champion written as pickle (by anyone who can write to the registry) is refused when the
    gate has to score it again, and its code never runs."""
    name = "housing-price-pickled"
    marker = tmp_path / "pickle-ran"
    mlflow.set_tracking_uri(mlflow_server.url)
    with mlflow.start_run():
        logged = mlflow.sklearn.log_model(
            Trap(marker), name="model", serialization_format="cloudpickle"
        )
    trap = mlflow.register_model(logged.model_uri, name)
    client = MlflowClient(mlflow_server.url)
    client.set_registered_model_alias(name, CHAMPION, trap.version)
    marker.unlink(missing_ok=True)  # logging may load the model back once: only the gate counts
    settings = settings_for(mlflow_server.url).model_copy(update={"model_name": name})
    work = stage_inputs
    with pytest.raises(FileNotFoundError, match="no .skops model file"):
        register.run(
            settings,
            work / "housing.csv",
            work / "trained",
            work / "prepared/train.csv",
            work / "prepared/test.csv",
            work / "trained.json",
            work / "params.yaml",
            tmp_path / "registration.json",
        )
    assert not marker.exists()
    assert version_by_alias(client, name, CHAMPION).version == trap.version


def test_the_gate_does_not_promote_when_the_champion_moves_while_it_decides(mlflow_server, first):
    """Two trainers at once: the other one's promotion lands while this gate re-scores."""
    from housing.tracking.registry import apply_gate

    mlflow.set_tracking_uri(mlflow_server.url)
    client = MlflowClient(mlflow_server.url)
    name = "housing-price-race"
    source = f"models:/{MODEL}/{first[1]['version']}"
    versions = [str(mlflow.register_model(source, name).version) for _ in range(3)]
    client.set_registered_model_alias(name, CHAMPION, versions[0])

    def rescore_while_a_rival_promotes(uri: str) -> float:
        client.set_registered_model_alias(name, CHAMPION, versions[1])
        return 1e12  # whatever this gate thinks, it must not overwrite the rival's promotion

    decision = apply_gate(
        client, name, versions[2], 1.0, "another-split", rescore_while_a_rival_promotes
    )
    assert not decision.promoted and "moved to v" in decision.reason, decision
    assert version_by_alias(client, name, CHAMPION).version == versions[1]
    assert "moved" in client.get_model_version(name, versions[2]).tags["gate"]


def test_a_champion_registered_before_digests_is_adopted_once(mlflow_server, stage_inputs):
    """After an upgrade the champion has no model_sha256 tag and the predictor would refuse it;
    the next register stage tags it with its file's digest, and leaves a tagged one alone."""
    from housing.defaults import MODEL_SHA256_TAG
    from housing.files import sha256_of
    from housing.model import persist

    name = "housing-price-untagged"
    mlflow.set_tracking_uri(mlflow_server.url)
    with mlflow.start_run():
        logged = mlflow.sklearn.log_model(
            persist.load_model(stage_inputs / "trained"),
            name="model",
            skops_trusted_types=persist.TRUSTED_TYPES,
        )
    old = mlflow.register_model(logged.model_uri, name)  # as before this release: no tag
    client = MlflowClient(mlflow_server.url)
    client.set_registered_model_alias(name, CHAMPION, old.version)
    assert register.adopt_untagged_champion(client, name) == old.version
    tag = client.get_model_version(name, old.version).tags[MODEL_SHA256_TAG]
    stored = mlflow.artifacts.download_artifacts(f"models:/{name}/{old.version}")
    assert tag == sha256_of(persist.find_skops_file(Path(stored)))
    assert register.adopt_untagged_champion(client, name) is None

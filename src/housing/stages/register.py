"""Stage `register`: log the run to MLflow, register the model, apply the promotion gate."""

from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.models import infer_signature

from housing.data.validate import read_raw
from housing.defaults import CHAMPION_ALIAS, MODEL_SHA256_TAG, TEST_SPLIT_TAG, TRAIN_SPLIT_TAG
from housing.files import load_params, sha256_of, write_json
from housing.model import persist
from housing.model.persist import INFO_FILE, TRUSTED_TYPES, load_model
from housing.model.pipeline import split_xy
from housing.model.scoring import score
from housing.monitor import reference
from housing.monitor.settings import MonitorSettings
from housing.settings import TrainingSettings
from housing.tracking.lineage import lineage_tags
from housing.tracking.registry import apply_gate, version_by_alias
from housing.tracking.server import ensure_reachable


def run(
    settings: TrainingSettings,
    raw: Path,
    model_dir: Path,
    train_csv: Path,
    test_csv: Path,
    metrics_file: Path,
    params_file: Path,
    out: Path,
    reports: Path | None = None,
    feedback: Path | None = None,
) -> dict:
    """`feedback`: the file prepare added to the training split, when prepare.feedback is true
    (its hash goes with the raw data's into the run's lineage)."""
    used_feedback = feedback if load_params(params_file, "prepare").get("feedback") else None
    ensure_reachable(settings.tracking_uri, settings.tracking_timeout_s)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment(settings.experiment)
    pipeline = load_model(model_dir)
    metrics = json.loads(metrics_file.read_text())
    train_info = json.loads((model_dir / INFO_FILE).read_text())
    train_frame = read_raw(train_csv)
    X_train, _ = split_xy(train_frame)
    example = X_train.head(3)
    tags = lineage_tags(raw, train_csv, test_csv, used_feedback)

    with mlflow.start_run(tags=tags) as active:
        mlflow.log_params({**_prefixed(params_file, "prepare"), **_prefixed(params_file, "train")})
        validated = {k: v for k, v in train_info.items() if k.startswith("cv_")}
        mlflow.log_metrics({**metrics, "fit_seconds": train_info["fit_seconds"], **validated})
        mlflow.log_input(
            mlflow.data.from_pandas(train_frame, source=str(raw), name="train"),
            context="training",
        )
        if used_feedback is not None:
            mlflow.log_input(
                mlflow.data.from_pandas(
                    read_raw(used_feedback), source=str(used_feedback), name="feedback"
                ),
                context="training",
            )
        if reports is not None:  # the model card and its plots (stage `report`)
            mlflow.log_artifacts(str(reports), artifact_path=MODEL_CARD_PATH)
        # What the monitor compares live inputs with (housing.monitor.reference).
        reference.log_to_active_run(
            reference.build(
                X_train, pipeline, MonitorSettings().reference_rows, tags[TRAIN_SPLIT_TAG]
            )
        )
        logged = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=infer_signature(example, pipeline.predict(example)),
            input_example=example,
            skops_trusted_types=TRUSTED_TYPES,
            pip_requirements=model_requirements(),
        )
        version = register_with_digest(logged.model_uri, settings.model_name)
    client = MlflowClient()
    adopt_untagged_champion(client, settings.model_name)
    decision = apply_gate(
        client,
        settings.model_name,
        str(version.version),
        metrics["rmse"],
        tags[TEST_SPLIT_TAG],
        rescore_champion=lambda uri: score(_trusted_model(uri), test_csv)["rmse"],
    )
    result = {**decision.as_dict(), "run_id": active.info.run_id}
    write_json(out, result)
    return result


MODEL_CARD_PATH = "model_card"  # where a run's card and plots are, among its artifacts

# What loading the pipeline imports besides housing.model (its steps are housing.model's classes
# over scikit-learn and scipy, saved with skops; MLflow's pyfunc loads it). Stated rather than
# inferred: MLflow's inference loads the model again in a subprocess at every registration, and
# lists whatever else that process had imported (pytest, rich, psutil in the test suite).
MODEL_DISTRIBUTIONS = ("mlflow", "numpy", "pandas", "scikit-learn", "scipy", "skops")


def model_requirements() -> list[str]:
    """The model's requirements pinned to the versions it was saved with (this environment's,
    from uv.lock)."""
    return [f"{name}=={metadata.version(name)}" for name in MODEL_DISTRIBUTIONS]


def register_with_digest(model_uri: str, name: str):
    """Register a logged model with the sha256 of its file as stored, as a tag set at creation:
    the version never exists without it, and the predictor checks every copy against it."""
    with _downloaded_skops(model_uri) as stored:
        digest = sha256_of(stored)
    return mlflow.register_model(model_uri, name, tags={MODEL_SHA256_TAG: digest})


def adopt_untagged_champion(client: MlflowClient, name: str) -> str | None:
    """Tag a champion registered before digests existed with its file's digest, so that the
    predictor (which serves no version without one) keeps serving it after an upgrade. The
    trainer, which may register versions, vouches for the file as it is now. The version tagged."""
    champion = version_by_alias(client, name, CHAMPION_ALIAS)
    if champion is None or champion.tags.get(MODEL_SHA256_TAG):
        return None
    with _downloaded_skops(f"models:/{name}/{champion.version}") as stored:
        persist.load(stored)  # only a file that loads through the allow-list is vouched for
        digest = sha256_of(stored)
    client.set_model_version_tag(name, champion.version, MODEL_SHA256_TAG, digest)
    print(f"tagged champion v{champion.version} with its sha256 (registered before digests)")
    return champion.version


def _trusted_model(uri: str):
    """A registered model's pipeline through the skops allow-list, never through pickle.

    `mlflow.sklearn.load_model` would follow the version's own MLmodel file, which may name
    pickle: whoever can write to the registry would run code here, beside the S3 keys."""
    with _downloaded_skops(uri) as stored:
        return persist.load(stored)


@contextmanager
def _downloaded_skops(uri: str):
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
        yield persist.find_skops_file(Path(local))


def _prefixed(params_file: Path, section: str) -> dict:
    return {f"{section}.{k}": v for k, v in load_params(params_file, section).items()}

"""The trainer job: put the raw data in place, then run the DVC pipeline against MLflow.

Order for the data: the workspace's own copy, else the host's file (mounted read-only), else the
stack's DVC remote, else HOUSING_DATA_URL; every one is checked against the sha256. The remote
then gets the data if it lacks it. The stages themselves are `dvc repro`'s, from dvc.yaml.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from housing.data.fetch import FetchError, fetch_configured
from housing.failures import first_line
from housing.files import sha256_of
from housing.secret_files import export_from_files
from housing.settings import TrainingSettings
from housing.tracking.rest import TrackingUnavailable
from housing.tracking.server import ensure_reachable
from trainer import workspace
from trainer.settings import TrainerSettings

RAW = Path("data/raw/housing.csv")
FEEDBACK = Path("data/feedback/feedback.csv")


class JobFailed(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"trainer: {message}", flush=True)


def dvc(ws: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["dvc", *args], cwd=ws, text=True, capture_output=True)
    if check and result.returncode != 0:
        lines = (result.stderr + result.stdout).strip().splitlines() or ["no output"]
        errors = [line for line in lines if line.startswith("ERROR")] or lines
        raise JobFailed(f"dvc {' '.join(args)} failed: {errors[0]}")
    return result


def place_raw_data(ws: Path, job: TrainerSettings, data: TrainingSettings) -> str:
    target = ws / RAW
    if target.is_file() and sha256_of(target) == data.data_sha256:
        return "workspace"
    mounted = job.input_dir / RAW.name
    if mounted.is_file() and sha256_of(mounted) == data.data_sha256:
        shutil.copyfile(mounted, target)
        return f"host file {mounted}"
    pulled = dvc(ws, "pull", "--remote", job.dvc_remote, str(RAW) + ".dvc", check=False)
    if pulled.returncode == 0 and target.is_file() and sha256_of(target) == data.data_sha256:
        return f"DVC remote {job.dvc_remote}"
    try:
        fetch_configured(data, target)
    except FetchError as exc:
        raise JobFailed(f"no raw data: not mounted, not on the DVC remote, and {exc}") from exc
    return data.data_url


def place_feedback(ws: Path) -> bool:
    """With prepare.feedback, the prediction log's labelled records as the feedback file, added
    to DVC (its md5 in feedback.csv.dvc, its content in the cache): what this run trains on
    besides the raw data. Whether there is one."""
    from housing.files import load_params
    from housing.predictions.export import export
    from housing.predictions.settings import PredictionLogSettings

    if not load_params(ws / "params.yaml", "prepare").get("feedback"):
        return False
    settings = PredictionLogSettings()
    if not settings.enabled:
        raise JobFailed("prepare.feedback is true but PREDICTION_LOG_URL is empty")
    rows = export(settings.url, ws / FEEDBACK, settings.connect_timeout_s)
    dvc(ws, "add", str(FEEDBACK))
    log(f"feedback: {rows} labelled records from the prediction log")
    return True


def ensure_remote_bucket(ws: Path, remote: str) -> None:
    """Create the DVC remote's bucket when it is missing (idempotent), like mlflow's start does."""
    url = dvc(ws, "config", f"remote.{remote}.url").stdout.strip()
    if not url.startswith("s3://"):
        return
    endpoint = dvc(ws, "config", f"remote.{remote}.endpointurl", check=False).stdout.strip()
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3", endpoint_url=endpoint or None)
    bucket = url.removeprefix("s3://").split("/", 1)[0]
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)
        log(f"created the DVC remote's bucket {bucket}")


def wait_for_tracking(data: TrainingSettings, wait_s: float) -> None:
    """MLflow answering /health, within `wait_s`. Compose starts the job once MLflow is healthy
    (depends_on); a swarm orders nothing, and the job may start first."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            ensure_reachable(data.tracking_uri, data.tracking_timeout_s)
            return
        except TrackingUnavailable as exc:
            if time.monotonic() >= deadline:
                raise
            log(f"waiting for MLflow: {exc}")
            time.sleep(3)


def run() -> dict:
    job, data = TrainerSettings(), TrainingSettings()
    # Fail in seconds, not after MLflow's minutes of retries, when the server is down.
    wait_for_tracking(data, job.wait_for_tracking_s)
    ws = job.workspace
    workspace.sync(job.source, ws)
    for option, value in (("url", job.dvc_url), ("endpointurl", job.dvc_endpoint)):
        if value:
            dvc(ws, "remote", "modify", "--local", job.dvc_remote, option, value)
    applied = workspace.apply_overrides(ws / "params.yaml", job.train_params)
    if applied:
        log(f"parameter overrides for this run: {applied}")
    asked = _pending_request(data)
    if asked is not None:
        log(f"retrain request of {asked.get('at', '?')}: {'; '.join(asked.get('reasons', []))}")
        if applied.get("prepare.feedback") is False:
            asked = None  # this run was told not to use feedback: the request waits
        elif "prepare.feedback" not in applied and _has_feedback():
            workspace.apply_overrides(ws / "params.yaml", "prepare.feedback=true")
            log("acting on it: training on the raw data and the log's feedback")
        elif "prepare.feedback" not in applied:
            log("kept: no labelled feedback in the log yet (raw data alone fits the same model)")
            asked = None
    log(f"raw data from {place_raw_data(ws, job, data)}")
    # Into DVC's cache (the file was copied in, not checked out), then to the remote.
    dvc(ws, "commit", "--force", str(RAW) + ".dvc")
    ensure_remote_bucket(ws, job.dvc_remote)
    dvc(ws, "push", "--remote", job.dvc_remote, str(RAW) + ".dvc")
    if place_feedback(ws):
        dvc(ws, "push", "--remote", job.dvc_remote, str(FEEDBACK) + ".dvc")
    repro = ["repro", "--force"] if job.force else ["repro"]
    if subprocess.run(["dvc", *repro], cwd=ws).returncode != 0:
        raise JobFailed("the pipeline failed (see the stage output above)")
    if not _registry_has_champion(data):
        log("the registry has no champion (a new MLflow?): registering this model")
        if (
            subprocess.run(
                ["dvc", "repro", "--force", "--single-item", "register"], cwd=ws
            ).returncode
            != 0
        ):
            raise JobFailed("registering the model failed (see above)")
    result = json.loads((ws / "models/registration.json").read_text())
    if asked is not None:
        _settle(data, asked, result)
    return result


def _client(data: TrainingSettings):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=data.tracking_uri)


def _pending_request(data: TrainingSettings) -> dict | None:
    """The monitor's pending retrain request (housing.monitor.retrain), if any."""
    from housing.monitor import retrain

    return retrain.pending(_client(data), data.model_name)


def _has_feedback() -> bool:
    """Whether the prediction log holds labelled records to train on (a retrain on the same
    data alone would only fit the same model again)."""
    from housing.predictions.export import labelled_rows
    from housing.predictions.settings import PredictionLogSettings

    settings = PredictionLogSettings()
    if not settings.enabled:
        return False
    try:
        return bool(labelled_rows(settings.url, settings.connect_timeout_s))
    except Exception as exc:  # noqa: BLE001 - the log down: train on the raw data alone
        log(f"the prediction log cannot be read ({first_line(exc)}): no feedback this run")
        return False


def _settle(data: TrainingSettings, asked: dict, result: dict) -> None:
    from housing.monitor import retrain

    outcome = {
        "version": str(result["version"]),
        "promoted": result["promoted"],
        "reason": result["reason"],
    }
    retrain.settle(_client(data), data.model_name, asked, outcome)
    log(f"retrain request settled: v{result['version']} ({result['reason']})")


def _registry_has_champion(data: TrainingSettings) -> bool:
    from housing.tracking.registry import CHAMPION, version_by_alias

    client = _client(data)
    if not client.search_registered_models(filter_string=f"name='{data.model_name}'"):
        return False
    return version_by_alias(client, data.model_name, CHAMPION) is not None


def main() -> None:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    try:
        export_from_files()  # the S3 keys and MLflow password, from their secret files
        result = run()
    except Exception as exc:  # noqa: BLE001 - a one-shot job ends with one readable line
        print(f"trainer: FAILED: {first_line(exc)[:300]}", file=sys.stderr)
        sys.exit(1)
    log(
        f"done: {result['name']} v{result['version']} "
        f"({'promoted' if result['promoted'] else 'not promoted'}: {result['reason']}); "
        f"champion is v{result['champion_version']}"
    )

"""The trainer job's settings (`TRAINER_*`; the pipeline's own come from housing.settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINER_", extra="ignore", populate_by_name=True)

    # The pipeline's files as shipped in the image, and the writable copy DVC works in (a volume:
    # its cache and dvc.lock survive, so an unchanged pipeline is not retrained on every `up`).
    source: Path = Path("/app")
    workspace: Path = Path("/work")
    # The host's data/raw, mounted read-only: used when it holds the right file.
    input_dir: Path = Path("/input")
    # The stack's DVC remote (.dvc/config: the compose stack's S3 service); on AWS, URL and
    # endpoint name the provisioned bucket instead (deploy/compose.aws.yaml).
    dvc_remote: str = "stack"
    dvc_url: str | None = None
    dvc_endpoint: str | None = None
    # "train.max_iter=50,train.learning_rate=0.1": params.yaml overrides for this run only.
    train_params: str = Field("", validation_alias="TRAIN_PARAMS")
    force: bool = False
    # How long the job waits for MLflow to answer before it fails. 0 under compose, which starts
    # it once MLflow is healthy: a run against a stopped MLflow fails at once. A swarm orders no
    # starts: deploy/stack.yaml gives it time.
    wait_for_tracking_s: float = Field(0.0, ge=0)

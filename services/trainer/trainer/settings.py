"""The trainer job's settings (its own; the pipeline's come from housing.settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainerSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # The pipeline's files as shipped in the image, and the writable copy DVC works in (a volume:
    # its cache and dvc.lock survive, so an unchanged pipeline is not retrained on every `up`).
    source: Path = Field(Path("/app"), validation_alias="TRAINER_SOURCE")
    workspace: Path = Field(Path("/work"), validation_alias="TRAINER_WORKSPACE")
    # The host's data/raw, mounted read-only: used when it holds the right file.
    input_dir: Path = Field(Path("/input"), validation_alias="TRAINER_INPUT_DIR")
    dvc_remote: str = Field("stack", validation_alias="TRAINER_DVC_REMOTE")
    dvc_endpoint: str | None = Field(None, validation_alias="TRAINER_DVC_ENDPOINT")
    # "train.max_iter=50,train.learning_rate=0.1": params.yaml overrides for this run only.
    train_params: str = Field("", validation_alias="TRAIN_PARAMS")
    force: bool = Field(False, validation_alias="TRAINER_FORCE")

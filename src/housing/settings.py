"""Settings of the training side (CLI, DVC stages, trainer job), read from the environment.

Our own variables carry the `HOUSING_` prefix; MLflow's (`MLFLOW_TRACKING_URI`,
`MLFLOW_EXPERIMENT_NAME`) keep MLflow's names, so that MLflow's tools read the same values.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from housing import defaults


class RegistrySettings(BaseSettings):
    """What every side that talks to the registry needs: where it is, and the model's name."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    # Embedded default: a SQLite file and local artifacts in the working directory, no server.
    tracking_uri: str = Field(defaults.LOCAL_TRACKING_URI, validation_alias="MLFLOW_TRACKING_URI")
    model_name: str = Field(defaults.MODEL_NAME, validation_alias="HOUSING_MODEL_NAME")


class TrainingSettings(RegistrySettings):
    model_config = SettingsConfigDict(env_prefix="HOUSING_")

    data_url: str = defaults.DATA_URL
    data_sha256: str = defaults.DATA_SHA256
    # Bounds of a download: the file is ~1.4 MB, so a much larger one is a wrong URL.
    data_max_bytes: int = Field(64 << 20, gt=0)
    data_deadline_s: float = Field(300.0, gt=0)
    experiment: str = Field(defaults.EXPERIMENT_NAME, validation_alias="MLFLOW_EXPERIMENT_NAME")
    # How long to wait for a tracking server before giving up with a clear message.
    tracking_timeout_s: float = 5.0


@lru_cache
def get_settings() -> TrainingSettings:
    return TrainingSettings()

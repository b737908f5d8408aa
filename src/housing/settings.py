"""Settings of the training side (CLI, DVC stages, trainer job), read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_URL = (
    "https://raw.githubusercontent.com/ageron/handson-ml2/master/datasets/housing/housing.csv"
)
DATA_SHA256 = "8a3727f4cf54ac1a327f69b1d5b4db54c5834ea81c6e4efc0d163300022a685e"


class TrainingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    data_url: str = Field(DATA_URL, validation_alias="HOUSING_DATA_URL")
    data_sha256: str = Field(DATA_SHA256, validation_alias="HOUSING_DATA_SHA256")
    # Embedded default: a SQLite file and local artifacts in the working directory, no server.
    tracking_uri: str = Field("sqlite:///mlflow.db", validation_alias="MLFLOW_TRACKING_URI")
    experiment: str = Field("housing", validation_alias="MLFLOW_EXPERIMENT_NAME")
    model_name: str = Field("housing-price", validation_alias="HOUSING_MODEL_NAME")
    # How long to wait for a tracking server before giving up with a clear message.
    connect_timeout_s: float = Field(5.0, validation_alias="HOUSING_TRACKING_TIMEOUT_S")


@lru_cache
def get_settings() -> TrainingSettings:
    return TrainingSettings()

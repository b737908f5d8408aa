"""The predictor's settings, read once from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from housing.contract import DEFAULT_MAX_RECORDS


class PredictorSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    tracking_uri: str = Field("sqlite:///mlflow.db", validation_alias="MLFLOW_TRACKING_URI")
    model_name: str = Field("housing-price", validation_alias="HOUSING_MODEL_NAME")
    alias: str = Field("champion", validation_alias="PREDICTOR_MODEL_ALIAS")
    poll_interval_s: float = Field(10.0, gt=0, validation_alias="PREDICTOR_POLL_INTERVAL_S")
    # Downloaded versions, one folder each; keeps serving across restarts while MLflow is down.
    cache_dir: Path = Field(Path(".cache/predictor"), validation_alias="PREDICTOR_CACHE_DIR")
    max_records: int = Field(DEFAULT_MAX_RECORDS, gt=0, validation_alias="PREDICTOR_MAX_RECORDS")
    max_body_bytes: int = Field(8 * 1024 * 1024, gt=0, validation_alias="PREDICTOR_MAX_BODY_BYTES")
    # Requests up to this many rows are answered on the event loop (well under a millisecond);
    # larger ones in a worker thread, so that they never hold up the small ones.
    inline_max_rows: int = Field(32, ge=0, validation_alias="PREDICTOR_INLINE_MAX_ROWS")
    # MLflow calls (alias lookups, downloads) give up after this, so a dead server never stalls.
    mlflow_timeout_s: float = Field(10.0, gt=0, validation_alias="PREDICTOR_MLFLOW_TIMEOUT_S")
    download_timeout_s: float = Field(300.0, gt=0, validation_alias="PREDICTOR_DOWNLOAD_TIMEOUT_S")
    host: str = Field("127.0.0.1", validation_alias="PREDICTOR_HOST")
    port: int = Field(8001, validation_alias="PREDICTOR_PORT")

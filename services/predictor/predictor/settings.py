"""The predictor's settings, read once from the environment (`PREDICTOR_*`, plus the registry's)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from housing import defaults
from housing.settings import RegistrySettings


class PredictorSettings(RegistrySettings):
    model_config = SettingsConfigDict(env_prefix="PREDICTOR_")

    model_alias: str = defaults.CHAMPION_ALIAS
    poll_interval_s: float = Field(5.0, gt=0)
    # Downloaded versions, one folder each; keeps serving across restarts while MLflow is down.
    cache_dir: Path = Path(".cache/predictor")
    max_records: int = Field(defaults.MAX_RECORDS, gt=0)
    max_body_bytes: int = Field(defaults.MAX_BODY_BYTES, gt=0)
    # Requests up to this many rows are answered on the event loop (well under a millisecond);
    # larger ones in a worker thread, so that they never hold up the small ones.
    inline_max_rows: int = Field(32, ge=0)
    # MLflow calls (alias lookups, downloads) give up after this, so a dead server never stalls.
    mlflow_timeout_s: float = Field(10.0, gt=0)
    download_timeout_s: float = Field(300.0, gt=0)
    docs_enabled: bool = True  # /docs, /redoc and /openapi.json
    host: str = defaults.LOCAL_HOST
    port: int = defaults.PREDICTOR_PORT

"""The prediction log's settings (`PREDICTION_LOG_*`), one definition for the predictor that
writes it, the gateway that records feedback in it, and the `housing feedback` commands."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from housing import defaults

# How long a connection to the log may take (also the default of store.connect).
DEFAULT_CONNECT_TIMEOUT_S = 5.0


class PredictionLogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PREDICTION_LOG_", env_file=None, extra="ignore")

    # SQLite in the working directory by default (`make demo`); the stack names its PostgreSQL.
    # Empty: no log (and no feedback).
    url: str = defaults.LOCAL_PREDICTION_LOG_URL
    # Records held in memory while the store is slow or down; past this, new ones are dropped
    # (and counted): the log never holds up or fails a request.
    buffer_rows: int = Field(100_000, gt=0)
    # How often the buffer is written (one statement per batch).
    flush_interval_s: float = Field(0.5, gt=0)
    # Rows older than this are deleted (0: kept for ever), checked hourly by each writer.
    retention_days: float = Field(90.0, ge=0)
    connect_timeout_s: float = Field(DEFAULT_CONNECT_TIMEOUT_S, gt=0)

    @property
    def enabled(self) -> bool:
        return bool(self.url.strip())

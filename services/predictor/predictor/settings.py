"""The predictor's settings, read once from the environment (`PREDICTOR_*`, plus the registry's)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from housing import defaults
from housing.settings import RegistrySettings
from housing.web.server_settings import ServerSettings


class PredictorSettings(RegistrySettings, ServerSettings):
    model_config = SettingsConfigDict(env_prefix="PREDICTOR_")

    model_alias: str = defaults.CHAMPION_ALIAS
    # The alias scored in shadow: that model also prices `shadow_fraction` of the requests,
    # after they are answered, into the prediction log; it never answers. Nothing is scored
    # while it names the model that answers (after a promotion both aliases name the same),
    # nor without a prediction log. Empty (the default): no shadow; `make e2e` sets challenger.
    shadow_alias: str = ""
    shadow_fraction: float = Field(1.0, ge=0, le=1)
    poll_interval_s: float = Field(5.0, gt=0)
    # Downloaded versions, one folder each; keeps serving across restarts while MLflow is down.
    cache_dir: Path = Path(".cache/predictor")
    # Requests up to this many rows are answered on the event loop (well under a millisecond);
    # larger ones in a worker thread, so that they never hold up the small ones.
    inline_max_rows: int = Field(32, ge=0)
    # MLflow calls (alias lookups, downloads) give up after this, so a dead server never stalls.
    mlflow_timeout_s: float = Field(10.0, gt=0)
    download_timeout_s: float = Field(300.0, gt=0)
    port: int = defaults.PREDICTOR_PORT
    # /metrics is served here only (0: any free port).
    metrics_port: int = Field(defaults.PREDICTOR_METRICS_PORT, ge=0)

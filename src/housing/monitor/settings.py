"""The monitor's settings (`MONITOR_*`): one definition for `housing monitor run`, the monitor
service and the register stage (which logs the reference each pass compares against)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from housing import defaults
from housing.web.server_settings import ServerSettings


class MonitorSettings(ServerSettings):
    """A pass's settings, and the monitor service's (its HTTP server's are ServerSettings')."""

    model_config = SettingsConfigDict(env_prefix="MONITOR_", env_file=None, extra="ignore")

    # The window a pass reads: predictions logged in the last `window_hours`, at most the latest
    # `max_rows` of them (what bounds a pass's time and memory on a busy log).
    window_hours: float = Field(24.0, gt=0)
    max_rows: int = Field(100_000, gt=0)
    # Drift is computed for the served version once it has this many predictions in the window:
    # fewer make the statistics noise.
    drift_min_rows: int = Field(200, gt=0)
    # `housing promote --from-shadow` promotes the challenger when, on at least
    # `shadow_min_labelled` labelled records scored by both, its RMSE is lower than the
    # champion's by this share or more (0.02: 2 % lower).
    shadow_margin: float = Field(0.02, ge=0, lt=1)
    shadow_min_labelled: int = Field(200, gt=0)
    # A pass records a retrain request (a tag on the registered model) when the served version's
    # live RMSE is above `retrain_rmse_usd` on at least `retrain_min_labelled` labelled
    # predictions, or (with `retrain_on_drift`) when an input field drifted.
    retrain_rmse_usd: float = Field(60_000.0, gt=0)
    retrain_min_labelled: int = Field(100, gt=0)
    retrain_on_drift: bool = True
    # No new request within this many hours of the last one the trainer acted on.
    retrain_cooldown_hours: float = Field(24.0, ge=0)
    # Training rows the reference keeps (a seeded sample when the training set is larger).
    reference_rows: int = Field(5_000, gt=0)
    # Where the latest summary and report are written, and references are cached.
    state_dir: Path = Path("monitor")
    # The MLflow experiment each pass is logged to (metrics, and the report as an artifact);
    # empty: not logged.
    experiment: str = defaults.MONITORING_EXPERIMENT
    # The report (a few MB, most of it Evidently's scripts) goes to MLflow at most once in this
    # many seconds; metrics and summary with every pass (0: the report with every pass too).
    report_log_interval_s: float = Field(3600.0, ge=0)
    # The service: seconds between passes, and its ports (/metrics on the second only).
    interval_s: float = Field(300.0, gt=0)
    port: int = defaults.MONITOR_PORT
    metrics_port: int = Field(defaults.MONITOR_METRICS_PORT, ge=0)

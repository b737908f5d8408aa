"""The gateway's settings, read once from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from housing import defaults
from housing.web.server_settings import ServerSettings

PLACEHOLDERS = {"changethis", "changeme", "secret", "password", "apikey"}


def _split(value) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value or [])


class GatewaySettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    predictor_urls: Annotated[list[str], NoDecode] = Field(
        [f"http://{defaults.LOCAL_HOST}:{defaults.PREDICTOR_PORT}"],
        validation_alias="PREDICTOR_URLS",
    )
    # Secrets: no default. Comma-separated keys, or a file with one key per line.
    api_keys: Annotated[list[SecretStr], NoDecode] = []
    api_keys_file: Path | None = None
    auth_disabled: bool = False
    # Per key, in records (a batch of 500 costs 500): the average rate, and the burst.
    rate_per_s: float = Field(100.0, gt=0)
    rate_burst: int = Field(200, gt=0)
    # Per key: requests in flight at once (more is a 429 at once).
    max_inflight_per_key: int = Field(64, gt=0)
    upstream_timeout_s: float = Field(10.0, gt=0)
    connect_timeout_s: float = Field(0.5, gt=0)
    # How long bytes sent to a predictor may go unacknowledged before it counts as gone (its
    # node died: no FIN or RST comes) and the request moves to another (gateway/transport.py).
    # A zero window counts too (a predictor that stops reading a large body), so this is longer
    # than a busy predictor's pause, and short enough that the retry still beats a client's 10 s.
    upstream_ack_timeout_s: float = Field(3.0, gt=0)
    cooldown_s: float = Field(5.0, ge=0)
    health_interval_s: float = Field(1.0, gt=0)
    # Treat every address a predictor's name resolves to as its own replica (compose --scale).
    resolve_replicas: bool = False
    cors_origins: Annotated[list[str], NoDecode] = []
    # The monitor service that GET /monitor and /monitor/report ask (empty: those answer 503).
    monitor_url: str = f"http://{defaults.LOCAL_HOST}:{defaults.MONITOR_PORT}"
    port: int = defaults.GATEWAY_PORT
    # /metrics is served here only (0: any free port).
    metrics_port: int = Field(defaults.GATEWAY_METRICS_PORT, ge=0)

    @field_validator("predictor_urls", "cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value):
        return _split(value)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys(cls, value):
        return _split(value.get_secret_value() if isinstance(value, SecretStr) else value)

    @field_validator("monitor_url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        return url.strip().rstrip("/")

    @field_validator("predictor_urls")
    @classmethod
    def _at_least_one(cls, urls: list[str]) -> list[str]:
        if not urls:
            raise ValueError("PREDICTOR_URLS must name at least one predictor")
        return [url.rstrip("/") for url in urls]

    @model_validator(mode="after")
    def _keys_or_explicitly_open(self) -> GatewaySettings:
        if self.auth_disabled:
            return self
        keys = self.keys()
        if not keys:
            raise ValueError(
                "no API key configured: set GATEWAY_API_KEYS or GATEWAY_API_KEYS_FILE "
                "(or GATEWAY_AUTH_DISABLED=true to run without auth)"
            )
        weak = [k for k in keys if k.lower() in PLACEHOLDERS or len(k) < 16]
        if weak:
            raise ValueError("API keys must be at least 16 characters and not a placeholder")
        return self

    def keys(self) -> list[str]:
        keys = [k.get_secret_value() for k in self.api_keys]
        if self.api_keys_file is not None:
            # One key per line, or comma-separated as in GATEWAY_API_KEYS (a compose secret
            # made from that variable holds it as one line).
            for line in self.api_keys_file.read_text().splitlines():
                if not line.lstrip().startswith("#"):
                    keys += _split(line)
        return keys

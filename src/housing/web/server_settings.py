"""What both HTTP services' settings share: where they listen, what a request may cost, and the
limits of their HTTP server. Each service's class adds its prefix (GATEWAY_, PREDICTOR_) and ports.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from housing import defaults


class ServerSettings(BaseSettings):
    host: str = defaults.LOCAL_HOST
    # /metrics is served on `metrics_host`:`metrics_port` only, never on the service's own port.
    metrics_host: str = defaults.LOCAL_HOST
    max_body_bytes: int = Field(defaults.MAX_BODY_BYTES, gt=0)
    max_records: int = Field(defaults.MAX_RECORDS, gt=0)
    # /docs, /redoc and /openapi.json; false in production if the API is not to describe itself.
    docs_enabled: bool = True
    # The HTTP server (housing.web.protocol): request line and headers together at most this
    # many bytes (431 beyond), received within head_timeout_s, the body within body_timeout_s
    # (408 and the connection closed otherwise); an idle kept-alive connection closes after
    # keepalive_timeout_s; beyond limit_concurrency connections and tasks, 503 at once.
    max_head_bytes: int = Field(64 * 1024, gt=0)
    head_timeout_s: float = Field(10.0, gt=0)
    body_timeout_s: float = Field(30.0, gt=0)
    keepalive_timeout_s: float = Field(5.0, gt=0)
    limit_concurrency: int = Field(1000, gt=0)
    # Seconds between SIGTERM and the server's graceful stop during which it still serves, is not
    # ready, and closes each connection after its response (housing.web.drain). 0 outside a load
    # balancer; the stack sets it longer than the balancers' keep-alive (compose.yaml).
    drain_s: float = Field(0.0, ge=0)
    # The share of successful requests that get an access log line (every failure gets one).
    log_sample: float = Field(1.0, ge=0, le=1)

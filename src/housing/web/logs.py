"""Logs as JSON lines (python-json-logger), one object a line: time, level, logger, message, and
for a request its id, method, route, status, latency and the model version that answered.

Every failed request (4xx, 5xx) gets its line; of the others a share, `*_LOG_SAMPLE` (1: all), so
that a busy service's log costs what it is worth (`make bench` measures a line's cost).
"""

from __future__ import annotations

import logging
import random
import sys

from pythonjsonlogger.json import JsonFormatter

from housing.web import trace

FIELDS = "{asctime}{levelname}{name}{message}"
# The response headers an access line reads (ASGI gives their names in lower case).
REQUEST_ID, MODEL_VERSION = trace.HEADER.encode(), b"x-model-version"
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


def configure(level: int = logging.INFO) -> None:
    """Every logger of the process writes JSON lines to stderr (the container's log)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(FIELDS, style="{", rename_fields=RENAMED))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a JSON line too, not a bare one
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per health probe otherwise


class AccessLog:
    """One line per request answered: every failure, and a `sample` share of the others."""

    def __init__(self, service: str, sample: float):
        self.log = logging.getLogger(f"{service}.access")
        self.sample = sample

    def wanted(self, status: int) -> bool:
        return status >= 400 or (self.sample > 0 and random.random() < self.sample)  # noqa: S311

    def record(self, method: str, route: str, status: int, seconds: float, headers) -> None:
        found = {}
        for name, value in headers or ():
            if name in (REQUEST_ID, MODEL_VERSION):
                found[name] = value.decode("latin-1")
        level = logging.ERROR if status >= 500 else logging.INFO
        self.log.log(
            level,
            f"{method} {route} {status}",
            extra={
                "request_id": found.get(REQUEST_ID),
                "method": method,
                "route": route,
                "status": status,
                "latency_ms": round(seconds * 1000, 3),
                "model_version": found.get(MODEL_VERSION),
            },
        )

"""Check that the tracking store answers before anything is logged."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlparse


class TrackingUnavailable(RuntimeError):
    """The tracking server cannot be reached; nothing was logged or registered."""


def ensure_reachable(tracking_uri: str, timeout_s: float) -> None:
    """Fail in seconds, not after MLflow's minutes of retries, when the server is down."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme not in ("http", "https"):
        return  # a local store (sqlite, file) is opened directly
    url = tracking_uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310
            if response.status != 200:
                raise TrackingUnavailable(f"MLflow at {tracking_uri} answered {response.status}")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingUnavailable(
            f"cannot reach the MLflow tracking server at {tracking_uri}: {reason}"
        ) from exc

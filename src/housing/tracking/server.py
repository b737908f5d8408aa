"""Check that the tracking store answers before anything is logged."""

from __future__ import annotations

from housing.tracking.rest import TrackingUnavailable, get, is_server

__all__ = ["TrackingUnavailable", "ensure_reachable"]


def ensure_reachable(tracking_uri: str, timeout_s: float) -> None:
    """Fail in seconds, not after MLflow's minutes of retries, when the server is down."""
    if is_server(tracking_uri):  # a local store (sqlite, file) is opened directly
        get(tracking_uri, "/health", timeout_s)

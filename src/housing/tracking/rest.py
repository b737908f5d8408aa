"""GETs against an MLflow tracking server over plain HTTP, without importing MLflow.

The predictor polls the registry with these (MLflow's client costs it memory and start-up time),
and the training side checks that the server answers before it logs anything.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request


class TrackingUnavailable(RuntimeError):
    """The tracking server cannot be reached, or refused the request."""


def is_server(tracking_uri: str) -> bool:
    return urllib.parse.urlparse(tracking_uri).scheme in ("http", "https")


def _credentials() -> dict[str, str]:
    """Basic auth from MLflow's own variables, as MLflow's client sends it."""
    user, password = (
        os.environ.get("MLFLOW_TRACKING_USERNAME"),
        os.environ.get("MLFLOW_TRACKING_PASSWORD"),
    )
    if not (user and password):
        return {}
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def get(base: str, path: str, timeout_s: float, params: dict | None = None) -> bytes:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    url = f"{base.rstrip('/')}{path}{query}"
    request = urllib.request.Request(url, headers=_credentials())  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        raise TrackingUnavailable(
            f"MLflow at {base} answered {path}: HTTP {exc.code} {detail}"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingUnavailable(
            f"cannot reach the MLflow tracking server at {base}: {reason}"
        ) from exc


def get_api(base: str, endpoint: str, params: dict, timeout_s: float) -> dict:
    """One call of MLflow's REST API (`/api/2.0/mlflow/<endpoint>`), decoded."""
    raw = get(base, f"/api/2.0/mlflow/{endpoint}", timeout_s, params)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise TrackingUnavailable(f"MLflow at {base} answered {endpoint} with no JSON") from exc

"""Retrain requests: when a pass finds the served version's live RMSE above its threshold, or an
input field drifted, the monitor records a request as a tag on the registered model
(`retrain_requested`: when, why, which version); the trainer job acts on a pending request when
it runs (with the log's feedback as extra training data) and clears it, recording the outcome
(`last_retrain`). A pending request is never overwritten: it keeps its first reason and time;
and none is made within MONITOR_RETRAIN_COOLDOWN_HOURS of the last one acted on, since the
window that asked still holds the same traffic and a retrain needs new feedback to differ.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from mlflow import MlflowClient

from housing.monitor.settings import MonitorSettings

REQUEST_TAG = "retrain_requested"
OUTCOME_TAG = "last_retrain"


def reasons(summary: dict, settings: MonitorSettings) -> list[str]:
    """Why a pass asks for a retrain (empty: it does not)."""
    served = summary.get("served")
    if not served:
        return []
    version = served["version"]
    found = []
    figures = summary["models"].get(version) or {}
    rmse, labelled = figures.get("rmse"), figures.get("labelled", 0)
    if rmse is not None and labelled >= settings.retrain_min_labelled:
        if rmse > settings.retrain_rmse_usd:
            found.append(
                f"v{version}'s live RMSE {rmse:,.0f} USD on {labelled} labelled predictions is "
                f"above {settings.retrain_rmse_usd:,.0f} (MONITOR_RETRAIN_RMSE_USD)"
            )
    if settings.retrain_on_drift:
        drifted = sorted(field for field, found in summary["drift"].items() if found["drifted"])
        if drifted:
            found.append(f"inputs drifted from v{version}'s training data: {', '.join(drifted)}")
    return found


def _tag(model, name: str) -> dict | None:
    raw = model.tags.get(name)
    if raw is None:
        return None
    try:
        found = json.loads(raw)
    except json.JSONDecodeError:
        return {"reasons": [raw]}  # set by hand: its text is the reason
    return found if isinstance(found, dict) else {"reasons": [raw]}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def pending(client: MlflowClient, name: str) -> dict | None:
    """The pending request on the registered model `name`, if any (none when the model is not
    registered yet)."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    return _tag(model, REQUEST_TAG)


def request(
    client: MlflowClient, name: str, why: list[str], version: str, cooldown_hours: float
) -> bool:
    """Record a request unless one is pending or the last was acted on within
    `cooldown_hours`; whether this call recorded it."""
    model = client.get_registered_model(name)
    if _tag(model, REQUEST_TAG) is not None:
        return False
    last = _tag(model, OUTCOME_TAG) or {}
    try:
        settled = datetime.fromisoformat(str(last.get("at", "")).replace("Z", "+00:00"))
    except ValueError:
        settled = None
    if settled is not None and datetime.now(UTC) - settled < timedelta(hours=cooldown_hours):
        return False
    payload = {"at": _now(), "version": version, "reasons": why}
    client.set_registered_model_tag(name, REQUEST_TAG, json.dumps(payload))
    return True


def settle(client: MlflowClient, name: str, request_: dict, outcome: dict) -> None:
    """The request acted on: its outcome recorded (with when), the request cleared."""
    payload = {"at": _now(), "request": request_, **outcome}
    client.set_registered_model_tag(name, OUTCOME_TAG, json.dumps(payload))
    client.delete_registered_model_tag(name, REQUEST_TAG)

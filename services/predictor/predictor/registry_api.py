"""The two registry questions the predictor asks on every poll, over MLflow's REST API.

A plain HTTP GET each: which version an alias names, and that version's run metrics. For a
tracking URI that is not a server (a SQLite file), MLflow's own client answers instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from housing.tracking.rest import get_api


@dataclass(frozen=True)
class VersionInfo:
    version: str
    run_id: str | None
    metrics: dict[str, float]


def resolve_over_rest(base: str, name: str, alias: str, timeout_s: float) -> VersionInfo:
    found = get_api(base, "registered-models/alias", {"name": name, "alias": alias}, timeout_s)
    version = found["model_version"]
    run_id = version.get("run_id") or None
    metrics: dict[str, float] = {}
    if run_id:
        run = get_api(base, "runs/get", {"run_id": run_id}, timeout_s)
        metrics = {m["key"]: float(m["value"]) for m in run["run"]["data"].get("metrics", [])}
    return VersionInfo(str(version["version"]), run_id, metrics)


def resolve_with_client(tracking_uri: str, name: str, alias: str) -> VersionInfo:
    from mlflow import MlflowClient  # only for a tracking URI that is not a server

    client = MlflowClient(tracking_uri=tracking_uri)
    mv = client.get_model_version_by_alias(name, alias)
    metrics = dict(client.get_run(mv.run_id).data.metrics) if mv.run_id else {}
    return VersionInfo(str(mv.version), mv.run_id, metrics)

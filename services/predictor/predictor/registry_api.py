"""The two registry questions the predictor asks on every poll, over MLflow's REST API.

A plain HTTP GET each: which version an alias names, and that version's run metrics. For a
tracking URI that is not a server (a SQLite file), MLflow's own client answers instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from housing.defaults import MODEL_SHA256_TAG
from housing.tracking.rest import get_api


@dataclass(frozen=True)
class VersionInfo:
    version: str
    run_id: str | None
    metrics: dict[str, float]
    sha256: str | None = None  # the version's MODEL_SHA256_TAG: what its model file must hash to

    @property
    def identity(self) -> tuple[str, str | None, str | None]:
        """What a version is, not only its number: a new registry (a `make clean`, a restored
        backup, a re-created version) may name another run's model with the same number."""
        return (self.version, self.run_id, self.sha256)


def resolve_over_rest(base: str, name: str, alias: str, timeout_s: float) -> VersionInfo:
    found = get_api(base, "registered-models/alias", {"name": name, "alias": alias}, timeout_s)
    version = found["model_version"]
    run_id = version.get("run_id") or None
    metrics: dict[str, float] = {}
    if run_id:
        run = get_api(base, "runs/get", {"run_id": run_id}, timeout_s)
        metrics = {m["key"]: float(m["value"]) for m in run["run"]["data"].get("metrics", [])}
    tags = {t.get("key"): t.get("value") for t in version.get("tags", [])}
    return VersionInfo(str(version["version"]), run_id, metrics, tags.get(MODEL_SHA256_TAG))


def resolve_with_client(tracking_uri: str, name: str, alias: str) -> VersionInfo:
    from mlflow import MlflowClient  # only for a tracking URI that is not a server

    client = MlflowClient(tracking_uri=tracking_uri)
    mv = client.get_model_version_by_alias(name, alias)
    metrics = dict(client.get_run(mv.run_id).data.metrics) if mv.run_id else {}
    return VersionInfo(str(mv.version), mv.run_id, metrics, mv.tags.get(MODEL_SHA256_TAG))

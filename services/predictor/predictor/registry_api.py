"""The two registry questions the predictor asks on every poll, over MLflow's REST API.

A plain HTTP GET each: which version an alias names, and that version's run metrics. For a
tracking URI that is not a server (a SQLite file), MLflow's own client answers instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from housing.defaults import MODEL_SHA256_TAG
from housing.tracking.rest import get_api


@dataclass(frozen=True)
class VersionInfo:
    version: str
    run_id: str | None
    metrics: dict[str, float]
    sha256: str | None = None  # the version's MODEL_SHA256_TAG: what its model file must hash to
    trained_at: str | None = None  # when its run ended (ISO 8601, UTC)

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
    ended_ms = None
    if run_id:
        run = get_api(base, "runs/get", {"run_id": run_id}, timeout_s)
        metrics = {m["key"]: float(m["value"]) for m in run["run"]["data"].get("metrics", [])}
        ended_ms = run["run"]["info"].get("end_time")
    tags = {t.get("key"): t.get("value") for t in version.get("tags", [])}
    sha256 = tags.get(MODEL_SHA256_TAG)
    return VersionInfo(str(version["version"]), run_id, metrics, sha256, iso_time(ended_ms))


def resolve_with_client(tracking_uri: str, name: str, alias: str) -> VersionInfo:
    from mlflow import MlflowClient  # only for a tracking URI that is not a server

    client = MlflowClient(tracking_uri=tracking_uri)
    mv = client.get_model_version_by_alias(name, alias)
    run = client.get_run(mv.run_id) if mv.run_id else None
    metrics = dict(run.data.metrics) if run else {}
    ended = iso_time(run.info.end_time) if run else None
    return VersionInfo(str(mv.version), mv.run_id, metrics, mv.tags.get(MODEL_SHA256_TAG), ended)


def iso_time(epoch_ms: int | str | None) -> str | None:
    """MLflow's milliseconds since the epoch as ISO 8601 (UTC); None for a run not ended."""
    if not epoch_ms:
        return None
    return datetime.fromtimestamp(int(epoch_ms) / 1000, UTC).isoformat(timespec="seconds")

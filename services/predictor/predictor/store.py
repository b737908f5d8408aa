"""Where models come from: the registry's alias, and a local cache of downloaded versions."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from housing.model import persist
from predictor.served import ServedModel
from predictor.settings import PredictorSettings


@dataclass(frozen=True)
class VersionInfo:
    version: str
    run_id: str | None
    metrics: dict[str, float]


class ModelStore:
    def __init__(self, settings: PredictorSettings):
        self.settings = settings
        self.root = settings.cache_dir / settings.model_name
        # MLflow reads these per call: no retry storms, and a bounded wait on a dead server.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(settings.mlflow_timeout_s)))
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient  # imported on first use: a cached start needs none

            self._client = MlflowClient(tracking_uri=self.settings.tracking_uri)
        return self._client

    def resolve(self) -> VersionInfo:
        """Which version the alias names now, with its run's metrics."""
        mv = self.client.get_model_version_by_alias(self.settings.model_name, self.settings.alias)
        metrics: dict[str, float] = {}
        if mv.run_id:
            metrics = dict(self.client.get_run(mv.run_id).data.metrics)
        return VersionInfo(str(mv.version), mv.run_id, metrics)

    def download(self, info: VersionInfo) -> Path:
        """The version's folder in the cache; downloaded first if absent (atomically)."""
        target = self.root / info.version
        if (target / "meta.json").is_file():
            return target
        import mlflow

        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{info.version}.", dir=self.root))
        try:
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{self.settings.model_name}/{info.version}",
                dst_path=str(staging / "model"),
                tracking_uri=self.settings.tracking_uri,
            )
            meta = {"version": info.version, "run_id": info.run_id, "metrics": info.metrics}
            (staging / "meta.json").write_text(json.dumps(meta))
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def load(self, folder: Path, source: str) -> ServedModel:
        meta = json.loads((folder / "meta.json").read_text())
        pipeline = persist.load(persist.find_skops_file(folder / "model"))
        return ServedModel.build(
            pipeline,
            self.settings.compiled_max_rows,
            name=self.settings.model_name,
            version=meta["version"],
            alias=self.settings.alias,
            run_id=meta.get("run_id"),
            metrics=meta.get("metrics", {}),
            source=source,
        )

    def remember(self, version: str) -> None:
        """Record which version the alias named when last seen, for a start without MLflow."""
        pointer = self.root / f"{self.settings.alias}.json"
        tmp = pointer.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": version}))
        os.replace(tmp, pointer)

    def last_seen(self) -> Path | None:
        pointer = self.root / f"{self.settings.alias}.json"
        if not pointer.is_file():
            return None
        folder = self.root / json.loads(pointer.read_text())["version"]
        return folder if (folder / "meta.json").is_file() else None

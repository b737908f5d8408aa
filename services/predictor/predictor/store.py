"""Where models come from: the registry's alias, and a local cache of downloaded versions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from housing.files import write_json
from housing.model import persist
from housing.tracking.rest import is_server
from predictor.registry_api import VersionInfo, resolve_over_rest, resolve_with_client
from predictor.served import ServedModel
from predictor.settings import PredictorSettings


class ModelStore:
    def __init__(self, settings: PredictorSettings):
        self.settings = settings
        # Absolute: MLflow mis-copies local artifacts into a relative destination.
        self.root = settings.cache_dir.resolve() / settings.model_name

    def resolve(self) -> VersionInfo:
        """Which version the alias names now, with its run's metrics."""
        s = self.settings
        if is_server(s.tracking_uri):
            return resolve_over_rest(
                s.tracking_uri, s.model_name, s.model_alias, s.mlflow_timeout_s
            )
        return resolve_with_client(s.tracking_uri, s.model_name, s.model_alias)

    def folder(self, info: VersionInfo) -> Path:
        """Where a version lives in the cache: by version *and* run, so that a new registry's v1
        (another run) is never served from an old registry's v1 files."""
        if not info.version.isdigit():
            raise ValueError(f"registry answered version {info.version[:40]!r}, not a number")
        run = "".join(c for c in (info.run_id or "") if c.isalnum())[:64]
        return self.root / (f"{info.version}-{run}" if run else info.version)

    def download(self, info: VersionInfo) -> Path:
        """The version's folder in the cache; downloaded first if absent (atomically)."""
        target = self.folder(info)
        if (target / "meta.json").is_file():
            return target
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{info.version}.", dir=self.root))
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "predictor.fetch",
                    self.settings.model_name,
                    info.version,
                    str(staging / "model"),
                ],
                env={**os.environ, **self._mlflow_env()},
                capture_output=True,
                text=True,
                timeout=self.settings.download_timeout_s,
            )
            if done.returncode != 0:
                lines = done.stderr.strip().splitlines() or ["no message"]
                raise RuntimeError(f"download of v{info.version} failed: {lines[-1]}")
            meta = {"version": info.version, "run_id": info.run_id, "metrics": info.metrics}
            (staging / "meta.json").write_text(json.dumps(meta))
            try:
                os.replace(staging, target)
            except OSError:
                # Another replica sharing the cache got there first: its copy is complete (it
                # appeared by the same atomic rename) and may be loading now, so it stays.
                if not (target / "meta.json").is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def _mlflow_env(self) -> dict[str, str]:
        return {
            "MLFLOW_TRACKING_URI": self.settings.tracking_uri,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(int(self.settings.mlflow_timeout_s)),
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }

    def load(self, folder: Path, source: str) -> ServedModel:
        meta = json.loads((folder / "meta.json").read_text())
        pipeline = persist.load(persist.find_skops_file(folder / "model"))
        return ServedModel.build(
            pipeline,
            name=self.settings.model_name,
            version=meta["version"],
            alias=self.settings.model_alias,
            run_id=meta.get("run_id"),
            metrics=meta.get("metrics", {}),
            source=source,
        )

    def remember(self, folder: Path) -> None:
        """Record which version the alias named when last seen, for a start without MLflow."""
        pointer = self.root / f"{self.settings.model_alias}.json"
        write_json(pointer, {"folder": folder.name})

    def last_seen(self) -> Path | None:
        pointer = self.root / f"{self.settings.model_alias}.json"
        if not pointer.is_file():
            return None
        seen = json.loads(pointer.read_text())
        folder = self.root / Path(seen.get("folder") or seen["version"]).name
        return folder if (folder / "meta.json").is_file() else None

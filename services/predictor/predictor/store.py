"""Where models come from: the registry's alias, and a local cache of downloaded versions."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from housing.defaults import MODEL_SHA256_TAG
from housing.files import sha256_of, write_json
from housing.model import persist
from housing.tracking.rest import is_server
from predictor import districts
from predictor.registry_api import VersionInfo, resolve_over_rest, resolve_with_client
from predictor.served import ServedModel
from predictor.settings import PredictorSettings

_SHA256 = re.compile(r"[0-9a-f]{64}")


class DigestMismatch(RuntimeError):
    """A model file does not hash to what the registry recorded: tampered or corrupt; refused."""


def check_digest(model_file: Path, expected: str | None, version: str) -> None:
    if not expected or not _SHA256.fullmatch(expected):
        raise DigestMismatch(f"v{version} has no valid {MODEL_SHA256_TAG} tag; not served")
    actual = sha256_of(model_file)
    if actual != expected:
        raise DigestMismatch(
            f"v{version}: {model_file.name} has sha256 {actual[:12]}…, "
            f"the registry recorded {expected[:12]}…; not served"
        )


class ModelStore:
    def __init__(self, settings: PredictorSettings):
        self.settings = settings
        # Absolute: MLflow mis-copies local artifacts into a relative destination.
        self.root = settings.cache_dir.resolve() / settings.model_name

    @property
    def alias(self) -> str:
        return self.settings.model_alias

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
        """The version's folder in the cache; downloaded first if absent (atomically). A download
        whose file does not hash to the version's tag never enters the cache."""
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
                    info.run_id or "",
                ],
                env={**os.environ, **self._mlflow_env()},
                capture_output=True,
                text=True,
                timeout=self.settings.download_timeout_s,
            )
            if done.returncode != 0:
                lines = done.stderr.strip().splitlines() or ["no message"]
                raise RuntimeError(f"download of v{info.version} failed: {lines[-1]}")
            check_digest(persist.find_skops_file(staging / "model"), info.sha256, info.version)
            meta = {
                "version": info.version,
                "run_id": info.run_id,
                "metrics": info.metrics,
                "sha256": info.sha256,
                "trained_at": info.trained_at,
            }
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
            # Through MLflow, never from a presigned S3 URL: the predictor reaches MLflow only.
            "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false",
        }

    def load(self, folder: Path, source: str, sha256: str | None = None) -> ServedModel:
        """Load a cached version, after checking its file against `sha256` (the registry's tag,
        when the registry answered) or else the digest recorded at download."""
        meta = json.loads((folder / "meta.json").read_text())
        model_file = persist.find_skops_file(folder / "model")
        sha256 = sha256 or meta.get("sha256")
        try:
            check_digest(model_file, sha256, meta["version"])
        except DigestMismatch:
            self._discard(folder)  # so that the next attempt downloads a good copy
            raise
        pipeline = persist.load(model_file)
        return ServedModel.build(
            pipeline,
            name=self.settings.model_name,
            version=meta["version"],
            alias=self.settings.model_alias,
            run_id=meta.get("run_id"),
            metrics=meta.get("metrics", {}),
            trained_at=meta.get("trained_at"),
            source=source,
            sha256=sha256,
            districts=districts.Districts.read(folder / districts.SAMPLE),
        )

    def _discard(self, folder: Path) -> None:
        aside = Path(tempfile.mkdtemp(prefix=f".bad-{folder.name}.", dir=self.root))
        try:
            os.replace(folder, aside / "model")  # one rename: no reader sees half a folder
        except OSError:
            pass  # gone already (another replica discarded it)
        shutil.rmtree(aside, ignore_errors=True)

    @staticmethod
    def identity_of(folder: Path) -> tuple[str, str | None, str | None]:
        """(version, run id, digest) of a cached version, as recorded at its download."""
        meta = json.loads((folder / "meta.json").read_text())
        return (meta["version"], meta.get("run_id"), meta.get("sha256"))

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

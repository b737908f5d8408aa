"""Each served version's reference, by its training run: from a local cache, else the run's
artifacts, else built from the run's lineage (a version registered before references existed)
and logged to the run, so that it is built once."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from housing.defaults import TRAIN_SPLIT_TAG
from housing.monitor import reference
from housing.monitor.reference import ARTIFACT_PATH, PROFILE_FILE, Reference

log = logging.getLogger("housing.monitor")


class NoReference(RuntimeError):
    """No reference could be found or built for a run; drift is not computed against it."""


class ReferenceStore:
    def __init__(self, cache_dir: Path, tracking_uri: str, training_settings, rows: int):
        self.cache_dir = cache_dir
        self.tracking_uri = tracking_uri
        self.training_settings = training_settings  # the data's URL (a rebuild fetches it)
        self.rows = rows
        self._loaded: dict[str, Reference] = {}

    def get(self, run_id: str) -> Reference:
        if run_id in self._loaded:
            return self._loaded[run_id]
        if not run_id.isalnum():
            raise NoReference(f"run id {run_id[:40]!r} is not one MLflow gives")
        folder = self.cache_dir / run_id
        if not (folder / PROFILE_FILE).is_file():
            self._fill(run_id, folder)
        found = reference.load(folder)
        self._loaded = {run_id: found}  # the served version's; an older one is rarely asked again
        return found

    def _fill(self, run_id: str, folder: Path) -> None:
        import mlflow
        from mlflow.exceptions import MlflowException

        mlflow.set_tracking_uri(self.tracking_uri)
        staging = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=self._root()))
        try:
            try:
                mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=ARTIFACT_PATH, dst_path=str(staging)
                )
                downloaded = staging / ARTIFACT_PATH
                if not (downloaded / PROFILE_FILE).is_file():
                    raise FileNotFoundError(f"{ARTIFACT_PATH}/{PROFILE_FILE}")
            except (MlflowException, OSError) as exc:
                log.info("run %s has no reference (%s): building it from its lineage", run_id, exc)
                downloaded = staging / ARTIFACT_PATH
                built = build_for_run(run_id, self.training_settings, self.rows)
                reference.save(built, downloaded)
                try:  # kept with the run, where this user may write it; cached here either way
                    mlflow.MlflowClient().log_artifacts(run_id, str(downloaded), ARTIFACT_PATH)
                except MlflowException as denied:
                    log.warning("reference of run %s kept here only: %s", run_id, denied)
            downloaded.replace(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _root(self) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return self.cache_dir


def build_for_run(run_id: str, training_settings, rows: int) -> Reference:
    """A run's reference from its lineage: the raw data fetched and checked against the run's
    checksum, split again with the run's prepare parameters (the training split must hash to
    the run's), scored by the run's own model."""
    import mlflow

    from housing.data.fetch import FetchError, fetch
    from housing.data.split import stratified_split
    from housing.data.validate import read_raw
    from housing.files import sha256_of
    from housing.model import persist
    from housing.model.pipeline import split_xy

    run = mlflow.MlflowClient().get_run(run_id)
    params, tags = run.data.params, run.data.tags
    try:
        test_size, seed = float(params["prepare.test_size"]), int(params["prepare.seed"])
        raw_sha, train_sha = tags["data.raw_sha256"], tags[TRAIN_SPLIT_TAG]
    except (KeyError, ValueError) as exc:
        raise NoReference(f"run {run_id} does not record its data lineage ({exc})") from exc
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "housing.csv"
        try:
            fetch(
                training_settings.data_url,
                raw,
                raw_sha,
                max_bytes=training_settings.data_max_bytes,
                deadline_s=training_settings.data_deadline_s,
            )
        except FetchError as exc:
            raise NoReference(f"run {run_id}'s raw data cannot be fetched: {exc}") from exc
        train, _ = stratified_split(read_raw(raw), test_size, seed)
        train_csv = Path(tmp) / "train.csv"
        train.to_csv(train_csv, index=False)  # as the prepare stage writes it
        if sha256_of(train_csv) != train_sha:
            raise NoReference(f"run {run_id}'s training split cannot be rebuilt: its hash differs")
        versions = mlflow.MlflowClient().search_model_versions(f"run_id = '{run_id}'")
        if not versions:
            raise NoReference(f"run {run_id} registered no model version")
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{versions[0].name}/{versions[0].version}",
            dst_path=str(Path(tmp) / "model"),
        )
        pipeline = persist.load(persist.find_skops_file(Path(local)))
        features, _ = split_xy(read_raw(train_csv))
        return reference.build(features, pipeline, rows, train_sha)

"""One monitoring pass: read the window, measure, compare with the served version's reference,
write the summary and report (whole, or not at all), log them to MLflow.

The summary is what `GET /monitor` answers:
`{"window", "predictions", "labelled", "models": {version: {...}}, "served", "drift": {field:
{score, drifted, method}}, "prediction_drift", "fields": {field: {missing, out_of_range}},
"shadow": {challenger version: {...}} (housing.monitor.shadow), ...}`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from housing.failures import first_line
from housing.files import atomic_path
from housing.monitor import drift, quality, shadow, window
from housing.monitor.references import NoReference, ReferenceStore
from housing.monitor.settings import MonitorSettings

log = logging.getLogger("housing.monitor")
SUMMARY_FILE = "latest.json"
REPORT_FILE = "report.html"


def run_pass(
    settings: MonitorSettings,
    engine: Engine,
    references: ReferenceStore,
    now: datetime | None = None,
) -> dict:
    started = time.perf_counter()
    read = window.read(engine, settings.window_hours, settings.max_rows, now)
    rows = read.rows
    summary: dict = {
        "window": read.describe(),
        "predictions": len(rows),
        "labelled": int(rows[window.ACTUAL].notna().sum()),
        "models": quality.by_version(rows),
        "served": None,
        "drift": {},
        "prediction_drift": None,
        "fields": {},
        "shadow": shadow.compare(shadow.read(engine, read.start, read.end, settings.max_rows)),
        "drift_note": None,
        "report": False,
    }
    report = settings.state_dir / REPORT_FILE
    drifted = None
    if len(rows):
        # The version that answered last is the one being served; drift is of its predictions.
        newest = rows.iloc[0]
        version, run_id = str(newest["model_version"]), newest["run_id"]
        served = rows[rows["model_version"] == version]
        summary["served"] = {"version": version, "run_id": run_id, "predictions": len(served)}
        try:
            if not run_id:
                raise NoReference(f"v{version}'s predictions were logged without a run id")
            ref = references.get(run_id)
            summary["fields"] = quality.field_quality(
                served, ref.ranges(), ref.profile["categories"]
            )
            if len(served) >= settings.drift_min_rows:
                drifted = drift.compare(served, ref.frame)
                summary["drift"] = drifted.fields()
                summary["prediction_drift"] = drifted.prediction()
            else:
                summary["drift_note"] = (
                    f"v{version} has {len(served)} predictions in the window; drift needs "
                    f"{settings.drift_min_rows} (MONITOR_DRIFT_MIN_ROWS)"
                )
        except NoReference as exc:
            summary["drift_note"] = f"no reference for v{version}: {exc}"
    else:
        summary["drift_note"] = "no predictions in the window"
    if drifted is not None:
        drifted.save_html(report)
        summary["report"] = True
    else:
        report.unlink(missing_ok=True)  # a report of an older window would mislead
    summary["seconds"] = round(time.perf_counter() - started, 3)
    summary["at"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    with atomic_path(settings.state_dir / SUMMARY_FILE, ".json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def latest(state_dir: Path) -> dict | None:
    """The last pass's summary, if one was written."""
    path = state_dir / SUMMARY_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def log_to_mlflow(
    summary: dict, state_dir: Path, tracking_uri: str, experiment: str, with_report: bool = True
) -> str:
    """Log a pass as a run of `experiment`: its figures as metrics, the summary and (when the
    pass made one and `with_report`) the report as artifacts. Returns the run's id."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=f"pass {summary['at']}") as active:
        mlflow.log_metrics(metrics_of(summary))
        if summary["served"]:
            mlflow.set_tags({f"served.{k}": str(v) for k, v in summary["served"].items()})
        mlflow.log_dict(summary, "summary.json")
        if summary["report"] and with_report:
            mlflow.log_artifact(str(state_dir / REPORT_FILE))
    return active.info.run_id


def metrics_of(summary: dict) -> dict[str, float]:
    """A pass's figures by flat name (MLflow's metrics)."""
    out = {
        "predictions": summary["predictions"],
        "labelled": summary["labelled"],
        "pass_seconds": summary["seconds"],
    }
    for version, figures in summary["models"].items():
        for key in ("predictions", "labelled", "rmse", "mae", "coverage"):
            if figures[key] is not None:
                out[f"v{version}.{key}"] = figures[key]
    for field, found in summary["drift"].items():
        out[f"drift.{field}"] = found["score"]
    if summary["drift"]:
        out["drifted_fields"] = sum(found["drifted"] for found in summary["drift"].values())
    for challenger, pair in summary["shadow"].items():
        out[f"shadow.v{challenger}.labelled"] = pair["labelled"]
        for role, value in pair["rmse"].items():
            if value is not None:
                out[f"shadow.v{challenger}.rmse.{role}"] = value
    for field, found in summary["fields"].items():
        for key in ("missing", "out_of_range"):
            if found[key] is not None:
                out[f"{key}.{field}"] = found[key]
    return out


class Monitor:
    """What a pass needs, opened once: the log's engine and the reference store. Used by
    `housing monitor run` (one pass) and the monitor service (a pass every interval)."""

    def __init__(self, settings: MonitorSettings, log_url: str, connect_timeout_s: float):
        from housing.predictions import store
        from housing.settings import TrainingSettings

        training = TrainingSettings()
        # Artifacts through MLflow's proxy, never a presigned S3 URL: in the stack the monitor
        # reaches MLflow only (as the predictor does); and no progress bars in its log.
        os.environ.setdefault("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "false")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        self.settings = settings
        self._report_logged_at = -float("inf")
        self.tracking_uri = training.tracking_uri
        self.model_name = training.model_name
        self.engine = store.connect(log_url, connect_timeout_s)
        store.ensure_schema(self.engine)  # an empty log is a pass with no predictions
        self.references = ReferenceStore(
            settings.state_dir / "references",
            training.tracking_uri,
            training,
            settings.reference_rows,
        )

    def run(self, now: datetime | None = None) -> dict:
        """A pass, then its log to MLflow: a pass stands without it (MLflow down is said in
        `mlflow_error`, the figures are still served and gauged)."""
        summary = run_pass(self.settings, self.engine, self.references, now)
        if self.settings.experiment:
            due = time.monotonic() - self._report_logged_at >= self.settings.report_log_interval_s
            try:
                summary["mlflow_run_id"] = log_to_mlflow(
                    summary,
                    self.settings.state_dir,
                    self.tracking_uri,
                    self.settings.experiment,
                    with_report=due,
                )
                if due and summary["report"]:
                    self._report_logged_at = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - MLflow's client raises many kinds
                summary["mlflow_error"] = first_line(exc)
                log.warning("monitoring pass not logged to MLflow: %s", summary["mlflow_error"])
        summary["retrain"] = self.ask_retrain(summary)
        return summary

    def ask_retrain(self, summary: dict) -> dict:
        """`{"reasons": [...], "requested": bool}`: whether this pass asks for a retrain, and
        whether it recorded the request (false while one is pending); `error` when MLflow
        could not be asked (the next pass asks again)."""
        from mlflow import MlflowClient

        from housing.monitor import retrain

        why = retrain.reasons(summary, self.settings)
        if not why:
            return {"reasons": [], "requested": False}
        try:
            client = MlflowClient(self.tracking_uri)
            made = retrain.request(
                client,
                self.model_name,
                why,
                summary["served"]["version"],
                self.settings.retrain_cooldown_hours,
            )
        except Exception as exc:  # noqa: BLE001 - MLflow's client raises many kinds
            log.warning("retrain request not recorded: %s", first_line(exc))
            return {"reasons": why, "requested": False, "error": first_line(exc)}
        if made:
            log.warning("retrain requested: %s", "; ".join(why))
        return {"reasons": why, "requested": made}

    def close(self) -> None:
        self.engine.dispose()

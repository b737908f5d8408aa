"""References kept with each version's run in a real MLflow (PostgreSQL and S3), built again
from lineage for a version registered without one; each pass logged to `monitoring`."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from housing.monitor.references import ReferenceStore, build_for_run
from housing.monitor.run import Monitor
from housing.monitor.settings import MonitorSettings
from housing.settings import TrainingSettings
from tests.conftest import PREDICTOR_MODEL
from tests.monitor.conftest import log_traffic


@pytest.fixture
def tracking(registered, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered["server"].url)
    mlflow.set_tracking_uri(registered["server"].url)
    version = MlflowClient().get_model_version(PREDICTOR_MODEL, registered["first"])
    return {**registered, "run_id": version.run_id}


def training_settings(registered) -> TrainingSettings:
    raw = registered["work"] / "housing.csv"
    return TrainingSettings(data_url=raw.as_uri(), tracking_uri=registered["server"].url)


def test_register_logs_the_reference_and_a_rebuild_from_lineage_equals_it(tracking, tmp_path):
    store = ReferenceStore(tmp_path, tracking["server"].url, None, 5_000)  # no rebuild possible
    logged = store.get(tracking["run_id"])
    assert (tmp_path / tracking["run_id"] / "reference.csv").is_file()
    assert logged.profile["sample_rows"] == len(logged.frame) == 5_000
    assert logged.profile["training_rows"] > 16_000
    assert logged.profile["categories"] == [
        "<1H OCEAN",
        "INLAND",
        "ISLAND",
        "NEAR BAY",
        "NEAR OCEAN",
    ]

    rebuilt = build_for_run(tracking["run_id"], training_settings(tracking), 5_000)
    pd.testing.assert_frame_equal(rebuilt.frame, logged.frame, check_exact=False, rtol=1e-9)
    assert rebuilt.profile == logged.profile


def test_a_run_without_a_reference_gets_one_built_and_logged_once(tracking, tmp_path):
    client = MlflowClient()
    # A version as registered before references existed: its run has the model, not reference/.
    source = client.get_run(tracking["run_id"])
    bare = client.create_run(source.info.experiment_id, tags=source.data.tags)
    for key, value in source.data.params.items():
        client.log_param(bare.info.run_id, key, value)
    with pytest.raises(Exception, match="registered no model version"):
        build_for_run(bare.info.run_id, training_settings(tracking), 100)

    # A new version of the same model files, logged to the run without a reference.
    files = mlflow.artifacts.download_artifacts(
        f"models:/{PREDICTOR_MODEL}/{tracking['first']}", dst_path=str(tmp_path / "model")
    )
    client.log_artifacts(bare.info.run_id, files, "model")
    created = client.create_model_version(
        PREDICTOR_MODEL, f"{bare.info.artifact_uri}/model", run_id=bare.info.run_id
    )
    try:
        store = ReferenceStore(tmp_path, tracking["server"].url, training_settings(tracking), 300)
        built = store.get(bare.info.run_id)
        assert len(built.frame) == 300
        names = [f.path for f in client.list_artifacts(bare.info.run_id, "reference")]
        assert names == ["reference/profile.json", "reference/reference.csv"]
    finally:
        client.delete_model_version(PREDICTOR_MODEL, created.version)


def test_a_pass_is_logged_to_the_monitoring_experiment(tracking, tmp_path, split, fitted):
    log_url = f"sqlite:///{tmp_path / 'predictions.db'}"
    live = split[1].iloc[:300]
    log_traffic(log_url, live, fitted.predict(live))
    # The log names the registered run: its reference comes from MLflow.
    from sqlalchemy import update

    from housing.predictions import store
    from housing.predictions.table import predictions

    engine = store.connect(log_url)
    with engine.begin() as connection:
        connection.execute(update(predictions).values(run_id=tracking["run_id"]))
    engine.dispose()

    settings = MonitorSettings(state_dir=tmp_path / "state", experiment="monitoring-test")
    monitor = Monitor(settings, log_url, 5.0)
    try:
        summary = monitor.run()
    finally:
        monitor.close()
    run = MlflowClient().get_run(summary["mlflow_run_id"])
    assert run.data.metrics["v1.labelled"] == 300
    assert run.data.metrics["v1.rmse"] == pytest.approx(summary["models"]["1"]["rmse"])
    assert "drift.median_income" in run.data.metrics
    names = {f.path for f in MlflowClient().list_artifacts(run.info.run_id)}
    assert names == {"report.html", "summary.json"}
    # The next pass within MONITOR_REPORT_LOG_INTERVAL_S: its figures, not the report again.
    monitor = Monitor(settings, log_url, 5.0)
    try:
        first, second = monitor.run(), monitor.run()
    finally:
        monitor.close()
    logged = [
        {f.path for f in MlflowClient().list_artifacts(r["mlflow_run_id"])} for r in (first, second)
    ]
    assert logged == [{"report.html", "summary.json"}, {"summary.json"}]

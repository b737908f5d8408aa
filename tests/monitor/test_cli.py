"""`housing monitor run`: one pass, its figures as lines (or JSON), a bad setup one line."""

from __future__ import annotations

import json
import os

import pytest

from tests.monitor.conftest import RUN_ID, log_traffic
from tests.unit.test_cli import housing


@pytest.fixture(autouse=True)
def own_registry(tmp_path, monkeypatch):
    """A pass that asks for a retrain asks this registry, never the working directory's."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")


def env(**values) -> dict:
    return {**os.environ, "MONITOR_EXPERIMENT": "", **values}


def test_a_pass_prints_each_version_and_what_drifted(tmp_path, split, fitted, references_dir):
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    live = split[1].iloc[:250].copy()
    live["median_income"] *= 1.6
    log_traffic(url, live, fitted.predict(live))
    state = tmp_path / "state"
    (state / "references").mkdir(parents=True)
    (state / "references" / RUN_ID).symlink_to(references_dir / RUN_ID)

    done = housing("monitor", "run", env=env(PREDICTION_LOG_URL=url, MONITOR_STATE_DIR=str(state)))

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "250 predictions, 250 labelled" in lines[0]
    assert lines[1].startswith("v1: 250 predictions, 250 labelled  rmse ")
    assert lines[2].startswith("drifted: ") and "median_income" in lines[2]
    # The drift asks for a retrain; this registry holds no such model, so it is not recorded.
    assert lines[3].startswith("retrain wanted (not recorded: ") and "median_income" in lines[3]
    assert lines[4] == f"report: {state / 'report.html'}"
    as_json = housing(
        "monitor", "run", "--json", env=env(PREDICTION_LOG_URL=url, MONITOR_STATE_DIR=str(state))
    )
    assert json.loads(as_json.stdout)["drift"]["median_income"]["drifted"] is True


def test_no_log_is_one_line():
    done = housing("monitor", "run", env=env(PREDICTION_LOG_URL=""))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: PREDICTION_LOG_URL is empty: there is no prediction log to monitor"
    ]


def test_a_bad_setting_is_one_line(tmp_path):
    done = housing(
        "monitor",
        "run",
        env=env(MONITOR_WINDOW_HOURS="-1", PREDICTION_LOG_URL=f"sqlite:///{tmp_path}/p.db"),
    )
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "window_hours" in done.stderr

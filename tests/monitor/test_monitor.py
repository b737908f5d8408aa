"""A monitoring pass: live quality per version, field quality, drift by Evidently, the report."""

from __future__ import annotations

import numpy as np
import pytest

from housing.contract import TARGET
from housing.monitor.run import REPORT_FILE, SUMMARY_FILE, latest
from tests.monitor.conftest import log_traffic, one_pass, rmse

DRIFT_ROWS = 1_500


@pytest.fixture
def log_url(tmp_path):
    return f"sqlite:///{tmp_path / 'predictions.db'}"


def test_live_rmse_mae_and_coverage_are_what_a_client_computes(
    log_url, tmp_path, split, fitted, references_dir
):
    test = split[1].iloc[:600]
    predicted = fitted.predict(test)
    bounds = np.column_stack([predicted * 0.8, predicted * 1.2])
    log_traffic(log_url, test.iloc[:400], predicted[:400], "1", bounds[:400])
    # v2 answered 200 more, of which only the first 100 got their price back.
    log_traffic(log_url, test.iloc[400:500], predicted[400:500], "2", prefix="a")
    log_traffic(log_url, test.iloc[500:], predicted[500:], "2", labelled=False, prefix="b")

    summary = one_pass(log_url, tmp_path / "state", references_dir, drift_min_rows=50)

    actual = test[TARGET].to_numpy()
    assert summary["predictions"] == 600 and summary["labelled"] == 500
    v1, v2 = summary["models"]["1"], summary["models"]["2"]
    assert (v1["predictions"], v1["labelled"], v2["predictions"], v2["labelled"]) == (
        400,
        400,
        200,
        100,
    )
    assert v1["rmse"] == pytest.approx(rmse(predicted[:400], actual[:400]), rel=1e-3)
    assert v2["rmse"] == pytest.approx(rmse(predicted[400:500], actual[400:500]), rel=1e-3)
    assert v1["mae"] == pytest.approx(np.mean(np.abs(predicted[:400] - actual[:400])), rel=1e-3)
    inside = (actual[:400] >= bounds[:400, 0]) & (actual[:400] <= bounds[:400, 1])
    assert v1["coverage"] == pytest.approx(inside.mean()) and v2["coverage"] is None
    # v2 answered last: its predictions are the ones compared with the reference.
    assert summary["served"]["version"] == "2" and summary["served"]["predictions"] == 200
    assert latest(tmp_path / "state") == summary
    print(f"\nlive RMSE v1 {v1['rmse']:,.0f} (client {rmse(predicted[:400], actual[:400]):,.0f})")


def test_median_income_times_1_6_is_flagged_and_little_else(
    log_url, tmp_path, split, fitted, references_dir
):
    live = split[1].sample(DRIFT_ROWS, random_state=1).copy()
    live["median_income"] *= 1.6
    log_traffic(log_url, live, fitted.predict(live), labelled=False)

    summary = one_pass(log_url, tmp_path / "state", references_dir)

    drift = summary["drift"]
    flagged = sorted(field for field, found in drift.items() if found["drifted"])
    print(
        f"\nmedian_income x1.6: flagged {flagged}; scores "
        + ", ".join(f"{f} {d['score']:.3f}" for f, d in drift.items())
    )
    assert drift["median_income"]["drifted"] and drift["median_income"]["score"] > 0.1
    assert len(flagged) <= 2, flagged  # of nine fields
    assert summary["prediction_drift"]["drifted"]
    report = (tmp_path / "state" / REPORT_FILE).read_text()
    assert summary["report"] and "median_income" in report and "<html" in report.lower()


def test_traffic_like_the_training_data_is_not_flagged(
    log_url, tmp_path, split, fitted, references_dir
):
    live = split[1].sample(DRIFT_ROWS, random_state=2)
    log_traffic(log_url, live, fitted.predict(live), labelled=False)

    summary = one_pass(log_url, tmp_path / "state", references_dir)

    flagged = [field for field, found in summary["drift"].items() if found["drifted"]]
    assert flagged == [] and not summary["prediction_drift"]["drifted"]
    assert summary["fields"]["total_bedrooms"]["missing"] == pytest.approx(
        live["total_bedrooms"].isna().mean()
    )
    assert all(found["out_of_range"] < 0.01 for found in summary["fields"].values())


def test_out_of_range_inputs_are_counted(log_url, tmp_path, split, fitted, references_dir):
    live = split[1].iloc[:100].copy()
    live.loc[live.index[:25], "housing_median_age"] = 80.0  # training's oldest is 52
    log_traffic(log_url, live, fitted.predict(live), labelled=False)

    summary = one_pass(log_url, tmp_path / "state", references_dir)

    assert summary["fields"]["housing_median_age"]["out_of_range"] == pytest.approx(0.25)
    assert summary["fields"]["median_income"]["out_of_range"] == 0.0
    # Too few for drift: said, and no report left from an older pass.
    assert summary["drift"] == {} and "drift needs 200" in summary["drift_note"]
    assert not summary["report"] and not (tmp_path / "state" / REPORT_FILE).exists()


def test_an_empty_log_is_a_pass_with_nothing_to_say(log_url, tmp_path, references_dir):
    summary = one_pass(log_url, tmp_path / "state", references_dir)
    assert summary["predictions"] == 0 and summary["models"] == {}
    assert summary["drift_note"] == "no predictions in the window"
    assert (tmp_path / "state" / SUMMARY_FILE).is_file()

"""The monitor in the compose stack, through the edge as a client: live RMSE of what it was
sent and told, drift of median_income x 1.6, the report; then two of Prometheus's alerts fire
on what the monitor measured (read from Prometheus's own API)."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np

from housing import defaults
from housing.contract import FEATURES, TARGET
from tests.e2e.conftest import get_inside

LABELLED = 400
PROMETHEUS_PORT = 9090  # compose.yaml's published default
DRIFTED = 1_600
PACE_S = 1.0  # between two 200-record requests sent without feedback (see send)


def monitor(gateway: str, key: str) -> dict:
    answer = httpx.get(f"{gateway}/monitor", headers={"X-API-Key": key}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def next_pass(gateway: str, key: str, after: str, holding: int = 0, timeout_s: float = 120) -> dict:
    """The first summary of a pass that started after `after` (a pass's `at`) and whose window
    holds at least `holding` predictions."""
    deadline = time.monotonic() + timeout_s
    while True:
        summary = monitor(gateway, key)
        if summary["window"]["end"] > after and summary["predictions"] >= holding:
            return summary
        assert time.monotonic() < deadline, (
            f"no pass after {after} holding {holding} predictions: {summary['predictions']}"
        )
        time.sleep(1)


def soon() -> str:
    """A pass's `at` a second from now: a pass that starts later sees what was sent before."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))


def send(gateway: str, key: str, frame, feedback: bool) -> np.ndarray:
    rows = frame[list(FEATURES)].astype(object).where(frame[list(FEATURES)].notna(), None)
    records = rows.to_dict("records")
    predicted = []
    with httpx.Client(base_url=gateway, headers={"X-API-Key": key}, timeout=30) as client:
        for start in range(0, len(records), 200):
            answer = client.post("/predict", json={"records": records[start : start + 200]})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            predicted += body["predictions"]
            if not feedback:
                # The log's writer flushes every PREDICTION_LOG_FLUSH_INTERVAL_S (0.5 s), and
                # e2e's buffer holds 500 rows (chaos overflows it on purpose): a faster burst is
                # dropped (counted), which is the buffer's job, not what this measures.
                time.sleep(PACE_S)
                continue
            actuals = frame[TARGET].iloc[start : start + 200].tolist()
            for _ in range(60):  # in the log within the writer's flush interval
                sent = client.post(
                    "/feedback", json={"request_id": body["request_id"], "actuals": actuals}
                )
                if sent.status_code != 404:
                    break
                time.sleep(0.25)
            assert sent.status_code == 202, sent.text
    return np.asarray(predicted)


def test_live_rmse_is_what_the_client_computes(gateway, api_key, split):
    # A pass that began now: one from before would miss the labels other tests just sent.
    before = next_pass(gateway, api_key, soon())
    version = before["served"]["version"] if before["served"] else None
    prior = before["models"].get(version or "", {"labelled": 0, "rmse": None})
    test = split[1].sample(LABELLED, random_state=7)
    predicted = send(gateway, api_key, test, feedback=True)
    summary = next_pass(gateway, api_key, soon())

    version = summary["served"]["version"]
    live = summary["models"][version]
    # The client's RMSE over what the window holds: its own errors, and those already labelled
    # in it before (other tests' requests: their count and RMSE, from the pass before).
    squared = np.sum((predicted - test[TARGET].to_numpy()) ** 2)
    if prior["labelled"]:
        squared += prior["labelled"] * prior["rmse"] ** 2
    client_rmse = float(np.sqrt(squared / (prior["labelled"] + LABELLED)))
    assert live["labelled"] == prior["labelled"] + LABELLED
    assert abs(live["rmse"] - client_rmse) <= 1e-3 * client_rmse
    print(f"\nlive RMSE {live['rmse']:,.1f}, the client's {client_rmse:,.1f}: {live['labelled']}")


def test_median_income_times_1_6_is_flagged_and_the_report_opens(gateway, api_key, split):
    drifted = split[1].sample(DRIFTED, random_state=8, replace=True).copy()
    drifted["median_income"] *= 1.6
    logged = next_pass(gateway, api_key, soon())["predictions"]
    send(gateway, api_key, drifted, feedback=False)

    # Every drifted record in the window: before, CI's pass came while they were still being
    # written (or dropped by a burst), and found nothing drifted.
    summary = next_pass(gateway, api_key, soon(), holding=logged + DRIFTED)

    drift = summary["drift"]
    flagged = sorted(field for field, found in drift.items() if found["drifted"])
    print(f"\nmedian_income x1.6 in the stack: flagged {flagged}")
    assert drift["median_income"]["drifted"]
    assert len(flagged) <= 2, flagged
    report = httpx.get(f"{gateway}/monitor/report", headers={"X-API-Key": api_key}, timeout=30)
    assert report.status_code == 200 and "median_income" in report.text
    gauges = get_inside("monitor", defaults.MONITOR_METRICS_PORT, "/metrics")
    assert 'monitor_drifted{field="median_income"} 1.0' in gauges


def firing(timeout_s: float, *names: str) -> list[dict]:
    """Prometheus's firing alerts once each of `names` fires (its API on the published port)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = httpx.get(f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/alerts", timeout=10)
        answer.raise_for_status()
        alerts = [a for a in answer.json()["data"]["alerts"] if a["state"] == "firing"]
        if set(names) <= {a["labels"]["alertname"] for a in alerts}:
            return alerts
        assert time.monotonic() < deadline, f"not firing within {timeout_s} s: {alerts}"
        time.sleep(2)


def test_drift_and_a_bad_live_rmse_fire_their_alerts(gateway, api_key, split):
    """The drifted traffic above fires FieldDrifted; actuals five times the prices fire
    LiveRmseHigh (the alert rules: deploy/prometheus/alerts.yml)."""
    wrong = split[1].sample(150, random_state=9).copy()
    wrong[TARGET] = wrong[TARGET] * 5
    send(gateway, api_key, wrong, feedback=True)
    started = time.monotonic()

    alerts = firing(180, "FieldDrifted", "LiveRmseHigh")

    by_name = {}
    for alert in alerts:
        by_name.setdefault(alert["labels"]["alertname"], []).append(alert)
    assert "median_income" in {a["labels"]["field"] for a in by_name["FieldDrifted"]}
    rmse = by_name["LiveRmseHigh"][0]  # one per version over the threshold
    took = time.monotonic() - started
    print(
        f"\nFieldDrifted, LiveRmseHigh firing {took:.0f} s after: {rmse['annotations']['summary']}"
    )


def test_the_drift_and_the_rmse_recorded_a_retrain_request(registry):
    """What fired the alerts also asked for a retrain: a tag on the registered model, with the
    reasons (housing.monitor.retrain), which the next trainer run acts on (test_2_retrain)."""
    deadline = time.monotonic() + 60
    while (raw := registry.model_tags().get("retrain_requested")) is None:
        assert time.monotonic() < deadline, registry.model_tags()
        time.sleep(1)
    asked = json.loads(raw)
    assert any("median_income" in reason for reason in asked["reasons"]), asked
    print(f"\nretrain requested at {asked['at']}: {'; '.join(asked['reasons'])}")

"""The monitor service for real: a predictor logging what a gateway forwards, feedback through
the gateway, the monitor's passes over that log, and its answers through the gateway."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest
from mlflow import MlflowClient

from housing.contract import FEATURES, TARGET
from tests.conftest import GATEWAY_KEY, PREDICTOR_MODEL
from tests.support.apps import predictor_env, service

KEY = {"X-API-Key": GATEWAY_KEY}
RECORDS = 300


@pytest.fixture(scope="module")
def stack(registered, tmp_path_factory):
    """A predictor, a gateway and a monitor of their own (their log counts only this module's)."""
    work = tmp_path_factory.mktemp("monitored")
    env = predictor_env(registered["server"].url, PREDICTOR_MODEL, work / "cache")
    log_url = env["PREDICTION_LOG_URL"]
    with service("predictor", env, work / "predictor.log", "/health/ready") as (p_url, _, _):
        monitor_env = {
            "PREDICTION_LOG_URL": log_url,
            "MLFLOW_TRACKING_URI": registered["server"].url,
            "MONITOR_INTERVAL_S": "1",
            "MONITOR_DRIFT_MIN_ROWS": "50",
            "MONITOR_STATE_DIR": str(work / "state"),
            "MONITOR_EXPERIMENT": "monitoring-service-test",
        }
        with service(
            "monitor", monitor_env, work / "monitor.log", "/health/ready", port_var="MONITOR_PORT"
        ) as (m_url, _, m_metrics):
            gateway_env = {
                "PREDICTOR_URLS": p_url,
                "GATEWAY_API_KEYS": GATEWAY_KEY,
                "PREDICTION_LOG_URL": log_url,
                "GATEWAY_MONITOR_URL": m_url,
                "GATEWAY_RATE_BURST": "100000",
            }
            with service(
                "gateway", gateway_env, work / "gw.log", "/health/ready", port_var="GATEWAY_PORT"
            ) as (g_url, _, _):
                with httpx.Client(base_url=g_url, timeout=30) as client:
                    yield {"gateway": client, "monitor": m_url, "metrics": m_metrics, "work": work}


def wait_for(client: httpx.Client, labelled: int, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.get("/monitor", headers=KEY)
        if answer.status_code == 200 and answer.json()["labelled"] >= labelled:
            return answer.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"no pass saw {labelled} labelled: {answer.text[:500]}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def sent(stack, split):
    """RECORDS test districts predicted through the gateway (with intervals), their prices
    posted back; what the client saw."""
    gateway = stack["gateway"]
    test = split[1].iloc[:RECORDS]
    records = test[list(FEATURES)].astype(object).where(test[list(FEATURES)].notna(), None)
    records = records.to_dict("records")
    predicted, low, high = [], [], []
    for start in range(0, RECORDS, 50):
        answer = gateway.post(
            "/predict",
            params={"interval": 0.9},
            json={"records": records[start : start + 50]},
            headers=KEY,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        predicted += body["predictions"]
        low += [pair[0] for pair in body["intervals"]]
        high += [pair[1] for pair in body["intervals"]]
        actuals = test[TARGET].iloc[start : start + 50].tolist()
        for _ in range(40):  # the record reaches the log within a flush interval
            posted = gateway.post(
                "/feedback",
                json={"request_id": body["request_id"], "actuals": actuals},
                headers=KEY,
            )
            if posted.status_code != 404:
                break
            time.sleep(0.25)
        assert posted.status_code == 202, posted.text

    wait_for(gateway, RECORDS)
    return {"test": test, "predicted": predicted, "low": low, "high": high}


def test_live_rmse_through_the_gateway_is_the_clients(stack, sent):
    gateway = stack["gateway"]
    test, predicted, low, high = sent["test"], sent["predicted"], sent["low"], sent["high"]
    summary = wait_for(gateway, RECORDS)

    actual = test[TARGET].to_numpy()
    client_rmse = float(np.sqrt(np.mean((np.asarray(predicted) - actual) ** 2)))
    live = summary["models"]["1"]
    print(f"\nlive RMSE {live['rmse']:,.2f} vs the client's {client_rmse:,.2f}")
    assert live["rmse"] == pytest.approx(client_rmse, rel=1e-3)
    inside = (actual >= np.asarray(low)) & (actual <= np.asarray(high))
    assert live["coverage"] == pytest.approx(inside.mean())
    assert set(summary["drift"]) == set(FEATURES) and summary["report"]

    metrics = httpx.get(stack["metrics"], timeout=5).text
    assert f'monitor_rmse_usd{{version="1"}} {live["rmse"]}' in metrics
    runs = MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("monitoring-service-test").experiment_id]
    )
    assert runs and any(r.data.metrics.get("v1.labelled") == RECORDS for r in runs)


def test_the_report_opens_through_the_gateway_sandboxed(stack, sent):
    gateway = stack["gateway"]
    answer = gateway.get("/monitor/report", headers=KEY)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"].startswith("sandbox allow-scripts")
    assert "median_income" in answer.text
    refused = gateway.get("/monitor/report")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


def test_the_monitor_itself_is_ready_and_not_published_by_the_gateway_without_a_key(stack):
    ready = httpx.get(stack["monitor"] + "/health/ready", timeout=5)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert stack["gateway"].get("/monitor").status_code == 401


def test_the_report_opens_in_a_browser(stack, sent):
    """Headless Chromium, through the gateway with a key, under the report's sandboxing CSP:
    Evidently's page runs its scripts and draws the drift of each field."""
    from tests.gateway.test_playground import CHROMIUM, FLAGS

    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    url = str(stack["gateway"].base_url) + "/monitor/report"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(extra_http_headers=KEY)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.get_by_text("median_income").first.wait_for(timeout=30_000)
        drawn = page.locator("svg").count()
        text = page.inner_text("body")
        browser.close()
    assert not errors, errors
    assert drawn > 0 and "Drift" in text, text[:500]
    print(f"\nthe report in Chromium: {drawn} charts drawn")


def test_a_failing_pass_leaves_the_last_summary_served_and_the_monitor_ready(tmp_path):
    """The log unreachable: with no summary yet the monitor is not ready (and says why); with
    the last one kept in its state, it stays ready, serves it, and names the failure. An outage
    of a store is not a reason to restart the monitor or to hold up `compose up --wait`."""
    from tests.support.procs import free_port

    env = {
        "PREDICTION_LOG_URL": f"postgresql+psycopg2://nobody@127.0.0.1:{free_port()}/log",
        "PREDICTION_LOG_CONNECT_TIMEOUT_S": "1",
        "MONITOR_EXPERIMENT": "",
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
    }

    def readiness() -> httpx.Response:
        with service("monitor", env, tmp_path / "m.log", "/health/live", port_var="MONITOR_PORT"
                     ) as (url, _, _):  # fmt: skip
            deadline = time.monotonic() + 30
            while "fail" not in (answer := httpx.get(url + "/health/ready", timeout=5)).text:
                assert time.monotonic() < deadline, answer.text
                time.sleep(0.3)
            return answer

    first = readiness()
    assert first.status_code == 503, first.text
    assert "no monitoring pass has finished yet; the last failed:" in first.json()["detail"]
    kept = {"at": "2026-12-07T00:00:00Z", "predictions": 3}
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / "latest.json").write_text(json.dumps(kept))
    later = readiness()
    assert later.status_code == 200, later.text
    assert later.json()["last_pass"] == kept["at"] and later.json()["last_error"]

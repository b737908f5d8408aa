"""The services' logs (housing.web.logs), read from real processes' stderr: JSON lines, an access
line for every failure and for the sampled share of the rest, with the request's id, route,
status, latency and the model version that answered."""

from __future__ import annotations

import json

import httpx

from housing.contract import EXAMPLE_RECORD
from tests.conftest import GATEWAY_KEY
from tests.gateway.conftest import KEY
from tests.support.apps import service
from tests.support.procs import free_port, wait_until


def lines(log) -> list[dict]:
    """Every line of a service's log, each of which must be a JSON object."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def access(log, strict: bool = True) -> list[dict]:
    """The access lines; `strict`: every line of the log must be JSON."""
    if strict:
        entries = lines(log)
    else:
        entries = []
        for line in log.read_text().splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
    return [entry for entry in entries if entry.get("logger", "").endswith(".access")]


def gateway(tmp_path, sample: str):
    env = {
        "GATEWAY_API_KEYS": KEY,
        "PREDICTOR_URLS": f"http://127.0.0.1:{free_port()}",  # none: 503s
        "GATEWAY_LOG_SAMPLE": sample,
    }
    return service("gateway", env, tmp_path / "gateway.log", port_var="GATEWAY_PORT")


def test_every_failure_gets_a_line_and_no_success_at_sample_zero(tmp_path):
    with gateway(tmp_path, "0") as (url, _, _):
        for _ in range(3):
            assert httpx.get(url + "/health/live").status_code == 200
        refused = httpx.post(url + "/predict", json=EXAMPLE_RECORD)  # no key
        assert refused.status_code == 401
        wait_until(lambda: access(tmp_path / "gateway.log"), 10, "the access line")
        logged = access(tmp_path / "gateway.log")
    assert len(logged) == 1, logged
    line = logged[0]
    assert (line["level"], line["method"], line["route"], line["status"]) == (
        "INFO", "POST", "/predict", 401,
    )  # fmt: skip
    assert line["request_id"] == refused.headers["x-request-id"]
    assert line["latency_ms"] > 0 and line["message"] == "POST /predict 401"
    assert {"time", "logger"} <= set(line)
    assert lines(tmp_path / "gateway.log")  # uvicorn's own lines are JSON too (parsed above)


def test_at_sample_one_every_request_gets_a_line(tmp_path):
    with gateway(tmp_path, "1") as (url, _, _):
        for _ in range(5):
            httpx.get(url + "/health/live")
        wait_until(lambda: len(access(tmp_path / "gateway.log")) >= 5, 10, "five access lines")
        statuses = [line["status"] for line in access(tmp_path / "gateway.log")]
    assert statuses.count(200) >= 5


def test_a_prediction_line_names_the_model_version_that_answered(gateway_url, predictor):
    answer = httpx.post(
        gateway_url + "/predict", json=EXAMPLE_RECORD, headers={"X-API-Key": GATEWAY_KEY}
    )
    assert answer.status_code == 200
    assert answer.headers["x-model-version"] == answer.json()["model"]["version"]
    rid = answer.headers["x-request-id"]

    def logged() -> list[dict]:
        lines = access(predictor["log"], strict=False)  # a session's log: other tests' lines
        return [line for line in lines if line.get("request_id") == rid]

    wait_until(logged, 10, "the predictor's line for the request")
    line = logged()[0]
    assert (line["route"], line["status"]) == ("/predict", 200)
    assert line["model_version"] == answer.json()["model"]["version"]

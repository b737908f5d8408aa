"""A real gateway process in front of a real predictor process, on loopback."""

from __future__ import annotations

import json

import httpx

from housing.contract import EXAMPLE_RECORD
from tests.conftest import GATEWAY_KEY

KEY = GATEWAY_KEY


def test_prediction_through_the_gateway_equals_the_predictor(gateway_url, predictor):
    direct = predictor["client"].post("/predict", json=EXAMPLE_RECORD).json()
    via = httpx.post(gateway_url + "/predict", json=EXAMPLE_RECORD, headers={"X-API-Key": KEY})
    assert via.status_code == 200
    assert via.json()["predictions"] == direct["predictions"]
    assert via.json()["model"] == direct["model"]
    assert via.json()["request_id"] == via.headers["x-request-id"]


def test_intervals_pass_through_the_gateway(gateway_url, predictor):
    direct = predictor["client"].post("/predict?interval=0.8", json=EXAMPLE_RECORD).json()
    via = httpx.post(
        gateway_url + "/predict?interval=0.8", json=EXAMPLE_RECORD, headers={"X-API-Key": KEY}
    )
    assert via.status_code == 200 and via.json()["intervals"] == direct["intervals"]
    plain = httpx.post(gateway_url + "/predict", json=EXAMPLE_RECORD, headers={"X-API-Key": KEY})
    assert "intervals" not in plain.json()
    refused = httpx.post(
        gateway_url + "/predict?interval=2", json=EXAMPLE_RECORD, headers={"X-API-Key": KEY}
    )
    assert refused.status_code == 422 and "interval" in refused.json()["detail"]


def test_edge_validation_matches_the_predictor(gateway_url, predictor):
    bad = {"records": [EXAMPLE_RECORD, {**EXAMPLE_RECORD, "ocean_proximity": "LAKE"}]}
    direct = predictor["client"].post("/predict", json=bad)
    via = httpx.post(gateway_url + "/predict", json=bad, headers={"X-API-Key": KEY})
    assert via.status_code == direct.status_code == 422
    assert via.json()["detail"] == direct.json()["detail"]


def test_no_key_is_401_over_the_wire(gateway_url):
    assert httpx.post(gateway_url + "/predict", json=EXAMPLE_RECORD).status_code == 401


def test_a_body_of_bad_records_gets_a_short_answer(gateway_url):
    """Thousands of bad records (or unknown keys) cost little to send: the refusal stays short."""
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    many_empty = b'{"records": [' + b",".join([b"{}"] * 9_000) + b"]}"
    over_limit = b'{"records": [' + b",".join([b"{}"] * 200_000) + b"]}"
    many_keys = json.dumps({**EXAMPLE_RECORD, **{f"k{i}": i for i in range(5_000)}}).encode()
    for body, field in ((many_empty, "records[0]."), (over_limit, "records"), (many_keys, "k")):
        response = httpx.post(gateway_url + "/predict", content=body, headers=headers, timeout=30)
        assert response.status_code == 422, response.text[:300]
        assert len(response.content) <= 64 * 1024, len(response.content)
        refusal = response.json()
        assert len(refusal["errors"]) <= 20 and refusal["errors"][0]["field"].startswith(field)
    assert refusal["more_errors"] == 5_000 - 20


def test_a_request_id_that_is_not_a_plain_token_is_replaced(gateway_url):
    # (A head over the server's limit is refused before this: tests/gateway/test_server_limits.py)
    for sent in (b"\xc3\xa9t\xc3\xa9", b"x" * 60_000, b"a b"):
        for headers in ({"X-API-Key": KEY}, {}):  # answered, and refused for want of a key
            response = httpx.post(
                gateway_url + "/predict",
                json=EXAMPLE_RECORD,
                headers={**headers, "X-Request-ID": sent},
                timeout=30,
            )
            assert response.status_code in (200, 401), response.text[:300]
            echoed = response.headers["x-request-id"]
            assert len(echoed) == 32 and echoed.encode() != sent
    kept = httpx.post(
        gateway_url + "/predict",
        json=EXAMPLE_RECORD,
        headers={"X-API-Key": KEY, "X-Request-ID": "trace.id:42-A_b"},
    )
    assert kept.json()["request_id"] == "trace.id:42-A_b" == kept.headers["x-request-id"]

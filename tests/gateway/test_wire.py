"""A real gateway process in front of a real predictor process, on loopback."""

from __future__ import annotations

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


def test_edge_validation_matches_the_predictor(gateway_url, predictor):
    bad = {"records": [EXAMPLE_RECORD, {**EXAMPLE_RECORD, "ocean_proximity": "LAKE"}]}
    direct = predictor["client"].post("/predict", json=bad)
    via = httpx.post(gateway_url + "/predict", json=bad, headers={"X-API-Key": KEY})
    assert via.status_code == direct.status_code == 422
    assert via.json()["message"] == direct.json()["message"]


def test_no_key_is_401_over_the_wire(gateway_url):
    assert httpx.post(gateway_url + "/predict", json=EXAMPLE_RECORD).status_code == 401

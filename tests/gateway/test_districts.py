"""GET /districts/nearest through a real gateway in front of a real predictor: behind the key,
the predictor's answer passed on, a bad place refused at the gateway naming the field."""

from __future__ import annotations

import httpx

from tests.conftest import GATEWAY_KEY as KEY

PLACE = {"longitude": -122.27, "latitude": 37.80}


def test_the_nearest_district_needs_a_key_and_is_the_predictors(gateway_url, predictor):
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        assert client.get("/districts/nearest", params=PLACE).status_code == 401
        answer = client.get("/districts/nearest", params=PLACE, headers={"X-API-Key": KEY})
        refused = client.get(
            "/districts/nearest",
            params={"longitude": "west", "latitude": 37.8},
            headers={"X-API-Key": KEY},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == predictor["client"].get("/districts/nearest", params=PLACE).json()
    assert answer.headers["x-request-id"]
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["query.longitude"]

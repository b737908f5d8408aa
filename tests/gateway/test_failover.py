"""Upstream failures, in process: refused, slow, 5xx, not ready, one of two replicas down."""

from __future__ import annotations

import time

import pytest

from housing.contract import EXAMPLE_RECORD
from tests.gateway.conftest import FakePredictors, auth, gateway, metrics_of

pytestmark = pytest.mark.anyio
TWO = {"PREDICTOR_URLS": "http://a:8001,http://b:8001"}


async def test_forwards_and_adds_request_id():
    async with gateway(FakePredictors()) as client:
        response = await client.post("/predict", json=EXAMPLE_RECORD, headers=auth())
        assert response.status_code == 200
        body = response.json()
        assert body["predictions"] == [123456.0] and body["model"]["version"] == "7"
        assert body["request_id"] == response.headers["x-request-id"] and body["request_id"]
        mine = await client.post(
            "/predict", json=EXAMPLE_RECORD, headers={**auth(), "X-Request-ID": "abc-123"}
        )
        assert mine.json()["request_id"] == "abc-123" == mine.headers["x-request-id"]


async def test_spreads_across_ready_replicas():
    fake = FakePredictors()
    async with gateway(fake, **TWO) as client:
        for _ in range(10):
            await client.post("/predict", json=EXAMPLE_RECORD, headers=auth())
    assert fake.calls.count("a") == 5 and fake.calls.count("b") == 5


async def test_one_replica_down_no_request_fails_and_it_is_ejected():
    fake = FakePredictors(b="refuse")
    async with gateway(fake, **TWO) as client:
        client_app = client._transport.app
        # The start-up probe already found b unready; make it look ready to force a real failure.
        for replica in client_app.state.replicas.replicas:
            replica.ready = True
        statuses = [
            (await client.post("/predict", json=EXAMPLE_RECORD, headers=auth())).status_code
            for _ in range(6)
        ]
        metrics = metrics_of(client)
    assert statuses == [200] * 6
    assert fake.calls.count("b") == 1  # tried once, then out for the cool-down
    assert 'gateway_upstream_ejections_total{upstream="http://b:8001"} 1.0' in metrics
    assert "gateway_upstream_retries_total" in metrics


async def test_no_ready_predictor_is_503_at_once():
    async with gateway(FakePredictors(a="refuse")) as client:
        started = time.monotonic()
        response = await client.post("/predict", json=EXAMPLE_RECORD, headers=auth())
        assert time.monotonic() - started < 1.0
        assert response.status_code == 503 and response.headers["retry-after"]
        assert "no predictor is ready" in response.json()["detail"]
        assert (await client.get("/health/ready")).status_code == 503


async def test_slow_predictor_is_504():
    async with gateway(FakePredictors(a="slow")) as client:
        response = await client.post("/predict", json=EXAMPLE_RECORD, headers=auth())
    assert response.status_code == 504 and "in time" in response.json()["detail"]


async def test_a_502_is_retried_on_another():
    fake = FakePredictors(a="bad_gateway")
    async with gateway(fake, **TWO) as client:
        responses = [
            await client.post("/predict", json=EXAMPLE_RECORD, headers=auth()) for _ in range(4)
        ]
    assert [r.status_code for r in responses] == [200] * 4


async def test_a_500_is_not_retried_and_its_replica_is_ejected():
    """The predictor failed on this request: another would most likely fail the same way."""
    fake = FakePredictors(a="error")
    async with gateway(fake, **TWO) as client:
        responses = [
            await client.post("/predict", json=EXAMPLE_RECORD, headers=auth()) for _ in range(4)
        ]
    assert [r.status_code for r in responses].count(502) == 1  # once, then a is out
    assert fake.calls.count("a") == 1 and fake.calls.count("b") == 3


async def test_server_error_with_no_other_replica_is_502():
    async with gateway(FakePredictors(a="error")) as client:
        response = await client.post("/predict", json=EXAMPLE_RECORD, headers=auth())
    assert response.status_code == 502 and "failed" in response.json()["detail"]


async def test_predictor_4xx_passes_through():
    async with gateway(FakePredictors(a="invalid")) as client:
        response = await client.post("/predict", json=EXAMPLE_RECORD, headers=auth())
    assert response.status_code == 422 and response.json()["detail"] == "households: too small"


async def test_invalid_body_is_refused_at_the_edge():
    fake = FakePredictors()
    async with gateway(fake) as client:
        response = await client.post(
            "/predict", json={**EXAMPLE_RECORD, "households": 0}, headers=auth()
        )
    assert response.status_code == 422 and "households" in response.json()["detail"]
    assert fake.calls == []  # never reached a predictor


async def test_a_name_with_several_addresses_becomes_several_replicas():
    fake = FakePredictors()
    async with gateway(
        fake, PREDICTOR_URLS="http://localhost:8001", GATEWAY_RESOLVE_REPLICAS="true"
    ) as client:
        replicas = client._transport.app.state.replicas.replicas
        urls = {r.url for r in replicas}
    assert "http://127.0.0.1:8001" in urls and all("localhost" not in u for u in urls)


async def test_a_timeout_is_not_retried_and_the_slow_replica_stays_in():
    """The slow predictor may still be working on the request: a second one would do it again."""
    fake = FakePredictors(a="slow")
    async with gateway(fake, **TWO) as client:
        replicas = client._transport.app.state.replicas.replicas
        while fake.calls.count("a") == 0:
            response = await client.post("/predict", json=EXAMPLE_RECORD, headers=auth())
        metrics = metrics_of(client)
        a_ready = next(r for r in replicas if r.url == "http://a:8001").ready
    assert response.status_code == 504
    assert fake.calls[-1] == "a"  # the slow one answered last: not retried on b
    assert a_ready  # not ejected for being slow
    assert 'gateway_upstream_ejections_total{upstream="http://a:8001"}' not in metrics

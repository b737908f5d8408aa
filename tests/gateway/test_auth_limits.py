"""API keys, rate limits, body size and settings, in process."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from pydantic import ValidationError

from gateway.settings import GatewaySettings
from housing.contract import EXAMPLE_RECORD
from tests.gateway.conftest import KEY, FakePredictors, auth, gateway, metrics_of, settings

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": ""},
        {"X-API-Key": "wrong"},
        {"X-API-Key": KEY[:-1]},
        {"X-API-Key": KEY + "x"},
        {"X-API-Key": KEY.upper()},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "empty", "wrong", "prefix", "suffix", "case", "basic", "empty-bearer"],
)
async def test_predict_refuses_missing_or_wrong_keys(headers):
    fake = FakePredictors()
    async with gateway(fake) as client:
        response = await client.post("/predict", json=EXAMPLE_RECORD, headers=headers)
        bad_body = await client.post("/predict", json={"junk": 1}, headers=headers)
    assert response.status_code == 401 and bad_body.status_code == 401
    assert KEY not in response.text and "Traceback" not in response.text
    assert fake.calls == []


async def test_bearer_key_is_accepted():
    async with gateway(FakePredictors()) as client:
        response = await client.post(
            "/predict", json=EXAMPLE_RECORD, headers={"Authorization": f"Bearer {KEY}"}
        )
    assert response.status_code == 200


async def test_open_routes_need_no_key():
    async with gateway(FakePredictors()) as client:
        for path in ("/", "/health/live", "/health/ready", "/docs", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path


async def test_the_public_port_tells_nothing_of_the_inside():
    """/metrics and the predictors' addresses are on the internal metrics port only."""
    async with gateway(FakePredictors(), PREDICTOR_URLS="http://a:8001,http://b:8001") as client:
        assert (await client.get("/metrics")).status_code == 404
        ready = await client.get("/health/ready")
        assert ready.json() == {"status": "ready"} and "a:8001" not in ready.text
        internal = metrics_of(client)
    assert 'gateway_predictor_ready{upstream="http://a:8001"} 1.0' in internal
    assert "gateway_requests_total" in internal


async def test_rate_limit_is_429_with_retry_after():
    async with gateway(FakePredictors(), GATEWAY_RATE_PER_S=1, GATEWAY_RATE_BURST=3) as client:
        codes = [
            (await client.post("/predict", json=EXAMPLE_RECORD, headers=auth())) for _ in range(5)
        ]
    assert [r.status_code for r in codes] == [200, 200, 200, 429, 429]
    assert int(codes[-1].headers["retry-after"]) >= 1


async def test_body_over_limit_is_413_before_parsing():
    async with gateway(FakePredictors(), GATEWAY_MAX_BODY_BYTES=1000) as client:
        body = json.dumps({"records": [EXAMPLE_RECORD] * 20})
        response = await client.post(
            "/predict", content=body, headers={**auth(), "content-type": "application/json"}
        )
    assert response.status_code == 413


async def test_too_many_records_is_422():
    async with gateway(FakePredictors(), GATEWAY_MAX_RECORDS=2) as client:
        response = await client.post(
            "/predict", json={"records": [EXAMPLE_RECORD] * 3}, headers=auth()
        )
    assert response.status_code == 422 and "records" in response.json()["detail"]


async def test_auth_disabled_only_explicitly_and_with_a_warning(caplog):
    caplog.set_level(logging.WARNING, logger="gateway")
    async with gateway(FakePredictors(), GATEWAY_AUTH_DISABLED="true") as client:
        response = await client.post("/predict", json=EXAMPLE_RECORD)
    assert response.status_code == 200
    assert "GATEWAY_AUTH_DISABLED" in caplog.text


def test_settings_refuse_no_keys_and_placeholders():
    with pytest.raises(ValidationError, match="GATEWAY_API_KEYS"):
        GatewaySettings(PREDICTOR_URLS="http://a")
    with pytest.raises(ValidationError, match="placeholder"):
        settings(GATEWAY_API_KEYS="changethis")


def test_keys_file(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# one key per line\nfile-key-0123456789abcdef\n")
    configured = GatewaySettings(api_keys_file=str(keys))
    assert configured.keys() == ["file-key-0123456789abcdef"]


def test_a_keys_file_made_from_the_comma_separated_variable(tmp_path):
    """compose's secret file holds GATEWAY_API_KEYS as written in .env: one comma-separated line."""
    keys = tmp_path / "gateway_api_keys"
    keys.write_text("first-key-0123456789abcdef,second-key-0123456789abcd")
    configured = GatewaySettings(api_keys_file=str(keys))
    assert configured.keys() == ["first-key-0123456789abcdef", "second-key-0123456789abcd"]


async def test_openapi_declares_both_ways_to_send_a_key():
    async with gateway(FakePredictors()) as client:
        spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"
    assert spec["paths"]["/predict"]["post"]["security"] == [{"ApiKey": []}, {"Bearer": []}]
    assert "security" not in spec["paths"]["/health/ready"]["get"]


async def test_openapi_documents_the_predict_body():
    async with gateway(FakePredictors()) as client:
        spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]
    assert body["required"] and "HousingRecord" in spec["components"]["schemas"]


@pytest.mark.parametrize(
    "raw",
    [b"[" * 5000 + b"]" * 5000, b"\xff\xfe", b"", b"{"],
    ids=["deep", "binary", "empty", "cut"],
)
async def test_unparseable_bodies_are_400(raw):
    async with gateway(FakePredictors()) as client:
        response = await client.post(
            "/predict", content=raw, headers={**auth(), "content-type": "application/json"}
        )
    assert response.status_code == 400 and "invalid JSON" in response.json()["detail"]


async def test_json_that_is_not_an_object_is_422_saying_what_is_expected():
    async with gateway(FakePredictors()) as client:
        response = await client.post("/predict", json=[EXAMPLE_RECORD], headers=auth())
    assert response.status_code == 422
    assert "expected a JSON object" in response.json()["detail"]


async def test_docs_can_be_switched_off():
    async with gateway(FakePredictors(), GATEWAY_DOCS_ENABLED="false") as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await client.get(path)).status_code == 404, path
        response = await client.post("/predict", json=EXAMPLE_RECORD, headers=auth())
        assert response.status_code == 200


async def test_the_rate_limit_counts_records_and_a_batch_pays_in_full():
    batch = {"records": [EXAMPLE_RECORD] * 15}
    async with gateway(FakePredictors(), GATEWAY_RATE_PER_S=1, GATEWAY_RATE_BURST=20) as client:
        first = await client.post(
            "/predict", json={"records": [EXAMPLE_RECORD] * 10}, headers=auth()
        )
        second = await client.post("/predict", json=batch, headers=auth())  # 10 left: it starts
        third = await client.post("/predict", json=EXAMPLE_RECORD, headers=auth())  # 5 owed
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert int(third.headers["retry-after"]) >= 5


async def test_requests_in_flight_per_key_are_capped():
    release = asyncio.Event()

    class Held(FakePredictors):
        async def __call__(self, request):
            if request.url.path == "/predict":
                await release.wait()
            return super().__call__(request)

    async with gateway(Held(), GATEWAY_MAX_INFLIGHT_PER_KEY=2) as client:

        def post():
            return client.post("/predict", json=EXAMPLE_RECORD, headers=auth())

        held = [asyncio.create_task(post()) for _ in range(2)]
        await asyncio.sleep(0.2)
        refused = await post()
        release.set()
        answered = await asyncio.gather(*held)
        after = await post()
    assert refused.status_code == 429 and refused.headers["retry-after"]
    assert "in flight" in refused.json()["detail"]
    assert [r.status_code for r in answered] == [200, 200] and after.status_code == 200

"""GET /monitor and /monitor/report on the gateway (in process): the monitor off, unreachable,
and its answers passed on with the caller's request id (the real chain: tests/monitor)."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import FakePredictors, auth, gateway

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.parametrize("path", ["/monitor", "/monitor/report"])
async def test_without_a_monitor_the_answer_says_which_setting(path):
    async with gateway(FakePredictors(), GATEWAY_MONITOR_URL="") as client:
        answer = await client.get(path, headers=auth())
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert "GATEWAY_MONITOR_URL" in answer.json()["detail"]


@pytest.mark.parametrize("path", ["/monitor", "/monitor/report"])
async def test_an_unreachable_monitor_is_a_503_to_retry(path):
    fake = FakePredictors(m="refuse")
    async with gateway(fake, GATEWAY_MONITOR_URL="http://m:8002") as client:
        answer = await client.get(path, headers={**auth(), "X-Request-ID": "mon-1"})
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert answer.json()["request_id"] == "mon-1" == answer.headers["x-request-id"]


async def test_the_monitor_needs_a_key():
    async with gateway(FakePredictors(), GATEWAY_MONITOR_URL="http://m:8002") as client:
        answer = await client.get("/monitor")
    assert answer.status_code == 401

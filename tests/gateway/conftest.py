"""In-process gateway fixtures: the real app, its lifespan, and fake predictors on MockTransport."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings
from housing.predictions.settings import PredictionLogSettings

KEY = "k-test-0123456789abcdef"
PREDICTION = {  # request_id is added per request, as the predictor does
    "predictions": [123456.0],
    "model": {"name": "m", "version": "7", "alias": "champion"},
}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def settings(**overrides) -> GatewaySettings:
    """Settings by their variable names, as a deployment would set them."""
    values = {
        "GATEWAY_API_KEYS": KEY,
        "PREDICTOR_URLS": "http://a:8001",
        "GATEWAY_COOLDOWN_S": 30,
        "GATEWAY_HEALTH_INTERVAL_S": 60,
        "GATEWAY_METRICS_PORT": 0,  # any free port: several apps run at once
        **overrides,
    }
    fields = {name.removeprefix("GATEWAY_").lower(): str(v) for name, v in values.items()}
    return GatewaySettings(**fields)


class FakePredictors:
    """Behaviour per host: 'ok', 'refuse', 'slow', 'error', 'bad_gateway', 'unready' or
    'invalid'."""

    def __init__(self, **behaviour: str):
        self.behaviour = behaviour
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        mode = self.behaviour.get(host, "ok")
        if request.url.path == "/health/ready":
            ready = mode not in ("refuse", "unready")
            return httpx.Response(200 if ready else 503, json={})
        self.calls.append(host)
        if mode == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        if mode == "slow":
            raise httpx.ReadTimeout("timed out", request=request)
        if mode == "error":
            return httpx.Response(500, text="boom")
        if mode == "bad_gateway":
            return httpx.Response(502, text="bad gateway")
        if mode == "unready":
            return httpx.Response(503, json={"detail": "no model"})
        if mode == "invalid":
            return httpx.Response(422, json={"detail": "households: too small"})
        return httpx.Response(
            200, json={**PREDICTION, "request_id": request.headers.get("x-request-id")}
        )


@asynccontextmanager
async def gateway(fake: FakePredictors, log_url: str = "", **overrides):
    """The app in process; its prediction log (/feedback) at `log_url`, none by default."""
    log_settings = PredictionLogSettings(url=log_url)
    app = create_app(settings(**overrides), httpx.MockTransport(fake), log_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client


def metrics_of(client: httpx.AsyncClient) -> str:
    """The in-process gateway's metrics, from its internal metrics port."""
    port = client._transport.app.state.metrics_port
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def auth() -> dict:
    return {"X-API-Key": KEY}

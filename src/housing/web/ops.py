"""What every service of ours has alike: liveness on its own port, and Prometheus metrics on a
port of their own (internal: no one publishes it), served by prometheus-client's own server.

Each app keeps its metrics registry in `app.state.metrics_registry`.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Literal

from fastapi import APIRouter, FastAPI
from prometheus_client import start_http_server
from pydantic import BaseModel

router = APIRouter()


class Liveness(BaseModel):
    status: Literal["alive"]


@router.get("/health/live", response_model=Liveness)
async def live() -> dict:
    """The process answers (it may not have a model or a predictor yet: see /health/ready)."""
    return {"status": "alive"}


@asynccontextmanager
async def metrics_server(app: FastAPI, host: str, port: int):
    """Serve `app.state.metrics_registry` on host:port (a thread of prometheus-client's) while the
    app runs; the port it got is `app.state.metrics_port`."""
    server, thread = start_http_server(port, host, registry=app.state.metrics_registry)
    app.state.metrics_port = server.server_address[1]
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

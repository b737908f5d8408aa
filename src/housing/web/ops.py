"""The routes every service of ours answers alike: liveness and Prometheus metrics.

Each app keeps its metrics registry in `app.state.metrics_registry`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from housing.web.metrics import metrics_response

router = APIRouter()


@router.get("/health/live")
async def live() -> dict:
    """The process answers (it may not have a model or a predictor yet: see /health/ready)."""
    return {"status": "alive"}


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return metrics_response(request.app.state.metrics_registry)

"""GET /health/ready: ready while at least one predictor is. Public, so it says no more than that:
which predictors are ready, and where they are, is on the internal metrics port
(`gateway_predictor_ready`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.predict import RETRY_AFTER_S
from housing.web.drain import draining
from housing.web.ops import Readiness

router = APIRouter()


@router.get(
    "/health/ready",
    responses={
        200: {"model": Readiness},
        503: {"model": Readiness, "description": "No predictor is ready, or stopping"},
    },
)
async def ready(request: Request) -> JSONResponse:
    if request.app.state.replicas.any_ready() and not draining():
        return JSONResponse({"status": "ready"})
    return JSONResponse(
        {"status": "stopping" if draining() else "not ready"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_S},
    )

"""GET /health/ready: ready while at least one predictor is. Public, so it says no more than that:
which predictors are ready, and where they are, is on the internal metrics port
(`gateway_predictor_ready`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.predict import RETRY_AFTER_S
from housing.web.drain import draining

router = APIRouter()


class Readiness(BaseModel):
    """Public: no more than whether the gateway can answer now."""

    status: Literal["ready", "not ready", "stopping"]


@router.get(
    "/health/ready",
    responses={
        200: {"model": Readiness},
        503: {"model": Readiness, "description": "No predictor is ready, or stopping"},
    },
)
async def ready(request: Request) -> JSONResponse:
    status = "stopping" if draining() else "ready" if request.app.state.ready() else "not ready"
    if status == "ready":
        return JSONResponse({"status": status})
    return JSONResponse({"status": status}, 503, {"Retry-After": RETRY_AFTER_S})

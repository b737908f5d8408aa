"""GET /health/ready: ready while at least one predictor is."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.predict import RETRY_AFTER_S

router = APIRouter()


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    replicas = request.app.state.replicas
    states = [{"url": r.url, "ready": r.ready} for r in replicas.replicas]
    if replicas.any_ready():
        return JSONResponse({"status": "ready", "predictors": states})
    return JSONResponse(
        {"status": "not ready", "predictors": states},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_S},
    )

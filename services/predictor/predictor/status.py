"""GET /health/ready and /model: whether a model serves, and which."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from housing.contract import ModelRef
from housing.web.drain import draining
from housing.web.errors import error_response

RETRY_AFTER_S = "5"

router = APIRouter()


def not_ready(headers: dict[str, str] | None = None) -> JSONResponse:
    return error_response(
        503,
        "no model is loaded yet; try again shortly",
        {**(headers or {}), "Retry-After": RETRY_AFTER_S},
    )


class Ready(BaseModel):
    status: Literal["ready"]
    model: ModelRef


@router.get(
    "/health/ready",
    responses={200: {"model": Ready}, 503: {"description": "No model yet, or stopping"}},
)
async def ready(request: Request) -> JSONResponse:
    model = request.app.state.manager.current
    if model is None:
        return not_ready()
    if draining():
        return error_response(503, "stopping", {"Retry-After": RETRY_AFTER_S})
    return JSONResponse({"status": "ready", "model": model.ref()})


@router.get("/model")
async def model_info(request: Request) -> JSONResponse:
    """The version serving now, where it came from, and the versions refused so far."""
    manager = request.app.state.manager
    model = manager.current
    if model is None:
        return not_ready()
    return JSONResponse({**model.describe(), "refused_versions": manager.refused})

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
    """The version serving now, where it came from, and the versions refused so far; with a
    shadow alias set, what it scores (`shadow`: null while none has loaded)."""
    manager, shadow = request.app.state.manager, request.app.state.shadow
    model = manager.current
    if model is None:
        return not_ready()
    described = {**model.describe(), "refused_versions": manager.refused}
    if shadow is not None:
        scoring = shadow.manager.current
        described["shadow"] = (
            None
            if scoring is None
            else {
                **scoring.describe(),
                "fraction": shadow.fraction,
                "refused_versions": shadow.manager.refused,
            }
        )
    return JSONResponse(described)

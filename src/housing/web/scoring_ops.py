"""GET /ping and GET /version, as `mlflow models serve` answers them (MLflow's clients probe
these): shared by the gateway and the predictor, each saying through `app.state.ready()` whether
it can answer a prediction now."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from housing import __version__
from housing.web.errors import error_response

RETRY_AFTER_S = "1"
router = APIRouter()


@router.get(
    "/ping",
    response_class=PlainTextResponse,
    responses={
        503: {"description": "Not ready; see Retry-After", "content": {"application/json": {}}}
    },
)
async def ping(request: Request) -> Response:
    """200 when a prediction can be answered now (MLflow's readiness probe), else 503."""
    if not request.app.state.ready():
        return error_response(503, "not ready; try again shortly", {"Retry-After": RETRY_AFTER_S})
    return PlainTextResponse("\n")


@router.get("/version", response_class=PlainTextResponse)
async def version() -> PlainTextResponse:
    """This stack's version."""
    return PlainTextResponse(__version__)

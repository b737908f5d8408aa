"""GET /model: which model answers, for anyone (the playground shows it on load): its name,
version and alias, its metrics, when it was trained and whether it gives intervals. Asked of a
ready predictor, and kept a moment: a flood of this GET costs the predictors little."""

from __future__ import annotations

import time

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gateway.predict import RETRY_AFTER_S
from gateway.replicas import NoUpstream
from housing.web.errors import error_response

router = APIRouter()
# Seconds an answer is kept: a new champion shows here within this and a predictor's poll.
KEEP_S = 2.0


class PublicModel(BaseModel):
    name: str
    version: str
    alias: str
    metrics: dict[str, float] = Field(
        description=(
            "Its training run's metrics: on the test split, errors in USD (rmse, mae, r2, "
            "cv_rmse_mean, ...)"
        )
    )
    trained_at: str | None = Field(description="When its training run ended (ISO 8601, UTC)")
    intervals: bool = Field(description="Whether ?interval= is offered (conformal intervals)")


# What of the predictor's /model a client may see: the fields above, nothing else.
PUBLIC = tuple(PublicModel.model_fields)


@router.get(
    "/model",
    response_model=PublicModel,
    responses={503: {"description": "No predictor is ready; see Retry-After"}},
)
async def model(request: Request) -> JSONResponse:
    state = request.app.state
    kept = getattr(state, "public_model", None)
    if kept is not None and time.monotonic() - kept[0] < KEEP_S:
        return JSONResponse(kept[1])
    try:
        replica = state.replicas.pick()
        answer = await state.client.get(replica.url + "/model")
        answer.raise_for_status()
    except (NoUpstream, httpx.HTTPError):
        return error_response(
            503, "no predictor is ready; try again shortly", {"Retry-After": RETRY_AFTER_S}
        )
    described = answer.json()
    public = {key: described.get(key) for key in PUBLIC}
    state.public_model = (time.monotonic(), public)
    return JSONResponse(public)

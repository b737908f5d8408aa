"""GET /districts/nearest for callers with a key: the real district nearest a place, asked of a
ready predictor (from the served version's training sample) and passed on as it answers. The
playground fills its form with it when the map is clicked. Behind a key, since it gives rows
of the training data (features, never prices)."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Query, Request, Response

from gateway.predict import RETRY_AFTER_S
from gateway.replicas import NoUpstream
from gateway.security import CALLER_RESPONSES, Caller, RequestId
from housing.web.errors import error_response

router = APIRouter()


@router.get(
    "/districts/nearest",
    responses={
        **CALLER_RESPONSES,
        200: {"description": "`district` (a record as /predict takes it), `distance_km`, `model`"},
        404: {"description": "The version serving has no sample of districts"},
        503: {"description": "No predictor is ready; see Retry-After"},
    },
)
async def nearest_district(
    request: Request,
    trace_id: RequestId,
    _caller: Caller,
    longitude: float = Query(
        ge=-180, le=180, description="Degrees east (California: -124 to -114)"
    ),
    latitude: float = Query(ge=-90, le=90, description="Degrees north (California: 32 to 42)"),
) -> Response:
    """The real district nearest a place, from the served version's training sample."""
    state = request.app.state
    trace = {"X-Request-ID": trace_id}
    try:
        replica = state.replicas.pick()
        answer = await state.client.get(
            replica.url + "/districts/nearest",
            params={"longitude": longitude, "latitude": latitude},
            headers=trace,
        )
    except (NoUpstream, httpx.HTTPError):
        headers = {**trace, "Retry-After": RETRY_AFTER_S}
        return error_response(503, "no predictor is ready; try again shortly", headers)
    content_type = answer.headers.get("content-type", "application/json")
    return Response(answer.content, answer.status_code, {**trace, "Content-Type": content_type})

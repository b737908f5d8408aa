"""POST /predict: checked here, answered by a predictor, its bytes passed back unchanged."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from fastapi import APIRouter, Request, Response

from gateway.auth import TooBusy
from gateway.forward import UpstreamFailed, UpstreamTimeout
from gateway.replicas import NoUpstream
from gateway.security import CALLER_RESPONSES, Caller, RequestId
from housing.contract import PredictResponse
from housing.web import body
from housing.web.errors import error_response

RETRY_AFTER_S = "1"
PASSED_THROUGH = ("content-type", "x-model-version")
# What forwarding a prediction may answer besides the predictor's own answer.
FORWARD_RESPONSES = {
    502: {"description": "The predictors failed"},
    503: {"description": "No predictor is ready; see Retry-After"},
    504: {"description": "The predictor did not answer in time"},
}

router = APIRouter()

# What the other protocols read back from a predictor's /predict answer to write their own.
_Ref = msgspec.defstruct("Ref", [("version", str)])
Answer = msgspec.defstruct("Answer", [("predictions", list[float]), ("model", _Ref)])
decode_answer = msgspec.json.Decoder(Answer).decode


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={**body.ERROR_RESPONSES, **CALLER_RESPONSES, **FORWARD_RESPONSES},
)
async def predict(request: Request, trace_id: RequestId, caller: Caller) -> Response:
    """One district, or `{"records": [...]}`: one price per record, in order; with
    `?interval=`, a range per record as well."""
    trace = {"X-Request-ID": trace_id}
    state = request.app.state
    try:
        interval = body.read_interval(request)
        records = await body.read_records(request, state.settings.max_records)
    except body.BadBody as bad:
        bad.response.headers.update(trace)
        return bad.response
    # Validated above; forwarded as received (Starlette keeps the bytes it read). Only what was
    # checked goes on: the level as this gateway read it, no other parameter.
    path = "/predict" if interval is None else f"/predict?interval={interval!r}"
    return await relay(state, caller, len(records), path, await request.body(), trace)


async def relay(
    state,
    caller: str,
    count: int,
    path: str,
    raw: bytes,
    trace: dict,
    reshape: Callable[[bytes], bytes] | None = None,
) -> Response:
    """`count` checked records (`raw`, JSON) to a predictor's `path`, charged to `caller` (the
    rate limit counts records) within its cap of requests in flight; the predictor's answer
    back, its bytes unchanged unless `reshape` turns a 200's into another body."""
    state.limiter.charge(caller, count)
    try:
        state.inflight.enter(caller)
    except TooBusy:
        message = f"at most {state.inflight.limit} requests in flight per key; wait for one"
        return error_response(429, message, {**trace, "Retry-After": RETRY_AFTER_S})
    try:
        return await _forward(state, path, raw, trace, reshape)
    finally:
        state.inflight.leave(caller)


async def _forward(state, path: str, raw: bytes, trace: dict, reshape) -> Response:
    try:
        upstream = await state.forwarder.post(
            path, raw, {"content-type": "application/json", **trace}
        )
    except NoUpstream:
        return error_response(
            503, "no predictor is ready; try again shortly", {**trace, "Retry-After": RETRY_AFTER_S}
        )
    except UpstreamTimeout:
        return error_response(504, "the predictor did not answer in time", trace)
    except UpstreamFailed as exc:
        return error_response(502, f"the predictor failed ({exc.args[0]})", trace)
    # The predictor wrote the request id into its answer: its bytes go back as they are.
    headers = {k: v for k, v in upstream.headers.items() if k in PASSED_THROUGH}
    content = upstream.content
    if reshape is not None and upstream.status_code == 200:
        content = reshape(content)
    return Response(content, upstream.status_code, {**headers, **trace})

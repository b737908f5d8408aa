"""The Open Inference Protocol (KServe v2) on the gateway, for KServe, Triton and MLServer
clients: health, the model's metadata and readiness, and infer (same keys, limits and
predictors as /predict; housing.web.v2_body reads and writes the tensors)."""

from __future__ import annotations

from functools import partial

import msgspec
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from gateway.predict import FORWARD_RESPONSES, RETRY_AFTER_S, decode_answer, relay
from gateway.security import CALLER_RESPONSES, Caller, RequestId
from housing import defaults
from housing.web import body, v2_body
from housing.web.errors import PROBLEM_JSON, error_response

router = APIRouter(prefix="/v2")
MODEL = defaults.MODEL_NAME
NOT_FOUND = {404: {"description": f"No such model: this server serves {MODEL!r}"}}
NOT_READY = {503: {"description": "No predictor is ready; see Retry-After"}}


def _unknown(name: str) -> JSONResponse:
    message = f"model {name!r}: this server serves {MODEL!r}"
    return error_response(404, message, error=message)


def _v2_error(refused: JSONResponse, trace: dict) -> JSONResponse:
    """A refusal with `error` as well, where v2 clients (tritonclient) read the message."""
    content = msgspec.json.decode(refused.body)
    return JSONResponse(
        {"error": content["detail"], **content},
        refused.status_code,
        trace,
        media_type=PROBLEM_JSON,
    )


def _ready(request: Request) -> JSONResponse:
    if request.app.state.ready():
        return JSONResponse({"ready": True})
    return JSONResponse({"ready": False}, 503, {"Retry-After": RETRY_AFTER_S})


@router.get("/health/live")
async def live() -> JSONResponse:
    return JSONResponse({"live": True})


@router.get("/health/ready", responses=NOT_READY)
async def ready(request: Request) -> JSONResponse:
    return _ready(request)


@router.get("/models/{name}", responses=NOT_FOUND)
async def model_metadata(name: str) -> JSONResponse:
    """One input per field (FP64 numbers, BYTES for `ocean_proximity`), one output."""
    if name != MODEL:
        return _unknown(name)
    return JSONResponse(v2_body.metadata(MODEL))


@router.get("/models/{name}/ready", responses={**NOT_FOUND, **NOT_READY})
async def model_ready(name: str, request: Request) -> JSONResponse:
    if name != MODEL:
        return _unknown(name)
    return _ready(request)


def _as_v2(request_id: str | None, raw: bytes) -> bytes:
    """The predictor's /predict answer as an infer response."""
    answer = decode_answer(raw)
    return v2_body.infer_response(MODEL, answer.model.version, request_id, answer.predictions)


@router.post(
    "/models/{name}/infer",
    responses={**body.ERROR_RESPONSES, **CALLER_RESPONSES, **FORWARD_RESPONSES, **NOT_FOUND},
)
async def infer(name: str, request: Request, trace_id: RequestId, caller: Caller) -> Response:
    """Columnar tensors, one per field: `predictions` (FP64), one price per row, in order."""
    trace = {"X-Request-ID": trace_id}
    if name != MODEL:
        return _unknown(name)
    state = request.app.state
    try:
        raw, request_id = v2_body.read_infer(await request.body(), state.settings.max_records)
        records = body.records_from(raw, state.settings.max_records)
    except body.BadBody as bad:
        return _v2_error(bad.response, trace)
    answer = partial(_as_v2, request_id)
    return await relay(state, caller, len(records), "/predict", raw, trace, answer)

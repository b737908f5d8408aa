"""POST /predict: the records checked, priced by the model serving now, with the request's id."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from housing.contract import PredictResponse
from housing.web import body
from housing.web.errors import error_response
from housing.web.trace import request_id
from predictor.status import not_ready

router = APIRouter()
_encode = msgspec.json.Encoder().encode


def request_trace(request: Request) -> tuple[str, dict[str, str]]:
    """The caller's id (the gateway always sends one), else a new one, and its header: echoed in
    the body and a header, so that the gateway passes the predictor's bytes on as they are; the
    prediction log keys on it."""
    trace_id = request_id(request)
    return trace_id, {"X-Request-ID": trace_id}


async def price(state, model, records: list, interval: float | None, trace_id: str) -> dict:
    """`model`'s answer for checked records, with "model", its reference; logged."""
    if len(records) <= state.settings.inline_max_rows:
        answer = model.answer(records, interval)  # cheaper inline than a thread hop
    else:
        answer = await run_in_threadpool(model.answer, records, interval)
    if state.prediction_log is not None:
        state.prediction_log.record(
            trace_id, records, answer["predictions"], interval, answer.get("intervals"), model
        )
    if state.shadow is not None:
        state.shadow.offer(trace_id, records, model)  # scored after, in a thread: shadow.py
    return {**answer, "model": model.ref()}


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={
        **body.ERROR_RESPONSES,
        503: {"description": "No model is loaded yet; see Retry-After"},
    },
)
async def predict(request: Request) -> Response:
    """One district, or `{"records": [...]}`: one price per record, in order; with
    `?interval=`, a range per record as well."""
    state = request.app.state
    trace_id, trace = request_trace(request)
    try:
        interval = body.read_interval(request)
        records = await body.read_records(request, state.settings.max_records)
    except body.BadBody as bad:
        bad.response.headers.update(trace)
        return bad.response
    model = state.manager.current  # read once: this request finishes on this version
    if model is None:
        return not_ready(trace)
    if interval is not None and model.interval_scores is None:
        return error_response(
            422,
            f"interval: model v{model.version} was trained without interval calibration",
            trace,
        )
    answer = await price(state, model, records, interval, trace_id)
    payload = {**answer, "request_id": trace_id}
    # msgspec writes the same shortest round-trip floats as json.dumps, several times faster.
    return Response(
        _encode(payload),
        media_type="application/json",
        headers={**trace, "X-Model-Version": model.version},
    )

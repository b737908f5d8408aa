"""MLflow's scoring protocol on the predictor, as `mlflow models serve` answers it: POST
/invocations (housing.web.mlflow_body reads the body). GET /ping and /version:
housing.web.scoring_ops."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request, Response

from housing.web import mlflow_body
from housing.web.body import ERROR_RESPONSES, BadBody, records_from
from predictor.predict import price, request_trace
from predictor.status import not_ready

router = APIRouter()
_encode = msgspec.json.Encoder().encode


@router.post(
    "/invocations",
    responses={**ERROR_RESPONSES, 503: {"description": "No model is loaded yet; see Retry-After"}},
)
async def invocations(request: Request) -> Response:
    """A table in any of MLflow's scoring shapes (JSON or CSV): `{"predictions": [...]}`, one
    price per row, in order."""
    state = request.app.state
    trace_id, trace = request_trace(request)
    try:
        raw = await mlflow_body.read_table(request, state.settings.max_records)
        records = records_from(raw, state.settings.max_records)
    except BadBody as bad:
        bad.response.headers.update(trace)
        return bad.response
    model = state.manager.current  # read once: this request finishes on this version
    if model is None:
        return not_ready(trace)
    answer = await price(state, model, records, None, trace_id)
    payload = {"predictions": answer["predictions"]}
    return Response(
        _encode(payload),
        media_type="application/json",
        headers={**trace, "X-Model-Version": model.version},
    )

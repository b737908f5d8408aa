"""MLflow's scoring protocol on the gateway, as `mlflow models serve` answers it: POST
/invocations (any of MLflow's table shapes, JSON or CSV; the same keys, limits and predictors
as /predict). GET /ping and /version: housing.web.scoring_ops."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request, Response

from gateway.predict import FORWARD_RESPONSES, decode_answer, relay
from gateway.security import CALLER_RESPONSES, Caller, RequestId
from housing.web import body, mlflow_body

router = APIRouter()
_encode = msgspec.json.Encoder().encode


def _predictions_only(raw: bytes) -> bytes:
    """The predictor's /predict answer as MLflow's: `{"predictions": [...]}`."""
    return _encode({"predictions": decode_answer(raw).predictions})


@router.post(
    "/invocations",
    responses={**body.ERROR_RESPONSES, **CALLER_RESPONSES, **FORWARD_RESPONSES},
)
async def invocations(request: Request, trace_id: RequestId, caller: Caller) -> Response:
    """A table in any of MLflow's scoring shapes (`dataframe_split`, `dataframe_records`,
    `instances`, `inputs`, or CSV): `{"predictions": [...]}`, one price per row, in order."""
    trace = {"X-Request-ID": trace_id}
    state = request.app.state
    try:
        raw = await mlflow_body.read_table(request, state.settings.max_records)
        records = body.records_from(raw, state.settings.max_records)
    except body.BadBody as bad:
        bad.response.headers.update(trace)
        return bad.response
    return await relay(state, caller, len(records), "/predict", raw, trace, _predictions_only)

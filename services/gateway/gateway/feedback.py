"""POST /feedback: the real price of predicted records, recorded in the prediction log."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from gateway.security import CALLER_RESPONSES, Caller, RequestId
from housing.predictions import feedback, store
from housing.web import body
from housing.web.errors import error_response

log = logging.getLogger("gateway")
RETRY_AFTER_S = "5"

router = APIRouter()


class FeedbackStore(store.LogStore):
    """The log, opened at the first feedback, and the reader of feedback bodies."""

    def __init__(self, url: str, connect_timeout_s: float, max_items: int):
        super().__init__(url, connect_timeout_s)
        self.reader = feedback.FeedbackReader(max_items)

    def record(self, labels: feedback.Labels) -> int:
        try:
            return feedback.record(self.engine(), labels)
        except SQLAlchemyError:
            self.failed()
            raise


@router.post(
    "/feedback",
    name="feedback",  # its operationId
    status_code=202,
    responses={
        **body.ERROR_RESPONSES,
        **CALLER_RESPONSES,
        202: {"description": "Recorded: `recorded` counts the records given a price"},
        404: {"description": "No logged prediction has this request id; the message names it"},
        409: {"description": "The request has another number of records than the body says"},
        503: {"description": "The prediction log is off, or cannot be reached; see Retry-After"},
    },
)
async def record_feedback(request: Request, trace_id: RequestId, _caller: Caller) -> Response:
    """The real price of records predicted before: `{"request_id": ..., "actuals": [...]}` (one
    price per record of that request, in order) or `{"items": [{"request_id", "index",
    "actual"}, ...]}`. All or nothing; a second price for a record replaces the first."""
    trace = {"X-Request-ID": trace_id}
    state = request.app.state
    if state.feedback is None:
        return error_response(503, "the prediction log is off (PREDICTION_LOG_URL is empty)", trace)
    try:
        body.require_json(request)
        labels = state.feedback.reader.parse(await request.body())
        recorded = await run_in_threadpool(state.feedback.record, labels)
    except body.BadBody as bad:
        bad.response.headers.update(trace)
        return bad.response
    except SQLAlchemyError as exc:
        log.warning("feedback not recorded, the prediction log failed: %s", exc.__class__.__name__)
        headers = {**trace, "Retry-After": RETRY_AFTER_S}
        return error_response(503, "the prediction log cannot be reached; try again", headers)
    return JSONResponse({"recorded": recorded, "request_id": trace_id}, 202, headers=trace)

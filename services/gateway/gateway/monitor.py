"""GET /monitor and /monitor/report for callers with a key: the monitor service's latest pass
and its Evidently report, asked of the monitor (GATEWAY_MONITOR_URL) and passed on as it answers.

The report is a page of Evidently's own scripts: it is served with a sandboxing CSP, so that
it runs in an origin of its own and can read nothing of the API's."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request, Response

from gateway.security import CALLER_RESPONSES, Caller, RequestId
from housing.web.errors import error_response

router = APIRouter()
RETRY_AFTER_S = "10"
REPORT_POLICY = "sandbox allow-scripts; default-src 'self' 'unsafe-inline' data: blob:"
_PASSED_ON = ("content-type", "retry-after")


async def _ask(request: Request, path: str, trace_id: str) -> Response:
    state = request.app.state
    trace = {"X-Request-ID": trace_id}
    if not state.settings.monitor_url:
        return error_response(503, "the monitor is off (GATEWAY_MONITOR_URL is empty)", trace)
    try:
        answer = await state.client.get(state.settings.monitor_url + path, headers=trace)
    except httpx.HTTPError:
        headers = {**trace, "Retry-After": RETRY_AFTER_S}
        return error_response(503, "the monitor cannot be reached; try again shortly", headers)
    headers = {k: v for k, v in answer.headers.items() if k.lower() in _PASSED_ON}
    return Response(answer.content, answer.status_code, {**headers, **trace})


@router.get(
    "/monitor",
    responses={
        **CALLER_RESPONSES,
        200: {"description": "The latest monitoring pass (see the README's Monitoring)"},
        503: {"description": "The monitor is off, unreachable, or has no pass yet"},
    },
)
async def monitor(request: Request, trace_id: RequestId, _caller: Caller) -> Response:
    """The latest monitoring pass: per model version predictions, labelled, RMSE, MAE and
    interval coverage (USD); per field drift from the training data (score, drifted)."""
    return await _ask(request, "/monitor", trace_id)


@router.get(
    "/monitor/report",
    responses={
        **CALLER_RESPONSES,
        200: {"content": {"text/html": {}}, "description": "Evidently's drift report"},
        404: {"description": "The latest pass computed no drift; the reason is given"},
        503: {"description": "The monitor is off, unreachable, or has no pass yet"},
    },
)
async def monitor_report(request: Request, trace_id: RequestId, _caller: Caller) -> Response:
    """Evidently's HTML report of the latest pass's drift, to open in a browser."""
    answer = await _ask(request, "/monitor/report", trace_id)
    if answer.status_code == 200:
        answer.headers["Content-Security-Policy"] = REPORT_POLICY
    return answer

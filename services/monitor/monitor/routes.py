"""GET /monitor (the latest pass's summary), /monitor/report (its Evidently report), and
/health/ready. The gateway forwards the first two to callers with a key."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from housing.monitor.run import REPORT_FILE
from housing.web.errors import error_response

router = APIRouter()
RETRY_AFTER_S = "10"


class Ready(BaseModel):
    status: Literal["ready"]
    last_pass: str
    last_error: str | None  # why the passes since `last_pass` failed, if they did


@router.get(
    "/monitor",
    responses={503: {"description": "No pass has finished yet; see Retry-After"}},
)
async def summary(request: Request) -> JSONResponse:
    """The latest pass: the window, per version predictions, labelled, RMSE, MAE and interval
    coverage (USD), per field drift (score, drifted) and data quality, the predictions' drift."""
    latest = request.app.state.passes.latest
    if latest is None:
        return error_response(503, "no monitoring pass has finished yet", _retry())
    return JSONResponse(latest)


@router.get(
    "/monitor/report",
    response_class=FileResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "Evidently's drift report"},
        404: {"description": "The latest pass computed no drift (the reason is given)"},
    },
)
async def report(request: Request):
    """Evidently's HTML report of the latest pass's drift, for a person to open."""
    state = request.app.state
    path = state.settings.state_dir / REPORT_FILE
    latest = state.passes.latest
    if latest is None:
        return error_response(503, "no monitoring pass has finished yet", _retry())
    if not latest.get("report") or not path.is_file():
        return error_response(404, f"no drift report: {latest.get('drift_note') or 'none yet'}")
    return FileResponse(path, media_type="text/html")


@router.get(
    "/health/ready",
    responses={200: {"model": Ready}, 503: {"description": "No pass has finished yet"}},
)
async def ready(request: Request) -> JSONResponse:
    """Ready once a pass has a summary to serve. A pass that fails later (the log or MLflow
    down for a while) leaves the last summary served and says why in `last_error`: the store's
    outage is the store's alert (and MonitorPassesFailing), not a reason to restart the monitor
    or to hold up a deploy that waits for healthy containers."""
    passes = request.app.state.passes
    if passes.latest is None:
        detail = "no monitoring pass has finished yet"
        if passes.last_error is not None:
            detail += f"; the last failed: {passes.last_error}"
        return error_response(503, detail, _retry())
    return JSONResponse(
        {"status": "ready", "last_pass": passes.latest["at"], "last_error": passes.last_error}
    )


def _retry() -> dict[str, str]:
    return {"Retry-After": RETRY_AFTER_S}

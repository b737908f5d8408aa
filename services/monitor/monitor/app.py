"""The monitor's app: settings, the pass loop and routers wired together."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import asynccontextmanager

from fastapi import FastAPI

from housing.monitor.settings import MonitorSettings
from housing.predictions.settings import PredictionLogSettings
from housing.web.service import service_app
from monitor import routes
from monitor.gauges import Gauges
from monitor.passes import PassLoop


def create_app(
    settings: MonitorSettings | None = None, log_settings: PredictionLogSettings | None = None
) -> FastAPI:
    settings = settings or MonitorSettings()
    log_settings = log_settings or PredictionLogSettings()
    if not log_settings.enabled:
        raise ValueError("PREDICTION_LOG_URL is empty: the monitor has no log to read")
    app = service_app(
        "monitor",
        "Live quality and drift of the served model.",
        _lifespan,
        [routes.router],
        settings.max_body_bytes,
        (settings.metrics_host, settings.metrics_port),
        docs=settings.docs_enabled,
        log_sample=settings.log_sample,
    )
    app.state.settings = settings
    app.state.passes = PassLoop(settings, log_settings, Gauges(app.state.metrics_registry))
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    passes: PassLoop = app.state.passes
    task = asyncio.create_task(passes.run_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        passes.close()

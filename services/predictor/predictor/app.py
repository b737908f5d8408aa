"""The predictor's app: settings, state and routers wired together; the handlers live in routers."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from housing.web.service import service_app
from predictor import predict, status
from predictor.manager import ModelManager
from predictor.settings import PredictorSettings
from predictor.store import ModelStore


def create_app(settings: PredictorSettings | None = None) -> FastAPI:
    settings = settings or PredictorSettings()
    app = service_app(
        "predictor",
        "Serves the registry's champion of the California housing price model.",
        _lifespan,
        [predict.router, status.router],
        settings.max_body_bytes,
        (settings.metrics_host, settings.metrics_port),
        docs=settings.docs_enabled,
    )
    app.state.settings = settings
    registry = app.state.metrics_registry
    app.state.manager = ModelManager(ModelStore(settings), settings.poll_interval_s, registry)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    await app.state.manager.start()
    yield
    await app.state.manager.stop()

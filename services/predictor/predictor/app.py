"""The predictor's app: settings, state and routers wired together; the handlers live in routers."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from housing.predictions.settings import PredictionLogSettings
from housing.predictions.writer import PredictionLog
from housing.web import mlflow_body, scoring_ops
from housing.web.service import service_app
from predictor import districts, invocations, predict, status
from predictor.manager import ModelManager
from predictor.settings import PredictorSettings
from predictor.shadow import ShadowScorer
from predictor.store import ModelStore


def create_app(
    settings: PredictorSettings | None = None, log_settings: PredictionLogSettings | None = None
) -> FastAPI:
    settings = settings or PredictorSettings()
    log_settings = log_settings or PredictionLogSettings()
    app = service_app(
        "predictor",
        "Serves the registry's champion of the California housing price model.",
        _lifespan,
        [predict.router, invocations.router, scoring_ops.router, status.router, districts.router],
        settings.max_body_bytes,
        (settings.metrics_host, settings.metrics_port),
        docs=settings.docs_enabled,
        log_sample=settings.log_sample,
    )
    mlflow_body.document(app)
    app.state.settings = settings
    registry = app.state.metrics_registry
    app.state.manager = ModelManager(ModelStore(settings), settings.poll_interval_s, registry)
    app.state.ready = app.state.manager.serving
    app.state.prediction_log = (
        PredictionLog(log_settings, registry, "predictor") if log_settings.enabled else None
    )
    app.state.shadow = _shadow(app, settings, registry)
    return app


def _shadow(app: FastAPI, settings: PredictorSettings, registry) -> ShadowScorer | None:
    """The shadow alias's manager and scorer, when one is set and there is a log to keep its
    predictions in (asked for by name without one, the start fails)."""
    if not settings.shadow_alias:
        return None
    if app.state.prediction_log is None:
        if "shadow_alias" in settings.model_fields_set:
            raise ValueError("PREDICTOR_SHADOW_ALIAS needs a prediction log (PREDICTION_LOG_URL)")
        return None
    # The same cache as the serving model's (a folder per version and run, a pointer per
    # alias): a promoted challenger is already there.
    shadow_settings = settings.model_copy(update={"model_alias": settings.shadow_alias})
    manager = ModelManager(
        ModelStore(shadow_settings), settings.poll_interval_s, registry, "predictor_shadow"
    )
    app.state.manager.pair(manager)
    return ShadowScorer(
        manager, app.state.manager, settings.shadow_fraction, app.state.prediction_log, registry
    )


@asynccontextmanager
async def _lifespan(app: FastAPI):
    prediction_log, shadow = app.state.prediction_log, app.state.shadow
    if prediction_log is not None:
        prediction_log.start()
    await app.state.manager.start()
    if shadow is not None:
        await shadow.manager.start()
        shadow.start()
    yield
    await app.state.manager.stop()
    if shadow is not None:
        await shadow.manager.stop()
        await run_in_threadpool(shadow.stop)  # scores and logs what was offered, once
    if prediction_log is not None:
        # Requests in flight have finished (uvicorn drains them first): what they logged is
        # written now, in a thread, so that the loop stays free while the store answers.
        await run_in_threadpool(prediction_log.stop)

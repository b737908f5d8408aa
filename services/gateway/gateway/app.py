"""The gateway's app: settings, state and routers wired together; the handlers live in routers.

The gateway is the only service clients talk to: keys and limits (gateway.security), the body
checked (housing.web.body), then forwarded to a ready predictor (gateway.forward).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from gateway import (
    districts,
    feedback,
    health,
    invocations,
    model,
    monitor,
    open_inference,
    playground,
    predict,
)
from gateway.auth import ApiKeys, InFlight, RateLimiter
from gateway.forward import Forwarder
from gateway.replicas import ReplicaSet
from gateway.settings import GatewaySettings
from gateway.transport import LeanTransport
from housing.predictions.feedback import openapi_schema
from housing.predictions.settings import PredictionLogSettings
from housing.web import body, mlflow_body, scoring_ops, v2_body
from housing.web.runtime import settle_heap
from housing.web.service import service_app

log = logging.getLogger("gateway")


def create_app(
    settings: GatewaySettings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    log_settings: PredictionLogSettings | None = None,
) -> FastAPI:
    """`transport` replaces the network (httpx.MockTransport in tests, httpx's own in the bench)."""
    settings = settings or GatewaySettings()
    log_settings = log_settings or PredictionLogSettings()
    transport = transport or LeanTransport(ack_timeout_s=settings.upstream_ack_timeout_s)
    app = service_app(
        "gateway",
        "Predict California district house prices. Send your key in X-API-Key.",
        _lifespan,
        [
            predict.router,
            invocations.router,
            scoring_ops.router,
            open_inference.router,
            feedback.router,
            health.router,
            model.router,
            districts.router,
            monitor.router,
            playground.router,
        ],
        settings.max_body_bytes,
        (settings.metrics_host, settings.metrics_port),
        docs=settings.docs_enabled,
        log_sample=settings.log_sample,
    )
    body.declare(app, "/feedback", *openapi_schema())
    mlflow_body.document(app)
    v2_body.document(app, "/v2/models/{name}/infer")
    state = app.state
    state.settings = settings
    registry = state.metrics_registry
    state.keys = None if settings.auth_disabled else ApiKeys(settings.keys())
    state.limiter = RateLimiter(settings.rate_per_s, settings.rate_burst)
    state.inflight = InFlight(settings.max_inflight_per_key)
    timeout = httpx.Timeout(settings.upstream_timeout_s, connect=settings.connect_timeout_s)
    state.client = httpx.AsyncClient(transport=transport, timeout=timeout)  # probes
    state.replicas = ReplicaSet(
        settings.predictor_urls,
        state.client,
        settings.cooldown_s,
        settings.health_interval_s,
        registry,
        resolve=settings.resolve_replicas,
    )
    state.ready = state.replicas.any_ready
    state.forwarder = Forwarder(state.replicas, transport, timeout, registry)
    state.feedback = (
        feedback.FeedbackStore(
            log_settings.url, log_settings.connect_timeout_s, settings.max_records
        )
        if log_settings.enabled
        else None
    )

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    state = app.state
    if state.keys is None:
        log.warning("GATEWAY_AUTH_DISABLED is set: /predict is open to anyone")
    await state.replicas.probe_all()
    state.replicas.start()
    settle_heap()
    yield
    await state.replicas.stop()
    await state.client.aclose()
    if state.feedback is not None:
        state.feedback.close()

"""What every HTTP service of ours is built from: the FastAPI app, its routers, the error
bodies, the OpenAPI body of /predict, request metrics and the body-size limit."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry

from housing.web import body, errors, ops
from housing.web.limits import BodySizeLimit
from housing.web.metrics import MetricsMiddleware, RequestMetrics


def service_app(
    name: str,
    summary: str,
    lifespan,
    routers: list[APIRouter],
    max_body_bytes: int,
    metrics_address: tuple[str, int],
    docs: bool = True,
) -> FastAPI:
    """The app of service `name` (also its metrics' prefix), with `app.state.metrics_registry`,
    served while the app runs on `metrics_address` (host, port), not on the app's own port.

    `docs=False` serves no /docs, /redoc or /openapi.json (a production choice)."""
    urls = {} if docs else {"docs_url": None, "redoc_url": None, "openapi_url": None}

    @asynccontextmanager
    async def with_metrics(app: FastAPI):
        async with ops.metrics_server(app, *metrics_address), lifespan(app):
            yield

    app = FastAPI(
        title=f"housing {name}", summary=summary, version="1", lifespan=with_metrics, **urls
    )
    app.state.metrics_registry = registry = CollectorRegistry()
    errors.install(app)
    routers = [*routers, ops.router]
    for router in routers:
        app.include_router(router)
    body.document(app)
    # Labelled by route path; anything else is counted as "other", so labels stay bounded.
    known = frozenset(route.path for router in routers for route in router.routes)
    metrics = RequestMetrics(registry, name)
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=known)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)  # outermost: before any read
    return app

"""What every HTTP service of ours is built from: the FastAPI app, its routers, the error
bodies, the OpenAPI body of /predict, request metrics and the body-size limit."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry

from housing import __version__
from housing.web import body, errors, ops
from housing.web.limits import BodySizeLimit
from housing.web.logs import AccessLog
from housing.web.metrics import MetricsMiddleware, RequestMetrics


def service_app(
    name: str,
    summary: str,
    lifespan,
    routers: list[APIRouter],
    max_body_bytes: int,
    metrics_address: tuple[str, int],
    docs: bool = True,
    log_sample: float = 1.0,
) -> FastAPI:
    """The app of service `name` (also its metrics' prefix), with `app.state.metrics_registry`,
    served while the app runs on `metrics_address` (host, port), not on the app's own port.

    `docs=False` serves no /docs, /redoc or /openapi.json (a production choice)."""
    # /docs and /redoc load Swagger UI's and ReDoc's assets from the app (fastapi-offline's
    # copies), not from a CDN: they work where the internet is not reachable.
    factory, urls = (
        (FastAPIOffline, {})
        if docs
        else (FastAPI, {"docs_url": None, "redoc_url": None, "openapi_url": None})
    )

    @asynccontextmanager
    async def with_metrics(app: FastAPI):
        async with ops.metrics_server(app, *metrics_address), lifespan(app):
            yield

    app = factory(
        title=f"housing {name}",
        summary=summary,
        version=__version__,
        lifespan=with_metrics,
        generate_unique_id_function=operation_id,
        **urls,
    )
    app.state.metrics_registry = registry = CollectorRegistry()
    errors.install(app)
    routers = [*routers, ops.router]
    for router in routers:
        app.include_router(router)
    body.document(app)
    errors.document(app)
    # Labelled by route path; anything else is counted as "other", so labels stay bounded.
    known = frozenset(route.path for router in routers for route in router.routes)
    metrics = RequestMetrics(registry, name)
    access = AccessLog(name, log_sample)
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=known, access=access)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)  # before any read
    app.add_middleware(errors.RequestScope)  # outermost: every error body knows its request
    return app


def operation_id(route: APIRoute) -> str:
    """OpenAPI's operationId: the handler's name (`predict`, `ready`), `v2_` before the Open
    Inference Protocol's (`v2_infer`), as generated clients name their methods."""
    return ("v2_" if route.path.startswith("/v2/") else "") + route.name

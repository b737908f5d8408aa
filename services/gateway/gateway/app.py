"""The gateway's HTTP API: the only service clients talk to.

The /predict body is read and validated by housing.web.body (documented in OpenAPI there).
"""

import json
import logging
import uuid
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CollectorRegistry

from gateway import playground
from gateway.auth import ApiKeys, AuthError, RateLimited, RateLimiter
from gateway.settings import GatewaySettings
from gateway.transport import LeanTransport
from gateway.upstream import NoUpstream, UpstreamFailed, Upstreams, UpstreamTimeout
from housing.contract import PredictResponse
from housing.web import body, errors
from housing.web.limits import BodySizeLimit
from housing.web.metrics import MetricsMiddleware, RequestMetrics, metrics_response
from housing.web.runtime import settle_heap

log = logging.getLogger("gateway")
ROUTES = frozenset({"/", "/predict", "/health/live", "/health/ready", "/metrics"})
RETRY_AFTER_S = "1"
PASSED_THROUGH = ("content-type",)


def create_app(
    settings: GatewaySettings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`transport` replaces the network in in-process tests (httpx.MockTransport)."""
    settings = settings or GatewaySettings()
    registry = CollectorRegistry()
    keys = None if settings.auth_disabled else ApiKeys(settings.keys())
    limiter = RateLimiter(settings.rate_per_s, settings.burst)
    transport = transport or LeanTransport()
    client = httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.upstream_timeout_s, connect=settings.connect_timeout_s),
        limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
    )
    upstreams = Upstreams(
        settings.predictor_urls,
        client,
        transport,
        settings.cooldown_s,
        settings.health_interval_s,
        registry,
        resolve_replicas=settings.resolve_replicas,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per probe otherwise
        if keys is None:
            log.warning("GATEWAY_AUTH_DISABLED is set: /predict is open to anyone")
        await upstreams.probe_all()
        upstreams.start()
        settle_heap()
        yield
        await upstreams.stop()
        await client.aclose()

    app = FastAPI(
        title="housing gateway",
        summary="Predict California district house prices. Send your key in X-API-Key.",
        version="1",
        lifespan=lifespan,
    )
    app.state.upstreams = upstreams
    errors.install(app)

    def refused(request: Request, trace: dict[str, str]) -> Response | None:
        """Checked before the body is read: a caller without a key learns nothing more."""
        if keys is None:
            return None
        try:
            caller = keys.identify(request)
        except AuthError as exc:
            return errors.error_response(401, str(exc), {**trace, "WWW-Authenticate": "Bearer"})
        try:
            limiter.take(caller)
        except RateLimited as exc:
            return errors.error_response(
                429,
                "rate limit exceeded; slow down",
                {**trace, "Retry-After": str(exc.retry_after_s)},
            )
        return None

    @app.post(
        "/predict",
        response_model=PredictResponse,
        responses={
            **body.ERROR_RESPONSES,
            401: {"description": "Missing or invalid API key"},
            429: {"description": "Rate limit exceeded; see Retry-After"},
            502: {"description": "The predictors failed"},
            503: {"description": "No predictor is ready; see Retry-After"},
            504: {"description": "The predictor did not answer in time"},
        },
    )
    async def predict(request: Request) -> Response:
        """One district, or `{"records": [...]}`: one price per record, in order."""
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        trace = {"X-Request-ID": request_id}
        if (refusal := refused(request, trace)) is not None:
            return refusal
        try:
            await body.read_records(request, settings.max_records)
        except body.BadBody as bad:
            bad.response.headers.update(trace)
            return bad.response
        # Validated above; forwarded as received (Starlette keeps the bytes it read).
        raw = await request.body()
        try:
            upstream = await upstreams.post(
                "/predict", raw, {"content-type": "application/json", **trace}
            )
        except NoUpstream:
            return errors.error_response(
                503,
                "no predictor is ready; try again shortly",
                {**trace, "Retry-After": RETRY_AFTER_S},
            )
        except UpstreamTimeout:
            return errors.error_response(504, "the predictor did not answer in time", trace)
        except UpstreamFailed as exc:
            return errors.error_response(502, f"the predictor failed ({exc.args[0]})", trace)
        if upstream.status_code != 200:
            headers = {k: v for k, v in upstream.headers.items() if k in PASSED_THROUGH}
            return Response(upstream.content, upstream.status_code, {**headers, **trace})
        answer = json.loads(upstream.content)
        answer["request_id"] = request_id
        return Response(json.dumps(answer), media_type="application/json", headers=trace)

    @app.get("/health/live")
    async def live() -> dict:
        return {"status": "alive"}

    @app.get("/health/ready")
    async def ready() -> Response:
        states = [{"url": r.url, "ready": r.ready} for r in upstreams.replicas]
        if upstreams.any_ready():
            return JSONResponse({"status": "ready", "predictors": states})
        return JSONResponse(
            {"status": "not ready", "predictors": states},
            status_code=503,
            headers={"Retry-After": RETRY_AFTER_S},
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return metrics_response(registry)

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(playground.render())

    app.add_middleware(
        MetricsMiddleware, metrics=RequestMetrics(registry, "gateway"), routes=ROUTES
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    body.document(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app

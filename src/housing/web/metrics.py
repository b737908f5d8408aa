"""Prometheus request metrics by route and status, as a pure ASGI middleware (cheap per request)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry, prefix: str):
        self.requests = Counter(
            f"{prefix}_requests_total",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            f"{prefix}_request_seconds",
            "HTTP request latency by route and status",
            ["route", "status"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )


class MetricsMiddleware:
    def __init__(self, app, metrics: RequestMetrics, routes: frozenset[str]):
        self.app = app
        self.metrics = metrics
        self.routes = routes  # known paths; anything else is counted as "other" (bounded labels)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def capture(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            path = scope["path"]
            route = path if path in self.routes else "other"
            code = str(status)
            self.metrics.requests.labels(route, code).inc()
            self.metrics.latency.labels(route, code).observe(time.perf_counter() - started)

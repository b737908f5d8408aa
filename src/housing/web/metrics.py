"""Prometheus request metrics by method, route and status code, as a pure ASGI middleware (cheap
per request), named as Prometheus's conventions have them (`*_request_duration_seconds`); and the
process's own (resident memory, CPU seconds, open file descriptors)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

from housing.web.logs import AccessLog

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry, prefix: str):
        self.requests = Counter(
            f"{prefix}_requests_total",
            "HTTP requests by method, route and status code",
            ["method", "route", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            f"{prefix}_request_duration_seconds",
            "HTTP request latency by method, route and status code",
            ["method", "route", "code"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        # process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds, ...
        ProcessCollector(registry=registry)


class MetricsMiddleware:
    """Each request counted and timed, and handed to the access log when it wants it."""

    def __init__(self, app, metrics: RequestMetrics, routes: frozenset[str], access: AccessLog):
        self.app = app
        self.metrics = metrics
        self.routes = routes  # known paths; anything else is counted as "other" (bounded labels)
        self.access = access

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500
        headers = None

        async def capture(message):
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers")
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            path = scope["path"]
            route = path if path in self.routes else "other"
            seconds = time.perf_counter() - started
            labels = (scope["method"], route, str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(seconds)
            if self.access.wanted(status):
                self.access.record(scope["method"], route, status, seconds, headers)

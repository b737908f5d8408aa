"""Forwarding a request to a predictor: one replica, and on failure one retry on another."""

from __future__ import annotations

import time

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram

from gateway.replicas import NoUpstream, Replica, ReplicaSet
from gateway.transport import PeerGone, ResponseTooLarge
from housing.web.metrics import LATENCY_BUCKETS

# The network errors after which a replica is ejected and the request tried on another (but for
# transport.PeerGone, a ReadError handled before these: unready, not ejected).
UNREACHABLE = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.PoolTimeout,
)


class UpstreamTimeout(Exception):
    """The predictor did not answer in time: 504."""


class UpstreamFailed(Exception):
    """The predictors answered, but with a server error: 502. `retry`: another replica may be
    asked (it answered 502: something between failed, not the request)."""

    def __init__(self, reason, retry: bool = False):
        super().__init__(reason)
        self.retry = retry


class Forwarder:
    def __init__(
        self,
        replicas: ReplicaSet,
        transport: httpx.AsyncBaseTransport,
        timeout: httpx.Timeout,
        registry: CollectorRegistry,
    ):
        self.replicas = replicas
        # Straight to the transport: a forwarded POST needs none of AsyncClient's redirect,
        # cookie or auth handling, which would cost CPU on every request.
        self.transport = transport
        self.timeout = timeout.as_dict()
        self.latency = Histogram(
            "gateway_upstream_seconds",
            "Time for a predictor to answer",
            ["upstream"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.retries = Counter(
            "gateway_upstream_retries_total",
            "Requests retried on another predictor",
            registry=registry,
        )

    async def post(self, path: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST to a ready predictor; when it cannot be reached, drops the connection, is not
        ready (503) or answers 502, retry once on another (a prediction is the same wherever it is
        made, and logged once under its request id). A timeout is not retried: the predictor may
        still be working on it, and another would do the same work again. A predictor that
        fails (5xx) is ejected for the cool-down; a slow one is not."""
        replica = self.replicas.pick()
        try:
            return await self._send(replica, path, content, headers)
        except (NoUpstream, UpstreamFailed) as first:
            if isinstance(first, UpstreamFailed) and not first.retry:
                raise  # the predictor failed on this request: another would likely fail too
            try:
                other = self.replicas.pick(exclude=replica)
            except NoUpstream:
                raise first from None
            self.retries.inc()
            return await self._send(other, path, content, headers)

    async def _send(self, replica: Replica, path, content, headers) -> httpx.Response:
        started = time.perf_counter()
        request = httpx.Request(
            "POST",
            replica.url + path,
            content=content,
            headers=headers,
            extensions={"timeout": self.timeout},
        )
        try:
            response = await self.transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except ResponseTooLarge as exc:
            self.replicas.eject(replica, str(exc))
            raise UpstreamFailed("response too large") from exc
        except PeerGone as exc:
            # Gone, or so overloaded that it stopped reading (its zero window counts too): it
            # never had the whole request, so another may answer it. Unready, not ejected: its
            # next probe (within the health interval) brings it back if it is only slow.
            replica.ready = False
            raise NoUpstream from exc
        except UNREACHABLE as exc:
            self.replicas.eject(replica, repr(exc))
            raise NoUpstream from exc
        except httpx.TimeoutException as exc:
            # Slow is not broken: the replica stays in (its health probe judges it).
            raise UpstreamTimeout from exc
        finally:
            self.latency.labels(replica.url).observe(time.perf_counter() - started)
        if response.status_code == 503:
            replica.ready = False  # it says so itself; the probe brings it back
            raise NoUpstream
        if response.status_code >= 500:
            self.replicas.eject(replica, f"answered {response.status_code}")
            raise UpstreamFailed(response.status_code, retry=response.status_code == 502)
        return response

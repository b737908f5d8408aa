"""The predictors behind the gateway: which there are, which are ready, and whose turn it is.

Discovery (every address a name resolves to is a replica, for `compose --scale`), readiness
probing in the background, round-robin selection among the usable ones, and ejection for a
cool-down after a failure. Forwarding a request is gateway.forward's job.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from dataclasses import dataclass

import httpx
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily

from housing.web.runtime import cancel

log = logging.getLogger("gateway.replicas")


class NoUpstream(Exception):
    """No predictor is ready: answer 503 now rather than wait."""


@dataclass
class Replica:
    url: str
    ready: bool = True  # optimistic until the first probe says otherwise
    ejected_until: float = 0.0

    def usable(self, now: float) -> bool:
        return self.ready and now >= self.ejected_until


class ReplicaSet:
    def __init__(
        self,
        urls: list[str],
        client: httpx.AsyncClient,
        cooldown_s: float,
        health_interval_s: float,
        registry: CollectorRegistry,
        resolve: bool = False,
    ):
        self.configured = urls
        self.resolve = resolve
        self.replicas = [Replica(url) for url in urls]
        self.client = client  # for the probes
        self.cooldown_s = cooldown_s
        self.health_interval_s = health_interval_s
        self._turn = itertools.count()
        self._task: asyncio.Task | None = None
        self.ejections = Counter(
            "gateway_upstream_ejections_total",
            "Predictors taken out for a cool-down",
            ["upstream"],
            registry=registry,
        )
        registry.register(_ReadyCollector(self))

    def any_ready(self) -> bool:
        now = time.monotonic()
        return any(r.usable(now) for r in self.replicas)

    def pick(self, exclude: Replica | None = None) -> Replica:
        """The next usable replica in turn (other than `exclude`), or NoUpstream."""
        now = time.monotonic()
        usable = [r for r in self.replicas if r.usable(now) and r is not exclude]
        if not usable:
            raise NoUpstream
        return usable[next(self._turn) % len(usable)]

    def eject(self, replica: Replica, why: str) -> None:
        replica.ejected_until = time.monotonic() + self.cooldown_s
        self.ejections.labels(replica.url).inc()
        log.warning("ejected %s for %.1fs: %s", replica.url, self.cooldown_s, why)

    async def probe_all(self) -> None:
        if self.resolve:
            await self._resolve()
        await asyncio.gather(*(self._probe(r) for r in self.replicas))

    async def _resolve(self) -> None:
        """One replica per address a name resolves to (`compose --scale predictor=N`)."""
        loop = asyncio.get_running_loop()
        known = {r.url: r for r in self.replicas}
        found: list[Replica] = []
        for url in self.configured:
            parsed = httpx.URL(url)
            try:
                infos = await loop.getaddrinfo(parsed.host, parsed.port, type=socket.SOCK_STREAM)
            except OSError:
                infos = []  # no address now (all replicas down): keep what we knew
                found += [r for u, r in known.items() if u.endswith(f":{parsed.port}")]
            for address in sorted({info[4][0] for info in infos}):
                host = f"[{address}]" if ":" in address else address
                resolved = str(parsed.copy_with(host=host)).rstrip("/")
                found.append(known.get(resolved) or Replica(resolved, ready=False))
        if found:
            self.replicas = list({r.url: r for r in found}.values())

    async def _probe(self, replica: Replica) -> None:
        try:
            response = await self.client.get(replica.url + "/health/ready", timeout=1.0)
            ready = response.status_code == 200
        except httpx.HTTPError:
            ready = False
        if ready and not replica.ready:
            log.info("%s is ready", replica.url)
            replica.ejected_until = 0.0  # it was down and is back: traffic again at once
        replica.ready = ready

    async def _probe_forever(self) -> None:
        while True:  # the first probe runs before the app serves (see app.lifespan)
            await asyncio.sleep(self.health_interval_s)
            await self.probe_all()

    def start(self) -> None:
        self._task = asyncio.create_task(self._probe_forever())

    async def stop(self) -> None:
        await cancel(self._task)


class _ReadyCollector:
    """`gateway_predictor_ready{upstream}`: 1 for each predictor that takes requests now, read at
    scrape time (on the internal metrics port: these are internal addresses)."""

    def __init__(self, replicas: ReplicaSet):
        self.replicas = replicas

    def collect(self):
        family = GaugeMetricFamily(
            "gateway_predictor_ready", "Predictors taking requests now", labels=["upstream"]
        )
        now = time.monotonic()
        for replica in list(self.replicas.replicas):
            family.add_metric([replica.url], 1.0 if replica.usable(now) else 0.0)
        yield family

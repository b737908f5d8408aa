"""Keeps one model serving and swaps in a new champion when the alias moves.

The swap is one reference assignment: a request reads `manager.current` once and finishes on
that version, so in-flight requests never see a half-loaded model.
"""

from __future__ import annotations

import asyncio
import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge

from housing.failures import first_line
from housing.web.runtime import cancel, settle_heap
from predictor.served import ServedModel
from predictor.store import ModelStore

log = logging.getLogger("predictor")


class ModelManager:
    def __init__(self, store: ModelStore, poll_interval_s: float, registry: CollectorRegistry):
        self.store = store
        self.poll_interval_s = poll_interval_s
        self.current: ServedModel | None = None
        self.refused: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self.swaps = Counter(
            "predictor_model_swaps_total", "Model versions swapped in", registry=registry
        )
        self.load_failures = Counter(
            "predictor_model_load_failures_total",
            "Versions that failed to load or warm up",
            registry=registry,
        )
        self.polls = Counter("predictor_registry_polls", "Alias lookups made", registry=registry)
        self.poll_failures = Counter(
            "predictor_registry_poll_failures_total",
            "Alias lookups that failed (registry unreachable)",
            registry=registry,
        )
        self.version_gauge = Gauge(
            "predictor_model_version", "Version being served", registry=registry
        )

    async def start(self) -> None:
        cached = self.store.last_seen()
        if cached is not None:
            try:
                self._swap(await asyncio.to_thread(self.store.load, cached, "cache"))
            except Exception:  # noqa: BLE001 - a bad cache entry must not stop the service
                log.exception("cached model in %s could not be loaded", cached)
        self._task = asyncio.create_task(self._poll_forever())

    async def stop(self) -> None:
        await cancel(self._task)

    async def _poll_forever(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(self.poll_interval_s)

    async def poll_once(self) -> None:
        async with self._lock:
            self.polls.inc()
            try:
                info = await asyncio.to_thread(self.store.resolve)
            except Exception as exc:  # noqa: BLE001 - registry down: keep serving what we have
                self.poll_failures.inc()
                log.warning("cannot resolve the alias (%s); serving on", first_line(exc))
                return
            if self.current is not None and info.version == self.current.version:
                return
            if info.version in self.refused:
                return
            try:
                folder = await asyncio.to_thread(self.store.download, info)
            except Exception as exc:  # noqa: BLE001 - transient: try again next poll
                log.warning("cannot download v%s (%s); will retry", info.version, first_line(exc))
                return
            started = time.perf_counter()
            try:
                model = await asyncio.to_thread(self.store.load, folder, "registry")
            except Exception as exc:  # noqa: BLE001 - a broken version is refused, not served
                self.load_failures.inc()
                self.refused[info.version] = first_line(exc)
                log.error("refused v%s: %s", info.version, first_line(exc))
                return
            self.store.remember(info.version)
            previous = self.current.version if self.current else None
            self._swap(model)
            log.info(
                "serving v%s (was v%s), loaded in %.2fs",
                info.version,
                previous,
                time.perf_counter() - started,
            )

    def _swap(self, model: ServedModel) -> None:
        self.current = model
        self.swaps.inc()
        self.version_gauge.set(float(model.version) if model.version.isdigit() else -1)
        settle_heap()

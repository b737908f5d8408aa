"""Keeps one model serving and swaps in a new champion when the alias moves.

The swap is one reference assignment: a request reads `manager.current` once and finishes on
that version, so in-flight requests never see a half-loaded model.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Info

from housing.failures import first_line
from housing.web.runtime import cancel, settle_heap
from predictor.served import ServedModel
from predictor.store import ModelStore

log = logging.getLogger("predictor")


# A version that failed to download or load is tried again after a back-off that doubles with each
# failure, up to this ceiling: a broken registry is not hammered, a transient fault heals itself.
BACKOFF_CEILING_S = 300.0


def _label(identity: tuple) -> str:
    version, run_id, sha256 = identity
    return f"v{version} (run {run_id or '-'}, sha256 {(sha256 or '-')[:12]})"


class ModelManager:
    def __init__(
        self,
        store: ModelStore,
        poll_interval_s: float,
        registry: CollectorRegistry,
        prefix: str = "predictor",
    ):
        """`prefix` names its metrics (and its log lines): "predictor" for the model that
        answers, "predictor_shadow" for the one scored in shadow."""
        self.store = store
        self.role = "shadow" if prefix.endswith("_shadow") else "serving"
        self.poll_interval_s = poll_interval_s
        self.current: ServedModel | None = None
        # The other manager of this process (serving and shadow, each the other's): a model one
        # has loaded is taken as it is when the other's alias names the same identity, so that
        # the challenger right after a promotion (or the champion the challenger alias also
        # names) is never downloaded, compiled and held twice.
        self.peer: ModelManager | None = None
        # version: what was refused under that number (run id, digest) and why
        self.refused: dict[str, dict[str, str | None]] = {}
        # identity (version, run id, digest): (failures, retry after)
        self._failures: dict[tuple, tuple[int, float]] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self.swaps = Counter(
            f"{prefix}_model_swaps_total", "Model versions swapped in", registry=registry
        )
        self.load_failures = Counter(
            f"{prefix}_model_load_failures_total",
            "Versions that failed to load or warm up",
            registry=registry,
        )
        self.polls = Counter(f"{prefix}_registry_polls", "Alias lookups made", registry=registry)
        self.poll_failures = Counter(
            f"{prefix}_registry_poll_failures_total",
            "Alias lookups that failed (registry unreachable)",
            registry=registry,
        )
        # predictor_model_info{name, version, run_id} 1: what serves, by what it is.
        self.model_info = Info(f"{prefix}_model", "The model version serving", registry=registry)
        self.last_poll = Gauge(
            f"{prefix}_registry_last_poll_timestamp_seconds",
            "When the alias was last resolved (Unix time)",
            registry=registry,
        )
        # 1 while the registry's alias names another model than the one serving (it cannot be
        # downloaded or loaded yet); the PredictorNotServingChampion alert reads it.
        self.behind = Gauge(
            f"{prefix}_behind_champion",
            "1 while the alias names another model than the one serving",
            registry=registry,
        )
        self.loop_errors = Counter(
            f"{prefix}_poll_loop_errors_total",
            "Unexpected errors in the poll loop (logged; the loop goes on)",
            registry=registry,
        )

    def pair(self, other: ModelManager) -> None:
        """Make `other` this manager's peer and this one its; one lock for both, so that the two
        never download and load the same version at once (the second finds it loaded)."""
        self.peer, other.peer = other, self
        other._lock = self._lock

    def serving(self) -> bool:
        """Whether a model serves now."""
        return self.current is not None

    async def start(self) -> None:
        cached = self.store.last_seen()
        if cached is not None:
            try:
                model = self._from_peer(self.store.identity_of(cached))
                self._swap(model or await asyncio.to_thread(self.store.load, cached, "cache"))
            except Exception:  # noqa: BLE001 - a bad cache entry must not stop the service
                log.exception("cached model in %s could not be loaded", cached)
        self._task = asyncio.create_task(self._poll_forever())

    async def stop(self) -> None:
        await cancel(self._task)

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # noqa: BLE001 - the loop must outlive any one poll's bug
                self.loop_errors.inc()
                log.exception("poll failed unexpectedly; polling on")
            await asyncio.sleep(self.poll_interval_s)

    async def poll_once(self) -> None:
        async with self._lock:
            self.polls.inc()
            try:
                info = await asyncio.to_thread(self.store.resolve)
            except Exception as exc:  # noqa: BLE001 - registry down: keep serving what we have
                self.poll_failures.inc()
                # A registry with no challenger is normal for the shadow: said quietly there.
                level = logging.WARNING if self.role == "serving" else logging.DEBUG
                log.log(
                    level,
                    "%s: alias not resolved (%s); what is loaded stays",
                    self.role,
                    first_line(exc),
                )
                return
            self.last_poll.set_to_current_time()
            # The same number is not the same model: compared by what it is.
            if self.current is not None and info.identity == self.current.identity:
                self.behind.set(0)
                return
            self.behind.set(1)
            shared = self._from_peer(info.identity)
            if shared is not None:
                self._take_shared(shared, info)
                return
            if time.monotonic() < self._failures.get(info.identity, (0, 0.0))[1]:
                return  # failed lately: wait out its back-off
            try:
                folder = await asyncio.to_thread(self.store.download, info)
            except Exception as exc:  # noqa: BLE001 - transient: tried again after a back-off
                delay = self._failed(info.identity)
                log.warning(
                    "cannot download v%s (%s); retry in %.0fs", info.version, first_line(exc), delay
                )
                return
            started = time.perf_counter()
            try:
                model = await asyncio.to_thread(self.store.load, folder, "registry", info.sha256)
            except Exception as exc:  # noqa: BLE001 - a broken version is refused, not served
                self.load_failures.inc()
                self.refused[info.version] = {
                    "run_id": info.run_id,
                    "sha256": info.sha256,
                    "reason": first_line(exc),
                }
                delay = self._failed(info.identity)
                log.error("refused v%s: %s (retry in %.0fs)", info.version, first_line(exc), delay)
                return
            self._failures.pop(info.identity, None)
            self.refused.pop(info.version, None)
            try:
                self.store.remember(folder)
            except OSError as exc:  # the pointer only speeds up a restart without MLflow
                log.warning("cannot record v%s as last seen (%s)", info.version, first_line(exc))
            previous = _label(self.current.identity) if self.current else None
            self._swap(model)
            log.info(
                "%s %s (was %s), loaded in %.2fs",
                self.role,
                _label(info.identity),
                previous,
                time.perf_counter() - started,
            )

    def _from_peer(self, identity: tuple) -> ServedModel | None:
        """The peer's loaded model when it is `identity`, under this manager's alias (the same
        pipeline and compiled tables: nothing loaded again)."""
        theirs = self.peer.current if self.peer is not None else None
        if theirs is None or theirs.identity != identity:
            return None
        return dataclasses.replace(theirs, alias=self.store.alias, source=self.peer.role)

    def _take_shared(self, model: ServedModel, info) -> None:
        self._failures.pop(info.identity, None)
        self.refused.pop(info.version, None)
        try:
            self.store.remember(self.store.folder(info))  # the peer's download, same cache
        except (OSError, ValueError) as exc:
            log.warning("cannot record v%s as last seen (%s)", info.version, first_line(exc))
        previous = _label(self.current.identity) if self.current else None
        self._swap(model)
        log.info("%s %s (was %s), shared with %s", self.role, _label(info.identity), previous,
                 self.peer.role)  # fmt: skip

    def _failed(self, identity: tuple) -> float:
        """Count a failure of the version `identity` names; the seconds until it is tried again."""
        failures = self._failures.get(identity, (0, 0.0))[0] + 1
        delay = min(self.poll_interval_s * 2**failures, BACKOFF_CEILING_S)
        self._failures[identity] = (failures, time.monotonic() + delay)
        return delay

    def _swap(self, model: ServedModel) -> None:
        self.current = model
        self.behind.set(0)
        self.swaps.inc()
        self.model_info.info(
            {"name": model.name, "version": model.version, "run_id": model.run_id or ""}
        )
        settle_heap()

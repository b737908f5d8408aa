"""predictor.manager.ModelManager with a stand-in store: poll, swap, refuse, keep serving."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from predictor.manager import ModelManager
from predictor.registry_api import VersionInfo


@dataclass
class Loaded:
    version: str
    source: str


@dataclass
class StandInStore:
    """The ModelStore's interface, answering from memory: what the alias names, what loads."""

    alias_names: str | None = "1"
    broken: set[str] = field(default_factory=set)
    cached: str | None = None
    remembered: list[str] = field(default_factory=list)
    downloads: int = 0

    def resolve(self) -> VersionInfo:
        if self.alias_names is None:
            raise ConnectionError("registry down")
        return VersionInfo(self.alias_names, None, {})

    def download(self, info: VersionInfo) -> Path:
        self.downloads += 1
        return Path(info.version)

    def load(self, folder: Path, source: str) -> Loaded:
        if folder.name in self.broken:
            raise ValueError(f"v{folder.name} does not load\nsecond line")
        return Loaded(folder.name, source)

    def remember(self, version: str) -> None:
        self.remembered.append(version)

    def last_seen(self) -> Path | None:
        return Path(self.cached) if self.cached else None


def manager(store: StandInStore) -> ModelManager:
    return ModelManager(store, poll_interval_s=3600, registry=CollectorRegistry())


def test_the_first_poll_loads_the_alias_and_the_next_swaps_when_it_moves():
    store = StandInStore()
    m = manager(store)
    asyncio.run(m.poll_once())
    assert m.current == Loaded("1", "registry") and store.remembered == ["1"]
    asyncio.run(m.poll_once())  # unchanged: nothing downloaded again
    assert store.downloads == 1
    store.alias_names = "2"
    asyncio.run(m.poll_once())
    assert m.current.version == "2" and store.remembered == ["1", "2"]


def test_a_version_that_fails_to_load_is_refused_once_and_the_old_one_keeps_serving():
    store = StandInStore()
    m = manager(store)
    asyncio.run(m.poll_once())
    store.alias_names, store.broken = "2", {"2"}
    asyncio.run(m.poll_once())
    asyncio.run(m.poll_once())
    assert m.current.version == "1"
    assert m.refused == {"2": "v2 does not load"}
    assert store.downloads == 2  # the refused version is not fetched again


def test_an_unreachable_registry_keeps_the_current_model():
    store = StandInStore()
    m = manager(store)
    asyncio.run(m.poll_once())
    store.alias_names = None
    asyncio.run(m.poll_once())
    assert m.current.version == "1"


def test_start_serves_the_cached_version_before_the_registry_answers():
    async def scenario():
        store = StandInStore(alias_names=None, cached="3")
        m = manager(store)
        await m.start()
        current = m.current
        await m.stop()
        return current

    assert asyncio.run(scenario()) == Loaded("3", "cache")


def test_start_without_cache_or_registry_serves_nothing_yet():
    async def scenario():
        m = manager(StandInStore(alias_names=None))
        await m.start()
        await asyncio.sleep(0)
        current = m.current
        await m.stop()
        return current

    assert asyncio.run(scenario()) is None


@pytest.mark.parametrize("bad_cache", ["broken"])
def test_a_cache_entry_that_does_not_load_is_skipped(bad_cache):
    async def scenario():
        store = StandInStore(alias_names=None, cached=bad_cache, broken={bad_cache})
        m = manager(store)
        await m.start()
        current = m.current
        await m.stop()
        return current

    assert asyncio.run(scenario()) is None

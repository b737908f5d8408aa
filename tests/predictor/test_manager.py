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
    run_id: str | None = None
    name: str = "housing-price"
    alias: str = "champion"

    @property
    def identity(self) -> tuple:
        return (self.version, self.run_id, None)


@dataclass
class StandInStore:
    """The ModelStore's interface, answering from memory: what the alias names, what loads."""

    alias_names: str | None = "1"
    run_id: str | None = None  # of the version the alias names
    broken: set[str] = field(default_factory=set)
    cached: str | None = None
    remembered: list[str] = field(default_factory=list)
    downloads: int = 0
    loads: int = 0
    alias: str = "champion"

    def resolve(self) -> VersionInfo:
        if self.alias_names is None:
            raise ConnectionError("registry down")
        return VersionInfo(self.alias_names, self.run_id, {})

    def folder(self, info: VersionInfo) -> Path:
        return Path(f"{info.version}-{info.run_id}" if info.run_id else info.version)

    def download(self, info: VersionInfo) -> Path:
        self.downloads += 1
        return self.folder(info)

    @staticmethod
    def identity_of(folder: Path) -> tuple:
        version, _, run_id = folder.name.partition("-")
        return (version, run_id or None, None)

    def load(self, folder: Path, source: str, sha256: str | None = None) -> Loaded:
        self.loads += 1
        if folder.name in self.broken:
            raise ValueError(f"v{folder.name} does not load\nsecond line")
        version, _, run_id = folder.name.partition("-")
        return Loaded(version, source, run_id or None, alias=self.alias)

    def remember(self, folder: Path) -> None:
        self.remembered.append(folder.name)

    def last_seen(self) -> Path | None:
        return Path(self.cached) if self.cached else None


def manager(store: StandInStore, prefix: str = "predictor") -> ModelManager:
    return ModelManager(store, poll_interval_s=3600, registry=CollectorRegistry(), prefix=prefix)


def behind(m: ModelManager) -> float:
    """predictor_behind_champion, as Prometheus reads it."""
    return m.behind.collect()[0].samples[0].value


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


def test_a_new_registrys_version_of_the_same_number_is_served_at_the_next_poll():
    """After `make clean`, a restored backup or a re-created version, v1 is another run: the
    number alone would keep the old model serving under it."""
    store = StandInStore(alias_names="1", run_id="old")
    m = manager(store)
    asyncio.run(m.poll_once())
    assert m.current == Loaded("1", "registry", "old")
    store.run_id = "new"
    asyncio.run(m.poll_once())
    assert m.current == Loaded("1", "registry", "new") and store.downloads == 2
    asyncio.run(m.poll_once())
    assert store.downloads == 2  # the same identity: not fetched again


def test_a_refused_version_does_not_hold_back_another_of_the_same_number():
    store = StandInStore(alias_names="2", run_id="bad", broken={"2-bad"})
    m = manager(store)
    asyncio.run(m.poll_once())
    assert m.current is None and m.refused["2"]["run_id"] == "bad"
    store.run_id = "good"  # not in its back-off: another model
    asyncio.run(m.poll_once())
    assert m.current == Loaded("2", "registry", "good") and "2" not in m.refused


def test_a_version_that_fails_to_load_is_refused_once_and_the_old_one_keeps_serving():
    store = StandInStore()
    m = manager(store)
    asyncio.run(m.poll_once())
    store.alias_names, store.broken = "2", {"2"}
    asyncio.run(m.poll_once())
    asyncio.run(m.poll_once())
    assert m.current.version == "1"
    assert m.refused == {"2": {"run_id": None, "sha256": None, "reason": "v2 does not load"}}
    assert store.downloads == 2  # the refused version is not fetched again
    assert behind(m) == 1  # the PredictorNotServingChampion alert's gauge
    store.alias_names = "1"  # the alias moved back to what serves
    asyncio.run(m.poll_once())
    assert behind(m) == 0


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


def test_the_poll_loop_outlives_an_unexpected_error():
    """An error that escapes a poll (a bug) is logged and counted; the next poll still runs."""

    async def scenario():
        m = ModelManager(StandInStore(), poll_interval_s=0.01, registry=CollectorRegistry())
        poll, raised = m.poll_once, []

        async def buggy_once():
            if not raised:
                raised.append(True)
                raise RuntimeError("a bug")
            await poll()

        m.poll_once = buggy_once
        await m.start()
        for _ in range(200):
            if m.current is not None:
                break
            await asyncio.sleep(0.01)
        await m.stop()
        return m

    m = asyncio.run(scenario())
    assert m.current is not None and m.current.version == "1"
    assert m.loop_errors._value.get() == 1


def test_a_failed_download_waits_out_a_growing_back_off():
    class Flaky(StandInStore):
        def download(self, info: VersionInfo) -> Path:
            self.downloads += 1
            raise ConnectionError("artifact store down")

    store = Flaky()
    m = ModelManager(store, poll_interval_s=1, registry=CollectorRegistry())
    for _ in range(5):
        asyncio.run(m.poll_once())
    assert store.downloads == 1  # the next try waits 2 s, then 4 s, ...
    named = ("1", None, None)  # the identity the alias names: version, run, digest
    m._failures[named] = (m._failures[named][0], 0.0)  # the back-off is over
    asyncio.run(m.poll_once())
    assert store.downloads == 2 and m._failures[named][0] == 2


def test_a_failing_pointer_write_does_not_stop_the_swap():
    class ReadOnlyCache(StandInStore):
        def remember(self, folder: Path) -> None:
            raise PermissionError("read-only cache")

    m = manager(ReadOnlyCache())
    asyncio.run(m.poll_once())
    assert m.current.version == "1" and m.last_poll._value.get() > 0


def test_serving_and_shadow_never_load_the_same_model_twice():
    """The challenger alias naming the champion (after every promotion), and the champion moving
    to the challenger: the model the other manager holds is taken as it is, not fetched again."""
    serving_store = StandInStore(alias_names="1")
    shadow_store = StandInStore(alias_names="1", alias="challenger")
    serving, shadow = manager(serving_store), manager(shadow_store, "predictor_shadow")
    serving.pair(shadow)
    asyncio.run(serving.poll_once())
    asyncio.run(shadow.poll_once())
    assert shadow_store.downloads == shadow_store.loads == 0
    assert shadow.current == Loaded("1", "serving", alias="challenger")
    assert shadow_store.remembered == ["1"]  # its pointer, for a start without the registry
    shadow_store.alias_names = "2"  # a new challenger: loaded by the shadow
    asyncio.run(shadow.poll_once())
    assert shadow_store.loads == 1 and shadow.current == Loaded("2", "registry", alias="challenger")
    serving_store.alias_names = "2"  # promoted: the serving side takes the shadow's
    asyncio.run(serving.poll_once())
    assert serving_store.downloads == serving_store.loads == 1
    assert serving.current == Loaded("2", "shadow", alias="champion")


def test_a_start_from_cache_takes_the_peers_model_when_it_is_the_same():
    async def scenario():
        serving = manager(StandInStore(alias_names=None, cached="3"))
        shadow_store = StandInStore(alias_names=None, cached="3", alias="challenger")
        shadow = manager(shadow_store, "predictor_shadow")
        serving.pair(shadow)
        await serving.start()
        await shadow.start()
        current = shadow.current
        await serving.stop()
        await shadow.stop()
        return current, shadow_store.loads

    assert asyncio.run(scenario()) == (Loaded("3", "serving", alias="challenger"), 0)

"""predictor.store.ModelStore's cache on disk, shared by scaled replicas."""

from __future__ import annotations

import threading

import pytest

from predictor.registry_api import VersionInfo
from predictor.settings import PredictorSettings
from predictor.store import ModelStore


def test_replicas_sharing_the_cache_record_the_last_seen_version_without_errors(tmp_path):
    """Two replicas (threads here) write the pointer file at once: each write is whole."""
    stores = [ModelStore(PredictorSettings(cache_dir=tmp_path)) for _ in range(2)]
    folder = stores[0].root / "7"
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text('{"version": "7"}')
    errors: list[Exception] = []

    def hammer(store: ModelStore) -> None:
        for _ in range(2_000):
            try:
                store.remember(folder)
            except Exception as exc:  # noqa: BLE001 - counted, and the test fails on any
                errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert stores[1].last_seen() == stores[1].root / "7"
    assert sorted(p.name for p in stores[0].root.iterdir()) == ["7", "champion.json"]


def test_the_cache_is_keyed_by_version_and_run(tmp_path):
    """A new registry's v1 is another run: it gets its own folder, never the old v1's files."""
    store = ModelStore(PredictorSettings(cache_dir=tmp_path))
    old, new = VersionInfo("1", "run-a", {}), VersionInfo("1", "run-b", {})
    assert store.folder(old) != store.folder(new)
    assert store.folder(old).parent == store.folder(new).parent == store.root
    assert store.folder(VersionInfo("2", "../../etc", {})).parent == store.root


@pytest.mark.parametrize("version", ["../1", "1/..", "", "1 ", "v1"])
def test_a_version_that_is_not_a_number_never_becomes_a_path(tmp_path, version):
    store = ModelStore(PredictorSettings(cache_dir=tmp_path))
    with pytest.raises(ValueError, match="not a number"):
        store.folder(VersionInfo(version, "run", {}))

"""Retraining on demand: a worse model never takes over; a better one does, without a failure."""

from __future__ import annotations

import threading
import time

import httpx

from housing.contract import EXAMPLE_RECORD
from tests.e2e.conftest import compose, served_version, wait_until

# The stack's first model has fewer trees than params.yaml's (`make e2e` sets TRAIN_PARAMS).
WORSE = "train.max_iter=20"
BETTER = ""  # params.yaml's own model


def retrain(params: str) -> str:
    result = compose("run", "--rm", "-e", f"TRAIN_PARAMS={params}", "trainer")
    return result.stdout + result.stderr


def test_worse_model_does_not_move_champion(registry):
    before = registry.champion()
    out = retrain(WORSE)
    assert "not promoted" in out, out[-2000:]
    assert registry.champion() == before


def test_better_model_takes_over_without_a_failed_request(registry, gateway, api_key):
    before = registry.champion()
    failures: list[str] = []
    versions: list[str] = []
    stop = threading.Event()

    def load():
        with httpx.Client(timeout=10, headers={"X-API-Key": api_key}) as client:
            while not stop.is_set():
                try:
                    r = client.post(f"{gateway}/predict", json=EXAMPLE_RECORD)
                    if r.status_code == 200:
                        versions.append(r.json()["model"]["version"])
                    else:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                time.sleep(0.01)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        out = retrain(BETTER)
        assert "promoted" in out and "not promoted" not in out, out[-2000:]
        after = registry.champion()
        assert after != before
        wait_until(lambda: served_version(gateway, api_key) == after, 60, "new version served")
        wait_until(lambda: versions[-1] == after, 30, "the load served by the new version")
    finally:
        stop.set()
        thread.join(timeout=15)
    assert failures == []
    assert versions[0] == before and versions[-1] == after
    print(f"\nswap through the gateway: {len(versions)} requests, 0 failed")

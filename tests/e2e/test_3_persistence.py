"""Runs, versions and aliases survive a PostgreSQL restart and a down/up of the stack."""

from __future__ import annotations

from tests.e2e.conftest import compose, served_version, wait_until


def snapshot(registry) -> tuple:
    return registry.runs(), registry.versions(), registry.champion()


def test_restart_postgres_keeps_the_registry(registry):
    before = snapshot(registry)
    compose("restart", "postgres")
    assert wait_until(lambda: snapshot(registry), 120, "MLflow answering again") == before


def test_down_and_up_keep_every_run_and_the_registry(registry, gateway, api_key):
    before = snapshot(registry)
    compose("down")
    compose("up", "-d", "--wait")
    assert wait_until(lambda: snapshot(registry), 120, "MLflow answering again") == before
    # The trainer ran again at `up`: nothing changed, so it registered nothing new.
    assert wait_until(lambda: served_version(gateway, api_key), 60, "a prediction") == before[2]

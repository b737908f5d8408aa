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
    runs, versions, champion = snapshot(registry)
    compose("down")
    compose("up", "-d", "--wait")
    after_runs, after_versions, after_champion = wait_until(
        lambda: snapshot(registry), 120, "MLflow answering again"
    )
    # The trainer runs again at `up`; it may add a run (when the last one used overrides), but
    # nothing is lost and the champion stays.
    assert set(runs) <= set(after_runs) and set(versions) <= set(after_versions)
    assert after_champion == champion
    trainer_log = compose("logs", "trainer").stdout
    assert "raw data from workspace" in trainer_log  # its DVC workspace survived too
    assert wait_until(lambda: served_version(gateway, api_key), 60, "a prediction") == champion

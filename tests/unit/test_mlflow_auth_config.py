"""The tracking server's auth config as services/mlflow/start.py writes it, read back by MLflow's
own reader: a misspelt key would be ignored silently (MLflow falls back to its default)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "services" / "mlflow"


@pytest.fixture
def start(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(SERVICE))
    monkeypatch.setenv("MLFLOW_PORT", "5000")  # set by the image; health.py reads it on import
    module = importlib.import_module("start")
    monkeypatch.setattr(module, "AUTH_CONFIG", tmp_path / "basic_auth.ini")
    for name, value in {
        "POSTGRES_USER": "mlflow", "POSTGRES_PASSWORD": "p%ss", "POSTGRES_HOST": "postgres",
        "POSTGRES_DB": "mlflow", "MLFLOW_AUTH_DB": "mlflow_auth",
        "MLFLOW_AUTH_ADMIN_PASSWORD": "secret",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    for name in ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_CONFIG_PATH"):
        monkeypatch.delenv(name, raising=False)
    yield module
    for name in ("start", "health", "grant_access", "prepare_stores"):  # the service's own
        sys.modules.pop(name, None)


def test_mlflow_reads_the_credential_cache_and_the_rest_of_the_config(start, tmp_path):
    from mlflow.server.auth.config import read_auth_config

    start.configure()
    config = read_auth_config()
    assert config.auth_cache_ttl_seconds == start.AUTH_CACHE_TTL_S > 0
    assert config.default_permission == "NO_PERMISSIONS"
    assert config.admin_username == start.ADMIN
    assert config.database_uri.endswith("@postgres/mlflow_auth") and "p%25ss" in config.database_uri
    assert (tmp_path / "basic_auth.ini").stat().st_mode & 0o777 == 0o600

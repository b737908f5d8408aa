"""A stand-in for an EC2 host, here: sshd on a loopback port with a throw-away key, this
machine's Docker engine, and a local registry (Debian's docker-registry) on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.registry import local_registry
from tests.support.sshd import local_sshd
from tests.support.suites import skip_unless_enabled

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    reason = "needs docker, sshd and docker-registry: `make deploy-test`"
    skip_unless_enabled(items, "HOUSING_DEPLOY_TEST", "deploy", reason, keep=("test_provision",))


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> str:
    """A Docker registry on 127.0.0.1 (Docker trusts loopback registries without TLS)."""
    with local_registry(tmp_path_factory.mktemp("registry")) as port:
        yield f"127.0.0.1:{port}/housing"


@pytest.fixture(scope="session")
def ssh_host(tmp_path_factory) -> dict:
    """sshd on a loopback port, letting in one throw-away key (as this user)."""
    with local_sshd(tmp_path_factory.mktemp("sshd")) as host:
        yield host

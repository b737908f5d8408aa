"""A stand-in for an EC2 host, here: sshd on a loopback port with a throw-away key, this
machine's Docker engine, and a local registry (Debian's docker-registry) on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.procs import free_port, running, wait_http

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    if os.environ.get("HOUSING_DEPLOY_TEST") != "1":
        skip = pytest.mark.skip(reason="needs docker, sshd and docker-registry: `make deploy-test`")
        for item in items:
            if "tests/deploy/" in str(item.fspath) and "test_provision" not in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> str:
    """A Docker registry on 127.0.0.1 (Docker trusts loopback registries without TLS)."""
    work = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    with running([binary, "serve", str(config)], work / "registry.log"):
        wait_http(f"http://127.0.0.1:{port}/v2/", timeout_s=30)
        yield f"127.0.0.1:{port}/housing"


@pytest.fixture(scope="session")
def ssh_host(tmp_path_factory) -> dict:
    """sshd on a loopback port, letting in one throw-away key (as this user)."""
    work = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / name)], check=True
        )
    shutil.copy(work / "client_key.pub", work / "authorized_keys")
    os.chmod(work / "authorized_keys", 0o600)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    port = free_port()
    cmd = [
        "/usr/sbin/sshd",
        "-D",
        "-e",
        "-p",
        str(port),
        "-h",
        str(work / "host_key"),
        "-o",
        "ListenAddress=127.0.0.1",
        "-o",
        f"AuthorizedKeysFile={work}/authorized_keys",
        "-o",
        "PasswordAuthentication=no",
        "-o",
        "PermitRootLogin=prohibit-password",
        "-o",
        "StrictModes=no",
        "-o",
        f"PidFile={work}/sshd.pid",
        "-o",
        "UsePAM=no",
    ]
    with running(cmd, work / "sshd.log"):
        import socket
        import time

        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield {
            "host": "127.0.0.1",
            "port": port,
            "key": work / "client_key",
            "user": os.environ.get("USER") or "root",
            "known_hosts": work / "known_hosts",
        }

"""deploy/imds_guard.sh for real, on a Docker engine of its own (a container, like the swarm's
nodes), so that this machine's firewall is not touched: once the guard runs, a container on any
network but the `housing-cloud` bridge (compose.aws.yaml's `cloud`) is refused at once when it
connects to the instance metadata address; one on that bridge is let through."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.deploy.conftest import ROOT
from tests.support.dind import docker, engine, start_engine

NODE = "housing-imds-guard-test"
IMAGE = os.environ.get("PYTHON_IMAGE", "python:3.11-slim")  # anything with bash
GUARD = "/usr/local/sbin/housing-imds-guard"  # where cloud-init puts it (provision_ec2.py)
# bash's own TCP client: the refusal is immediate; anything else (no route, no answer within
# the timeout, or an answer) is not the guard's doing.
CONNECT = "timeout 3 bash -c 'echo > /dev/tcp/169.254.169.254/80' 2>&1; echo exit=$?"


@pytest.fixture(scope="module")
def node():
    docker("rm", "-f", "-v", NODE, check=False)
    start_engine(NODE, [], [])
    try:
        host = engine(NODE)
        save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
        docker("exec", "-i", NODE, "docker", "load", stdin=save.stdout)
        assert save.wait() == 0
        bridge = "com.docker.network.bridge.name=housing-cloud"
        docker("network", "create", "-o", bridge, "cloud", host=host)
        docker("network", "create", "other", host=host)
        docker("cp", str(ROOT / "deploy/imds_guard.sh"), f"{NODE}:{GUARD}")
        yield host
    finally:
        docker("rm", "-f", "-v", NODE, check=False)


def connect(host: str, network: str) -> str:
    argv = ["run", "--rm", "--network", network, IMAGE, "bash", "-c", CONNECT]
    out = docker(*argv, host=host).stdout
    assert "exit=" in out, out  # the probe itself ran
    return out


def test_only_the_cloud_bridge_reaches_the_metadata_address(node):
    assert "refused" not in connect(node, "other"), "refused before any guard: cannot tell"
    for _ in range(2):  # idempotent: a second run (docker restarted) adds nothing
        ran = docker("exec", NODE, GUARD, "housing-cloud")
        assert "only through housing-cloud" in ran.stdout
    rules = docker("exec", NODE, "iptables", "-S", "DOCKER-USER").stdout.splitlines()
    mine = [r for r in rules if "169.254.169.254" in r]
    assert len(mine) == 2 and "-i housing-cloud" in mine[0] and "RETURN" in mine[0], rules
    assert "REJECT" in mine[1], rules
    assert "refused" in connect(node, "other")
    assert "refused" in connect(node, "bridge")  # the default bridge too
    assert "refused" not in connect(node, "cloud")


def test_a_bad_bridge_name_changes_nothing(node):
    before = docker("exec", NODE, "iptables", "-S", "DOCKER-USER").stdout
    bad = docker("exec", NODE, GUARD, "eth0;reboot", check=False)
    assert bad.returncode == 2 and "not an interface name" in bad.stderr
    assert docker("exec", NODE, "iptables", "-S", "DOCKER-USER").stdout == before

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
from tests.support.procs import wait_until

NODE = "housing-imds-guard-test"
IMAGE = os.environ.get("PYTHON_IMAGE", "python:3.11-slim")  # anything with bash
GUARD = "/usr/local/sbin/housing-imds-guard"  # where cloud-init puts it (provision_ec2.py)
# bash's own TCP client: the refusal is immediate; anything else (no route, no answer within
# the timeout, or an answer) is not the guard's doing.
CONNECT = "timeout 3 bash -c 'echo > /dev/tcp/169.254.169.254/80' 2>&1; echo exit=$?"


def engine_with_image(name: str) -> str:
    """A new engine `name` holding IMAGE (it pulls nothing); its API's address."""
    docker("rm", "-f", "-v", name, check=False)
    start_engine(name, [], [])
    host = engine(name)
    save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
    docker("exec", "-i", name, "docker", "load", stdin=save.stdout)
    assert save.wait() == 0
    return host


@pytest.fixture(scope="module")
def node():
    try:
        host = engine_with_image(NODE)
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


SWARM_NODE = "housing-imds-guard-swarm-test"


@pytest.fixture(scope="module")
def swarm_node():
    """A one-node swarm, its stack's networks as deploy/swarm.py makes them on AWS: an overlay
    (every task's way out is then docker_gwbridge) and the node-local `housing-cloud` bridge."""
    try:
        host = engine_with_image(SWARM_NODE)
        docker("swarm", "init", "--advertise-addr", "127.0.0.1", host=host)
        bridge = "com.docker.network.bridge.name=housing-cloud"
        config = "housing-cloud-config"
        docker("network", "create", "--config-only", "-o", bridge, config, host=host)
        docker("network", "create", "-d", "bridge", "--scope", "swarm",
               "--config-from", config, "housing-cloud", host=host)  # fmt: skip
        docker("network", "create", "-d", "overlay", "registry", host=host)
        for name, networks in (("mlflow", ["registry", "housing-cloud"]), ("edge", ["registry"])):
            flags = [arg for network in networks for arg in ("--network", network)]
            docker("service", "create", "--detach", "--name", name, *flags, IMAGE,
                   "sleep", "infinity", host=host)  # fmt: skip
        docker("cp", str(ROOT / "deploy/imds_guard.sh"), f"{SWARM_NODE}:{GUARD}")
        yield host
    finally:
        docker("rm", "-f", "-v", SWARM_NODE, check=False)


def task_connect(host: str, service: str) -> str:
    def running() -> str:
        found = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}",
                       host=host).stdout.split()  # fmt: skip
        return found[0] if found else ""

    wait_until(running, 120, f"a {service} task running")
    out = docker("exec", running(), "bash", "-c", CONNECT, host=host).stdout
    assert "exit=" in out, out
    return out


def test_on_a_swarm_only_the_cloud_bridges_tasks_reach_the_metadata_address(swarm_node):
    """Before, a swarm's data node let docker_gwbridge through: every task there, the edge
    facing the internet included. Now only tasks on the node-local housing-cloud bridge (mlflow
    and the trainer, deploy/swarm.py) reach it; the edge, on overlays only, is refused."""
    assert "refused" not in task_connect(swarm_node, "edge"), "refused before any guard"
    ran = docker("exec", SWARM_NODE, GUARD, "housing-cloud")
    assert "only through housing-cloud" in ran.stdout
    assert "refused" in task_connect(swarm_node, "edge")
    assert "refused" not in task_connect(swarm_node, "mlflow")

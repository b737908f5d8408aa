"""A three-node Docker swarm on this machine, for `make swarm-test`: three Docker engines in
containers (DIND_IMAGE), one manager and two workers, pulling from a local registry (Debian's
docker-registry). This machine's own engine builds and pushes the images and stays out of the
swarm. Everything is removed afterwards, also when a test fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.dind import address, bridge_address, docker, engine, start_engine
from tests.support.images import OUR_IMAGES
from tests.support.procs import free_port, wait_until
from tests.support.registry import local_registry
from tests.support.suites import skip_unless_enabled

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "housing-swarm"
# The manager holds the data and the edge; the two workers serve: the labels deploy/swarm.py
# gives a new swarm's nodes (deploy/stack.yaml places by them).
NODES = {
    f"{PREFIX}-1": ["housing.data=true", "housing.edge=true"],
    f"{PREFIX}-2": ["housing.serve=true"],
    f"{PREFIX}-3": ["housing.serve=true"],
}


def pytest_collection_modifyitems(items):
    reason = "needs docker and docker-registry: `make swarm-test`"
    skip_unless_enabled(items, "HOUSING_SWARM_TEST", "swarm", reason)


@pytest.fixture(scope="session", autouse=True)
def _stop_cleanly_on_sigterm():
    """SIGTERM (a CI timeout, a person's kill) ends the run as Ctrl-C does, so that the nodes,
    the registry and sshd are still removed by the fixtures' own teardown."""

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)


def remove_nodes() -> None:
    names = [n for n in NODES if docker("inspect", n, check=False).returncode == 0]
    if names:
        docker("rm", "-f", "-v", *names, check=False)


def join_worker(manager: str, name: str, labels: list[str]) -> None:
    """The (running) node `name` joins the swarm as a worker, with `labels`."""
    token = docker("swarm", "join-token", "-q", "worker", host=manager).stdout.strip()
    address = docker("info", "-f", "{{.Swarm.NodeAddr}}", host=manager).stdout.strip()
    docker("swarm", "join", "--token", token, f"{address}:2377", host=engine(name))
    for label in labels:
        docker("node", "update", "--label-add", label, name, host=manager)


def engine_flags(registry: dict) -> list[str]:
    """Each node's dockerd flags: the local registry, and no-new-privileges for every container,
    as deploy/cloud-init.yaml's daemon.json sets it (a swarm service cannot set it itself)."""
    return [f"--insecure-registry={registry['pull']}", "--no-new-privileges"]


def replace_worker(manager: str, name: str, registry: dict) -> None:
    """What an operator does for a dead worker: remove it from the swarm, start a new one, give
    it the serving label (README, "Scaling past one host")."""
    docker("node", "rm", "--force", name, host=manager)
    docker("rm", "-f", "-v", name)
    start_engine(name, engine_flags(registry), [])
    join_worker(manager, name, NODES[name])


@pytest.fixture(scope="session")
def bridge_gateway() -> str:
    """This machine's address on Docker's default bridge: the node containers reach it there."""
    return bridge_address()


@pytest.fixture(scope="session")
def registry(tmp_path_factory, bridge_gateway) -> dict:
    """A registry this engine pushes to on 127.0.0.1 (trusted without TLS) and the nodes pull
    from on the bridge address (each node's engine trusts it as an insecure registry)."""
    with local_registry(tmp_path_factory.mktemp("registry"), bind="0.0.0.0") as port:
        yield {"push": f"127.0.0.1:{port}", "pull": f"{bridge_gateway}:{port}"}


@pytest.fixture(scope="session")
def edge_ports() -> dict[str, int]:
    return {"https": free_port(), "http": free_port()}


@pytest.fixture(scope="session")
def nodes(registry, edge_ports) -> dict:
    """Three engines joined into one swarm with their labels; removed at the end."""
    remove_nodes()
    manager = next(iter(NODES))
    # The manager's directory for deploy/mlflow_ui.sh's socket, the same path on this machine
    # (whose sshd stands in for the manager's): SSH forwards to the socket the helper makes.
    ui_dir = Path(f"/tmp/{PREFIX}-mlflow-ui")  # noqa: S108
    ui_dir.mkdir(mode=0o700, exist_ok=True)
    try:
        for name in NODES:
            ports = []
            if name == manager:  # the edge node: its 80 and 443 on this machine's loopback
                ports = [
                    "-p", f"127.0.0.1:{edge_ports['https']}:443",
                    "-p", f"127.0.0.1:{edge_ports['http']}:80",
                    "-v", f"{ui_dir}:{ui_dir}",
                ]  # fmt: skip
            start_engine(name, engine_flags(registry), ports)
        hosts = {name: engine(name) for name in NODES}
        manager_host = hosts[manager]
        docker("swarm", "init", "--advertise-addr", address(manager), host=manager_host)
        for name in NODES:
            if name != manager:
                join_worker(manager_host, name, labels=[])  # the first deploy labels them
        yield {"manager": manager_host, "hosts": hosts, "names": list(NODES), "ui_dir": ui_dir}
    finally:
        if os.environ.get("HOUSING_SWARM_KEEP") != "1":  # kept only to debug by hand
            remove_nodes()


def push_images(registry: dict, tag: str) -> dict[str, str]:
    """Our images built (from the layer cache) and pushed under `tag`; the upstream ones (the
    sandbox's stand-ins, or the real ones) pushed too: a node has no image of its own."""
    env = {**os.environ, "REGISTRY": f"{registry['push']}/housing", "IMAGE_TAG": tag}
    ours = OUR_IMAGES
    subprocess.run(["docker", "compose", "build", *ours], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run(["docker", "compose", "push", *ours], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip
    upstream = {}
    for variable, default in (
        ("POSTGRES_IMAGE", "postgres:16"),
        ("S3_IMAGE", "minio/minio:RELEASE.2025-04-22T22-12-26Z"),
        ("CADDY_IMAGE", "caddy:2"),
        ("PROMETHEUS_IMAGE", "prom/prometheus:v2.42.0"),
    ):
        image = os.environ.get(variable, default)
        pushed = f"{registry['push']}/upstream/{image.split('/')[-1]}"
        docker("tag", image, pushed)
        docker("push", "--quiet", pushed)
        upstream[variable] = pushed.replace(registry["push"], registry["pull"], 1)
    return upstream


def derived_image(registry: dict, service: str, base_tag: str, tag: str, extra: str) -> str:
    """`service`:`tag`, built FROM its `base_tag` with one more Dockerfile line; pushed."""
    base = f"{registry['push']}/housing/{service}:{base_tag}"
    image = f"{registry['push']}/housing/{service}:{tag}"
    subprocess.run(["docker", "build", "-q", "-t", image, "-"], input=f"FROM {base}\n{extra}\n",
                   text=True, check=True, capture_output=True)  # fmt: skip
    docker("push", "--quiet", image)
    return image.replace(registry["push"], registry["pull"], 1)


def service_tasks(manager: str, service: str) -> list[dict]:
    out = docker("service", "ps", service, "--filter", "desired-state=running",
                 "--format", "{{json .}}", host=manager).stdout  # fmt: skip
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def running_on(manager: str, service: str) -> list[str]:
    """The nodes of the service's tasks that run now."""
    return sorted(t["Node"] for t in service_tasks(manager, service)
                  if t["CurrentState"].startswith("Running"))  # fmt: skip


def wait_seconds(check, timeout_s: float, what: str) -> float:
    started = time.monotonic()
    wait_until(check, timeout_s, what, every=0.5)
    return time.monotonic() - started

"""Docker engines in containers (DIND_IMAGE), for tests that need an engine of their own: the
swarm's nodes, and a host whose firewall a test may change (the IMDS guard)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.procs import wait_until

ROOT = Path(__file__).resolve().parents[2]
# Where the sandbox keeps the dind flags that work when --privileged is refused (README there).
DIND_FLAGS = ROOT.parent / "shared/sandbox/dind.flags"


def docker(*args: str, host: str | None = None, check: bool = True, timeout: float = 900, **kw):
    argv = ["docker", *(["-H", host] if host else []), *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def start_engine(name: str, engine_flags: list[str], ports: list[str]) -> None:
    """A Docker engine in a container: --privileged where the machine allows it, else the
    sandbox's flags (this machine refuses --privileged: its root lacks CAP_SYS_RESOURCE)."""
    image = os.environ.get("DIND_IMAGE", "docker:27-dind")
    common = ["run", "-d", "--name", name, "--hostname", name, *ports]
    started = docker(*common, "--privileged", image, *engine_flags, check=False)
    if started.returncode != 0:
        docker("rm", "-f", "-v", name, check=False)
        flags = DIND_FLAGS.read_text().split() if DIND_FLAGS.exists() else []
        docker(*common, *flags, image, *engine_flags)


def bridge_address(reported: str | None = None) -> str:
    """This machine's address on Docker's default bridge, where containers reach it.

    From the network's IPAM config (`reported`, read when not given), else from the bridge's
    own interface: an engine restarted over an older network store reports no gateway there."""
    if reported is None:
        reported = docker(
            "network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"
        ).stdout.strip()
    if reported:
        return reported
    options = '{{index .Options "com.docker.network.bridge.name"}}'
    name = docker("network", "inspect", "bridge", "-f", options).stdout.strip() or "docker0"
    found = interface_address(name)
    if found is None:
        raise AssertionError(f"Docker's default bridge ({name}) has no IPv4 address")
    return found


def interface_address(name: str) -> str | None:
    """The first IPv4 address of the network interface `name` (`ip -4 addr`), if any."""
    shown = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "dev", name], capture_output=True, text=True
    ).stdout
    for line in shown.splitlines():
        fields = line.split()
        if "inet" in fields:
            return fields[fields.index("inet") + 1].split("/")[0]
    return None


def address(name: str) -> str:
    return docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name).stdout.strip()


def engine(name: str) -> str:
    """The engine's API, once it answers."""
    host = f"tcp://{address(name)}:2375"
    wait_until(lambda: docker("info", host=host, check=False).returncode == 0, 60, name)
    return host

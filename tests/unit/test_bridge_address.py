"""Where containers reach this machine: the default bridge's address, read from the engine's
network config, or from the bridge's interface when the config reports none (an engine restarted
over an older network store does; the swarm and AWS-override suites then told their nodes to
trust `:PORT`)."""

from __future__ import annotations

import ipaddress
import shutil

import pytest

from tests.support.dind import bridge_address, docker, interface_address

pytestmark = pytest.mark.skipif(not shutil.which("docker"), reason="needs the Docker CLI")


def _engine_answers() -> bool:
    return docker("info", check=False, timeout=20).returncode == 0


def test_the_interface_address_of_loopback():
    assert interface_address("lo") == "127.0.0.1"
    assert interface_address("no-such-interface") is None


def test_a_reported_gateway_is_taken_as_it_is():
    assert bridge_address("192.0.2.1") == "192.0.2.1"


def test_with_no_gateway_reported_the_bridges_interface_answers():
    if not _engine_answers():
        pytest.skip("no Docker engine answers")
    found = bridge_address("")  # as an engine whose IPAM config lists no gateway reports it
    assert ipaddress.ip_address(found).is_private
    subnet = docker(
        "network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}"
    ).stdout.strip()
    if subnet:
        assert ipaddress.ip_address(found) in ipaddress.ip_network(subnet)
    # And the address found either way is the same one.
    assert bridge_address() == found

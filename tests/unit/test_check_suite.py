"""scripts/check-suite.sh: a heavy suite says what it lacks, in a line each, before any work."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/check-suite.sh"
BASH = shutil.which("bash") or "/bin/bash"


def check(suite: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run(
        [BASH, str(SCRIPT), suite], capture_output=True, text=True, env=env, timeout=60
    )


def test_without_docker_each_suite_stops_at_once_naming_it(tmp_path):
    # A PATH with the shell's basic tools and no docker: a machine without Docker.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("timeout", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    for suite in ("e2e", "chaos", "deploy-test", "swarm-test"):
        started = time.monotonic()
        done = check(suite, str(bin_dir))
        assert time.monotonic() - started < 5
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert lines[0] == f"make {suite} needs the Docker CLI: apt-get install docker.io " + (
            "(on this project's sandbox machines: ../shared/sandbox/docker-up)"
        )
        if suite in ("deploy-test", "swarm-test"):
            assert any("ssh" in line for line in lines[1:]), lines


def test_the_ssh_and_registry_lines_follow_what_is_installed():
    done = check("deploy-test")
    lacks_sshd = not Path("/usr/sbin/sshd").exists()
    lacks_registry = shutil.which("docker-registry") is None
    assert ("openssh-server" in done.stderr) == lacks_sshd
    assert ("docker-registry" in done.stderr) == lacks_registry
    if not done.stderr:
        assert done.returncode == 0


def test_an_unknown_suite_is_a_usage_line():
    done = check("everything")
    assert done.returncode == 2 and done.stderr.startswith("usage:")

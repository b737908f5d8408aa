"""The deploy path's definitions: the CD workflow deploys only what was pushed to this repository;
the host's cloud-init installs only a Compose binary whose checksum it pins."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_only_a_push_to_this_repository_builds_and_deploys():
    cd = yaml.safe_load((ROOT / ".github/workflows/cd.yml").read_text())
    condition = " ".join(cd["jobs"]["build-push"]["if"].split())
    # A fork's pull request whose head branch is called main passes the `branches` filter.
    assert "github.event.workflow_run.event == 'push'" in condition
    assert "github.event.workflow_run.head_repository.full_name == github.repository" in condition
    assert re.search(r"conclusion == 'success' && .*event == 'push' && .*full_name", condition)
    assert cd["jobs"]["deploy"]["needs"] == "build-push"


def _compose_install_snippet(plugins: Path) -> str:
    """The part of cloud-init's runcmd that fetches, checks and installs the Compose plugin."""
    script = yaml.safe_load((ROOT / "deploy/cloud-init.yaml").read_text())["runcmd"][0]
    start = script.index("compose_version=")
    end = script.index('rm -f "$tmp"') + len('rm -f "$tmp"')
    return script[start:end].replace("/usr/local/lib/docker/cli-plugins", str(plugins))


@pytest.mark.parametrize("tampered", [False, True])
def test_cloud_init_installs_compose_only_when_its_checksum_matches(tmp_path, tampered):
    """The snippet runs for real, with a stand-in curl that serves this machine's Compose plugin
    (the official v2.40.3 binary) or a tampered copy of it."""
    local = Path("/usr/local/lib/docker/cli-plugins/docker-compose")
    if platform.machine() != "x86_64" or not local.exists():
        pytest.skip("needs the official x86_64 Compose plugin (../shared/sandbox/docker-up)")
    version = subprocess.run([str(local), "version", "--short"], capture_output=True, text=True)
    pinned = re.search(r"compose_version=v([\d.]+)", _compose_install_snippet(tmp_path)).group(1)
    if version.stdout.strip().lstrip("v") != pinned:
        pytest.skip(f"this machine's Compose is {version.stdout.strip()}, cloud-init pins {pinned}")
    served = tmp_path / "served"
    served.write_bytes(local.read_bytes() + (b"\0" if tampered else b""))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_curl = bin_dir / "curl"
    fake_curl.write_text(
        f'#!/bin/sh\nwhile [ "$1" != -o ]; do shift; done\ncp {served} "$2"\n'  # curl ... -o FILE
    )
    fake_curl.chmod(0o755)
    plugins = tmp_path / "plugins"
    script = "set -eu\n" + _compose_install_snippet(plugins)
    done = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
    )
    installed = plugins / "docker-compose"
    if tampered:
        assert done.returncode != 0 and not installed.exists(), done.stderr
        assert "checksum mismatch" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert installed.read_bytes() == local.read_bytes()


def test_the_deploy_pulls_the_digests_that_were_pushed():
    cd = yaml.safe_load((ROOT / ".github/workflows/cd.yml").read_text())
    build = cd["jobs"]["build-push"]
    assert build["outputs"]["digests"] == "${{ steps.push.outputs.digests }}"
    push = next(step for step in build["steps"] if step.get("id") == "push")
    assert "RepoDigests" in push["run"] and 'echo "digests=' in push["run"]
    deploy_env = cd["jobs"]["deploy"]["steps"][-2]["env"]
    assert deploy_env["DEPLOY_DIGESTS"] == "${{ needs.build-push.outputs.digests }}"

"""The deploy path's definitions: the CD workflow deploys only what CI passed on main (or a release
tag of main), with each token permission where it is needed and every action pinned by commit;
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


def _cd() -> dict:
    return yaml.safe_load((ROOT / ".github/workflows/cd.yml").read_text())


def test_only_a_green_ci_of_a_push_to_this_repository_builds_and_deploys():
    cd = _cd()
    # `on:` parses as True in YAML 1.1. No trigger of its own: a tag push deploys only through
    # CI's completed run of that commit, as a push to main does.
    assert set(cd[True]) == {"workflow_run"}
    assert cd[True]["workflow_run"] == {"workflows": ["ci"], "types": ["completed"]}
    condition = " ".join(cd["jobs"]["gate"]["if"].split())
    # A fork's pull request whose head branch is called main passes a `branches` filter.
    assert "github.event.workflow_run.conclusion == 'success'" in condition
    assert "github.event.workflow_run.event == 'push'" in condition
    assert "github.event.workflow_run.head_repository.full_name == github.repository" in condition
    gate = next(s for s in cd["jobs"]["gate"]["steps"] if s.get("id") == "gate")
    assert gate["run"].startswith("deploy/release_gate.sh ")
    for name in ("push-ghcr", "push-ecr"):
        assert cd["jobs"][name]["needs"] == "gate"
    deploy = cd["jobs"]["deploy"]
    assert deploy["needs"] == ["gate", "push-ghcr", "push-ecr"]
    assert "needs.gate.result == 'success'" in deploy["if"]


def test_each_token_permission_is_on_the_one_job_that_needs_it():
    cd = _cd()
    assert cd["permissions"] == {"contents": "read"}
    ci = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    assert ci["permissions"] == {"contents": "read"}
    writes = {
        (job, scope)
        for job, spec in cd["jobs"].items()
        for scope, level in spec.get("permissions", {}).items()
        if level == "write"
    }
    assert writes == {("push-ghcr", "packages"), ("push-ecr", "id-token")}
    assert cd["jobs"]["push-ghcr"]["if"] == "vars.REGISTRY == ''"
    assert cd["jobs"]["push-ecr"]["if"] == "vars.REGISTRY != ''"


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.MULTILINE)


def test_every_action_is_local_or_pinned_by_commit_with_its_version_beside():
    github = ROOT / ".github"
    files = [*(github / "workflows").glob("*.yml"), *(github / "actions").rglob("*.yml")]
    found = [(f.name, m.group(1), m.group(2)) for f in files for m in USES.finditer(f.read_text())]
    assert len(found) >= 10
    for name, ref, rest in found:
        if ref.startswith("./"):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{name}: {ref} is not pinned"
        assert re.fullmatch(r"\s+# v\d+(\.\d+)*", rest), f"{name}: {ref} has no version comment"


def test_the_deploy_requires_the_hosts_known_key():
    deploy = _cd()["jobs"]["deploy"]
    secrets_step = next(s for s in deploy["steps"] if "KNOWN_HOSTS" in s.get("env", {}))
    assert 'if [ -z "$KNOWN_HOSTS" ]' in secrets_step["run"] and "exit 1" in secrets_step["run"]
    run = deploy["steps"][-2]["run"]
    assert '--known-hosts "$RUNNER_TEMP/deploy/known_hosts"' in run


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
    cd = _cd()
    action = yaml.safe_load((ROOT / ".github/actions/build-push/action.yml").read_text())
    assert action["outputs"]["digests"]["value"] == "${{ steps.push.outputs.digests }}"
    push = next(step for step in action["runs"]["steps"] if step.get("id") == "push")
    assert "RepoDigests" in push["run"] and 'echo "digests=' in push["run"]
    for name in ("push-ghcr", "push-ecr"):
        job = cd["jobs"][name]
        assert job["outputs"]["digests"] == "${{ steps.push.outputs.digests }}"
        step = next(step for step in job["steps"] if step.get("id") == "push")
        assert step["uses"] == "./.github/actions/build-push"
    deploy_env = cd["jobs"]["deploy"]["steps"][-2]["env"]
    assert deploy_env["DEPLOY_DIGESTS"] == (
        "${{ needs.push-ghcr.outputs.digests || needs.push-ecr.outputs.digests }}"
    )


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def history(tmp_path):
    """A repository: main with two commits, a branch off it with one that never reached main;
    tags on main's first commit, on the branch's commit, and a non-release tag."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "one")
    first = _git(repo, "rev-parse", "HEAD")
    _git(repo, "tag", "-a", "v1.0.0", "-m", "release")  # annotated: the gate peels it
    _git(repo, "tag", "nightly")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "two")
    second = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "-b", "feature")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "side")
    side = _git(repo, "rev-parse", "HEAD")
    _git(repo, "tag", "v9.9.9")
    _git(repo, "checkout", "-q", "main")
    return {"repo": repo, "first": first, "second": second, "side": side}


def _gate(history, sha: str, ref: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "deploy/release_gate.sh"), sha, ref, "main"],
        cwd=history["repo"], capture_output=True, text=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("commit", "ref", "release"),
    [("second", "main", ""), ("first", "main", ""), ("first", "v1.0.0", "v1.0.0")],
)
def test_the_release_gate_lets_mains_commits_and_their_tags_through(history, commit, ref, release):
    done = _gate(history, history[commit], ref)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"release={release}\n"


@pytest.mark.parametrize(
    ("commit", "ref", "why"),
    [
        ("side", "v9.9.9", "is not on main"),  # a tag on a branch that never reached main
        ("side", "main", "is not on main"),
        ("first", "nightly", "neither main nor a v… tag"),
        ("second", "v1.0.0", "points at"),  # the tag names another commit than CI ran on
        ("first", "v2.0.0", "no tag v2.0.0"),
    ],
)
def test_the_release_gate_refuses_anything_else(history, commit, ref, why):
    done = _gate(history, history[commit], ref)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("release gate: ") and why in done.stderr


def test_the_production_environment_admits_main_and_release_tags_only(tmp_path):
    """deploy/github_environment.sh against a stand-in `gh` (GitHub's API cannot be reached
    here) that records each call and answers the policy list with main already present."""
    calls = tmp_path / "calls"
    gh = tmp_path / "bin/gh"
    gh.parent.mkdir()
    gh.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> {calls}\n'
        'case "$*" in *--jq*) echo "branch main" ;; esac\n'
        'case "$*" in *"--input -"*) cat >> ' + str(calls) + " ;; esac\n"
    )
    gh.chmod(0o755)
    env = {**os.environ, "PATH": f"{gh.parent}:{os.environ['PATH']}"}
    script = str(ROOT / "deploy/github_environment.sh")
    done = subprocess.run([script, "octo/housing"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    recorded = calls.read_text()
    assert "--method PUT repos/octo/housing/environments/production --input -" in recorded
    assert '"custom_branch_policies": true' in recorded
    assert '"protected_branches": false' in recorded
    posts = [line.split("--method POST ")[1] for line in recorded.splitlines() if "POST" in line]
    # main was there already: only the tag policy is added.
    policies = "repos/octo/housing/environments/production/deployment-branch-policies"
    assert posts == [f"{policies} -f type=tag -f name=v*"]
    bad = subprocess.run([script, "octo/housing;id"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "is not OWNER/REPO" in bad.stderr

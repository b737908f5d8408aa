"""deploy_to_ec2.sh checks every value that reaches a remote command line before it runs any."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.images import OUR_IMAGES
from tests.support.secrets import secret_names

ROOT = Path(__file__).resolve().parents[2]
SECRETS = secret_names()
SERVICES = OUR_IMAGES
GOOD = {
    "--host": "ec2-1-2-3-4.eu-west-1.compute.amazonaws.com",
    "--user": "ec2-user",
    "--registry": "ghcr.io/someone/housing-mlops",
    "--tag": "3f2a9c1",
    "--dir": "/opt/housing-mlops",
    "--project": "housing-mlops",
}


@pytest.fixture
def env_file(tmp_path):
    path = tmp_path / "production.env"
    path.write_text("".join(f"{name}=value-of-{name.lower()}-0123456789\n" for name in SECRETS))
    return path


def deploy(env_file: Path, **overrides: str | None) -> subprocess.CompletedProcess:
    args = {**GOOD, **overrides, "--env-file": str(env_file)}
    argv = [str(ROOT / "deploy/deploy_to_ec2.sh"), "--dry-run"]
    for flag, value in args.items():
        argv += [flag] if value is None else [flag, value]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_good_values_reach_the_dry_run(env_file):
    done = deploy(env_file)
    assert done.returncode == 0, done.stderr
    assert "[dry-run] ssh" in done.stdout
    assert "value-of-gateway_api_keys" not in done.stdout  # no secret in what it would run


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--tag", "v1';touch /tmp/pwned;'"),
        ("--tag", "$(id)"),
        ("--registry", "ghcr.io/x y"),
        ("--dir", "/opt/x'; rm -rf /; '"),
        ("--dir", "relative/path"),
        ("--project", "Bad Project"),
        ("--host", "host;reboot"),
        ("--user", "root$(id)"),
        ("--digests", "mlflow=sha256:abc"),
        ("--digests", "mlflow=latest"),
    ],
)
def test_a_value_that_could_change_a_remote_command_is_refused(env_file, flag, value):
    done = deploy(env_file, **{flag: value})
    assert done.returncode == 2
    assert done.stderr.startswith(f"deploy: {flag} ") and "not allowed" in done.stderr
    assert "[dry-run]" not in done.stdout  # refused before anything would run


def test_an_env_file_without_every_secret_is_refused(tmp_path):
    partial = tmp_path / "partial.env"
    partial.write_text("POSTGRES_PASSWORD=x\n")
    done = deploy(partial)
    assert done.returncode == 2 and "lacks a secret" in done.stderr


def test_digests_must_name_every_service(env_file):
    done = deploy(env_file, **{"--digests": "mlflow=sha256:" + "a" * 64})
    assert done.returncode == 2 and "no digest for trainer" in done.stderr
    every = ",".join(f"{s}=sha256:{c * 64}" for s, c in zip(SERVICES, "abcde", strict=True))
    assert deploy(env_file, **{"--digests": every}).returncode == 0


def test_the_swarm_dry_run_plans_the_stack_by_digest_through_a_tunnel(env_file):
    every = ",".join(f"{s}=sha256:{c * 64}" for s, c in zip(SERVICES, "abcde", strict=True))
    argv = [str(ROOT / "deploy/deploy_to_ec2.sh"), "--dry-run", "--swarm", "--digests", every]
    for flag, value in {**GOOD, "--env-file": str(env_file)}.items():
        argv += [flag, value]
    env = {**os.environ, "PYTHON": sys.executable}  # the deploy's Python: this one's
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "ssh -L" in done.stdout and ":/var/run/docker.sock ec2-user@" in done.stdout
    registry = GOOD["--registry"]
    assert f"predictor: {registry}/predictor@sha256:{'c' * 64}" in done.stdout
    assert "stack deploy --with-registry-auth" in done.stdout
    assert "value-of-" not in done.stdout


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--url", "http://api.example.com"), ("--url", "https://x/$(id)"),
     ("--docker-endpoint", "/var/run/docker.sock;id"), ("--docker-endpoint", "host:port")],
)  # fmt: skip
def test_swarm_values_are_checked_too(env_file, flag, value):
    done = deploy(env_file, **{flag: value})
    assert done.returncode == 2 and "not allowed" in done.stderr


@pytest.fixture
def aws_env_file(tmp_path):
    """On AWS: no S3 keys; the bucket and region instead."""
    path = tmp_path / "aws.env"
    names = [n for n in SECRETS if not n.startswith("S3_")]
    lines = [f"{name}=value-of-{name.lower()}-0123456789" for name in names]
    path.write_text("\n".join([*lines, "MLFLOW_BUCKET=b-123", "AWS_REGION=eu-west-1"]) + "\n")
    return path


def test_aws_mode_sends_the_aws_override_and_needs_no_s3_keys(aws_env_file):
    done = deploy(aws_env_file, **{"--aws": None})
    assert done.returncode == 0, done.stderr
    assert "compose.aws.yaml" in done.stdout.split("send the release directory")[1]
    without = deploy(aws_env_file)  # the stack's own S3 service would have no keys
    assert without.returncode == 2 and "lacks S3_ACCESS_KEY" in without.stderr


def test_aws_mode_needs_the_bucket(env_file):
    done = deploy(env_file, **{"--aws": None})
    assert done.returncode == 2 and "lacks MLFLOW_BUCKET" in done.stderr


def test_the_swarm_dry_run_on_aws_has_no_s3_service(aws_env_file):
    every = ",".join(f"{s}=sha256:{c * 64}" for s, c in zip(SERVICES, "abcde", strict=True))
    argv = [str(ROOT / "deploy/deploy_to_ec2.sh"), "--dry-run", "--swarm", "--aws"]
    for flag, value in {**GOOD, "--digests": every, "--env-file": str(aws_env_file)}.items():
        argv += [flag, value]
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    services = {line.split()[1].rstrip(":") for line in done.stdout.splitlines()
                if line.startswith("[dry-run]   ")}  # fmt: skip
    assert services == {
        "edge", "gateway", "mlflow", "postgres", "predictions-db", "predictor", "trainer",
        "monitor", "prometheus",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("line", "name"),
    [("SITE_ADDRESS=x;touch /tmp/pwned", "SITE_ADDRESS"), ("SITE_ADDRESS=$(id)", "SITE_ADDRESS"),
     ("HTTPS_PORT=443 `id`", "HTTPS_PORT")],
)  # fmt: skip
def test_the_env_files_values_for_the_host_are_data_and_checked(env_file, line, name):
    """The health check on the host gets the edge's address and port as checked values: the env
    file is never sourced there (a value holding `$(...)` or `;` would have run)."""
    env_file.write_text(env_file.read_text() + line + "\n")
    done = deploy(env_file)
    assert done.returncode == 2 and done.stderr.startswith(f"deploy: {name} "), done.stderr
    assert "[dry-run]" not in done.stdout


def test_the_health_check_on_the_host_does_not_source_the_env_file(env_file):
    env_file.write_text(env_file.read_text() + "SITE_ADDRESS=api.example.com\nHTTPS_PORT=8443\n")
    done = deploy(env_file)
    assert done.returncode == 0, done.stderr
    check = next(line for line in done.stdout.splitlines() if "sh check_prediction.sh" in line)
    assert "check_prediction.sh .env 'api.example.com' '8443'" in check
    assert ". ./.env" not in done.stdout and "set -a" not in done.stdout


def test_the_registry_username_is_checked_like_every_remote_value(env_file):
    env = {**os.environ, "REGISTRY_USERNAME": "x' ; id ; '", "REGISTRY_PASSWORD": "p"}
    argv = [str(ROOT / "deploy/deploy_to_ec2.sh"), "--dry-run", "--env-file", str(env_file)]
    for flag, value in GOOD.items():
        argv += [flag, value]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and done.stderr.startswith("deploy: REGISTRY_USERNAME ")
    good = {**env, "REGISTRY_USERNAME": "octo-cat"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=good)
    assert done.returncode == 0 and "docker login ghcr.io as octo-cat" in done.stdout


def test_known_hosts_given_must_hold_a_key_and_none_given_is_said(env_file, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.touch()
    done = deploy(env_file, **{"--known-hosts": str(empty)})
    assert done.returncode == 2 and "--known-hosts" in done.stderr and "empty" in done.stderr
    done = deploy(env_file)
    assert done.returncode == 0 and "trusted on first contact" in done.stderr


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--stack", "x;id"), ("--dir", "/home/x'; id; '"), ("--local-port", "5000 -R"),
     ("--host", "h$(id)"), ("--docker-endpoint", "/var/run/docker.sock;id")],
)  # fmt: skip
def test_the_mlflow_ui_helper_checks_its_values_before_any_connection(flag, value):
    argv = [str(ROOT / "deploy/mlflow_ui.sh"), "--host", "manager.example.com", flag, value]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith(f"mlflow-ui: {flag} "), done.stderr

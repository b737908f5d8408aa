"""deploy_to_ec2.sh for real: release A deploys and serves; broken release B rolls back to A."""

from __future__ import annotations

import os
import shutil
import subprocess

import httpx
import pytest

from housing.contract import EXAMPLE_RECORD
from tests.deploy.conftest import ROOT

PROJECT = "housing-deploytest"
GATEWAY_PORT, MLFLOW_PORT = 18000, 15000
SERVICES = ("mlflow", "trainer", "predictor", "gateway")
KEY = "deploy-test-key-0123456789"


def sh(*cmd: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def releases(registry):
    """Release a (the current code) and b (its predictor never becomes ready), pushed."""
    env = {"REGISTRY": registry, "IMAGE_TAG": "a"}
    sh("docker", "compose", "build", *SERVICES, env=env)
    sh("docker", "compose", "push", *SERVICES, env=env)
    for service in SERVICES:
        if service != "predictor":
            sh("docker", "tag", f"{registry}/{service}:a", f"{registry}/{service}:b")
            sh("docker", "push", "--quiet", f"{registry}/{service}:b")
    broken = f'FROM {registry}/predictor:a\nCMD ["python", "-c", "import time; time.sleep(1e6)"]\n'
    subprocess.run(
        ["docker", "build", "-q", "-t", f"{registry}/predictor:b", "-"],
        input=broken,
        text=True,
        check=True,
        capture_output=True,
    )
    sh("docker", "push", "--quiet", f"{registry}/predictor:b")
    return registry


@pytest.fixture(scope="module")
def host_dir(tmp_path_factory, raw_csv, ssh_host):
    remote = tmp_path_factory.mktemp("remote") / "housing-mlops"
    (remote / "data/raw").mkdir(parents=True)
    shutil.copy(raw_csv, remote / "data/raw/housing.csv")  # the host's copy of the data set
    yield remote
    sh(
        "docker",
        "compose",
        "-p",
        PROJECT,
        "-f",
        str(remote / "compose.yaml"),
        "down",
        "-v",
        "--remove-orphans",
        check=False,
    )


@pytest.fixture(scope="module")
def env_file(tmp_path_factory):
    lines = [
        "POSTGRES_PASSWORD=deploy-test-pg-password",
        "S3_ACCESS_KEY=deploytest",
        "S3_SECRET_KEY=deploy-test-s3-secret",
        f"GATEWAY_API_KEYS={KEY}",
        "MLFLOW_ADMIN_PASSWORD=deploy-test-mlflow-admin",
        "MLFLOW_TRAINER_PASSWORD=deploy-test-mlflow-trainer",
        "MLFLOW_PREDICTOR_PASSWORD=deploy-test-mlflow-predictor",
        f"GATEWAY_PORT={GATEWAY_PORT}",
        f"MLFLOW_UI_PORT={MLFLOW_PORT}",
    ]
    lines += [
        f"{k}={os.environ[k]}"
        for k in ("PYTHON_IMAGE", "POSTGRES_IMAGE", "S3_IMAGE")
        if k in os.environ
    ]
    path = tmp_path_factory.mktemp("env") / "production.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def deploy(ssh_host, registry, tag, env_file, host_dir, *extra) -> subprocess.CompletedProcess:
    return sh(
        str(ROOT / "deploy/deploy_to_ec2.sh"),
        "--host",
        ssh_host["host"],
        "--port",
        str(ssh_host["port"]),
        "--user",
        ssh_host["user"],
        "--key",
        str(ssh_host["key"]),
        "--registry",
        registry,
        "--tag",
        tag,
        "--env-file",
        str(env_file),
        "--dir",
        str(host_dir),
        "--project",
        PROJECT,
        *extra,
        env={"DEPLOY_KNOWN_HOSTS": str(ssh_host["known_hosts"])},
        check=False,
    )


def predict() -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{GATEWAY_PORT}/predict",
        json=EXAMPLE_RECORD,
        headers={"X-API-Key": KEY},
        timeout=10,
    )


def running_image(service: str) -> str:
    out = sh("docker", "compose", "-p", PROJECT, "ps", "--format", "{{.Service}} {{.Image}}")
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())[service]


def test_dry_run_changes_nothing(ssh_host, releases, env_file, host_dir):
    result = deploy(ssh_host, releases, "a", env_file, host_dir, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "[dry-run]" in result.stdout and not (host_dir / "compose.yaml").exists()


def test_release_a_deploys_and_serves(ssh_host, releases, env_file, host_dir):
    result = deploy(ssh_host, releases, "a", env_file, host_dir, "--wait-timeout", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (host_dir / "deployed_tag").read_text().strip() == "a"
    assert oct((host_dir / ".env").stat().st_mode)[-3:] == "600"
    response = predict()
    assert response.status_code == 200 and response.json()["predictions"][0] > 0


def test_deploying_a_again_is_idempotent(ssh_host, releases, env_file, host_dir):
    result = deploy(ssh_host, releases, "a", env_file, host_dir, "--wait-timeout", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    assert predict().status_code == 200


def test_broken_release_b_rolls_back_to_a(ssh_host, releases, env_file, host_dir):
    result = deploy(ssh_host, releases, "b", env_file, host_dir, "--wait-timeout", "60")
    assert result.returncode != 0
    assert "rolled back: a runs and is healthy" in result.stderr, result.stderr
    assert (host_dir / "deployed_tag").read_text().strip() == "a"
    assert running_image("predictor").endswith("/predictor:a")
    response = predict()
    assert response.status_code == 200, response.text
    print(f"\n{result.stderr.strip().splitlines()[-1]}")

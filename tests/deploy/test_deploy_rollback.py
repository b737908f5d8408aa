"""deploy_to_ec2.sh for real: release A deploys and serves, by digest, from its own directory;
broken release B (with a changed compose file) rolls back to A with A's own files; release C,
interrupted while it comes up, leaves A serving."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import time

import httpx
import pytest
import yaml

from housing.contract import EXAMPLE_RECORD
from tests.deploy.conftest import ROOT
from tests.support.edge import EDGE_ROOT_CERT
from tests.support.images import OUR_IMAGES
from tests.support.retrain import ASK_FOR_A_RETRAIN

PROJECT = "housing-deploytest"
HTTP_PORT, HTTPS_PORT, MLFLOW_PORT = 18080, 18443, 15000
SERVICES = OUR_IMAGES
KEY = "deploy-test-key-0123456789"


def sh(*cmd: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def pushed_digests(registry: str, tag: str) -> str:
    """`service=sha256:…,…` of the images pushed under `tag`, as CD hands them to the deploy."""
    found = []
    for service in SERVICES:
        refs = sh(
            "docker", "image", "inspect", "--format",
            "{{range .RepoDigests}}{{println .}}{{end}}", f"{registry}/{service}:{tag}",
        ).stdout.split()  # fmt: skip
        ref = next(r for r in refs if r.startswith(f"{registry}/{service}@sha256:"))
        found.append(f"{service}={ref.split('@', 1)[1]}")
    return ",".join(found)


def derived_predictor(registry: str, tag: str, cmd: str) -> None:
    dockerfile = f"FROM {registry}/predictor:a\nCMD {cmd}\n"
    subprocess.run(
        ["docker", "build", "-q", "-t", f"{registry}/predictor:{tag}", "-"],
        input=dockerfile,
        text=True,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def releases(registry):
    """Release a (the current code); b, whose predictor never becomes ready; c, whose predictor
    takes 30 s to start (time to interrupt its deploy). Pushed; their digests by tag."""
    env = {"REGISTRY": registry, "IMAGE_TAG": "a"}
    sh("docker", "compose", "build", *SERVICES, env=env)
    sh("docker", "compose", "push", *SERVICES, env=env)
    derived_predictor(registry, "b", '["python", "-c", "import time; time.sleep(1e6)"]')
    derived_predictor(registry, "c", '["sh", "-c", "sleep 30; exec python -m predictor"]')
    for tag in ("b", "c"):
        for service in SERVICES:
            if service != "predictor":
                sh("docker", "tag", f"{registry}/{service}:a", f"{registry}/{service}:{tag}")
            sh("docker", "push", "--quiet", f"{registry}/{service}:{tag}")
    return {"registry": registry, **{tag: pushed_digests(registry, tag) for tag in "abc"}}


@pytest.fixture(scope="module")
def host_dir(tmp_path_factory, raw_csv, ssh_host):
    remote = tmp_path_factory.mktemp("remote") / "housing-mlops"
    (remote / "data/raw").mkdir(parents=True)
    shutil.copy(raw_csv, remote / "data/raw/housing.csv")  # the host's copy of the data set
    yield remote
    current = remote / "current/compose.yaml"
    files = ["-f", str(current)] if current.exists() else []
    sh("docker", "compose", "-p", PROJECT, *files, "down", "-v", "--remove-orphans", check=False)


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
        "MLFLOW_MONITOR_PASSWORD=deploy-test-mlflow-monitor",
        "PREDICTIONS_DB_PASSWORD=deploy-test-predictions",
        f"HTTP_PORT={HTTP_PORT}",
        f"HTTPS_PORT={HTTPS_PORT}",
        f"MLFLOW_UI_PORT={MLFLOW_PORT}",
        # What a deploy does is tested here, not the model: a small one trains in seconds
        # (make e2e trains params.yaml's own).
        "TRAIN_PARAMS=train.max_iter=60,train.cv_folds=0",
    ]
    lines += [
        f"{k}={os.environ[k]}"
        for k in ("PYTHON_IMAGE", "POSTGRES_IMAGE", "S3_IMAGE", "CADDY_IMAGE", "PROMETHEUS_IMAGE")
        if k in os.environ
    ]
    directory = tmp_path_factory.mktemp("env")
    # A value that runs a command if the file is ever sourced as shell on the host (it is data).
    lines.append(f"DEPLOY_TEST_NOTE=a;touch {directory / 'sourced'}")
    path = directory / "production.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def deploy_argv(ssh_host, releases, tag, env_file, host_dir, *extra) -> list[str]:
    return [
        str(ROOT / "deploy/deploy_to_ec2.sh"),
        "--host", ssh_host["host"],
        "--port", str(ssh_host["port"]),
        "--user", ssh_host["user"],
        "--key", str(ssh_host["key"]),
        "--registry", releases["registry"],
        "--tag", tag,
        "--digests", releases[tag],
        "--env-file", str(env_file),
        "--dir", str(host_dir),
        "--project", PROJECT,
        *extra,
    ]  # fmt: skip


def deploy(ssh_host, releases, tag, env_file, host_dir, *extra) -> subprocess.CompletedProcess:
    argv = deploy_argv(ssh_host, releases, tag, env_file, host_dir, *extra)
    return sh(*argv, env={"DEPLOY_KNOWN_HOSTS": str(ssh_host["known_hosts"])}, check=False)


def predict() -> httpx.Response:
    """Through the deployed edge over HTTPS, trusting the root of its internal CA."""
    root = sh("docker", "exec", f"{PROJECT}-edge-1", "cat", EDGE_ROOT_CERT).stdout
    tls = ssl.create_default_context(cadata=root)
    return httpx.post(
        f"https://localhost:{HTTPS_PORT}/predict",
        json=EXAMPLE_RECORD,
        headers={"X-API-Key": KEY},
        timeout=10,
        verify=tls,
    )


def running_image(service: str) -> str:
    out = sh("docker", "compose", "-p", PROJECT, "ps", "--format", "{{.Service}} {{.Image}}")
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())[service]


def digest_of(releases, tag: str, service: str) -> str:
    return dict(pair.split("=") for pair in releases[tag].split(","))[service]


def serving_release(host_dir) -> str:
    return (host_dir / "current").resolve().name


def test_dry_run_changes_nothing(ssh_host, releases, env_file, host_dir):
    result = deploy(ssh_host, releases, "a", env_file, host_dir, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "[dry-run]" in result.stdout and not (host_dir / "releases").exists()


def test_release_a_deploys_by_digest_from_its_own_directory(ssh_host, releases, env_file, host_dir):
    result = deploy(ssh_host, releases, "a", env_file, host_dir, "--wait-timeout", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    assert serving_release(host_dir) == "a"
    own = host_dir / "releases/a"
    assert oct((own / ".env").stat().st_mode)[-3:] == "600"
    assert oct((own / "secrets").stat().st_mode)[-3:] == "700"
    for service in ("mlflow", "predictor", "gateway"):
        expected = f"{releases['registry']}/{service}@{digest_of(releases, 'a', service)}"
        assert running_image(service) == expected
    response = predict()
    assert response.status_code == 200 and response.json()["predictions"][0] > 0
    assert not (env_file.parent / "sourced").exists(), "the env file was run as shell code"


def test_a_host_whose_key_is_not_the_known_one_is_refused(
    tmp_path, ssh_host, releases, env_file, host_dir
):
    """StrictHostKeyChecking=yes: another key under the host's name stops the deploy at once."""
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "impostor"))
    impostor = (tmp_path / "impostor.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[{ssh_host['host']}]:{ssh_host['port']} {' '.join(impostor)}\n")
    before = serving_release(host_dir)
    argv = deploy_argv(ssh_host, releases, "a", env_file, host_dir, "--known-hosts", str(known))
    result = sh(*argv, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Host key verification failed" in result.stderr and "cannot reach" in result.stderr
    assert serving_release(host_dir) == before


def test_deploying_a_again_is_idempotent(ssh_host, releases, env_file, host_dir):
    result = deploy(ssh_host, releases, "a", env_file, host_dir, "--wait-timeout", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    assert serving_release(host_dir) == "a" and predict().status_code == 200
    assert list((host_dir / "backups").glob("*-before-a.sql.gz")), "no database dump"


def test_retrain_on_request_runs_the_trainer_only_when_one_is_pending(ssh_host, host_dir):
    """deploy/retrain_on_request.sh, as .github/workflows/retrain.yml runs it: nothing pending,
    nothing run; a request recorded by the monitor, and the trainer runs on the host (with no
    feedback in the log, it keeps the request for a run that has some)."""
    argv = [
        str(ROOT / "deploy/retrain_on_request.sh"),
        "--host", ssh_host["host"], "--port", str(ssh_host["port"]),
        "--user", ssh_host["user"], "--key", str(ssh_host["key"]),
        "--dir", str(host_dir), "--project", PROJECT,
    ]  # fmt: skip
    env = {"DEPLOY_KNOWN_HOSTS": str(ssh_host["known_hosts"])}
    idle = sh(*argv, env=env, check=False)
    assert idle.returncode == 0 and "retrain: no request pending" in idle.stdout, idle.stderr
    asked = sh("docker", "exec", f"{PROJECT}-monitor-1", "python", "-c", ASK_FOR_A_RETRAIN)
    assert asked.stdout.strip() == "True", asked.stderr
    ran = sh(*argv, env=env, check=False)
    out = ran.stdout + ran.stderr
    assert ran.returncode == 0, out[-3000:]
    assert "retrain: a request is pending: running the trainer" in out
    assert "retrain request of" in out and "deploy-test" in out
    assert "kept: no labelled feedback in the log yet" in out, out[-3000:]


def test_the_backup_puts_both_databases_in_the_stacks_own_bucket(host_dir):
    """deploy/backup_database.sh, as the nightly timer runs it, on a compose host with the stack's
    own S3 service (test_aws_override.py: the same into AWS's bucket through the role)."""
    done = sh(str(ROOT / "deploy/backup_database.sh"), "--project", PROJECT)
    assert "databases saved under backups/postgres/" in done.stdout
    listed = sh("docker", "exec", f"{PROJECT}-mlflow-1", "python", "/app/backups.py", "list")
    sizes = {line.split("\t")[0].rsplit("/", 1)[1]: int(line.split("\t")[1])
             for line in listed.stdout.splitlines()}  # fmt: skip
    assert set(sizes) == {"mlflow.dump", "mlflow_auth.dump"} and min(sizes.values()) > 0, sizes


def test_broken_release_b_rolls_back_to_a_with_as_own_compose_file(
    ssh_host, releases, env_file, host_dir, tmp_path
):
    """b also changes the compose file (a label on the gateway): the rollback must not keep it."""
    changed = yaml.safe_load((ROOT / "compose.yaml").read_text())
    changed["services"]["gateway"]["labels"] = {"housing.release": "b"}
    compose_b = tmp_path / "compose.yaml"
    compose_b.write_text(yaml.safe_dump(changed, sort_keys=False))
    result = deploy(
        ssh_host, releases, "b", env_file, host_dir, "--wait-timeout", "60",
        "--compose", str(compose_b),
    )  # fmt: skip
    assert result.returncode != 0
    assert "rolled back: a runs and is healthy" in result.stderr, result.stderr
    assert serving_release(host_dir) == "a"
    assert running_image("predictor").endswith(digest_of(releases, "a", "predictor"))
    label = sh(
        "docker", "inspect", "--format", '{{index .Config.Labels "housing.release"}}',
        f"{PROJECT}-gateway-1",
    ).stdout.strip()  # fmt: skip
    assert label in ("", "<no value>"), "the rollback kept b's compose file"
    response = predict()
    assert response.status_code == 200, response.text
    print(f"\n{result.stderr.strip().splitlines()[-1]}")


def test_an_interrupted_deploy_leaves_the_previous_release_serving(
    ssh_host, releases, env_file, host_dir
):
    """Release c is stopped (SIGTERM to the deploy's process group, as Ctrl-C would) while its
    slow predictor comes up: a is brought back from its own directory and serves."""
    argv = deploy_argv(ssh_host, releases, "c", env_file, host_dir, "--wait-timeout", "300")
    env = {**os.environ, "DEPLOY_KNOWN_HOSTS": str(ssh_host["known_hosts"])}
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    for line in proc.stdout:
        if line.startswith("deploy: bringing up c"):
            break
    time.sleep(8)  # into c's `up --wait`: its predictor sleeps 30 s before it starts
    os.killpg(proc.pid, signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted" in stderr and "rolled back: a runs and is healthy" in stderr, stderr
    assert serving_release(host_dir) == "a"
    assert running_image("predictor").endswith(digest_of(releases, "a", "predictor"))
    assert predict().status_code == 200
    print(f"\ninterrupted deploy of c: {stderr.strip().splitlines()[-1]}")

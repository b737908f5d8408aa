"""Hardening, read from `docker inspect` and `docker history`, and the stack's network shape."""

from __future__ import annotations

import json
import os
import re
import subprocess

import httpx
import pytest

from housing import defaults
from housing.contract import EXAMPLE_RECORD
from tests.e2e.conftest import (
    ROOT,
    admin_auth,
    compose,
    compose_ps,
    secret,
    served_version,
    wait_until,
)
from tests.support.secrets import secret_names

OURS = ("mlflow", "predictor", "gateway", "monitor", "prometheus")  # prometheus: as `nobody`
SECRETS = secret_names()


def secret_values() -> list[str]:
    return [secret(name) for name in SECRETS]


def inspect(name: str) -> dict:
    out = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def test_our_containers_are_hardened():
    for container in compose_ps():
        if container["Service"] not in OURS or container["State"] != "running":
            continue
        info = inspect(container["Name"])
        host = info["HostConfig"]
        assert info["Config"]["User"] not in ("", "0", "root"), container["Name"]
        assert "no-new-privileges:true" in host["SecurityOpt"], container["Name"]
        assert host["ReadonlyRootfs"], container["Name"]
        assert host["CapDrop"] == ["ALL"], container["Name"]
        mounts = [m.get("Source", "") for m in info["Mounts"]]
        assert not any("docker.sock" in m for m in mounts), container["Name"]


def test_the_edge_keeps_only_the_right_to_bind_80_and_443():
    (container,) = [c for c in compose_ps() if c["Service"] == "edge"]
    host = inspect(container["Name"])["HostConfig"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["ReadonlyRootfs"]
    assert host["CapDrop"] == ["ALL"]
    assert [cap.removeprefix("CAP_") for cap in host["CapAdd"]] == ["NET_BIND_SERVICE"]


def test_the_stores_keep_only_the_capabilities_their_entrypoints_use():
    """Before, PostgreSQL and S3 kept Docker's default capabilities. Now S3 keeps none, and
    PostgreSQL's entrypoint only what it takes to hand its volume to `postgres` and switch to
    that user: every server process runs as `postgres`, none as root."""
    postgres_caps = {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID"}
    for container in compose_ps():
        service = container["Service"]
        if service not in ("postgres", "predictions-db", "s3"):
            continue
        host = inspect(container["Name"])["HostConfig"]
        assert "no-new-privileges:true" in host["SecurityOpt"], service
        assert host["CapDrop"] == ["ALL"], service
        added = {cap.removeprefix("CAP_") for cap in host["CapAdd"] or []}
        assert added == (postgres_caps if service != "s3" else set()), service
        if service != "s3":
            script = (
                "for p in /proc/[0-9]*; do grep -q '^Name:[[:space:]]*postgres$' $p/status "
                "&& awk '/^Uid:/ {print $2}' $p/status; done; true"
            )
            uids = compose("exec", "-T", service, "sh", "-c", script).stdout.split()
            assert uids and "0" not in uids, (service, uids)


def test_no_secret_in_any_image_layer():
    secrets = secret_values()
    images = {c["Image"] for c in compose_ps() if c["Service"] in (*OURS, "trainer")}
    for image in images:
        history = subprocess.run(
            ["docker", "history", "--no-trunc", image], capture_output=True, text=True, check=True
        ).stdout
        config = json.dumps(inspect(image)["Config"].get("Env", []))
        for value in secrets:
            assert value not in history and value not in config, image
        assert not re.search(r"(PASSWORD|SECRET|API_KEYS)=\S", config), image


def test_mlflow_runs_no_job_workers_and_no_secret_on_a_command_line():
    """Command lines are world-readable (/proc/*/cmdline, `ps`): the database password is not
    there, and MLflow's job runner (huey consumers polling for GenAI jobs) is off."""
    script = (
        "import os, pathlib; "
        "print('\\n'.join(pathlib.Path(f'/proc/{p}/cmdline').read_bytes().replace(b'\\0', b' ')"
        ".decode(errors='replace') for p in os.listdir('/proc') if p.isdigit()))"
    )
    lines = compose("exec", "-T", "mlflow", "python", "-c", script).stdout.splitlines()
    assert any("mlflow" in line for line in lines), lines
    password = secret("POSTGRES_PASSWORD")
    assert not [line for line in lines if password in line]
    assert not [line for line in lines if "huey" in line], lines


def test_no_secret_in_any_containers_environment():
    """Secrets are files under /run/secrets: `docker inspect` shows none of them."""
    values = secret_values()
    for container in compose_ps():
        info = inspect(container["Name"])
        shown = json.dumps([info["Config"].get("Env"), info["Config"].get("Cmd"), info["Args"]])
        leaked = [name for name, value in zip(SECRETS, values, strict=True) if value in shown]
        assert not leaked, (container["Name"], leaked)


def test_every_service_has_memory_cpu_and_pids_limits():
    for container in compose_ps():
        host = inspect(container["Name"])["HostConfig"]
        assert host["Memory"] > 0, container["Name"]
        assert host["NanoCpus"] > 0, container["Name"]
        assert (host["PidsLimit"] or 0) > 0, container["Name"]


def _connect_from(service: str, targets: list[tuple[str, int]]) -> dict[str, str]:
    script = (
        "import json, socket, sys\n"
        "out = {}\n"
        "for host, port in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=3).close()\n"
        "        out[f'{host}:{port}'] = 'open'\n"
        "    except OSError as exc:\n"
        "        out[f'{host}:{port}'] = type(exc).__name__\n"
        "print(json.dumps(out))\n"
    )
    result = compose("exec", "-T", service, "python", "-c", script, json.dumps(targets))
    return json.loads(result.stdout)


def _addresses(service: str) -> list[str]:
    (container,) = [c for c in compose_ps() if c["Service"] == service][:1]
    networks = inspect(container["Name"])["NetworkSettings"]["Networks"]
    return [n["IPAddress"] for n in networks.values() if n.get("IPAddress")]


def test_the_gateway_reaches_the_predictors_the_log_and_nothing_behind_them():
    stores = [("mlflow", defaults.MLFLOW_PORT), ("postgres", 5432), ("s3", 9000)]
    # By address too, on every network each store is on: not only the names are hidden.
    by_address = [(ip, port) for name, port in stores for ip in _addresses(name)]
    wanted = [("predictor", defaults.PREDICTOR_PORT), ("predictions-db", 5432)]
    seen = _connect_from("gateway", [*wanted, *stores, *by_address])
    assert seen.pop(f"predictor:{defaults.PREDICTOR_PORT}") == "open"
    assert seen.pop("predictions-db:5432") == "open"  # POST /feedback
    assert "open" not in seen.values(), seen
    print(f"\ngateway -> {seen}")


def test_the_edge_reaches_the_gateway_and_nothing_behind_it():
    """The edge image has no Python: its own wget tries each address (any HTTP answer, even an
    error status, means the port was reached)."""
    behind = [("predictor", defaults.PREDICTOR_PORT), ("mlflow", defaults.MLFLOW_PORT)]
    by_address = [(ip, port) for name, port in behind for ip in _addresses(name)]
    targets = [("gateway", defaults.GATEWAY_PORT), *behind, *by_address]
    seen = {}
    for host, port in targets:
        probe = compose(
            "exec", "-T", "edge", "wget", "-q", "-T", "3", "-t", "1", "-O", "/dev/null",
            f"http://{host}:{port}/health", check=False,
        )  # fmt: skip
        # wget exits 8 on an HTTP error status: the connection was made.
        seen[f"{host}:{port}"] = "open" if probe.returncode in (0, 8) else "closed"
    assert seen.pop(f"gateway:{defaults.GATEWAY_PORT}") == "open"
    assert "open" not in seen.values(), seen


def test_mlflow_cannot_reach_the_prediction_log():
    """The log is a PostgreSQL of its own, on a network MLflow is not on: not by name, not by
    any of its addresses."""
    targets = [("predictions-db", 5432), *((ip, 5432) for ip in _addresses("predictions-db"))]
    seen = _connect_from("mlflow", targets)
    assert "open" not in seen.values(), seen


def test_the_predictor_reaches_mlflow_and_no_store():
    stores = [("postgres", 5432), ("s3", 9000)]
    by_address = [(ip, port) for name, port in stores for ip in _addresses(name)]
    seen = _connect_from("predictor", [("mlflow", defaults.MLFLOW_PORT), *stores, *by_address])
    assert seen.pop(f"mlflow:{defaults.MLFLOW_PORT}") == "open"
    assert "open" not in seen.values(), seen


def test_mlflow_refuses_anyone_without_credentials(mlflow_ui, registry):
    api = f"{mlflow_ui}/api/2.0/mlflow"
    query = {"name": registry.name}
    assert httpx.get(f"{api}/registered-models/get", params=query, timeout=10).status_code == 401
    wrong = ("admin", "not-the-password")
    response = httpx.get(f"{api}/registered-models/get", params=query, auth=wrong, timeout=10)
    assert response.status_code == 401
    ok = httpx.get(f"{api}/registered-models/get", params=query, auth=admin_auth(), timeout=10)
    assert ok.status_code == 200


def test_the_predictors_user_reads_the_model_and_may_not_move_it(mlflow_ui, registry):
    api = f"{mlflow_ui}/api/2.0/mlflow"
    predictor = ("predictor", secret("MLFLOW_PREDICTOR_PASSWORD"))
    champion = registry.champion()
    alias = {"name": registry.name, "alias": defaults.CHAMPION_ALIAS}
    read = httpx.get(f"{api}/registered-models/alias", params=alias, auth=predictor, timeout=10)
    assert read.status_code == 200
    move = httpx.post(
        f"{api}/registered-models/alias",
        json={**alias, "version": champion},
        auth=predictor,
        timeout=10,
    )
    assert move.status_code == 403, move.text
    version = httpx.post(
        f"{api}/model-versions/create",
        json={"name": registry.name, "source": "models:/planted"},
        auth=predictor,
        timeout=10,
    )
    assert version.status_code == 403, version.text
    tagged = httpx.post(
        f"{api}/registered-models/set-tag",
        json={"name": registry.name, "key": "planted", "value": "1"},
        auth=predictor,
        timeout=10,
    )
    assert tagged.status_code == 403, tagged.text
    assert registry.champion() == champion


@pytest.fixture
def failing_trainer():
    """The trainer run again with parameters that make its fit fail; then the stack as it was."""
    yield {"TRAIN_PARAMS": "train.max_iter=-1", "TRAINER_FORCE": "true"}
    compose("up", "-d", "--wait", "--wait-timeout", "600")  # the trainer's own settings again


def test_serving_does_not_wait_for_a_failing_retrain(failing_trainer, gateway, api_key):
    """The predictor depends on MLflow, not on the trainer: recreated while a retrain fails, it
    serves the champion the registry already has."""
    before = served_version(gateway, api_key)
    result = subprocess.run(
        ["docker", "compose", "up", "-d", "--force-recreate", "trainer", "predictor"],
        cwd=ROOT,
        env={**os.environ, **failing_trainer},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    trainer = wait_until(
        lambda: [c for c in compose_ps() if c["Service"] == "trainer" and c["State"] == "exited"],
        120,
        "the failing retrain ended",
    )
    assert trainer[0]["ExitCode"] != 0, trainer
    assert wait_until(lambda: served_version(gateway, api_key) == before, 120, "serving again")
    response = httpx.post(
        f"{gateway}/predict", json=EXAMPLE_RECORD, headers={"X-API-Key": api_key}, timeout=10
    )
    assert response.status_code == 200


def test_the_monitor_reaches_mlflow_and_the_log_and_no_other_store():
    stores = [("postgres", 5432), ("s3", 9000)]  # MLflow's: its database and artifacts
    by_address = [(ip, port) for name, port in stores for ip in _addresses(name)]
    wanted = [("mlflow", defaults.MLFLOW_PORT), ("predictions-db", 5432)]
    seen = _connect_from("monitor", [*wanted, *stores, *by_address])
    assert seen.pop(f"mlflow:{defaults.MLFLOW_PORT}") == "open"
    assert seen.pop("predictions-db:5432") == "open"
    assert "open" not in seen.values(), seen

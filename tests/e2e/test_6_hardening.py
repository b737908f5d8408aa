"""Hardening, read from `docker inspect` and `docker history`."""

from __future__ import annotations

import json
import re
import subprocess

from tests.e2e.conftest import compose, compose_ps, dotenv

OURS = ("mlflow", "predictor", "gateway")


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


def test_no_secret_in_any_image_layer():
    secrets = [
        v
        for k, v in dotenv().items()
        if k in ("POSTGRES_PASSWORD", "S3_SECRET_KEY", "GATEWAY_API_KEYS") and v
    ]
    images = {c["Image"] for c in compose_ps() if c["Service"] in (*OURS, "trainer")}
    for image in images:
        history = subprocess.run(
            ["docker", "history", "--no-trunc", image], capture_output=True, text=True, check=True
        ).stdout
        config = json.dumps(inspect(image)["Config"].get("Env", []))
        for secret in secrets:
            assert secret not in history and secret not in config, image
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
    password = dotenv()["POSTGRES_PASSWORD"]
    assert not [line for line in lines if password in line]
    assert not [line for line in lines if "huey" in line], lines

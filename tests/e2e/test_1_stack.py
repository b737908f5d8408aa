"""From nothing to a served prediction, and the stack's shape: ports, users, registry."""

from __future__ import annotations

import json
import subprocess

import httpx

from housing import defaults
from housing.contract import EXAMPLE_RECORD
from tests.e2e.conftest import admin_auth, compose, compose_ps, predictor_get
from tests.support.edge import predict

OURS = ("mlflow", "trainer", "predictor", "gateway")


def test_prediction_through_the_gateway(gateway, api_key, registry):
    response = httpx.post(
        f"{gateway}/predict", json=EXAMPLE_RECORD, headers={"X-API-Key": api_key}, timeout=10
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"][0] > 0
    assert body["model"]["version"] == registry.champion()


def test_the_predictor_image_serves_with_its_tree_kernel(gateway, api_key):
    """The image's build stage compiled leaf_tables.c, and the predictor loaded it."""
    info = json.loads(predictor_get("/model"))
    assert info["fast_path"] and info["trees"] == "c", info


def test_no_key_is_401(gateway):
    response = httpx.post(f"{gateway}/predict", json=EXAMPLE_RECORD, timeout=10)
    assert response.status_code == 401


def test_registry_has_a_champion_and_the_ui_answers_its_admin(registry, mlflow_ui):
    assert registry.champion()
    assert registry.runs()
    assert httpx.get(mlflow_ui + "/", timeout=10).status_code == 401
    page = httpx.get(mlflow_ui + "/", auth=admin_auth(), timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_port_80_redirects_to_https_and_a_post_follows_it(plain_http, gateway, api_key):
    """The seed's `http://<host>/predict` still answers, by a 308 that keeps method and body
    (`curl -L`); the HTTPS answer carries HSTS and names one server, the edge."""
    moved = predict(plain_http, None)
    assert moved.status_code == 308, moved.text
    assert moved.headers["location"] == f"{gateway.replace(':443', '')}/predict"
    followed = predict(plain_http, api_key, follow_redirects=True)
    assert followed.status_code == 200, followed.text
    assert followed.url.scheme == "https"
    assert followed.headers["strict-transport-security"].startswith("max-age=")
    assert followed.headers.get_list("server") == ["Caddy"]


def test_the_edge_refuses_what_the_gateway_would_before_it_gets_there(gateway, api_key):
    too_big = b"[" + b"0," * (defaults.MAX_BODY_BYTES // 2) + b"0]"
    response = httpx.post(
        f"{gateway}/predict",
        content=too_big,
        headers={"X-API-Key": api_key, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413


def test_only_the_edge_and_mlflow_ui_are_published():
    published = {}
    for container in compose_ps():
        for publisher in container.get("Publishers") or []:
            if publisher.get("PublishedPort"):
                published.setdefault(container["Service"], set()).add(publisher["TargetPort"])
    assert published == {"edge": {80, 443}, "mlflow": {defaults.MLFLOW_PORT}}, published


def test_our_containers_do_not_run_as_root():
    for container in compose_ps():
        if container["Service"] not in OURS or container["State"] != "running":
            continue
        uid = subprocess.run(
            ["docker", "exec", container["Name"], "id", "-u"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert uid != "0", container["Name"]
        config = compose("config", "--format", "json").stdout
        assert '"read_only": true' in config


def test_trainer_completed():
    trainer = [c for c in compose_ps() if c["Service"] == "trainer"]
    assert trainer and all(c["ExitCode"] == 0 for c in trainer), trainer


def test_dvc_push_and_pull_against_the_stack_remote():
    """The trainer pushed the raw data; a fresh workspace pulls it back from the s3 service."""
    script = (
        "set -e; mkdir -p /tmp/pull && cd /tmp/pull && "
        "export AWS_ACCESS_KEY_ID=$(cat $AWS_ACCESS_KEY_ID_FILE) && "
        "export AWS_SECRET_ACCESS_KEY=$(cat $AWS_SECRET_ACCESS_KEY_FILE) && "
        "cp -r /app/.dvc /app/dvc.yaml /app/params.yaml . && mkdir -p data/raw && "
        "cp /app/data/raw/housing.csv.dvc data/raw/ && "
        "printf '[core]\\n    no_scm = true\\n' > .dvc/config.local && "
        "dvc pull --remote stack data/raw/housing.csv.dvc && sha256sum data/raw/housing.csv"
    )
    out = compose("run", "--rm", "--no-deps", "--entrypoint", "sh", "trainer", "-c", script)
    assert "8a3727f4cf54ac1a327f69b1d5b4db54c5834ea81c6e4efc0d163300022a685e" in out.stdout

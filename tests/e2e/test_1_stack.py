"""From nothing to a served prediction, and the stack's shape: ports, users, registry."""

from __future__ import annotations

import json
import re
import subprocess

import httpx

from housing import defaults
from housing.contract import CATEGORIES, EXAMPLE_RECORD
from tests.e2e.conftest import admin_auth, compose, compose_ps, predictor_get, wait_until
from tests.support.edge import predict

OURS = ("mlflow", "trainer", "predictor", "gateway", "monitor")


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


def test_the_playgrounds_map_finds_a_real_district_through_the_edge(gateway, api_key):
    """The predictor (its MLflow user reads the run) downloaded the version's district sample."""
    answer = httpx.get(
        f"{gateway}/districts/nearest",
        params={"longitude": -122.27, "latitude": 37.80},  # Oakland
        headers={"X-API-Key": api_key},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["distance_km"] < 5 and found["district"]["ocean_proximity"] in CATEGORIES
    assert "median_house_value" not in found["district"]


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
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"request body over {defaults.MAX_BODY_BYTES} bytes"


def test_only_the_edge_and_the_mlflow_and_prometheus_uis_are_published():
    published = {}
    for container in compose_ps():
        for publisher in container.get("Publishers") or []:
            if publisher.get("PublishedPort"):
                published.setdefault(container["Service"], set()).add(publisher["TargetPort"])
    expected = {"edge": {80, 443}, "mlflow": {defaults.MLFLOW_PORT}, "prometheus": {9090}}
    assert published == expected, published


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


def log_query(sql: str) -> list[list[str]]:
    """Rows of a query on the prediction log, through psql in its own container (the password
    read there from its secret file: on no command line)."""
    psql = 'PGPASSWORD="$(cat /run/secrets/predictions_db_password)" exec psql "$@"'
    out = compose(
        "exec", "-T", "predictions-db", "sh", "-c", psql, "psql",
        "-U", "predictions", "-d", "predictions", "-h", "127.0.0.1", "-At", "-F", "\t", "-c", sql,
    ).stdout  # fmt: skip
    return [line.split("\t") for line in out.splitlines() if line]


def test_a_prediction_is_logged_and_its_actual_joined_to_it(gateway, api_key):
    """Through the edge as a client: the log's row holds what the response said; the actual
    posted back is joined to it, and `housing feedback export` in the stack writes it."""
    cheaper = {**EXAMPLE_RECORD, "median_income": 2.0}
    answer = httpx.post(
        f"{gateway}/predict?interval=0.8",
        json={"records": [EXAMPLE_RECORD, cheaper]},
        headers={"X-API-Key": api_key},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    said = answer.json()
    rid = said["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)  # the gateway's own id: safe inside the SQL text
    query = (
        "SELECT record_index, median_income, prediction, interval_level, interval_low, "  # noqa: S608
        f"interval_high, model_version FROM predictions WHERE request_id = '{rid}' "
        "ORDER BY record_index"
    )
    rows = wait_until(lambda: log_query(query), 30, "the request's rows in the log")
    assert len(rows) == 2
    for row, income, price, (low, high) in zip(
        rows, [8.3252, 2.0], said["predictions"], said["intervals"], strict=True
    ):
        assert float(row[1]) == income and float(row[2]) == price
        assert (float(row[3]), float(row[4]), float(row[5])) == (0.8, low, high)
        assert row[6] == said["model"]["version"]

    posted = httpx.post(
        f"{gateway}/feedback",
        json={"request_id": rid, "actuals": [452_600, 151_000]},
        headers={"X-API-Key": api_key},
        timeout=10,
    )
    assert posted.status_code == 202, posted.text
    joined = log_query(
        "SELECT p.record_index, a.actual FROM predictions p JOIN actuals a "  # noqa: S608
        "USING (request_id, record_index) "
        f"WHERE p.request_id = '{rid}' ORDER BY p.record_index"
    )
    assert joined == [["0", "452600"], ["1", "151000"]]

    exported = compose(
        "run", "--rm", "--no-deps", "trainer", "sh", "-c",
        "housing feedback export -o /tmp/feedback.csv && cat /tmp/feedback.csv",
        timeout=300,
    ).stdout  # fmt: skip
    said_count, *lines = exported.strip().splitlines()  # the command's line, then the file
    assert said_count.endswith(f"{len(lines) - 1} labelled predictions"), said_count
    assert lines[0].startswith("longitude,latitude") and lines[0].count(",") == 9
    assert any(line.endswith(",151000.0,NEAR BAY") for line in lines[1:]), lines[-3:]
    print(f"\nlogged {rid}: 2 rows as answered; actuals joined; export: {len(lines) - 1} rows")

"""deploy/compose.aws.yaml for real, against a stand-in for AWS: moto's server plays S3 and the
instance metadata service (IMDSv2 with a role's temporary keys), on the Docker host. The stack
runs with no S3 service and no S3 keys: mlflow and the trainer find the role's keys through IMDS,
the trainer pushes the data set to the DVC remote and logs the model into the bucket, the
predictor serves the champion from there, and the nightly backup lands beside them."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from housing.contract import EXAMPLE_RECORD
from housing.defaults import MODEL_NAME
from tests.deploy.conftest import ROOT
from tests.support.dind import bridge_address
from tests.support.services import moto_s3, s3_client

PROJECT = "housing-awstest"
BUCKET = "housing-mlops-artifacts-123456789012"  # provision_ec2.py's name for it
FILES = ["-f", "compose.yaml", "-f", "deploy/compose.aws.yaml"]
SECRETS = {
    "postgres_password": "aws-test-pg",
    "mlflow_admin_password": "aws-test-admin",
    "mlflow_trainer_password": "aws-test-trainer",
    "mlflow_predictor_password": "aws-test-predictor",
    "mlflow_monitor_password": "aws-test-monitor",
    "predictions_db_password": "aws-test-predictions",
}


@pytest.fixture(scope="module")
def fake_aws(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("fake-aws")
    with moto_s3(workdir, host=bridge_address()) as url:
        s3_client(url).create_bucket(Bucket=BUCKET)  # provision_ec2.py's part
        yield {"url": url, "log": workdir / "moto.log"}


@pytest.fixture(scope="module")
def aws_stack(tmp_path_factory, fake_aws, raw_csv):
    work = tmp_path_factory.mktemp("aws-stack")
    secrets = work / "secrets"
    secrets.mkdir()
    for name, value in SECRETS.items():
        (secrets / name).write_text(value)
    # Where AWS is, for this test only: the same services at the stand-in's address. The region
    # and bucket are what an operator puts in the env file.
    endpoint = fake_aws["url"].replace(bridge_address(), "fake-aws")
    (work / "fake-aws.yaml").write_text(
        json.dumps(
            {
                "services": {
                    name: {
                        "extra_hosts": ["fake-aws:host-gateway"],
                        "environment": {
                            "AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint,
                            "AWS_ENDPOINT_URL_S3": endpoint,
                            **({"TRAINER_DVC_ENDPOINT": endpoint} if name == "trainer" else {}),
                        },
                    }
                    for name in ("mlflow", "trainer")
                }
            }
        )
    )
    env = {
        **os.environ,
        "MLFLOW_BUCKET": BUCKET,
        "AWS_REGION": "eu-west-1",
        "SECRETS_DIR": str(secrets),
        "RAW_DATA_DIR": str(raw_csv.parent),
        "MLFLOW_UI_PORT": "15002",
    }
    files = [*FILES, "-f", str(work / "fake-aws.yaml")]

    def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["docker", "compose", "-p", PROJECT, *files, *args],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)}:\n{result.stdout[-3000:]}\n"
                                 f"{result.stderr[-3000:]}")  # fmt: skip
        return result

    compose("build", "mlflow", "trainer", "predictor")
    try:
        yield compose
    finally:
        compose("down", "-v", "--remove-orphans", check=False)


def bucket_keys(fake_aws, prefix: str) -> list[str]:
    pages = s3_client(fake_aws["url"]).get_paginator("list_objects_v2")
    found = pages.paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in found for o in page.get("Contents", [])]


def test_the_override_runs_no_s3_service_and_hands_out_no_s3_keys(aws_stack):
    config = json.loads(aws_stack("config", "--format", "json").stdout)
    assert "s3" not in config["services"]
    for name in ("mlflow", "trainer"):
        service = config["services"][name]
        assert not {k for k in service["environment"] if k.startswith("AWS_ACCESS_KEY")}, name
        assert not {s["source"] for s in service.get("secrets", [])} & {
            "s3_access_key",
            "s3_secret_key",
        }, name
        assert "cloud" in service["networks"], name
    others = {n for n, s in config["services"].items() if "cloud" in s.get("networks", {})}
    assert others == {"mlflow", "trainer"}, "only these two may reach the instance role"


def test_training_puts_data_and_model_in_the_bucket_through_the_role(aws_stack, fake_aws):
    trained = aws_stack("run", "--rm", "trainer", check=False)
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    assert bucket_keys(fake_aws, "dvc/"), "the DVC remote in the bucket is empty"
    artifacts = bucket_keys(fake_aws, "artifacts/")
    assert any(k.endswith("MLmodel") for k in artifacts), artifacts[:20]
    # The keys came from the metadata service, token first (IMDSv2), as on EC2.
    log = fake_aws["log"].read_text()
    assert "PUT /latest/api/token" in log
    assert "GET /latest/meta-data/iam/security-credentials/" in log


def test_the_predictor_serves_the_champion_from_the_bucket(aws_stack):
    aws_stack("up", "-d", "--wait", "--wait-timeout", "300", "predictor")
    script = (
        "import json, sys, urllib.request as u; r = u.Request('http://127.0.0.1:8001/predict', "
        f"data=json.dumps({EXAMPLE_RECORD!r}).encode(), "
        "headers={'Content-Type': 'application/json'}); print(u.urlopen(r).read().decode())"
    )
    answer = aws_stack("exec", "-T", "predictor", "python", "-c", script)
    assert json.loads(answer.stdout)["predictions"][0] > 0, answer.stdout


def test_the_nightly_backup_lands_in_the_bucket(aws_stack, fake_aws):
    result = subprocess.run(
        [str(ROOT / "deploy/backup_database.sh"), "--project", PROJECT],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    keys = bucket_keys(fake_aws, "backups/postgres/")
    assert {k.rsplit("/", 1)[1] for k in keys} == {"mlflow.dump", "mlflow_auth.dump"}, keys


def in_container(service: str, *cmd: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """A command in one of the stack's containers, bytes in and out (a dump is binary)."""
    return subprocess.run(
        ["docker", "exec", "-i", f"{PROJECT}-{service}-1", *cmd], input=stdin, capture_output=True
    )


def test_a_backup_restores_into_a_fresh_database(aws_stack, fake_aws):
    key = next(k for k in bucket_keys(fake_aws, "backups/") if k.endswith("/mlflow.dump"))
    dump = in_container("mlflow", "python", "/app/backups.py", "get", key)
    assert dump.returncode == 0 and dump.stdout, dump.stderr.decode()
    psql = ("psql", "-U", "mlflow", "-v", "ON_ERROR_STOP=1")
    created = in_container("postgres", *psql, "-d", "mlflow", "-c", "CREATE DATABASE restored")
    assert created.returncode == 0, created.stderr.decode()
    restored = in_container(
        "postgres", "pg_restore", "-U", "mlflow", "-d", "restored", "--no-owner", stdin=dump.stdout
    )
    assert restored.returncode == 0, restored.stderr.decode()[-2000:]
    names = in_container(
        "postgres", *psql, "-d", "restored", "-tAc", "SELECT name FROM registered_models"
    )
    assert names.stdout.decode().split() == [MODEL_NAME], names


def test_a_bad_key_is_refused_in_one_line_and_stores_nothing(aws_stack, fake_aws):
    before = bucket_keys(fake_aws, "")
    bad = in_container("mlflow", "python", "/app/backups.py", "put", "../x")
    assert bad.returncode != 0 and bad.stderr.decode().strip().count("\n") == 0, bad.stderr
    empty = in_container("mlflow", "python", "/app/backups.py", "put", "backups/empty.dump")
    assert empty.returncode != 0 and b"removed" in empty.stderr, empty.stderr
    assert bucket_keys(fake_aws, "") == before

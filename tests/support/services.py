"""The real backing services the integration tests use: PostgreSQL, moto's S3, MLflow."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import free_port, running, wait_http

NO_JOBS = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
S3_KEYS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: install Debian's postgresql")
    return found[-1]


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root; everything else runs as whoever we are.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres():
    """A throw-away PostgreSQL cluster on a free loopback port; yields its SQLAlchemy URI."""
    if uri := os.environ.get("TEST_POSTGRES_URI"):
        yield uri
        return
    # pytest's own temp folders are private to root; the postgres user needs one of its own.
    workdir = Path(tempfile.mkdtemp(prefix="housing-pg-"))
    data = workdir / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        _as_postgres(
            [_pg_bin("initdb"), "-D", str(data), "-U", "mlflow", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = workdir / "postgres.log"
    cmd = _as_postgres(
        [
            _pg_bin("postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(workdir),
        ]
    )
    with running(cmd, log):
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                [_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            ).returncode
            != 0
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"postgres not ready: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        subprocess.run(
            [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "mlflow", "mlflow"],
            check=True,
        )
        yield f"postgresql+psycopg2://mlflow@127.0.0.1:{port}/mlflow"
    shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def moto_s3(workdir: Path, host: str = "127.0.0.1"):
    """moto's server: a real S3 API over HTTP on loopback (or `host`), and EC2's instance
    metadata service (IMDSv2, with a role's temporary keys) on the same port."""
    port = free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]
    with running(cmd, workdir / "moto.log", env=S3_KEYS) as proc:
        url = f"http://{host}:{port}"
        wait_http(f"{url}/moto-api/", proc=proc)
        yield url


@dataclass
class MlflowServer:
    url: str
    log: Path
    proc: object


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, **_boto_keys())


def make_bucket(endpoint: str, bucket: str) -> None:
    s3_client(endpoint).create_bucket(Bucket=bucket)


def _boto_keys() -> dict:
    return {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }


@contextmanager
def mlflow_server(workdir: Path, backend_uri: str, s3_endpoint: str, bucket: str = "mlflow"):
    """`mlflow server` with a PostgreSQL store, serving artifacts it keeps in S3."""
    make_bucket(s3_endpoint, bucket)
    port = free_port()
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    cmd = [
        mlflow,
        "server",
        "--backend-store-uri",
        backend_uri,
        "--serve-artifacts",
        "--artifacts-destination",
        f"s3://{bucket}/artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # No job runner: its consumer processes would poll and take CPU from the tests.
    env = {**S3_KEYS, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint, **NO_JOBS}
    log = workdir / f"mlflow-{port}.log"
    with running(cmd, log, env=env) as proc:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{url}/health", timeout_s=90, proc=proc)
        except Exception as exc:
            raise RuntimeError(f"mlflow server did not start: {log.read_text()[-3000:]}") from exc
        yield MlflowServer(url, log, proc)

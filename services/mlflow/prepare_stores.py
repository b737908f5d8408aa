"""Before `mlflow server`: wait for PostgreSQL and S3, create the buckets and the auth app's
database, migrate the schema.

Idempotent: run at every start. It waits with a deadline and says what it is waiting for, so
that a misconfigured stack fails with a readable message instead of hanging.
"""

import os
import re
import sys
import time

import boto3
import sqlalchemy
from botocore.exceptions import BotoCoreError, ClientError

DEADLINE_S = float(os.environ.get("MLFLOW_STORES_TIMEOUT_S", "120"))


def wait(what: str, check) -> None:
    started = time.monotonic()
    while True:
        try:
            return check()
        except Exception as exc:  # noqa: BLE001 - retried until the deadline, then reported
            if time.monotonic() - started > DEADLINE_S:
                sys.exit(f"mlflow: {what} not reachable after {DEADLINE_S:.0f}s: {exc}")
            time.sleep(1)


def database_has_schema(uri: str) -> bool:
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect():
            pass
        return "alembic_version" in sqlalchemy.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def ensure_database(uri: str, name: str) -> None:
    """The basic-auth app keeps its users in a database of its own, created here once."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        sys.exit(f"mlflow: {name!r} is not a plain database name")
    engine = sqlalchemy.create_engine(uri, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sqlalchemy.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not found:
                conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
                print(f"mlflow: created database {name}", flush=True)
    finally:
        engine.dispose()


def ensure_buckets(endpoint: str | None, buckets: list[str]) -> None:
    """Each bucket found (HEAD, which a role limited to its bucket may do) or created. On AWS the
    bucket is provision_ec2.py's, and the endpoint AWS's own (no MLFLOW_S3_ENDPOINT_URL)."""
    s3 = boto3.client("s3", endpoint_url=endpoint)
    for bucket in buckets:
        try:
            s3.head_bucket(Bucket=bucket)
            continue
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                raise
        try:
            s3.create_bucket(Bucket=bucket)
            print(f"mlflow: created bucket {bucket}", flush=True)
        except ClientError as exc:  # another starter may have created it meanwhile
            if exc.response["Error"]["Code"] not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise


def main() -> None:
    uri = os.environ["MLFLOW_BACKEND_STORE_URI"]
    endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None
    buckets = [os.environ["MLFLOW_BUCKET"], *os.environ.get("EXTRA_BUCKETS", "").split(",")]
    migrated = wait("PostgreSQL", lambda: database_has_schema(uri))
    ensure_database(uri, os.environ["MLFLOW_AUTH_DB"])
    wait("S3", lambda: ensure_buckets(endpoint, [b for b in buckets if b]))
    if migrated:  # an existing schema is upgraded; a new database is created by the server
        # `mlflow db upgrade`, called in this process: as a child's argument, the URI and the
        # password in it would show on a command line (/proc/*/cmdline).
        from mlflow.db import upgrade

        upgrade.main([uri], standalone_mode=False)
    print("mlflow: stores ready", flush=True)


def prepare() -> None:
    try:
        main()
    except (BotoCoreError, ClientError, sqlalchemy.exc.SQLAlchemyError) as exc:
        sys.exit(f"mlflow: store preparation failed: {exc}")

"""Database dumps in the artifact bucket, under backups/, through this container's own S3 access
(the instance role on AWS, the stack's keys elsewhere): deploy/backup_database.sh runs it.

    docker exec -i <mlflow> python /app/backups.py put backups/postgres/<stamp>/mlflow.dump < dump
    docker exec <mlflow> python /app/backups.py list
    docker exec <mlflow> python /app/backups.py get backups/postgres/<stamp>/mlflow.dump > dump

A put that read nothing, or whose stored size differs from what it read, is deleted and fails:
no half-written dump is left to be restored later.
"""

from __future__ import annotations

import os
import re
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from housing.secret_files import SecretFileError, export_from_files

KEY = re.compile(r"backups/[A-Za-z0-9._/-]+")
USAGE = "usage: backups.py put KEY < file | get KEY > file | list  (KEY: backups/...)"


class Counted:
    """A readable stream that counts the bytes read from it."""

    def __init__(self, stream):
        self.stream, self.count = stream, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.count += len(chunk)
        return chunk


def client():
    return boto3.client("s3", endpoint_url=os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None)


def put(s3, bucket: str, key: str) -> str:
    body = Counted(sys.stdin.buffer)
    s3.upload_fileobj(body, bucket, key)
    stored = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    if body.count == 0 or stored != body.count:
        s3.delete_object(Bucket=bucket, Key=key)
        raise ValueError(f"read {body.count} bytes, stored {stored}: s3://{bucket}/{key} removed")
    return f"backups: s3://{bucket}/{key} ({stored} bytes)"


def get(s3, bucket: str, key: str) -> None:
    s3.download_fileobj(bucket, key, sys.stdout.buffer)
    sys.stdout.buffer.flush()


def listed(s3, bucket: str) -> str:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="backups/")
    return "\n".join(f"{o['Key']}\t{o['Size']}" for page in pages for o in page.get("Contents", []))


def main(argv: list[str]) -> int:
    arity = {"put": 2, "get": 2, "list": 1}
    if not argv or arity.get(argv[0]) != len(argv):
        sys.exit(USAGE)
    if argv[0] != "list" and not KEY.fullmatch(argv[1]):
        sys.exit(f"backups: {argv[1]!r} is not a key under backups/")
    try:
        export_from_files()
        s3, bucket = client(), os.environ["MLFLOW_BUCKET"]
        if argv[0] == "put":
            print(put(s3, bucket, argv[1]), file=sys.stderr)
        elif argv[0] == "get":
            get(s3, bucket, argv[1])
        else:
            print(listed(s3, bucket))
    except (SecretFileError, BotoCoreError, ClientError, ValueError) as exc:
        sys.exit(f"backups: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Secrets handed to a container as files (compose and swarm `secrets:`), not as environment values.

`docker inspect` shows a container's environment to anyone who may talk to the engine; a secret
file under /run/secrets it does not. Each variable below may be given as `<NAME>_FILE`, the path of
a file holding the value; a service calls `export_from_files()` first thing, so that the libraries
that read these names (MLflow's client, boto3, our settings) find them in its own environment.
Only the service's process and its children see them there.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

# MLflow's, boto3's and PostgreSQL's own names, and the stack's MLflow users (services/mlflow).
# PGPASSWORD is libpq's: the prediction log's password (housing.predictions.store).
FILE_BACKED = (
    "POSTGRES_PASSWORD",
    "PGPASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    "MLFLOW_TRAINER_PASSWORD",
    "MLFLOW_PREDICTOR_PASSWORD",
    "MLFLOW_MONITOR_PASSWORD",
)


class SecretFileError(RuntimeError):
    """A `<NAME>_FILE` names a file that cannot be read, or is empty."""


def export_from_files(environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Set each `NAME` from the file `NAME_FILE` names (a value set directly wins).

    Returns the names it set."""
    exported = []
    for name in FILE_BACKED:
        path = environ.get(f"{name}_FILE")
        if not path or environ.get(name):
            continue
        try:
            value = Path(path).read_text().strip()
        except OSError as exc:
            raise SecretFileError(f"{name}_FILE={path}: {exc.strerror or exc}") from exc
        if not value:
            raise SecretFileError(f"{name}_FILE={path} is empty")
        environ[name] = value
        exported.append(name)
    return exported

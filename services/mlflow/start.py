"""The tracking server's entrypoint: secrets from files, stores prepared, the server with its
basic-auth app, then the stack's users granted (grant_access.py).

Nothing secret reaches a command line (/proc/*/cmdline is world-readable) or the container's
configured environment (`docker inspect`): the passwords come from files (housing.secret_files),
the store URIs are built here and handed to `mlflow server` in its own environment, and the auth
app's config, which holds its database URI, is written to the container's private /tmp.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import grant_access
import prepare_stores
from health import BASE, GRANTED, server_answers

from housing.secret_files import SecretFileError, export_from_files

AUTH_CONFIG = Path("/tmp/basic_auth.ini")  # noqa: S108 - the container's own tmpfs, mode 0600
ADMIN = "admin"
DEADLINE_S = 120.0
AUTH_CACHE_TTL_S = 60


def database_uri(database: str) -> str:
    user = quote(os.environ.get("POSTGRES_USER", "mlflow"), safe="")
    password = quote(os.environ["POSTGRES_PASSWORD"], safe="")
    return f"postgresql+psycopg2://{user}:{password}@{os.environ['POSTGRES_HOST']}/{database}"


def configure() -> None:
    os.environ["MLFLOW_BACKEND_STORE_URI"] = database_uri(os.environ["POSTGRES_DB"])
    auth_uri = database_uri(os.environ["MLFLOW_AUTH_DB"])
    fd = os.open(AUTH_CONFIG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as ini:
        ini.write(
            "[mlflow]\n"
            "default_permission = NO_PERMISSIONS\n"
            f"database_uri = {auth_uri.replace('%', '%%')}\n"
            f"admin_username = {ADMIN}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            # A password's check against its scrypt hash is slow by design, and every request
            # carries one: a training run's hundreds of calls, each service's polls.
            # MLflow's own cache keeps a good check for this long, per worker (a password
            # changed through the API is dropped at once by the worker that changed it; the
            # other worker may accept the old one until this runs out).
            f"auth_cache_ttl_seconds = {AUTH_CACHE_TTL_S}\n"
        )
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = str(AUTH_CONFIG)
    # The auth app's CSRF key must be the same in every worker and across restarts: derived from
    # the admin's password, so that it is one more secret nobody has to manage.
    admin_password = os.environ["MLFLOW_AUTH_ADMIN_PASSWORD"]
    os.environ.setdefault(
        "MLFLOW_FLASK_SERVER_SECRET_KEY",
        hashlib.sha256(f"mlflow-csrf:{admin_password}".encode()).hexdigest(),
    )


def server_command() -> list[str]:
    return [
        "mlflow",
        "server",
        "--app-name",
        "basic-auth",
        "--serve-artifacts",
        "--artifacts-destination",
        f"s3://{os.environ['MLFLOW_BUCKET']}/artifacts",
        "--host",
        "0.0.0.0",  # noqa: S104 - inside its container, behind compose's networks
        "--port",
        os.environ["MLFLOW_PORT"],
        "--workers",
        os.environ.get("MLFLOW_WORKERS") or "2",
        "--allowed-hosts",
        os.environ["MLFLOW_ALLOWED_HOSTS"],
    ]


def wait_healthy(server: subprocess.Popen) -> None:
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE_S:
        if server.poll() is not None:
            sys.exit(f"mlflow: the server exited with {server.returncode} while starting")
        if server_answers():
            return
        time.sleep(1)
    sys.exit(f"mlflow: the server did not answer /health within {DEADLINE_S:.0f}s")


def main() -> None:
    try:
        export_from_files()
    except SecretFileError as exc:
        sys.exit(f"mlflow: {exc}")
    configure()
    prepare_stores.prepare()
    GRANTED.unlink(missing_ok=True)
    server = subprocess.Popen(server_command())  # noqa: S603 - fixed arguments, no secrets
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: server.send_signal(signum))
    try:
        wait_healthy(server)
        os.environ["MLFLOW_TRACKING_USERNAME"] = ADMIN
        os.environ["MLFLOW_TRACKING_PASSWORD"] = os.environ["MLFLOW_AUTH_ADMIN_PASSWORD"]
        grant_access.grant(BASE)
        GRANTED.touch()
    except BaseException:
        server.terminate()
        server.wait(timeout=30)
        raise
    sys.exit(server.wait())


if __name__ == "__main__":
    main()

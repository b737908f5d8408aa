"""What the prediction log costs the predictor's single-row throughput: three predictors run at
once (log off, SQLite as in `make demo`, PostgreSQL as in the stack) and wrk loads each in turn,
for several rounds; the figure is the medians. Measured minutes apart, one contender after the
other, the machine drifted by more than the log costs.

PostgreSQL runs on the client's core, as if on a host of its own: its work on the rows is the
database's, not the predictor's.
"""

from __future__ import annotations

import os
import statistics
from contextlib import ExitStack
from pathlib import Path

import psutil

from bench.measure import CLIENT_CORE, measure, server, wait_ready
from housing import defaults

ROUNDS = 3
STORES = ("off", "sqlite", "postgresql")


def _pin(pid: int, core: str) -> None:
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        os.sched_setaffinity(proc.pid, {int(core)})


def _postgres_url(stack: ExitStack) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tests.support.services import postgres

    uri = stack.enter_context(postgres())
    admin = create_engine(uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("CREATE DATABASE predictions"))
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    admin.dispose()
    # The postmaster (the backend's parent) and every process it forks from now on.
    _pin(psutil.Process(pid).parent().pid, CLIENT_CORE)
    return make_url(uri).set(database="predictions").render_as_string(hide_password=False)


def measure_log_cost(serve_py: str, predictor_env: dict, body: str, args, work: Path) -> dict:
    from bench.run import free_port

    with ExitStack() as stack:
        urls = {
            "off": "",
            "sqlite": f"sqlite:///{work / 'bench-predictions.db'}",
            "postgresql": _postgres_url(stack),
        }
        servers = {}
        for store in STORES:
            port = free_port()
            env = {
                **predictor_env,
                "PREDICTOR_PORT": str(port),
                "PREDICTOR_METRICS_PORT": str(free_port()),
                "PREDICTION_LOG_URL": urls[store],
            }
            cmd = [serve_py, "-m", "predictor"]
            proc = stack.enter_context(server(cmd, env, work / f"log-{store}.log"))
            base = f"http://{defaults.LOCAL_HOST}:{port}"
            wait_ready(f"{base}/health/ready", timeout_s=180)
            servers[store] = (proc.pid, f"{base}/predict")
        runs: dict[str, list[dict]] = {store: [] for store in STORES}
        for round_ in range(ROUNDS):
            for store in STORES:
                pid, url = servers[store]
                name = f"predictor, log {store} (round {round_ + 1})"
                runs[store].append(measure(name, [pid], url, body, args, {}, own=pid))
    result = {}
    for store in STORES:
        result[store] = {
            "rps": statistics.median(r["rps"] for r in runs[store]),
            "rps_runs": [r["rps"] for r in runs[store]],
            "own_cpu_ms_per_request": statistics.median(
                r["own_cpu_ms_per_request"] for r in runs[store]
            ),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs[store]),
        }
    off = result["off"]["rps"]
    for store in ("sqlite", "postgresql"):
        result[store]["throughput_cost"] = round(1 - result[store]["rps"] / off, 3)
    return result

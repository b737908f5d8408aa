"""Our own services as real processes on loopback ports."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from tests.support.procs import free_port, running, wait_http


@contextmanager
def service(
    module: str,
    env: dict[str, str],
    log: Path,
    ready_path: str = "/health/live",
    port_var: str = "PREDICTOR_PORT",
):
    """`python -m <module>` with `env`; yields its base URL, the process and the URL of its
    metrics (on their own port) once `ready_path` answers."""
    port, metrics_port = free_port(), free_port()
    metrics_var = port_var.replace("_PORT", "_METRICS_PORT")
    full_env = {**env, port_var: str(port), metrics_var: str(metrics_port)}
    with running([sys.executable, "-m", module], log, env=full_env) as proc:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + ready_path, timeout_s=60, proc=proc)
        except Exception as exc:
            raise RuntimeError(f"{module} did not start:\n{log.read_text()[-3000:]}") from exc
        yield url, proc, f"http://127.0.0.1:{metrics_port}/metrics"


def predictor_env(tracking_uri: str, model_name: str, cache_dir: Path, **extra) -> dict:
    """A predictor's environment; its prediction log is a SQLite file beside its cache."""
    log = cache_dir.with_name(f"{cache_dir.name}-predictions.db")
    return {
        "PREDICTION_LOG_URL": f"sqlite:///{log}",
        "MLFLOW_TRACKING_URI": tracking_uri,
        "HOUSING_MODEL_NAME": model_name,
        "PREDICTOR_CACHE_DIR": str(cache_dir),
        "PREDICTOR_POLL_INTERVAL_S": "1",
        **{k: str(v) for k, v in extra.items()},
    }

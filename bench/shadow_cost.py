"""What scoring the challenger in shadow costs a predictor: two predictors run at once, shadow
off and shadow at fraction 1.0 (both logging to SQLite, as in `make demo`), and wrk loads each
in turn for several rounds; the figures are the medians. The shadow's own thread reports its
CPU (`predictor_shadow_cpu_seconds_total`), so that the process's CPU a request splits into
the response path's and the shadow's.

The challenger is the champion's model under another version of a bench-only registered model
(removed after): a shadow is scored whenever its version differs from the answering one, and a
challenger of the same kind costs what this one does.
"""

from __future__ import annotations

import re
import statistics
from contextlib import ExitStack
from pathlib import Path

import httpx
from mlflow import MlflowClient

from bench.measure import measure, server, wait_ready
from housing import defaults
from housing.defaults import MODEL_SHA256_TAG

ROUNDS = 3
MODES = ("off", "shadow")
BENCH_MODEL = "housing-price-bench-shadow"
_CPU = re.compile(r"^predictor_shadow_cpu_seconds_total (\S+)$", re.MULTILINE)


def _bench_model(tracking_url: str, source_name: str, source_version: str) -> None:
    """BENCH_MODEL: v1 champion and v2 challenger, both copies of the source version."""
    client = MlflowClient(tracking_url)
    if client.search_registered_models(f"name = '{BENCH_MODEL}'"):
        client.delete_registered_model(BENCH_MODEL)
    digest = client.get_model_version(source_name, source_version).tags[MODEL_SHA256_TAG]
    for alias in (defaults.CHAMPION_ALIAS, defaults.CHALLENGER_ALIAS):
        copied = client.copy_model_version(f"models:/{source_name}/{source_version}", BENCH_MODEL)
        client.set_model_version_tag(BENCH_MODEL, str(copied.version), MODEL_SHA256_TAG, digest)
        client.set_registered_model_alias(BENCH_MODEL, alias, str(copied.version))


def _shadow_cpu(metrics_url: str) -> float:
    found = _CPU.search(httpx.get(metrics_url, timeout=10).text)
    return float(found.group(1)) if found else 0.0


def measure_shadow_cost(
    serve_py: str, predictor_env: dict, tracking_url: str, model_uri: str, body: str, args,
    work: Path,
) -> dict:  # fmt: skip
    from bench.run import free_port

    _, source_name, source_version = model_uri.split("/")
    _bench_model(tracking_url, source_name, source_version)
    try:
        with ExitStack() as stack:
            servers = {}
            for mode in MODES:
                port, metrics_port = free_port(), free_port()
                env = {
                    **predictor_env,
                    "HOUSING_MODEL_NAME": BENCH_MODEL,
                    "PREDICTOR_CACHE_DIR": str(work / f"shadow-cache-{mode}"),
                    "PREDICTOR_PORT": str(port),
                    "PREDICTOR_METRICS_PORT": str(metrics_port),
                    "PREDICTION_LOG_URL": f"sqlite:///{work / f'shadow-{mode}.db'}",
                    "PREDICTOR_SHADOW_ALIAS": defaults.CHALLENGER_ALIAS if mode == "shadow" else "",
                    "PREDICTOR_SHADOW_FRACTION": "1.0",
                }
                cmd = [serve_py, "-m", "predictor"]
                proc = stack.enter_context(server(cmd, env, work / f"shadow-{mode}.log"))
                base = f"http://{defaults.LOCAL_HOST}:{port}"
                wait_ready(f"{base}/health/ready", timeout_s=180)
                metrics = f"http://{defaults.LOCAL_HOST}:{metrics_port}/metrics"
                servers[mode] = (proc.pid, f"{base}/predict", metrics)
            _wait_shadow_loaded(servers["shadow"][1].replace("/predict", "/model"))
            runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
            for round_ in range(ROUNDS):
                for mode in MODES:
                    pid, url, metrics = servers[mode]
                    before = _shadow_cpu(metrics)
                    name = f"predictor, shadow {mode} (round {round_ + 1})"
                    run = measure(name, [pid], url, body, args, {}, own=pid)
                    # Read as the process's CPU was: what the scorer had left at the end is
                    # scored in the next round's warm-up, counted in neither.
                    run["shadow_cpu_ms_per_request"] = (
                        (_shadow_cpu(metrics) - before) * 1000 / max(run["requests"], 1)
                    )
                    runs[mode].append(run)
    finally:
        MlflowClient(tracking_url).delete_registered_model(BENCH_MODEL)
    result = {}
    for mode in MODES:
        rounds = runs[mode]
        result[mode] = {
            key: round(statistics.median(r[key] for r in rounds), 4)
            for key in (
                "rps",
                "p50_ms",
                "p99_ms",
                "own_cpu_ms_per_request",
                "shadow_cpu_ms_per_request",
            )  # fmt: skip
        }
        result[mode]["rps_runs"] = [r["rps"] for r in rounds]
    off, on = result["off"], result["shadow"]
    response_path = on["own_cpu_ms_per_request"] - on["shadow_cpu_ms_per_request"]
    result["response_path_cpu_ms_per_request"] = round(response_path, 4)
    result["response_path_cpu_cost"] = round(response_path / off["own_cpu_ms_per_request"] - 1, 3)
    result["total_cpu_cost"] = round(
        on["own_cpu_ms_per_request"] / off["own_cpu_ms_per_request"] - 1, 3
    )
    result["throughput_cost"] = round(1 - on["rps"] / off["rps"], 3)
    return result


def _wait_shadow_loaded(model_url: str, timeout_s: float = 180) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while httpx.get(model_url, timeout=10).json().get("shadow") is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the challenger never loaded in shadow")
        time.sleep(0.5)

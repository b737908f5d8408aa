"""`make bench`: the predictor and the gateway against `mlflow models serve`, in one run.

A table of contenders, each measured the same way: its servers start pinned to core 0, wrk (the
load generator) runs on core 1 with the same single-row request after a warm-up. Reported per
contender: requests/s, p50 and p99 latency, CPU ms per request of its own process (the gateway's,
not the predictor's behind it) and of all its processes, RSS, and the ratio to mlflow.

The predictor is measured twice: plain, and with `?interval=0.9` (what an interval costs it);
the predictor and the gateway again with no access log (`*_LOG_SAMPLE=0`: what a JSON line per
request, the default, costs them);
and the predictor and the gateway again at MLflow's /invocations, with the very bodies sent to
`mlflow models serve` (what reading MLflow's shapes costs them).

Also: a 10,000-row batch against mlflow's /invocations and the predictor's /predict (median of
5 after a warm-up request, same client for both, on core 1); the predictor's time to ready from
its cache with the tracking server unreachable; and the gateway with its own transport against
the same gateway with httpx's default one (gateway CPU per request, the A/B that keeps
gateway/transport.py); and, where Debian's caddy is installed, the TLS edge in front of a gateway
(services/edge/Caddyfile over HTTPS: what the edge costs a request); and what the prediction
log costs the predictor (`--only log`; bench/log_cost.py); what a monitoring pass costs on
100,000 logged predictions (`--only monitor`; bench/monitor_cost.py); and what scoring the
challenger in shadow costs the predictor (`--only shadow`; bench/shadow_cost.py).

The predictor, gateway and hello-world run from bench/.venv-serve, synced from uv.lock with only
their extras, as their images are; mlflow runs from the dev venv.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench import hostile
from bench.log_cost import measure_log_cost
from bench.measure import batch_seconds, measure, server, wait_ready
from bench.monitor_cost import measure_monitor_cost
from bench.shadow_cost import measure_shadow_cost
from housing import defaults
from housing.contract import EXAMPLE_RECORD, FEATURES

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVE_VENV = ROOT / "bench/.venv-serve"
KEY = "bench-key-0123456789abcdef"
INTERVAL_LEVEL = 0.9  # the level of the interval contender's requests


@dataclass
class Server:
    name: str
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/health/ready"
    port: int = 0
    tls: bool = False  # HTTPS, with a certificate from its own internal CA (the edge)


@dataclass
class Contender:
    key: str
    name: str
    servers: list[Server]  # started in order; the last one is measured, the others behind it
    path: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    batch_body: str | None = None


def serving_python() -> str:
    """A venv with only the services' extras from uv.lock, as in their images.

    The dev venv also holds mlflow's pyarrow, which pandas imports when it finds it: the
    predictor would carry more memory there than it does when deployed.
    """
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(SERVE_VENV), "UV_COMPILE_BYTECODE": "1"}
    uv = ROOT / ".tools/bin/uv"
    sync = [str(uv), "sync", "--frozen", "--quiet", "--extra", "predictor", "--extra", "gateway"]
    subprocess.run(sync, check=True, env=env, cwd=ROOT)
    return str(SERVE_VENV / "bin/python")


def predictor_settings(tracking: str, model_uri: str, cache: Path) -> dict[str, str]:
    """The predictor's environment in every contender; its prediction log off (the log's cost is
    measured on its own: bench/log_cost.py)."""
    return {
        "MLFLOW_TRACKING_URI": tracking,
        "HOUSING_MODEL_NAME": model_uri.split("/")[1],
        "PREDICTOR_CACHE_DIR": str(cache),
        "PREDICTOR_POLL_INTERVAL_S": "3600",
        "PREDICTION_LOG_URL": "",
    }


def contenders(tracking: str, model_uri: str, cache: Path, serve_py: str, rows: list) -> list:
    mlflow_body = json.dumps({"dataframe_records": [EXAMPLE_RECORD]})
    single = json.dumps(EXAMPLE_RECORD)
    predictor_env = predictor_settings(tracking, model_uri, cache)

    def predictor() -> Server:
        return Server("predictor", [serve_py, "-m", "predictor"], dict(predictor_env))

    def gateway(name: str, cmd: list[str], **extra_env: str) -> list[Server]:
        behind = predictor()
        env = {
            **extra_env,
            "PREDICTION_LOG_URL": f"sqlite:///{cache.parent / 'gateway-feedback.db'}",
            "GATEWAY_API_KEYS": KEY,
            "GATEWAY_RATE_PER_S": "1000000",
            "GATEWAY_RATE_BURST": "1000000",
        }
        front = Server(name, cmd, env)
        return [behind, front]

    def edge() -> list[Server]:
        """The TLS edge as deployed (services/edge/Caddyfile, Debian's Caddy) in front of a
        gateway and its predictor: what HTTPS and one more hop cost a request."""
        caddyfile = ROOT / "services/edge/Caddyfile"
        cmd = ["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"]
        return [*gateway("gateway", [serve_py, "-m", "gateway"]), Server("edge", cmd, tls=True)]

    hello = [serve_py, "-m", "uvicorn", "hello:app", "--app-dir", str(ROOT / "bench")]
    hello += ["--no-access-log", "--loop", "uvloop", "--http", "httptools"]
    mlflow = [str(BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local"]
    key = {"X-API-Key": KEY}
    unlogged = {"PREDICTOR_LOG_SAMPLE": "0"}
    return [
        Contender(
            "mlflow",
            "mlflow models serve",
            [Server("mlflow", [*mlflow, "-h", defaults.LOCAL_HOST], ready_path="/ping")],
            "/invocations",
            mlflow_body,
            batch_body=json.dumps({"dataframe_records": rows}),
        ),
        Contender(
            "predictor",
            "predictor",
            [predictor()],
            "/predict",
            single,
            batch_body=json.dumps({"records": rows}),
        ),
        Contender(
            "predictor_invocations",
            "predictor, MLflow's /invocations",
            [predictor()],
            "/invocations",
            mlflow_body,
            batch_body=json.dumps({"dataframe_records": rows}),
        ),
        Contender(
            "predictor_interval",
            "predictor, ?interval=0.9",
            [predictor()],
            f"/predict?interval={INTERVAL_LEVEL}",
            single,
        ),
        Contender(
            "predictor_unlogged",
            "predictor, no access log (PREDICTOR_LOG_SAMPLE=0)",
            [Server("predictor", [serve_py, "-m", "predictor"], {**predictor_env, **unlogged})],
            "/predict",
            single,
        ),
        Contender(
            "gateway",
            "gateway -> predictor",
            gateway("gateway", [serve_py, "-m", "gateway"]),
            "/predict",
            single,
            key,
        ),
        Contender(
            "gateway_invocations",
            "gateway -> predictor, MLflow's /invocations",
            gateway("gateway", [serve_py, "-m", "gateway"]),
            "/invocations",
            mlflow_body,
            key,
        ),
        Contender(
            "gateway_unlogged",
            "gateway -> predictor, no access log (GATEWAY_LOG_SAMPLE=0)",
            gateway("gateway", [serve_py, "-m", "gateway"], GATEWAY_LOG_SAMPLE="0"),
            "/predict",
            single,
            key,
        ),
        Contender(
            "gateway_httpx",
            "gateway (httpx transport) -> predictor",
            gateway("gateway", [serve_py, str(ROOT / "bench/gateway_httpx.py")]),
            "/predict",
            single,
            key,
        ),
        Contender("hello", "hello-world FastAPI", [Server("hello", hello)], "/predict", single),
    ] + (
        [
            Contender(
                "edge",
                "edge (Caddy, HTTPS) -> gateway -> predictor",
                edge(),
                "/predict",
                single,
                key,
            )
        ]  # fmt: skip
        if shutil.which("caddy")
        else []
    )


def edge_env(port: int, gateway_port: int, work: Path) -> dict[str, str]:
    """The Caddyfile's settings for a run on this machine: its ports, the gateway's address, and
    its state (the internal CA) in `work`."""
    return {
        "SITE_ADDRESS": "localhost",
        "EDGE_HTTPS_PORT": str(port),
        "EDGE_HTTP_PORT": str(free_port()),
        "GATEWAY_NAME": defaults.LOCAL_HOST,
        "GATEWAY_PORT": str(gateway_port),
        "XDG_DATA_HOME": str(work / "edge-data"),
        "XDG_CONFIG_HOME": str(work / "edge-config"),
    }


def run_contender(c: Contender, args, work: Path) -> dict:
    with ExitStack() as stack:
        pids = []
        for s in c.servers:
            s.port = s.port or free_port()
            port_env = {"PREDICTOR_PORT": str(s.port), "GATEWAY_PORT": str(s.port)}
            if s.name == "gateway":
                behind = c.servers[0]
                port_env["PREDICTOR_URLS"] = f"http://{defaults.LOCAL_HOST}:{behind.port}"
            if s.name == "edge":
                port_env = edge_env(s.port, c.servers[-2].port, work)
            cmd = [*s.cmd, "--port", str(s.port)] if s.name in ("mlflow", "hello") else s.cmd
            log = work / f"{c.key}-{s.name}.log"
            proc = stack.enter_context(server(cmd, {**s.env, **port_env}, log))
            base = (
                f"https://localhost:{s.port}" if s.tls else f"http://{defaults.LOCAL_HOST}:{s.port}"
            )
            # The edge's certificate is its own CA's: wrk, like any load tool here, does not check
            # it; the readiness probe does not either (the e2e tests verify it).
            wait_ready(f"{base}{s.ready_path}", timeout_s=180, verify=not s.tls)
            pids.append(proc.pid)
        last = c.servers[-1]
        host = "https://localhost" if last.tls else f"http://{defaults.LOCAL_HOST}"
        url = f"{host}:{last.port}{c.path}"
        result = measure(c.name, pids, url, c.body, args, c.headers, own=pids[-1])
        if c.batch_body:
            result["batch_10k_s"] = batch_seconds(url, c.batch_body)
        if c.key in ("predictor", "gateway"):
            result["hostile"] = hostile.measure(url, pids[-1], c.headers)
        if c.key == "gateway":
            feedback = url.replace("/predict", "/feedback")
            sent = hostile.feedback_bodies()
            result["hostile"] += hostile.measure(feedback, pids[-1], c.headers, sent)
    return result


def ready_from_cache(c: Contender, work: Path) -> float:
    """The predictor's start with the registry unreachable: it serves what its cache holds."""
    s = c.servers[0]
    env = {**s.env, "MLFLOW_TRACKING_URI": f"http://{defaults.LOCAL_HOST}:{free_port()}"}
    env["PREDICTOR_PORT"] = str(free_port())
    started = time.monotonic()
    with server(s.cmd, env, work / "cached.log"):
        wait_ready(f"http://{defaults.LOCAL_HOST}:{env['PREDICTOR_PORT']}/health/ready")
        return round(time.monotonic() - started, 2)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((defaults.LOCAL_HOST, 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", help="comma-separated contender keys (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/bench.json")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})  # this process is the batch client: off the servers' core

    local = os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{ROOT}/mlflow.db")
    name = os.environ.get("HOUSING_MODEL_NAME", defaults.MODEL_NAME)
    from mlflow import MlflowClient

    champion = MlflowClient(local).get_model_version_by_alias(name, defaults.CHAMPION_ALIAS)
    test = pd.read_csv(ROOT / "data/prepared/test.csv")
    rows = json.loads(pd.concat([test] * 3)[list(FEATURES)].head(10_000).to_json(orient="records"))
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    print(
        f"champion: {name} v{champion.version}; servers on core 0, wrk on core 1, "
        f"{args.connections} connections, {args.seconds}s after {args.warmup}s warm-up",
        flush=True,
    )
    results: dict = {"champion": champion.version, "settings": vars(args) | {"out": str(args.out)}}
    # The predictors talk to a tracking server, as in the stack and in `make demo`.
    tracking = Server("tracking", [str(BIN / "mlflow"), "server", "--backend-store-uri", local])
    tracking.port = free_port()
    tracking_cmd = [*tracking.cmd, "--port", str(tracking.port), "--workers", "1"]
    # Without MLflow's job runner: its consumer processes poll and would take CPU from core 0.
    no_jobs = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with server(tracking_cmd, no_jobs, work / "tracking.log", core=None):
        wait_ready(f"http://{defaults.LOCAL_HOST}:{tracking.port}/health")
        tracking_url = f"http://{defaults.LOCAL_HOST}:{tracking.port}"
        model_uri = f"models:/{name}/{champion.version}"
        serve_py = serving_python()
        table = contenders(tracking_url, model_uri, work / "cache", serve_py, rows)
        everything = {c.key for c in table} | {"log", "monitor", "shadow"}
        wanted = set(args.only.split(",")) if args.only else everything
        for c in table:
            if c.key in wanted:
                results[c.key] = run_contender(c, args, work)
        if "predictor" in wanted:
            first = next(c for c in table if c.key == "predictor")
            results["predictor"]["ready_from_cache_s"] = ready_from_cache(first, work)
        if "log" in wanted:
            env = predictor_settings(tracking_url, model_uri, work / "cache")
            body = json.dumps(EXAMPLE_RECORD)
            results["prediction_log"] = measure_log_cost(serve_py, env, body, args, work)
        if "shadow" in wanted:
            env = predictor_settings(tracking_url, model_uri, work / "cache")
            body = json.dumps(EXAMPLE_RECORD)
            results["shadow"] = measure_shadow_cost(
                serve_py, env, tracking_url, model_uri, body, args, work
            )
        if "monitor" in wanted:
            results["monitor_pass"] = measure_monitor_cost(
                tracking_url, champion.run_id, champion.version, ROOT, work
            )
    summarize(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nwritten to {args.out}")
    shutil.rmtree(work, ignore_errors=True)


def summarize(results: dict) -> None:
    base = results.get("mlflow", {}).get("rps")
    for r in results.values():
        if isinstance(r, dict) and "rps" in r and base:
            r["rps_vs_mlflow"] = round(r["rps"] / base, 1)
    if "batch_10k_s" in results.get("predictor", {}) and base:
        p, m = results["predictor"], results["mlflow"]
        p["batch_speedup_vs_mlflow"] = round(m["batch_10k_s"] / p["batch_10k_s"], 1)
    plain_cpu = results.get("predictor", {}).get("own_cpu_ms_per_request")
    if plain_cpu and "predictor_interval" in results:
        extra = results["predictor_interval"]["own_cpu_ms_per_request"] / plain_cpu - 1
        results["interval_cpu_extra"] = round(extra, 3)
    # What an access line for every request costs (the default, *_LOG_SAMPLE=1) against none.
    for service in ("predictor", "gateway"):
        logged, unlogged = results.get(service), results.get(f"{service}_unlogged")
        if logged and unlogged:
            extra = logged["own_cpu_ms_per_request"] / unlogged["own_cpu_ms_per_request"] - 1
            results[f"{service}_log_cpu_extra"] = round(extra, 3)
    lean, plain = results.get("gateway"), results.get("gateway_httpx")
    if lean and plain:
        saved = 1 - lean["own_cpu_ms_per_request"] / plain["own_cpu_ms_per_request"]
        results["transport_cpu_saved"] = round(saved, 3)


def print_table(results: dict) -> None:
    print("\n| server | req/s | × mlflow | p50 ms | p99 ms | CPU ms/req (own) | RSS MB | non-2xx |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results.values():
        if isinstance(r, dict) and "rps" in r:
            print(
                f"| {r['name']} | {r['rps']:.0f} | {r.get('rps_vs_mlflow', '-')} | "
                f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['own_cpu_ms_per_request']:.3f} | "
                f"{r['rss_mb']:.0f} | {r['non_2xx']} |"
            )
    p, m = results.get("predictor", {}), results.get("mlflow", {})
    if "batch_speedup_vs_mlflow" in p:
        print(
            f"\n10,000-row batch: mlflow {m['batch_10k_s']:.3f}s, predictor "
            f"{p['batch_10k_s']:.3f}s ({p['batch_speedup_vs_mlflow']}× faster)"
        )
    if "ready_from_cache_s" in p:
        print(f"predictor ready from its cache, MLflow unreachable: {p['ready_from_cache_s']}s")
    for key in ("predictor", "gateway"):
        for h in results.get(key, {}).get("hostile", []):
            print(
                f"{key}, hostile body ({h['body']}, {h['mb']} MB): {h['status']} in "
                f"{h['cpu_ms']} ms of server CPU, {h['response_bytes']} B answered"
            )
    if "interval_cpu_extra" in results:
        print(
            f"an interval costs the predictor {results['interval_cpu_extra']:+.0%} CPU per request"
        )
    log = results.get("prediction_log")
    if log:
        print(f"\nthe prediction log, {len(log['off']['rps_runs'])} alternating rounds (medians):")
        for store in ("off", "sqlite", "postgresql"):
            r = log[store]
            cost = f", {r['throughput_cost']:.1%} fewer req/s" if "throughput_cost" in r else ""
            runs = " / ".join(f"{x:.0f}" for x in r["rps_runs"])
            print(
                f"  log {store}: {r['rps']:.0f} req/s ({runs}), "
                f"{r['own_cpu_ms_per_request']:.3f} ms CPU/req, p99 {r['p99_ms']:.2f} ms{cost}"
            )
    for service in ("predictor", "gateway"):
        if f"{service}_log_cpu_extra" in results:
            extra = results[f"{service}_log_cpu_extra"]
            print(f"an access line for every request costs the {service} {extra:+.0%} CPU")
    if "transport_cpu_saved" in results:
        g, h = results["gateway"], results["gateway_httpx"]
        print(
            f"gateway CPU per request: {g['own_cpu_ms_per_request']:.3f} ms with its transport, "
            f"{h['own_cpu_ms_per_request']:.3f} ms with httpx's: "
            f"{results['transport_cpu_saved']:.0%} saved"
        )


if __name__ == "__main__":
    main()

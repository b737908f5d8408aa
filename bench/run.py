"""`make bench`: the predictor and the gateway against `mlflow models serve`, in one run.

Each server runs alone, pinned to core 0; wrk (the load generator) runs on core 1. Every server
gets the same single-row request after a warm-up. Reported per server: requests/s, p50 and p99
latency, server CPU ms per request (all processes of the server), RSS, and the ratio to mlflow.

Also: a 10,000-row batch against mlflow's /invocations and the predictor's /predict (median of
5 after a warm-up request, same client for both, on core 1), and the predictor's time to ready
from its cache with the tracking server unreachable.

The predictor, gateway and hello-world run from bench/.venv-serve, which holds only their pinned
extras, as their images do; mlflow runs from the dev venv.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import psutil

from housing.contract import EXAMPLE_RECORD, FEATURES

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVE_VENV = ROOT / "bench/.venv-serve"
SERVER_CORE, CLIENT_CORE = "0", "1"
KEY = "bench-key-0123456789abcdef"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, timeout_s: float = 120) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(url)


@contextmanager
def server(cmd: list[str], env: dict, log: Path):
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **env},
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def serving_python() -> str:
    """A venv with only the services' pinned extras, as in their images.

    The dev venv also holds mlflow's pyarrow, which pandas imports when it finds it: the
    predictor would carry ~36 MB more there than it does when deployed.
    """
    python = SERVE_VENV / "bin/python"
    stamp = SERVE_VENV / "pyproject.sha256"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not (python.exists() and stamp.exists() and stamp.read_text() == want):
        print(f"creating {SERVE_VENV.relative_to(ROOT)} (.[predictor,gateway])", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(SERVE_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[predictor,gateway]"],
            check=True,
        )
        stamp.write_text(want)
    return str(python)


def family(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def rss_mb(procs: list[psutil.Process]) -> float:
    return sum(p.memory_info().rss for p in procs if p.is_running()) / 1e6


def wrk(url: str, body: str, seconds: int, connections: int, headers: dict) -> dict:
    script = Path(tempfile.mkdtemp()) / "post.lua"
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(body)}",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        [
            "taskset",
            "-c",
            CLIENT_CORE,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": total,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99_ms": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def measure(
    name: str,
    pids: list[int],
    url: str,
    body: str,
    args,
    headers=None,
    cpu_of: list[int] | None = None,
) -> dict:
    wrk(url, body, args.warmup, args.connections, headers or {})
    procs = [p for pid in pids for p in family(pid)]
    own = [p for pid in (cpu_of or pids) for p in family(pid)]
    cpu0, own0 = cpu_seconds(procs), cpu_seconds(own)
    result = wrk(url, body, args.seconds, args.connections, headers or {})
    cpu1, own1 = cpu_seconds(procs), cpu_seconds(own)
    result.update(
        name=name,
        cpu_ms_per_request=round((cpu1 - cpu0) * 1000 / max(result["requests"], 1), 3),
        own_cpu_ms_per_request=round((own1 - own0) * 1000 / max(result["requests"], 1), 3),
        rss_mb=round(rss_mb(own), 1),
    )
    print(
        f"  {name}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
        f"p99 {result['p99_ms']:.2f} ms, {result['own_cpu_ms_per_request']:.3f} ms CPU/req, "
        f"{result['rss_mb']:.0f} MB",
        flush=True,
    )
    return result


def batch_seconds(url: str, body: str, repeats: int = 5, headers=None) -> float:
    """Median wall time of one request with `body`, after one untimed request (a warm-up)."""
    content = body.encode()
    headers = {"content-type": "application/json", **(headers or {})}
    times = []
    with httpx.Client(timeout=300) as client:
        for attempt in range(repeats + 1):
            started = time.perf_counter()
            client.post(url, content=content, headers=headers).raise_for_status()
            if attempt:
                times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/bench.json")
    args = parser.parse_args()
    # This process is the batch client: keep it off the server's core, as wrk is.
    os.sched_setaffinity(0, {int(CLIENT_CORE)})

    tracking = os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{ROOT}/mlflow.db")
    serve_py = serving_python()
    name = os.environ.get("HOUSING_MODEL_NAME", "housing-price")
    from mlflow import MlflowClient

    champion = MlflowClient(tracking).get_model_version_by_alias(name, "champion").version
    model_uri = f"models:/{name}/{champion}"
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    single = json.dumps(EXAMPLE_RECORD)
    test = pd.read_csv(ROOT / "data/prepared/test.csv")
    rows = pd.concat([test] * 3)[list(FEATURES)].head(10_000)
    records = json.loads(rows.to_json(orient="records"))
    print(
        f"champion: {name} v{champion}; server on core {SERVER_CORE}, wrk on core "
        f"{CLIENT_CORE}, {args.connections} connections, {args.seconds}s after "
        f"{args.warmup}s warm-up",
        flush=True,
    )
    results: dict = {
        "champion": champion,
        "settings": vars(args) | {"out": str(args.out)},
        "services_venv": f"{SERVE_VENV.relative_to(ROOT)}: pip install -e .[predictor,gateway]",
    }

    # The anchor: mlflow models serve on the same champion version.
    port = free_port()
    cmd = [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    with server(cmd, {"MLFLOW_TRACKING_URI": tracking}, work / "mlflow.log") as proc:
        wait_ready(f"http://127.0.0.1:{port}/ping", timeout_s=180)
        url = f"http://127.0.0.1:{port}/invocations"
        anchor = measure(
            "mlflow models serve",
            [proc.pid],
            url,
            json.dumps({"dataframe_records": [EXAMPLE_RECORD]}),
            args,
        )
        anchor["batch_10k_s"] = batch_seconds(url, json.dumps({"dataframe_records": records}))
    results["mlflow"] = anchor

    # The predictor talks to a tracking server, as in the stack and in `make demo`.
    mlflow_port = free_port()
    mlflow_cmd = [
        str(BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        tracking,
        "--host",
        "127.0.0.1",
        "--port",
        str(mlflow_port),
        "--workers",
        "1",
    ]
    tracking_server = subprocess.Popen(
        mlflow_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    wait_ready(f"http://127.0.0.1:{mlflow_port}/health")
    cache = work / "cache"
    port = free_port()
    env = {
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
        "HOUSING_MODEL_NAME": name,
        "PREDICTOR_CACHE_DIR": str(cache),
        "PREDICTOR_PORT": str(port),
        "PREDICTOR_POLL_INTERVAL_S": "3600",
    }
    with server([serve_py, "-m", "predictor"], env, work / "predictor.log") as proc:
        wait_ready(f"http://127.0.0.1:{port}/health/ready")
        url = f"http://127.0.0.1:{port}/predict"
        predictor = measure("predictor", [proc.pid], url, single, args)
        predictor["batch_10k_s"] = batch_seconds(url, json.dumps({"records": records}))
    results["predictor"] = predictor

    # Ready from the cache, with the tracking server unreachable.
    dead = {**env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"}
    started = time.monotonic()
    with server([serve_py, "-m", "predictor"], dead, work / "cached.log"):
        wait_ready(f"http://127.0.0.1:{port}/health/ready")
        results["predictor"]["ready_from_cache_s"] = round(time.monotonic() - started, 2)

    port = free_port()
    cmd = [
        serve_py,
        "-m",
        "uvicorn",
        "hello:app",
        "--app-dir",
        str(ROOT / "bench"),
        "--port",
        str(port),
        "--no-access-log",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    with server(cmd, {}, work / "hello.log") as proc:
        wait_ready(f"http://127.0.0.1:{port}/health/ready")
        results["hello"] = measure(
            "hello-world FastAPI", [proc.pid], f"http://127.0.0.1:{port}/predict", single, args
        )

    p_port, g_port = free_port(), free_port()
    env["PREDICTOR_PORT"] = str(p_port)
    gw_env = {
        "PREDICTOR_URLS": f"http://127.0.0.1:{p_port}",
        "GATEWAY_API_KEYS": KEY,
        "GATEWAY_PORT": str(g_port),
        "GATEWAY_RATE_PER_S": "1000000",
        "GATEWAY_RATE_BURST": "1000000",
    }
    with (
        server([serve_py, "-m", "predictor"], env, work / "predictor2.log") as pred,
        server([serve_py, "-m", "gateway"], gw_env, work / "gateway.log") as gw,
    ):
        wait_ready(f"http://127.0.0.1:{p_port}/health/ready")
        wait_ready(f"http://127.0.0.1:{g_port}/health/ready")
        results["gateway"] = measure(
            "gateway -> predictor",
            [gw.pid, pred.pid],
            f"http://127.0.0.1:{g_port}/predict",
            single,
            args,
            headers={"X-API-Key": KEY},
            cpu_of=[gw.pid],
        )

    os.killpg(tracking_server.pid, signal.SIGTERM)
    base = anchor["rps"]
    for key in ("predictor", "hello", "gateway"):
        results[key]["rps_vs_mlflow"] = round(results[key]["rps"] / base, 1)
    results["predictor"]["batch_speedup_vs_mlflow"] = round(
        anchor["batch_10k_s"] / predictor["batch_10k_s"], 1
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nwritten to {args.out}")
    shutil.rmtree(work, ignore_errors=True)


def print_table(results: dict) -> None:
    print("\n| server | req/s | × mlflow | p50 ms | p99 ms | CPU ms/req | RSS MB | non-2xx |")
    print("|---|---|---|---|---|---|---|---|")
    for key in ("mlflow", "predictor", "gateway", "hello"):
        r = results[key]
        print(
            f"| {r['name']} | {r['rps']:.0f} | {r.get('rps_vs_mlflow', 1.0)} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['own_cpu_ms_per_request']:.3f} | "
            f"{r['rss_mb']:.0f} | {r['non_2xx']} |"
        )
    p, m = results["predictor"], results["mlflow"]
    print(
        f"\n10,000-row batch: mlflow {m['batch_10k_s']:.2f}s, predictor {p['batch_10k_s']:.2f}s "
        f"({p['batch_speedup_vs_mlflow']}× faster); predictor ready from cache in "
        f"{p['ready_from_cache_s']}s"
    )
    g = results["gateway"]
    print(
        f"gateway: {g['rps_vs_mlflow']}× mlflow's throughput, its own CPU "
        f"{g['own_cpu_ms_per_request']:.3f} ms/request (gateway and predictor share core 0)"
    )


if __name__ == "__main__":
    main()

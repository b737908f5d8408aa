"""How `make bench` measures one server: start it pinned, load it with wrk, count its CPU."""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

SERVER_CORE, CLIENT_CORE = "0", "1"
BIN = Path(sys.executable).parent


def wait_ready(url: str, timeout_s: float = 120, verify: bool = True) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if httpx.get(url, timeout=2, verify=verify).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(url)


@contextmanager
def server(cmd: list[str], env: dict, log: Path, core: str | None = SERVER_CORE):
    pinned = ["taskset", "-c", core, *cmd] if core else cmd
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            pinned,
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
    cmd = ["taskset", "-c", CLIENT_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    out = subprocess.run(
        [*cmd, "--latency", "-s", str(script), url], capture_output=True, text=True, check=True
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99_ms": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def measure(name: str, pids: list[int], url: str, body: str, args, headers, own: int) -> dict:
    """wrk against `url` after a warm-up; CPU of all `pids` and of `own` alone, RSS of `own`."""
    wrk(url, body, args.warmup, args.connections, headers)
    everyone = [p for pid in pids for p in family(pid)]
    mine = family(own)
    all0, own0 = cpu_seconds(everyone), cpu_seconds(mine)
    result = wrk(url, body, args.seconds, args.connections, headers)
    all1, own1 = cpu_seconds(everyone), cpu_seconds(mine)
    n = max(result["requests"], 1)
    result.update(
        name=name,
        cpu_ms_per_request=round((all1 - all0) * 1000 / n, 3),
        own_cpu_ms_per_request=round((own1 - own0) * 1000 / n, 3),
        rss_mb=round(rss_mb(mine), 1),
    )
    print(
        f"  {name}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
        f"p99 {result['p99_ms']:.2f} ms, {result['own_cpu_ms_per_request']:.3f} ms CPU/req, "
        f"{result['rss_mb']:.0f} MB",
        flush=True,
    )
    return result


def batch_seconds(url: str, body: str, repeats: int = 5) -> float:
    """Median wall time of one request with `body`, after one untimed request (a warm-up)."""
    content, headers = body.encode(), {"content-type": "application/json"}
    times = []
    with httpx.Client(timeout=300) as client:
        for attempt in range(repeats + 1):
            started = time.perf_counter()
            client.post(url, content=content, headers=headers).raise_for_status()
            if attempt:
                times.append(time.perf_counter() - started)
    return statistics.median(times)

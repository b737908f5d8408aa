"""Bodies up to the size limit built to cost the server much more than they cost the client, and
what each costs the server: its CPU time (the process and its children) and the response's size.
The target (#13): every one answered within 200 ms of server CPU, with at most 64 KB."""

from __future__ import annotations

import json

import httpx

from bench.measure import cpu_seconds, family
from housing import defaults
from housing.contract import EXAMPLE_RECORD


def _fill(prefix: bytes, item: bytes, suffix: bytes, limit: int) -> bytes:
    count = (limit - len(prefix) - len(suffix)) // (len(item) + 1)
    return prefix + b",".join([item] * count) + suffix


def bodies(limit: int = defaults.MAX_BODY_BYTES) -> dict[str, bytes]:
    keys = []
    size = 2
    while size < limit - 32:
        key = f'"k{len(keys)}":0'.encode()
        keys.append(key)
        size += len(key) + 1
    many_keys = json.dumps({**EXAMPLE_RECORD, **{f"x{i}": 0 for i in range(60)}}).encode()
    return {
        "one object, unknown keys": b"{" + b",".join(keys) + b"}",
        "empty records": _fill(b'{"records": [', b"{}", b"]}", limit),
        "records with 60 unknown keys": _fill(b'{"records": [', many_keys, b"]}", limit),
        "a field holding a list": _fill(b'{"longitude": [', b"1", b"]}", limit),
        "nested arrays": b"[" * (limit // 2) + b"]" * (limit // 2),
    }


def measure(url: str, pid: int, headers: dict | None = None) -> list[dict]:
    procs = family(pid)
    results = []
    with httpx.Client(timeout=120) as client:
        for name, body in bodies().items():
            before = cpu_seconds(procs)
            response = client.post(
                url, content=body, headers={"content-type": "application/json", **(headers or {})}
            )
            results.append(
                {
                    "body": name,
                    "mb": round(len(body) / 1e6, 1),
                    "status": response.status_code,
                    "cpu_ms": round((cpu_seconds(procs) - before) * 1000, 1),
                    "response_bytes": len(response.content),
                }
            )
    return results

"""Bodies up to the size limit built to cost the server much more than they cost the client, and
what each costs the server: its CPU time (the process and its children) and the response's size.
The target (#13): every one answered within 200 ms of server CPU, with at most 64 KB; the gateway's
POST /feedback is held to the same (#27)."""

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


def feedback_bodies(limit: int = defaults.MAX_BODY_BYTES) -> dict[str, bytes]:
    """The same kind for the gateway's POST /feedback: lists past the record limit, unknown keys."""
    item = b'{"request_id": "r1", "index": 0, "actual": 1}'
    prices = b'{"request_id": "r1", "actuals": ['
    return {
        "feedback, one object, unknown keys": bodies(limit)["one object, unknown keys"],
        "feedback, actuals past the limit": _fill(prices, b"1", b"]}", limit),
        "feedback, items past the limit": _fill(b'{"items": [', item, b"]}", limit),
        "feedback, empty items": _fill(b'{"items": [', b"{}", b"]}", limit),
    }


def measure(url: str, pid: int, headers: dict | None = None, sent=None) -> list[dict]:
    """Each of `sent` (name: body; default `bodies()`) posted to `url`, and what it cost."""
    procs = family(pid)
    results = []
    with httpx.Client(timeout=120) as client:
        for name, body in (sent or bodies()).items():
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

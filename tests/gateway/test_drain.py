"""Stopping behind a balancer (housing.web.drain), against a real gateway process: after SIGTERM
it still serves for GATEWAY_DRAIN_S, says it is not ready, hands each kept-alive connection back
after its response, and only then stops; without a drain it stops at once, as before."""

from __future__ import annotations

import http.client
import json
import signal
import time

from tests.gateway.conftest import KEY
from tests.support.apps import service
from tests.support.procs import free_port

DRAIN_S = 2.0


def gateway_env(drain_s: float) -> dict[str, str]:
    return {
        "GATEWAY_API_KEYS": KEY,
        "PREDICTOR_URLS": f"http://127.0.0.1:{free_port()}",  # none: /health/live is enough
        "GATEWAY_DRAIN_S": str(drain_s),
    }


def get(conn: http.client.HTTPConnection, path: str) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response, response.read()


def test_a_stopping_gateway_serves_through_its_drain_and_closes_each_connection_after(
    tmp_path,
):
    with service("gateway", gateway_env(DRAIN_S), tmp_path / "gw.log", port_var="GATEWAY_PORT") as (
        url,
        proc,
        _,
    ):
        port = int(url.rsplit(":", 1)[1])
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        first, _ = get(kept, "/health/live")
        assert first.status == 200 and first.getheader("connection") != "close"

        proc.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        time.sleep(0.3)  # the signal is handled between the server's ticks

        # The kept-alive connection still carries a request, and is closed after its answer.
        during, _ = get(kept, "/health/live")
        assert during.status == 200
        assert during.getheader("connection") == "close"
        # A new connection is still served, and told the server is not ready.
        fresh = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        ready, body = get(fresh, "/health/ready")
        assert (ready.status, json.loads(body)) == (503, {"status": "stopping"})
        assert proc.poll() is None, "stopped before its drain"

        proc.wait(timeout=DRAIN_S + 25)
        elapsed = time.monotonic() - stopped_at
        assert elapsed >= DRAIN_S - 0.2, f"stopped after {elapsed:.1f} s, drain {DRAIN_S} s"


def test_without_a_drain_a_gateway_stops_at_once(tmp_path):
    env = gateway_env(0)
    with service("gateway", env, tmp_path / "gw.log", port_var="GATEWAY_PORT") as (_, proc, __):
        proc.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        proc.wait(timeout=25)
        assert time.monotonic() - stopped_at < 1.5

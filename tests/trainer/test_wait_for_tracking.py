"""The trainer job waits for MLflow (a swarm starts it before MLflow answers), up to its limit."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from housing.settings import TrainingSettings
from housing.tracking.rest import TrackingUnavailable
from tests.support.procs import free_port
from trainer.job import wait_for_tracking


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args):
        pass


def _serve_later(port: int, after_s: float) -> http.server.ThreadingHTTPServer:
    server_box = {}

    def start():
        time.sleep(after_s)
        server_box["server"] = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Health)
        server_box["server"].serve_forever()

    threading.Thread(target=start, daemon=True).start()
    return server_box


def test_waits_until_mlflow_answers(monkeypatch):
    port = free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    box = _serve_later(port, after_s=4)
    started = time.monotonic()
    try:
        wait_for_tracking(TrainingSettings(), wait_s=60)
    finally:
        if "server" in box:
            box["server"].shutdown()
    assert 3.5 <= time.monotonic() - started < 30


def test_gives_up_after_its_limit(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(TrackingUnavailable, match="cannot reach"):
        wait_for_tracking(TrainingSettings(), wait_s=2)
    assert time.monotonic() - started < 15

"""The containers' healthcheck (housing.web.probe): the port each service's settings read, an
answer from a real server on loopback, and none of the settings' imports."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway.settings import GatewaySettings
from housing.monitor.settings import MonitorSettings
from housing.web import probe
from predictor.settings import PredictorSettings
from tests.conftest import ROOT

SERVICES = {"predictor": PredictorSettings, "gateway": GatewaySettings, "monitor": MonitorSettings}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_probe_reads_the_port_the_service_listens_on(service, monkeypatch):
    monkeypatch.setenv("GATEWAY_API_KEYS", "probe-test-key-0123456789abcdef")
    variable = f"{service.upper()}_PORT"
    monkeypatch.delenv(variable, raising=False)
    assert probe.port_of(service) == SERVICES[service]().port
    monkeypatch.setenv(variable, "18123")
    assert probe.port_of(service) == SERVICES[service]().port == 18123


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 - http.server's name
        code = self.status if self.path == "/health/ready" else 404
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_probe_is_healthy_on_200_only(status, healthy):
    handler = type("Answer", (_Health,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert probe.ready(server.server_address[1]) is healthy
    finally:
        server.shutdown()
        server.server_close()


def test_nothing_listening_is_unhealthy_and_exits_1():
    with ThreadingHTTPServer(("127.0.0.1", 0), _Health) as closed:
        port = closed.server_address[1]
    env = {"SERVICE": "predictor", "PREDICTOR_PORT": str(port), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "housing.web.probe"], env=env, timeout=30)
    assert done.returncode == 1


def test_the_probe_imports_no_settings_library():
    """It runs every few seconds in every serving container: pydantic is what made it costly."""
    code = (
        "import sys, housing.web.probe; "
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'fastapi'))))"
    )
    env = {"PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr

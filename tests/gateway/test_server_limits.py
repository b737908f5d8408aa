"""The HTTP server's own limits (housing.web.protocol), against a real gateway process: a head
that never ends, a head or a body sent too slowly, a connection that sends nothing."""

from __future__ import annotations

import http.client
import socket
import time
from pathlib import Path

import pytest

from tests.gateway.conftest import KEY
from tests.support.apps import service
from tests.support.procs import free_port

HEAD_TIMEOUT_S, BODY_TIMEOUT_S = 1.0, 1.0


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    env = {
        "GATEWAY_API_KEYS": KEY,
        "PREDICTOR_URLS": f"http://127.0.0.1:{free_port()}",  # none: the limits come first
        "GATEWAY_HEAD_TIMEOUT_S": str(HEAD_TIMEOUT_S),
        "GATEWAY_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
    }
    log = tmp_path_factory.mktemp("limits") / "gateway.log"
    with service("gateway", env, log, port_var="GATEWAY_PORT") as (url, proc, _):
        yield {"port": int(url.rsplit(":", 1)[1]), "pid": proc.pid}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def answer(sock: socket.socket) -> bytes:
    """What the server sent before it closed the connection."""
    sock.settimeout(5)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def endless_header(port: int, megabytes: int) -> tuple[int, bytes]:
    """Send a header that never ends, MiB by MiB; how much went out before the server hung up."""
    sock = socket.create_connection(("127.0.0.1", port))
    sent = 0
    try:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        # Header lines, never the blank line that ends the head: uvicorn kept every one.
        line = b"X-Filler: " + b"a" * 90 + b"\r\n"
        chunk = line * ((1 << 20) // len(line))
        for _ in range(megabytes):
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent, answer(sock)


def test_a_head_that_never_ends_is_cut_off_and_costs_little(gateway):
    before = rss_mb(gateway["pid"])
    results = [endless_header(gateway["port"], 100) for _ in range(3)]
    after = rss_mb(gateway["pid"])
    for sent, reply in results:
        assert sent < 100 << 20, "the whole 100 MiB went in"
        assert reply.startswith(b"HTTP/1.1 431"), reply[:80]
    print(f"\n3 x 100 MiB unfinished headers: gateway RSS {before:.1f} -> {after:.1f} MB")
    assert after - before < 20


def test_a_head_sent_slowly_gets_408(gateway):
    sock = socket.create_connection(("127.0.0.1", gateway["port"]))
    started = time.monotonic()
    try:
        for byte in b"GET /health/live HTTP/1.1\r\nHost: x\r\n":
            sock.sendall(bytes([byte]))
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert_timed_out(sock, started)


def test_a_connection_that_sends_nothing_is_closed(gateway):
    sock = socket.create_connection(("127.0.0.1", gateway["port"]))
    assert_timed_out(sock, time.monotonic())


def assert_timed_out(sock: socket.socket, started: float) -> None:
    reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:80]
    assert time.monotonic() - started < HEAD_TIMEOUT_S + 3


def test_a_body_that_never_ends_is_dropped(gateway):
    sock = socket.create_connection(("127.0.0.1", gateway["port"]))
    started = time.monotonic()
    sock.sendall(
        b"POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: " + KEY.encode() + b"\r\n"
        b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"records": ['
    )
    answer(sock)  # whatever was said, the connection is closed
    assert time.monotonic() - started < BODY_TIMEOUT_S + 3


def test_a_normal_request_on_a_kept_alive_connection_is_untouched(gateway):
    connection = http.client.HTTPConnection("127.0.0.1", gateway["port"], timeout=5)
    connection.connect()
    first = connection.sock
    for _ in range(3):
        connection.request("GET", "/health/live")
        response = connection.getresponse()
        assert response.status == 200 and response.read() == b'{"status":"alive"}'
        time.sleep(HEAD_TIMEOUT_S + 0.2)  # idle between requests: keep-alive, not the head limit
    assert connection.sock is first  # one connection throughout
    connection.close()

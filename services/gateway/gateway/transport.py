"""A lean HTTP/1.1 keep-alive transport for httpx, for plain-HTTP calls to the predictors.

It earns its place by CPU: `make bench` runs the gateway with it and with httpx's default
transport (httpcore) in the same run and reports the gateway's CPU per request for both.
Measured there on 2026-11-27: 0.463 ms against 2.184 ms, 79 % saved (the bar to keep it is 25 %);
rerun `make bench` for today's figure rather than trusting this one. The gateway only ever sends
small POSTs to a few known hosts over plain HTTP inside the stack, so this does just that: per
host, a pool of idle connections and a cap on open ones; one request at a time per connection;
responses parsed by httptools (the parser uvicorn uses) and capped in size. The httpx.AsyncClient
API, timeouts and exception types stay the same; anything else (https) goes to httpx's own
transport.

A connection is reused only when it is known clean: its last response was complete, the server
allowed keep-alive, and no byte has arrived since. Anything else (a stray byte while idle, an
error, a timeout, a cancelled request) closes it.

A peer that is gone without a word (its node died or lost its network: no FIN, no RST) is told
from a slow one by TCP itself: a live server's kernel acknowledges the request's bytes at once,
however busy the server is. Each connection's TCP_USER_TIMEOUT bounds how long sent bytes may
stay unacknowledged; past it the kernel drops the connection and the request fails as
unreachable (`PeerGone`), to be tried on another replica, instead of waiting out the read timeout
on a connection that will never answer.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections import defaultdict

import httptools
import httpx

from housing.defaults import MAX_BODY_BYTES


class ResponseTooLarge(httpx.RemoteProtocolError):
    """The upstream's response is larger than the transport accepts."""


class PeerGone(httpx.ReadError):
    """The peer did not acknowledge what was sent within the transport's ack timeout."""


class _Connection(asyncio.Protocol):
    """One TCP connection: parses the response to the request in flight, if any."""

    def __init__(self, max_response_bytes: int):
        self.max_response_bytes = max_response_bytes
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.reusable = True  # until a stray byte, an error or a close says otherwise
        self.received = False  # any byte of the response in flight
        self._done: asyncio.Future | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body = bytearray()

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes):
        if self._done is None or self._done.done():
            self.close()  # a byte nobody asked for: the next caller must not read it
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed response: {exc}"))

    def connection_lost(self, exc):
        self.reusable = False
        if isinstance(exc, OSError) and exc.errno == errno.ETIMEDOUT:
            self._fail(PeerGone("sent bytes not acknowledged: the server is gone"))
        else:
            self._fail(ConnectionResetError("server closed the connection"))

    # httptools callbacks
    def on_message_begin(self):
        if self._done is not None and self._done.done():
            self.close()  # a second response to one request: nobody may read it
        self._headers, self._body = [], bytearray()

    def on_header(self, name: bytes, value: bytes):
        self._headers.append((name, value))

    def on_body(self, body: bytes):
        self._body += body
        if len(self._body) > self.max_response_bytes:
            limit = self.max_response_bytes
            self._fail(ResponseTooLarge(f"response larger than {limit} bytes"))

    def on_message_complete(self):
        # Asked here: once the parser has finished the message it reports False.
        self.reusable = self.reusable and self.parser.should_keep_alive()
        if self._done is not None and not self._done.done():
            # Taken now: whatever the same chunk holds after this message cannot leak into it.
            status = self.parser.get_status_code()
            response = httpx.Response(status, headers=self._headers, content=bytes(self._body))
            self._done.set_result(response)

    def _fail(self, exc: Exception):
        self.close()
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc)

    async def exchange(self, payload: bytes, read_timeout: float | None) -> httpx.Response:
        self._done = asyncio.get_running_loop().create_future()
        self.received = False
        self.transport.write(payload)
        async with asyncio.timeout(read_timeout):
            return await self._done

    def close(self):
        self.reusable = False
        if self.transport is not None:
            self.transport.close()


class LeanTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        max_idle_per_host: int = 64,
        max_per_host: int = 256,
        max_response_bytes: int = MAX_BODY_BYTES,
        ack_timeout_s: float | None = None,
    ):
        """`ack_timeout_s`: each connection's TCP_USER_TIMEOUT (None: the kernel's, minutes)."""
        self.ack_timeout_ms = None if ack_timeout_s is None else max(1, round(ack_timeout_s * 1000))
        self.max_idle_per_host = max_idle_per_host
        self.max_per_host = max_per_host
        self.max_response_bytes = max_response_bytes
        self._idle: dict[tuple[str, int], list[_Connection]] = defaultdict(list)
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._fallback = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            return await self._fallback.handle_async_request(request)
        timeout = request.extensions.get("timeout", {})
        key = (request.url.host, request.url.port or 80)
        payload = self._encode(request, await request.aread())
        slots = self._slots.setdefault(key, asyncio.Semaphore(self.max_per_host))
        try:
            await asyncio.wait_for(slots.acquire(), timeout.get("pool"))
        except TimeoutError as exc:
            raise httpx.PoolTimeout(f"{self.max_per_host} connections to {key} busy") from exc
        try:
            return await self._send(key, payload, timeout)
        finally:
            slots.release()

    async def _send(self, key, payload: bytes, timeout: dict) -> httpx.Response:
        idle = self._idle[key]
        while idle:  # a reused connection may have been closed by the server meanwhile
            conn = idle.pop()
            if not conn.reusable:
                continue
            try:
                return await self._exchange(conn, key, payload, timeout)
            except _StaleConnection:
                continue
        conn = await self._connect(key, timeout.get("connect"))
        return await self._exchange(conn, key, payload, timeout, fresh=True)

    async def _connect(self, key, connect_timeout) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self.max_response_bytes), *key),
                timeout=connect_timeout,
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connect to {key[0]}:{key[1]} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {key[0]}:{key[1]}: {exc}") from exc
        if self.ack_timeout_ms is not None:
            sock = conn.transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, self.ack_timeout_ms)
        return conn

    @staticmethod
    def _encode(request: httpx.Request, body: bytes) -> bytes:
        target = request.url.raw_path
        lines = [request.method.encode() + b" " + target + b" HTTP/1.1"]
        for name, value in request.headers.raw:
            if name.lower() not in (b"content-length", b"transfer-encoding", b"connection"):
                lines.append(name + b": " + value)
        lines.append(b"Content-Length: " + str(len(body)).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    async def _exchange(self, conn, key, payload, timeout, fresh=False) -> httpx.Response:
        returned = False
        try:
            response = await conn.exchange(payload, timeout.get("read"))
            returned = True
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"{key[0]}:{key[1]} did not answer in time") from exc
        except PeerGone as exc:
            raise PeerGone(f"{key[0]}:{key[1]}: {exc}") from exc
        except ConnectionResetError as exc:
            if not fresh and not conn.received:  # closed by the server while idle: retry
                raise _StaleConnection from exc
            raise httpx.RemoteProtocolError(f"{key[0]}:{key[1]}: {exc}") from exc
        finally:
            # Cancelled, failed or not keep-alive: never back to the pool.
            if returned and conn.reusable and len(self._idle[key]) < self.max_idle_per_host:
                self._idle[key].append(conn)
            else:
                conn.close()
        return response

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        await self._fallback.aclose()


class _StaleConnection(Exception):
    pass

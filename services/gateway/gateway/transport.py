"""A lean HTTP/1.1 keep-alive transport for httpx, for plain-HTTP calls to the predictors.

httpx's default transport (httpcore) costs about 0.5-1 ms of CPU per request here, more than the
rest of the gateway's work together. The gateway only ever sends small POSTs to a few known
hosts over plain HTTP inside the stack, so this transport does just that: a pool of idle
connections per host, one request at a time per connection, responses parsed by httptools (the
parser uvicorn uses). The httpx.AsyncClient API, timeouts and exception types stay the same;
anything else (https) goes to httpx's own transport.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import httptools
import httpx


class _Response:
    """httptools parser callbacks, collecting one response."""

    def __init__(self):
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.done = False
        self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes):
        self.headers.append((name, value))

    def on_body(self, body: bytes):
        self.body += body

    def on_message_complete(self):
        # Asked here: once the parser has finished the message it reports False.
        self.keep_alive = self.parser.should_keep_alive()
        self.done = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    def close(self):
        self.writer.close()


class LeanTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_idle_per_host: int = 64):
        self.max_idle_per_host = max_idle_per_host
        self._idle: dict[tuple[str, int], list[_Connection]] = defaultdict(list)
        self._fallback = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            return await self._fallback.handle_async_request(request)
        timeout = request.extensions.get("timeout", {})
        key = (request.url.host, request.url.port or 80)
        payload = self._encode(request, await request.aread())
        idle = self._idle[key]
        while idle:  # a reused connection may have been closed by the server meanwhile
            conn = idle.pop()
            try:
                return await self._exchange(conn, key, payload, timeout, reused=True)
            except _StaleConnection:
                continue
        conn = await self._connect(key, timeout.get("connect"))
        return await self._exchange(conn, key, payload, timeout, reused=False)

    async def _connect(self, key, connect_timeout):
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*key), timeout=connect_timeout
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connect to {key[0]}:{key[1]} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {key[0]}:{key[1]}: {exc}") from exc
        return _Connection(reader, writer)

    @staticmethod
    def _encode(request: httpx.Request, body: bytes) -> bytes:
        target = request.url.raw_path
        lines = [request.method.encode() + b" " + target + b" HTTP/1.1"]
        for name, value in request.headers.raw:
            if name.lower() not in (b"content-length", b"transfer-encoding", b"connection"):
                lines.append(name + b": " + value)
        lines.append(b"Content-Length: " + str(len(body)).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    async def _exchange(self, conn, key, payload, timeout, reused: bool) -> httpx.Response:
        response = _Response()
        received = False
        try:
            conn.writer.write(payload)
            read_timeout = timeout.get("read")
            async with asyncio.timeout(read_timeout):
                while not response.done:
                    data = await conn.reader.read(65536)
                    if not data:
                        raise ConnectionResetError("server closed the connection")
                    received = True
                    response.parser.feed_data(data)
        except TimeoutError as exc:
            conn.close()
            raise httpx.ReadTimeout(f"{key[0]}:{key[1]} did not answer in time") from exc
        except (OSError, httptools.HttpParserError) as exc:
            conn.close()
            if reused and not received:
                raise _StaleConnection from exc
            raise httpx.RemoteProtocolError(f"{key[0]}:{key[1]}: {exc}") from exc
        if response.keep_alive and len(self._idle[key]) < self.max_idle_per_host:
            self._idle[key].append(conn)
        else:
            conn.close()
        return httpx.Response(
            response.parser.get_status_code(),
            headers=response.headers,
            content=bytes(response.body),
        )

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        await self._fallback.aclose()


class _StaleConnection(Exception):
    pass

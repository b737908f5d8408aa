"""The gateway's keep-alive transport against a real HTTP/1.1 server on loopback."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from gateway.transport import LeanTransport, ResponseTooLarge

TIMEOUT = {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


class CountingServer:
    """Answers every POST with its body echoed; counts the connections it accepted."""

    def __init__(self, close_after_each: bool = False):
        self.close_after_each = close_after_each
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                close = b"Connection: close\r\n" if self.close_after_each else b""
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + close
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                if self.close_after_each:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _serve(handler: CountingServer):
    server = await asyncio.start_server(handler.handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _post(transport: LeanTransport, port: int, n: int) -> httpx.Response:
    request = httpx.Request(
        "POST",
        f"http://127.0.0.1:{port}/predict",
        content=f'{{"n": {n}}}'.encode(),
        headers={"content-type": "application/json"},
        extensions={"timeout": TIMEOUT},
    )
    return await transport.handle_async_request(request)


def test_sequential_requests_reuse_one_connection():
    async def scenario():
        handler = CountingServer()
        server, port = await _serve(handler)
        transport = LeanTransport()
        answers = [(await _post(transport, port, n)).json()["n"] for n in range(20)]
        await transport.aclose()
        server.close()
        return answers, handler.connections

    answers, connections = asyncio.run(scenario())
    assert answers == list(range(20))
    assert connections == 1


def test_a_server_that_closes_gets_a_new_connection_each_time():
    async def scenario():
        handler = CountingServer(close_after_each=True)
        server, port = await _serve(handler)
        transport = LeanTransport()
        statuses = [(await _post(transport, port, n)).status_code for n in range(5)]
        await transport.aclose()
        server.close()
        return statuses, handler.connections

    statuses, connections = asyncio.run(scenario())
    assert statuses == [200] * 5
    assert connections == 5


def test_an_idle_connection_closed_by_the_server_is_replaced_transparently():
    async def scenario():
        handler = CountingServer()
        server, port = await _serve(handler)
        transport = LeanTransport()
        first = await _post(transport, port, 1)
        for writer in handler.writers:  # the server drops its idle keep-alive connection
            writer.close()
        await asyncio.sleep(0.05)
        second = await _post(transport, port, 2)
        await transport.aclose()
        server.close()
        return first.json(), second.json(), handler.connections

    first, second, connections = asyncio.run(scenario())
    assert (first, second) == ({"n": 1}, {"n": 2})
    assert connections == 2


def test_nothing_listening_is_a_connect_error():
    async def scenario():
        server, port = await _serve(CountingServer())
        server.close()
        await server.wait_closed()
        transport = LeanTransport()
        try:
            await _post(transport, port, 0)
        finally:
            await transport.aclose()

    with pytest.raises(httpx.ConnectError):
        asyncio.run(scenario())


def _answer(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return await reader.readexactly(length)


@pytest.mark.parametrize("gap_s", [0.02, 0.0], ids=["while-idle", "same-packet"])
def test_a_stray_response_is_never_handed_to_anyone(gap_s):
    """The server answers, then sends a second, unasked-for response: while the connection idles,
    or in the same write as the answer."""

    async def handle(reader, writer):
        try:
            while True:
                body = await _read_request(reader)
                stray = _answer(b'{"n": "stray"}')
                if gap_s:
                    writer.write(_answer(body))
                    await writer.drain()
                    await asyncio.sleep(gap_s)
                    writer.write(stray)
                else:
                    writer.write(_answer(body) + stray)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def scenario():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport = LeanTransport()
        first = (await _post(transport, port, 1)).json()
        await asyncio.sleep(0.2)  # the stray bytes arrive while the connection is idle
        second = (await _post(transport, port, 2)).json()
        await transport.aclose()
        server.close()
        return first, second

    assert asyncio.run(scenario()) == ({"n": 1}, {"n": 2})


def test_open_connections_per_host_are_capped():
    open_now, most = 0, 0

    async def handle(reader, writer):
        nonlocal open_now, most
        open_now += 1
        most = max(most, open_now)
        try:
            while True:
                body = await _read_request(reader)
                await asyncio.sleep(0.05)
                writer.write(_answer(body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            open_now -= 1
            writer.close()

    async def scenario():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport = LeanTransport(max_per_host=2)
        answers = await asyncio.gather(*(_post(transport, port, n) for n in range(8)))
        await transport.aclose()
        server.close()
        return [a.json()["n"] for a in answers]

    assert asyncio.run(scenario()) == list(range(8))
    assert most == 2


def _answer_then_watch(answer: bytes | None, closed: asyncio.Event):
    """A handler: read one request, send `answer` (None: never answer), then set `closed` when
    the client ends the connection (EOF, or a reset)."""

    async def handle(reader, writer):
        await _read_request(reader)
        if answer is not None:
            writer.write(answer)
            await writer.drain()
        with contextlib.suppress(ConnectionError):
            await reader.read()
        closed.set()
        writer.close()

    return handle


async def _pooled_once_closed(closed: asyncio.Event, transport: LeanTransport, server) -> int:
    """Once the server has seen the connection end: how many connections the pool still keeps."""
    await asyncio.wait_for(closed.wait(), 2)
    pooled = sum(len(conns) for conns in transport._idle.values())
    await transport.aclose()
    server.close()
    return pooled


def test_a_response_over_the_size_cap_is_refused_and_its_connection_closed():
    async def scenario():
        closed = asyncio.Event()
        handler = _answer_then_watch(_answer(b"x" * 300_000), closed)
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        transport = LeanTransport(max_response_bytes=100_000)
        with pytest.raises(ResponseTooLarge):
            await _post(transport, server.sockets[0].getsockname()[1], 1)
        return await _pooled_once_closed(closed, transport, server)

    assert asyncio.run(scenario()) == 0


def test_a_cancelled_request_closes_its_connection():
    async def scenario():
        # Hold every socket the transport opens, so that only the transport can close it (not
        # the garbage collector finding it abandoned).
        loop, opened = asyncio.get_running_loop(), []
        create_connection = loop.create_connection

        async def keep(*args, **kwargs):
            pair = await create_connection(*args, **kwargs)
            opened.append(pair[0])
            return pair

        loop.create_connection = keep
        closed = asyncio.Event()
        server = await asyncio.start_server(_answer_then_watch(None, closed), "127.0.0.1", 0)
        transport = LeanTransport()
        task = asyncio.create_task(_post(transport, server.sockets[0].getsockname()[1], 1))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(opened) == 1 and opened[0].is_closing()
        return await _pooled_once_closed(closed, transport, server)

    assert asyncio.run(scenario()) == 0

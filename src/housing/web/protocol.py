"""uvicorn's httptools protocol, bounded: the request head has a size cap, and the head and the
body each a deadline.

uvicorn with httptools has none of these: a client can send an endless header (httptools buffers
it whole), or a head or body a byte at a time, and hold memory or a connection for as long as it
likes. In production the TLS edge sets the same kinds of limits; these keep each service bounded
on its own too. Over a limit the connection gets 431 (head too large) or 408 (too slow), and is
closed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from housing.web.drain import draining
from housing.web.errors import PROBLEM_JSON, problem


def bounded_protocol(max_head_bytes: int, head_timeout_s: float, body_timeout_s: float) -> type:
    """An HttpToolsProtocol class with these limits, for uvicorn's `http=`."""
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {
            "max_head_bytes": max_head_bytes,
            "head_timeout_s": head_timeout_s,
            "body_timeout_s": body_timeout_s,
        },
    )


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = 64 * 1024
    head_timeout_s = 10.0
    body_timeout_s = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = False  # between on_message_begin and on_headers_complete
        self._head_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._arm(self.head_timeout_s, "request head")  # also closes a connection that is silent

    def data_received(self, data: bytes) -> None:
        # Counted after parsing, and only for reads that came while a head was already open: a
        # read in which a request begins may also hold the end of the one before (pipelining).
        # So a head that never ends costs at most the limit plus one read.
        counted = self._in_head
        super().data_received(data)
        if counted and self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0
        if self._deadline is None:  # the next request on a kept-alive connection
            self._arm(self.head_timeout_s, "request head")

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm(self.body_timeout_s, "request body")
        super().on_headers_complete()
        if draining() and self.cycle is not None:
            self.cycle.keep_alive = False  # the balancer takes this connection elsewhere

    def on_message_complete(self) -> None:
        self._disarm()  # idle until the next request: uvicorn's keep-alive timeout applies
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self, what: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self._refuse(HTTPStatus.REQUEST_TIMEOUT, f"{what} not received in time")

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        self._disarm()
        self._in_head = False
        if self.cycle is not None and not self.cycle.response_complete:
            # The app has the request: it learns of the disconnect; no second response.
            self.transport.close()
            return
        request_id = uuid.uuid4().hex
        body = json.dumps(problem(status.value, message, request_id)).encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\nx-request-id: %s\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (
                status.value,
                status.phrase.encode(),
                PROBLEM_JSON.encode(),
                request_id.encode(),
                len(body),
                body,
            )
        )
        self.transport.close()

"""Stopping behind a load balancer without failing a request.

A balancer that keeps connections alive (the edge to the gateways, a gateway to the predictors)
may send a request on a pooled connection at the very moment the server closes it; a POST is not
sent twice, so that request fails. For `drain_s` after SIGTERM the server keeps serving, answers
/health/ready with 503, and closes each connection after its next response (`connection: close`):
every kept-alive connection is handed back cleanly, and one left idle is closed by the balancer
itself (its keep-alive timeout is shorter than the drain). Then uvicorn's graceful shutdown. A
second signal stops at once, as without a drain.
"""

from __future__ import annotations

import threading
import time
from types import FrameType

import uvicorn

_draining = threading.Event()


def draining() -> bool:
    return _draining.is_set()


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain_s: float):
        super().__init__(config)
        self.drain_s = drain_s
        self._drain_ends: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.drain_s > 0 and self._drain_ends is None and not self.should_exit:
            self._captured_signals.append(sig)  # re-raised when the server has stopped
            self._drain_ends = time.monotonic() + self.drain_s
            _draining.set()
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._drain_ends is not None and time.monotonic() >= self._drain_ends:
            self.should_exit = True
        return await super().on_tick(counter)

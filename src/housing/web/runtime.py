"""Running a service: uvicorn as every service of ours runs it, and stopping background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import gc


def serve(factory: str, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,  # request counts and latencies are in /metrics
        timeout_graceful_shutdown=20,  # requests in flight finish on SIGTERM
    )


async def cancel(task: asyncio.Task | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def settle_heap() -> None:
    """Collect once, then keep everything alive now out of the cyclic collector's sweeps.

    A loaded model is ~180,000 long-lived objects; every full collection walked them all
    (~110 ms here), and a 10,000-record request allocates enough to trigger one every few
    requests. Call this after the long-lived state changes (startup, a model swap): whatever
    it froze before and is garbage now is collected first.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()

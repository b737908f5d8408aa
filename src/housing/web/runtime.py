"""Running a service: uvicorn as every service of ours runs it, and stopping background tasks."""

from __future__ import annotations

import asyncio
import contextlib


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

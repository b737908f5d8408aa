"""Running a service: uvicorn as every service of ours runs it, and stopping background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys

from housing.secret_files import SecretFileError, export_from_files
from housing.web.server_settings import ServerSettings


def run(factory: str, settings: ServerSettings, argv: list[str]) -> None:
    """A service's `python -m` entry: serve on the port its settings name (its health is probed
    by housing.web.probe, which spares itself the settings)."""
    if argv:
        sys.exit(f"usage: python -m {factory.split('.')[0]}")
    try:
        export_from_files()
    except SecretFileError as exc:
        sys.exit(f"{factory.split('.')[0]}: {exc}")
    serve(factory, settings)


def serve(factory: str, settings: ServerSettings) -> None:
    import uvicorn

    from housing.web import logs
    from housing.web.drain import DrainingServer
    from housing.web.protocol import bounded_protocol

    logs.configure()
    config = uvicorn.Config(
        factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=bounded_protocol(
            settings.max_head_bytes, settings.head_timeout_s, settings.body_timeout_s
        ),
        timeout_keep_alive=settings.keepalive_timeout_s,
        limit_concurrency=settings.limit_concurrency,
        access_log=False,  # ours: housing.web.logs, a JSON line per request (sampled)
        log_config=None,  # uvicorn's own lines go through the JSON handler too
        timeout_graceful_shutdown=20,  # requests in flight finish on SIGTERM (after the drain)
    )
    server = DrainingServer(config, settings.drain_s)
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn.run's exit status when the app did not start


async def cancel(task: asyncio.Task | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def settle_heap() -> None:
    """Collect once, then keep everything alive now out of the cyclic collector's sweeps.

    A loaded model is a great many long-lived objects; every full collection walked them all, and a
    large batch allocates enough to trigger one every few requests. Call this after the long-lived
    state changes (startup, a model swap): whatever it froze before and is garbage now is collected
    first.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()

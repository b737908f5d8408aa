"""A Docker registry for tests: Debian's docker-registry, storing in a temporary folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.procs import free_port, running, wait_http


@contextmanager
def local_registry(work: Path, bind: str = "127.0.0.1") -> Iterator[int]:
    """Serve a registry on `bind`:<a free port> (no TLS, no auth: test networks only); yields
    the port. This machine's engine trusts a loopback registry without TLS."""
    port = free_port()
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'data'}\n"
        f"http:\n  addr: {bind}:{port}\n"
    )
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    with running([binary, "serve", str(config)], work / "registry.log"):
        wait_http(f"http://127.0.0.1:{port}/v2/", timeout_s=30)
        yield port

"""Download the raw CSV, verify its checksum, and write it atomically."""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from housing.files import atomic_path, sha256_of

CHUNK = 1 << 20
MiB = 1 << 20


class FetchError(Exception):
    """The data could not be fetched or did not match its checksum; nothing was written."""


def _open(url: str, timeout: float):
    parsed = urlparse(url)
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        path = Path(parsed.path if parsed.scheme == "file" else url)
        if not path.is_file():
            raise FetchError(f"no such file: {path}")
        return open(path, "rb")
    if parsed.scheme not in ("http", "https"):
        raise FetchError(f"unsupported URL scheme {parsed.scheme!r} in {url}")
    try:
        return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - scheme checked above
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"cannot download {url}: {reason}") from exc


def fetch(
    url: str,
    dest: Path,
    expected_sha256: str,
    timeout: float = 60.0,
    max_bytes: int = 64 * MiB,
    deadline_s: float = 300.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Fetch `url` into `dest`. The file appears only once complete and verified.

    `timeout` bounds each network wait; `deadline_s` the whole download, so that a server
    dripping a byte at a time cannot hold the trainer; `max_bytes` its size, so that a wrong
    URL cannot fill the disk. `progress(received, announced)` is told of each chunk: its bytes,
    and the size the server announced (None when it did not).
    """
    if dest.is_file() and sha256_of(dest) == expected_sha256:
        return dest
    give_up_at = time.monotonic() + deadline_s
    digest = hashlib.sha256()
    size = 0
    with atomic_path(dest, suffix=".part") as tmp:
        with open(tmp, "wb") as out, _open(url, min(timeout, deadline_s)) as src:
            _refuse_announced_size(src, url, max_bytes)
            announced = _expected_size(src)
            # read1 returns what has arrived, so the deadline is checked however slow the source.
            read = getattr(src, "read1", src.read)
            try:
                while chunk := read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(f"{url} is larger than the limit of {max_bytes} bytes")
                    if time.monotonic() > give_up_at:
                        raise FetchError(f"download of {url} took longer than {deadline_s:g} s")
                    digest.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk), announced)
            except (OSError, TimeoutError) as exc:
                raise FetchError(f"download of {url} broke off: {exc}") from exc
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise FetchError(
                f"checksum mismatch for {url}: expected sha256 {expected_sha256}, got {actual}"
            )
    return dest


def fetch_configured(settings, dest: Path, progress=None) -> Path:
    """`fetch` with the URL, checksum and limits of a `housing.settings.TrainingSettings`."""
    return fetch(
        settings.data_url,
        dest,
        settings.data_sha256,
        max_bytes=settings.data_max_bytes,
        deadline_s=settings.data_deadline_s,
        progress=progress,
    )


def _refuse_announced_size(src, url: str, max_bytes: int) -> None:
    announced = getattr(src, "headers", {}).get("Content-Length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        raise FetchError(f"{url} announces {announced} bytes, over the limit of {max_bytes}")


def _expected_size(src) -> int | None:
    """What the download will weigh, for a progress bar: the server's Content-Length, a local
    file's size; None when unknown."""
    headers = getattr(src, "headers", None)
    if headers is None:
        return os.fstat(src.fileno()).st_size
    announced = headers.get("Content-Length", "")
    return int(announced) if announced.isdigit() else None

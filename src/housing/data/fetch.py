"""Download the raw CSV, verify its checksum, and write it atomically."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from housing.files import atomic_path

CHUNK = 1 << 20


class FetchError(Exception):
    """The data could not be fetched or did not match its checksum; nothing was written."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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


def fetch(url: str, dest: Path, expected_sha256: str, timeout: float = 60.0) -> Path:
    """Fetch `url` into `dest`. The file appears only once complete and verified."""
    if dest.is_file() and sha256_of(dest) == expected_sha256:
        return dest
    digest = hashlib.sha256()
    with atomic_path(dest, suffix=".part") as tmp:
        with open(tmp, "wb") as out, _open(url, timeout) as src:
            try:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            except (OSError, TimeoutError) as exc:
                raise FetchError(f"download of {url} broke off: {exc}") from exc
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise FetchError(
                f"checksum mismatch for {url}: expected sha256 {expected_sha256}, got {actual}"
            )
    return dest

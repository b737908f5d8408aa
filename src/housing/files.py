"""Writing files so that a reader never sees half of one, and reading params.yaml's sections."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(dest: Path, suffix: str = ""):
    """Yield a temporary path beside `dest`; it replaces `dest` only if the block succeeds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file 0600; the file it becomes gets the mode any new file would
        # (0644 under the usual umask), or a container's user could not read data/raw.
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_json(dest: Path, payload: dict) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def load_params(path: Path, section: str) -> dict:
    import yaml  # the training side's dependency; the services never read params.yaml

    with open(path) as fh:
        params = yaml.safe_load(fh) or {}
    if section not in params:
        raise ValueError(f"{path} has no '{section}' section")
    return params[section] or {}

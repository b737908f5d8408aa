"""Small file helpers shared by the stages: atomic writes and params loading."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import yaml


def load_params(path: Path, section: str) -> dict:
    with open(path) as fh:
        params = yaml.safe_load(fh) or {}
    if section not in params:
        raise ValueError(f"{path} has no '{section}' section")
    return params[section] or {}


@contextmanager
def atomic_path(dest: Path):
    """Yield a temporary path beside `dest`; it replaces `dest` only if the block succeeds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_json(dest: Path, payload: dict) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")

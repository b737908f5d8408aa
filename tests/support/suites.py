"""The heavier suites (e2e, deploy, swarm) run only when their make target asks for them."""

from __future__ import annotations

import os

import pytest


def skip_unless_enabled(items, variable: str, folder: str, reason: str, keep: tuple = ()) -> None:
    """Skip the tests under tests/<folder>/ (but those whose path names one of `keep`) unless
    the environment sets `variable` to 1."""
    if os.environ.get(variable) == "1":
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        path = str(item.fspath)
        if f"tests/{folder}/" in path and not any(name in path for name in keep):
            item.add_marker(skip)

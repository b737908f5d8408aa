"""The stack's secrets, named once: scripts/secret-files.sh lists them."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def secret_names() -> list[str]:
    listed = subprocess.run(
        [str(ROOT / "scripts/secret-files.sh"), "--names"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()

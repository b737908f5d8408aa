"""The image's healthcheck: exit 0 when the tracking server answers /health and the stack's
users are granted (start.py writes GRANTED then), so that no client starts before its user exists.
"""

import os
import sys
import urllib.request
from pathlib import Path

GRANTED = Path("/tmp/access-granted")  # noqa: S108 - the container's own tmpfs
BASE = f"http://127.0.0.1:{os.environ['MLFLOW_PORT']}"  # set by the image


def healthy() -> bool:
    return GRANTED.exists() and server_answers()


def server_answers() -> bool:
    """The tracking server on MLFLOW_PORT answers /health."""
    url = f"{BASE}/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a fixed local URL
            return response.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(0 if healthy() else 1)

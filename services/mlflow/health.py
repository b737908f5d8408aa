"""The image's healthcheck: exit 0 when the tracking server answers /health and the stack's
users are granted (start.py writes GRANTED then), so that no client starts before its user exists.
"""

import os
import sys
import urllib.request
from pathlib import Path

GRANTED = Path("/tmp/access-granted")  # noqa: S108 - the container's own tmpfs


def healthy() -> bool:
    if not GRANTED.exists():
        return False
    url = f"http://127.0.0.1:{os.environ['MLFLOW_PORT']}/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a fixed local URL
            return response.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(0 if healthy() else 1)

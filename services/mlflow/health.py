"""The image's healthcheck: exit 0 when the tracking server on MLFLOW_PORT answers /health."""

import os
import sys
import urllib.request

url = f"http://127.0.0.1:{os.environ['MLFLOW_PORT']}/health"
try:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a fixed local URL
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)

"""A serving container's healthcheck, `python -m housing.web.probe`: exit 0 when the service the
image names in SERVICE answers 200 on /health/ready, 1 otherwise.

Docker runs it every few seconds in every predictor, gateway and monitor container, for as long
as they run, so it imports the standard library and housing.defaults alone: going through the
service's settings classes (pydantic-settings) cost several times the probe's own CPU at every
run. It reads the port as those classes do: `<SERVICE>_PORT` from the environment, else the
default in housing.defaults (tests/unit/test_probe.py holds the two to each settings class).
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping

from housing import defaults
from housing.defaults import LOCAL_HOST


def port_of(service: str, environ: Mapping[str, str] = os.environ) -> int:
    name = f"{service.upper()}_PORT"
    return int(environ.get(name) or getattr(defaults, name))


def ready(port: int, timeout_s: float = 2.0) -> bool:
    url = f"http://{LOCAL_HOST}:{port}/health/ready"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310
            return response.status == 200
    except (OSError, ValueError):
        return False


def main() -> None:
    sys.exit(0 if ready(port_of(os.environ["SERVICE"])) else 1)


if __name__ == "__main__":
    main()

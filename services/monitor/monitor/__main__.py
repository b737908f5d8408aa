"""`python -m monitor`: serve on the configured host and port (probed by housing.web.probe)."""

import sys

from housing.monitor.settings import MonitorSettings
from housing.web.runtime import run


def main() -> None:
    run("monitor.app:create_app", MonitorSettings(), sys.argv[1:])


if __name__ == "__main__":
    main()

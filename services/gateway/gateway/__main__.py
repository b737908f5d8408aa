"""`python -m gateway`: serve on the configured host and port (probed by housing.web.probe)."""

import sys

from gateway.settings import GatewaySettings
from housing.web.runtime import run


def main() -> None:
    settings = GatewaySettings()  # fails here, with a clear message, when no key is configured
    run("gateway.app:create_app", settings, sys.argv[1:])


if __name__ == "__main__":
    main()

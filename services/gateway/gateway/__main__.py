"""`python -m gateway`: serve with uvicorn on the configured host and port."""

from gateway.settings import GatewaySettings
from housing.web.runtime import serve


def main() -> None:
    settings = GatewaySettings()  # fails here, with a clear message, when no key is configured
    serve("gateway.app:create_app", settings.host, settings.port)


if __name__ == "__main__":
    main()

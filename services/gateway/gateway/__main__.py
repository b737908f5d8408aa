"""`python -m gateway`: serve with uvicorn on the configured host and port."""

import uvicorn

from gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()  # fails here, with a clear message, when no key is configured
    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()

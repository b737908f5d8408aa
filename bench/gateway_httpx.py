"""The gateway with httpx's default transport (httpcore) instead of gateway.transport, for the
A/B in `make bench`. Everything else is the gateway as deployed: same settings, app and server."""

import httpx

from gateway.app import create_app
from gateway.settings import GatewaySettings
from housing.web.runtime import serve


def app():
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    return create_app(GatewaySettings(), transport=httpx.AsyncHTTPTransport(limits=limits))


if __name__ == "__main__":
    serve("gateway_httpx:app", GatewaySettings())

"""The TLS edge (services/edge/Caddyfile), as its clients in the tests meet it."""

from __future__ import annotations

import httpx

from housing.contract import EXAMPLE_RECORD

# Where Caddy keeps the root certificate of its internal CA (a `localhost` site's issuer): clients
# of a stack here trust it, and nothing else.
EDGE_ROOT_CERT = "/data/caddy/pki/authorities/local/root.crt"


def predict(base: str, key: str | None, **client_options) -> httpx.Response:
    """One POST /predict of the example record, as a client of the stack sends it."""
    headers = {"X-API-Key": key} if key else {}
    options = {"timeout": 10, **client_options}
    return httpx.post(f"{base}/predict", json=EXAMPLE_RECORD, headers=headers, **options)

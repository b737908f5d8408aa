"""Who is calling: the request's id, and its API key checked and rate-limited.

`Caller` is a FastAPI Security dependency, so the OpenAPI document declares both ways to send a
key (the X-API-Key header and a bearer token) and "Authorize" in /docs works. It runs before the
handler reads the body: a caller without a key learns nothing more and costs nothing more.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway.auth import AuthError, RateLimited
from housing.web import trace as tracing

# What `Caller` may refuse, for a route's OpenAPI entry.
CALLER_RESPONSES = {
    401: {"description": "Missing or invalid API key"},
    429: {
        "description": (
            "Rate limit exceeded (records a second per key), or too many requests in flight "
            "for this key; see Retry-After"
        )
    },
}
API_KEY = APIKeyHeader(name="X-API-Key", scheme_name="ApiKey", auto_error=False)
BEARER = HTTPBearer(scheme_name="Bearer", auto_error=False, description="The API key as a token")
ANONYMOUS = "anonymous"


async def request_id(request: Request) -> str:
    """The caller's X-Request-ID (a plain token), or a new one: it follows the request on."""
    return tracing.request_id(request)


RequestId = Annotated[str, Depends(request_id)]


async def authorize(
    request: Request,
    trace_id: RequestId,
    api_key: Annotated[str | None, Security(API_KEY)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> str:
    """The caller's key id, after its key is checked and a token taken from its bucket."""
    state = request.app.state
    if state.keys is None:
        return ANONYMOUS
    trace = {"X-Request-ID": trace_id}
    try:
        caller = state.keys.identify(api_key if api_key is not None else _token(bearer))
    except AuthError as exc:
        raise HTTPException(401, str(exc), {**trace, "WWW-Authenticate": "Bearer"}) from None
    try:
        state.limiter.take(caller)
    except RateLimited as exc:
        headers = {**trace, "Retry-After": str(exc.retry_after_s)}
        raise HTTPException(429, "rate limit exceeded; slow down", headers) from None
    return caller


def _token(bearer: HTTPAuthorizationCredentials | None) -> str | None:
    return bearer.credentials.strip() if bearer is not None else None


Caller = Annotated[str, Security(authorize)]

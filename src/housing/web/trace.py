"""The request id a caller may send (X-Request-ID): used only when it is a short plain token."""

from __future__ import annotations

import re
import uuid

from starlette.requests import Request

HEADER = "x-request-id"
# Anything else (non-ASCII, control characters, megabytes) is dropped, never echoed or forwarded.
_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The same, for a JSON schema (ECMA's `$` ends the string; Python's also matches before a final
# newline: Python code checks with `is_token`).
TOKEN_PATTERN = f"^{_TOKEN.pattern}$"


def is_token(value: str) -> bool:
    return _TOKEN.fullmatch(value) is not None


def caller_request_id(request: Request) -> str | None:
    """The caller's X-Request-ID when it is a plain token of at most 128 characters, else None."""
    value = request.headers.get(HEADER)
    return value if value is not None and is_token(value) else None


def request_id(request: Request) -> str:
    """The id the request goes by: the one it was given already, else the caller's X-Request-ID
    (a plain token), else a new one; kept in the request's state, so that whatever answers it
    (a handler, an error body: housing.web.errors) gives the same."""
    state = request.scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = caller_request_id(request) or uuid.uuid4().hex
    return state["request_id"]

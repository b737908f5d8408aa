"""The request id a caller may send (X-Request-ID): used only when it is a short plain token."""

from __future__ import annotations

import re

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

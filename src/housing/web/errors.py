"""Error bodies a person can act on, as RFC 9457 problem details (`application/problem+json`):

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "records[1].households: Input should be greater than 0", "instance": "/predict",
     "request_id": "...", "errors": [{"field": "records[1].households", "record": 1,
     "message": "Input should be greater than 0"}]}

`detail` is the one line to show a person; `errors` names each refused field (and its record in a
batch); `instance` is the request's path and `request_id` the id it goes by in logs and in the
X-Request-ID header. `type` is about:blank: the status says what kind of problem it is.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from housing.web import trace

# A refusal lists at most this many fields: a body with thousands of unknown keys gets a short
# answer, not one as long as itself.
MAX_DETAIL = 20
# Discriminator tags of contract.PredictRequest; they are not fields, so not shown to clients.
_TAGS = {"record", "batch"}


def field_path(loc: tuple | list) -> str:
    parts = [p for p in loc if p != "body" and p not in _TAGS]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def describe(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    detail = []
    for err in errors:
        loc = err.get("loc", ())
        field = field_path(loc)
        index = next((p for p in loc if isinstance(p, int)), None)
        msg = err.get("msg", "invalid value")
        # Unparseable JSON never gets here: housing.web.body answers it with a 400 first.
        if field == "body" and err.get("type") in (
            "model_type",
            "model_attributes_type",
            "dict_type",
        ):
            msg = 'expected a JSON object: one district, or {"records": [...]}'
        entry = {"field": field, "message": msg}
        if index is not None:
            entry["record"] = index
        detail.append(entry)
    return detail


PROBLEM_JSON = "application/problem+json"
# The phrases RFC 9110 renamed, which Python's HTTPStatus has only from 3.13: the same title on
# every Python (and as the edge's own 413 says it).
_RFC9110_PHRASES = {413: "Content Too Large", 422: "Unprocessable Content"}
# The request being answered, for errors made where the request is not at hand (body checks).
_SCOPE: ContextVar[dict | None] = ContextVar("housing_request_scope", default=None)


class RequestScope:
    """Pure ASGI middleware: the request's scope, for the errors made while answering it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        token = _SCOPE.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            _SCOPE.reset(token)


def problem(status: int, detail: str, request_id: str, **extra) -> dict[str, Any]:
    """The members of a problem; `instance` when a request is being answered."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _RFC9110_PHRASES.get(status) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    scope = _SCOPE.get()
    if scope is not None and "path" in scope:
        body["instance"] = scope["path"]
    return {**body, "request_id": request_id, **extra}


def current_request_id() -> str:
    """The id of the request being answered (housing.web.trace), or a new one outside one."""
    scope = _SCOPE.get()
    if scope is None or scope["type"] != "http":
        return uuid.uuid4().hex
    return trace.request_id(Request(scope))


def error_response(status: int, detail: str, headers: dict | None = None, **extra) -> JSONResponse:
    """A problem+json response; `extra` adds members (`errors`, `more_errors`, `error`). Its
    request id is the one `headers` give, else the request's."""
    headers = dict(headers or {})
    given = next((v for name, v in headers.items() if name.lower() == trace.HEADER), None)
    request_id = given or current_request_id()
    if given is None:
        headers[trace.HEADER] = request_id
    body = problem(status, detail, request_id, **extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def lean_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """A validation error's entries without URLs, context or the input (which can be large)."""
    return list(exc.errors(include_url=False, include_context=False, include_input=False))


def validation_response(errors: list[dict[str, Any]], total: int | None = None) -> JSONResponse:
    """422 naming the fields: at most MAX_DETAIL entries, and how many more there were (`total`
    counts them when `errors` holds only the first ones)."""
    total = len(errors) if total is None else total
    entries = describe(errors[:MAX_DETAIL])
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in entries[:5])
    if total > 5:
        summary += f"; and {total - 5} more"
    extra = {"more_errors": total - len(entries)} if total > len(entries) else {}
    return error_response(422, summary, errors=entries, **extra)


def install(app: FastAPI) -> None:
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(list(exc.errors()))

    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


# The error body in the OpenAPI document: every 4xx and 5xx a route declares is this, as
# application/problem+json, unless the route gave that status a model of its own (health's 503).
PROBLEM_SCHEMAS = {
    "Problem": {
        "title": "Problem",
        "description": "RFC 9457 problem details",
        "type": "object",
        "required": ["type", "title", "status", "detail", "request_id"],
        "properties": {
            "type": {"type": "string", "description": "about:blank: the status is the kind"},
            "title": {"type": "string", "description": "The status's phrase"},
            "status": {"type": "integer", "description": "The HTTP status"},
            "detail": {"type": "string", "description": "What went wrong, in one line"},
            "instance": {"type": "string", "description": "The request's path"},
            "request_id": {"type": "string", "description": "As in the X-Request-ID header"},
            "errors": {
                "type": "array",
                "description": "Each refused field (at most 20)",
                "items": {"$ref": "#/components/schemas/ProblemField"},
            },
            "more_errors": {"type": "integer", "description": "Refused fields not listed"},
        },
    },
    "ProblemField": {
        "title": "ProblemField",
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "field": {"type": "string", "description": "Its path, e.g. records[3].households"},
            "record": {"type": "integer", "description": "Its record's index in a batch"},
            "message": {"type": "string"},
        },
    },
}
_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def document(app: FastAPI) -> None:
    """Declare every error response of the app's OpenAPI document as a problem."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        spec = generate()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(PROBLEM_SCHEMAS)
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    if status[0] in "45" and _generic(response):
                        response["content"] = _PROBLEM_CONTENT
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        return spec

    app.openapi = openapi


def _generic(response: dict) -> bool:
    """No model of the route's own: no content, or FastAPI's default 422."""
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    return schema is None or schema.get("$ref") == _FASTAPI_422

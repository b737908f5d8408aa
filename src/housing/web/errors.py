"""Error bodies a person can act on: `{"message": ..., "detail": [...]}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

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
        entry = {"field": field, "message": msg, "type": err.get("type")}
        if index is not None:
            entry["record"] = index
        detail.append(entry)
    return detail


def error_response(status: int, message: str, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status, headers=headers)


def lean_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """A validation error's entries without URLs, context or the input (which can be large)."""
    return list(exc.errors(include_url=False, include_context=False, include_input=False))


def validation_response(errors: list[dict[str, Any]], total: int | None = None) -> JSONResponse:
    """422 naming the fields: at most MAX_DETAIL entries, and how many more there were (`total`
    counts them when `errors` holds only the first ones)."""
    total = len(errors) if total is None else total
    detail = describe(errors[:MAX_DETAIL])
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in detail[:5])
    if total > 5:
        summary += f"; and {total - 5} more"
    extra = {"more_errors": total - len(detail)} if total > len(detail) else {}
    return error_response(422, summary, detail=detail, **extra)


def install(app: FastAPI) -> None:
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(list(exc.errors()))

    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)

"""The /predict body, read from the bytes and checked against the contract and the record limit.

FastAPI's own body handling (a declared body parameter) costs more CPU per request than the
rest of a small prediction; this does the same checks with one `json.loads` and one pydantic
validation, and `document` puts the same schema into the OpenAPI document.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from housing.contract import HousingRecord, PredictRequest, records_of
from housing.web.errors import error_response, validation_response

ADAPTER = TypeAdapter(PredictRequest)
# The refusals read_records (and the BodySizeLimit middleware) give, for a route's OpenAPI entry.
ERROR_RESPONSES = {
    400: {"description": "The body cannot be parsed (not UTF-8 or not JSON)"},
    413: {"description": "Body too large"},
    415: {"description": "The body is not JSON"},
    422: {"description": "A field is invalid, or too many records; the message names it"},
}


class BadBody(Exception):
    """The body was refused; `response` says why (400, 415 or 422)."""

    def __init__(self, response: JSONResponse):
        self.response = response


async def read_records(request: Request, max_records: int) -> list[HousingRecord]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise BadBody(
            error_response(415, "send the body as JSON, with Content-Type: application/json")
        )
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        message = (
            "invalid JSON: nested too deeply"
            if isinstance(exc, RecursionError)
            else (f"invalid JSON: {exc}")
        )
        raise BadBody(
            error_response(400, f"body: {message}", detail=[{"field": "body", "message": message}])
        ) from None
    try:
        records = records_of(ADAPTER.validate_python(data))
    except ValidationError as exc:
        raise BadBody(validation_response(list(exc.errors()))) from None
    if len(records) > max_records:
        message = f"at most {max_records} records per request, got {len(records)}"
        raise BadBody(
            error_response(
                422, f"records: {message}", detail=[{"field": "records", "message": message}]
            )
        )
    return records


def document(app: FastAPI, path: str = "/predict") -> None:
    """Declare the body of POST `path` in the app's OpenAPI document."""
    schema = ADAPTER.json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        spec = generate()
        spec.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
        spec["paths"][path]["post"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
        return spec

    app.openapi = openapi

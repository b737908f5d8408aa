"""The /predict body, read from the bytes and checked against the contract and the record limit.

FastAPI's own body handling (a declared body parameter) costs more CPU per request than the
rest of a small prediction; this reads the bytes itself, and `document` puts the contract's
schema into the OpenAPI document.

A valid body takes a fast road: msgspec decodes and checks it in one pass, into structs built from
the contract's own field list, bounds and categories, several times faster than `json.loads` and
pydantic (the batch figures of `make bench`). It only ever accepts; whatever it refuses goes the
contract's road (`json.loads`, then pydantic), which accepts it or gives the refusal that names the
field. msgspec's checks are no looser than the contract's (tests/unit/test_body.py feeds both the
same bodies), so both roads agree.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
from collections.abc import Iterator
from typing import Annotated, Literal

import msgspec
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from housing.contract import (
    CATEGORICAL,
    CATEGORIES,
    FEATURES,
    INTERVAL_LEVELS,
    NULLABLE,
    NUMERIC_BOUNDS,
    PredictRequest,
    records_of,
)
from housing.web.errors import MAX_DETAIL, error_response, lean_errors, validation_response

ADAPTER = TypeAdapter(PredictRequest)

# `POST /predict?interval=0.9`, read by `read_interval` and documented by `document`.
INTERVAL_PARAMETER = {
    "name": "interval",
    "in": "query",
    "required": False,
    "schema": {"type": "number", "minimum": INTERVAL_LEVELS[0], "maximum": INTERVAL_LEVELS[1]},
    "description": (
        "Add `intervals`: per record, a range that holds the true price with this probability "
        f"({INTERVAL_LEVELS[0]} to {INTERVAL_LEVELS[1]})."
    ),
}
_RECORD_KEYS = frozenset(FEATURES)
# The top-level keys of MLflow's scoring bodies (housing.web.mlflow_body reads them at
# /invocations; /predict points there).
MLFLOW_SHAPES = ("dataframe_split", "dataframe_records", "instances", "inputs")
# The refusals read_records (and the BodySizeLimit middleware) give, for a route's OpenAPI entry.
ERROR_RESPONSES = {
    400: {"description": "The body cannot be parsed (not UTF-8 or not JSON)"},
    413: {"description": "Body too large"},
    415: {"description": "The body is not JSON"},
    422: {"description": "A field is invalid, or too many records; the message names it"},
}


def _fast_record() -> type[msgspec.Struct]:
    fields = []
    for name, (lower, inclusive, upper) in NUMERIC_BOUNDS.items():
        # JSON has no NaN; the upper bound also turns away numbers too large for a float (inf).
        bounds = {
            "ge" if inclusive else "gt": lower,
            "le": sys.float_info.max if upper is None else upper,
        }
        number = Annotated[float, msgspec.Meta(**bounds)]
        fields.append((name, number | None if name in NULLABLE else number))
    fields.append((CATEGORICAL, Literal[CATEGORIES]))
    return msgspec.defstruct(
        "FastRecord", fields, forbid_unknown_fields=True, frozen=True, gc=False
    )


FastRecord = _fast_record()
_FastBatch = msgspec.defstruct(
    "FastBatch",
    [("records", Annotated[list[FastRecord], msgspec.Meta(min_length=1)])],
    forbid_unknown_fields=True,
)
_FAST_DECODERS = (msgspec.json.Decoder(_FastBatch), msgspec.json.Decoder(FastRecord))


def fast_records(raw: bytes) -> list | None:
    """The records of a valid body, or None: then the contract's own check decides."""
    batch, single = _FAST_DECODERS
    try:
        return batch.decode(raw).records
    except msgspec.MsgspecError:
        pass
    try:
        return [single.decode(raw)]
    except msgspec.MsgspecError:
        return None


class BadBody(Exception):
    """The body was refused; `response` says why (400, 415 or 422)."""

    def __init__(self, response: JSONResponse):
        self.response = response


def read_interval(request: Request) -> float | None:
    """The `interval` query parameter, checked here rather than declared to FastAPI, whose
    parameter handling costs every request, asked or not (`make bench` measures the
    predictor with and without it)."""
    raw = request.query_params.get("interval")
    if raw is None:
        return None
    low, high = INTERVAL_LEVELS
    try:
        level = float(raw)
    except ValueError:
        level = math.nan
    if not low <= level <= high:  # NaN too
        message = f"Input should be a number from {low} to {high}"
        error = {"loc": ("query", "interval"), "msg": message, "type": "interval_level"}
        raise BadBody(validation_response([error]))
    return level


def require_json(request: Request) -> None:
    """BadBody (415) unless the request says its body is JSON."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise BadBody(
            error_response(415, "send the body as JSON, with Content-Type: application/json")
        )


async def read_records(request: Request, max_records: int) -> list:
    """The checked records: `FastRecord`s or `HousingRecord`s, both with the contract's fields."""
    require_json(request)
    return records_from(await request.body(), max_records)


def records_from(raw: bytes, max_records: int) -> list:
    """The checked records of a JSON body: the fast road, else the contract's."""
    records = fast_records(raw)
    if records is None:
        records = checked_records(raw, max_records)
    if len(records) > max_records:
        raise too_many(len(records), max_records)
    return records


def refusal(status: int, field: str, message: str, headline: str = "", **entry) -> BadBody:
    """A refusal about one field, its message "<field>: <headline, else message>"."""
    errors = [{"field": field, "message": message, **entry}]
    return BadBody(error_response(status, f"{field}: {headline or message}", errors=errors))


def too_many(count: int, max_records: int) -> BadBody:
    """The refusal of `count` records where at most `max_records` are taken."""
    return refusal(422, "records", f"at most {max_records} records per request, got {count}")


def checked_records(raw: bytes, max_records: int) -> list:
    """The contract's check (pydantic): the records, or BadBody with the refusal.

    A body with more fields or values than `max_records` records can hold is refused before it is
    parsed into Python objects; the record count is checked straight after parsing, before any
    record is validated."""
    if max(raw.count(b":"), raw.count(b",")) > _most_separators(max_records):
        raise _oversized(raw, max_records)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise refusal(400, "body", f"invalid JSON: {reason}") from None
    records = data.get("records") if isinstance(data, dict) else None
    if isinstance(data, dict) and records is None:
        shape = next((key for key in MLFLOW_SHAPES if key in data), None)
        if shape is not None:
            message = "this is MLflow's scoring format: send it to POST /invocations"
            raise refusal(422, shape, message)
    if isinstance(records, list) and len(records) > max_records:
        raise too_many(len(records), max_records)
    _refuse_many_unknown_keys(data)
    try:
        return records_of(ADAPTER.validate_python(data))
    except ValidationError as exc:
        raise BadBody(validation_response(lean_errors(exc))) from None


def _most_separators(max_records: int) -> int:
    """A valid body holds one ':' per field and fewer ',' than fields and records together; a
    ':' or ',' inside a string only makes a body longer, never valid (no value holds one)."""
    return max_records * (len(FEATURES) + 1) + MAX_DETAIL + 1


# Decoders that look at a body's shape without building it: the records as raw slices, and every
# object's field names (values kept raw) with unknown names refused at the first one.
_Envelope = msgspec.defstruct("Envelope", [("records", list[msgspec.Raw])])
_RecordKeys = msgspec.defstruct(
    "RecordKeys",
    [(name, msgspec.Raw, msgspec.Raw(b"null")) for name in FEATURES],
    forbid_unknown_fields=True,
)
_BatchKeys = msgspec.defstruct(
    "BatchKeys", [("records", list[_RecordKeys])], forbid_unknown_fields=True
)
# msgspec's refusal of an unknown field: its name, and where the object holding it stands.
UNKNOWN_FIELD = re.compile(r"unknown field `(.{0,200}?)`(?: - at `\$(.*)`)?")


def _oversized(raw: bytes, max_records: int) -> BadBody:
    """The refusal of a body that holds more than `max_records` records can: parsing it with
    json.loads and pydantic would cost the server far more than sending it cost the client."""
    objects = raw.count(b"{")  # a valid body's '{' open its records and the envelope only
    if objects > max_records + 1:
        message = f"at most {max_records} records per request; the body holds {objects} objects"
        return refusal(422, "records", message)
    try:
        records = msgspec.json.decode(raw, type=_Envelope).records
    except msgspec.ValidationError:  # (a DecodeError too: it comes first)
        records = None  # not {"records": [...]}: one district, or something else
    except msgspec.DecodeError as exc:
        return refusal(400, "body", f"invalid JSON: {exc}")
    if records is not None and len(records) > max_records:
        return too_many(len(records), max_records)
    field = _first_unknown_field(raw, _RecordKeys if records is None else _BatchKeys)
    message = f"more fields or values than {max_records} records hold"
    if field is None:
        return refusal(422, "body", message)
    return refusal(
        422,
        field,
        "Extra inputs are not permitted",
        headline=f"not a field; the body holds {message}",
        type="extra_forbidden",
    )


def _first_unknown_field(raw: bytes, shape: type[msgspec.Struct]) -> str | None:
    """The path of the body's first unknown field (values are not parsed), if it has one."""
    try:
        msgspec.json.decode(raw, type=shape)
    except msgspec.MsgspecError as exc:
        found = UNKNOWN_FIELD.search(str(exc))
        if found:
            name, at = found.group(1), (found.group(2) or "").lstrip(".")
            return f"{at}.{name}" if at else name
    return None


def _refuse_many_unknown_keys(data) -> None:
    """More unknown keys than a refusal lists are refused here: pydantic would build one error
    per key (seconds of CPU for a body of a few MB), to report only the first MAX_DETAIL."""
    if not isinstance(data, dict):
        return
    records = data.get("records")
    envelope = {"records"} if isinstance(records, list) else _RECORD_KEYS
    extra = [(key,) for key in itertools.islice(_unknown(data, envelope), MAX_DETAIL)]
    count = len(data) - len(data.keys() & envelope)
    for index, record in enumerate(records if isinstance(records, list) else ()):
        if isinstance(record, dict) and len(record) > len(_RECORD_KEYS):
            count += len(record) - len(record.keys() & _RECORD_KEYS)
            unknown = itertools.islice(_unknown(record, _RECORD_KEYS), MAX_DETAIL)
            extra += [("records", index, key) for key in unknown]
    if count > MAX_DETAIL:
        errors = [
            {"loc": loc, "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
            for loc in extra[:MAX_DETAIL]
        ]
        raise BadBody(validation_response(errors, total=count))


def _unknown(mapping: dict, known) -> Iterator[str]:
    """The keys of `mapping` not in `known`, in the body's order."""
    return (key for key in mapping if key not in known)


def document(app: FastAPI, path: str = "/predict") -> None:
    """Declare the body of POST `path` (the contract's records), and its `interval` parameter,
    in the app's OpenAPI document."""
    schema = ADAPTER.json_schema(ref_template=REF_TEMPLATE)
    declare(app, path, schema, schema.pop("$defs", {}), [INTERVAL_PARAMETER])


REF_TEMPLATE = "#/components/schemas/{model}"


def declare(
    app: FastAPI, path: str, schema: dict, definitions: dict, parameters: list | None = None
) -> None:
    """Declare the JSON body (`schema`, its `$ref`s in `definitions`) of a POST route that reads
    its body by hand, so that OpenAPI clients and fuzzers know what it takes."""
    declare_body(app, path, {"application/json": {"schema": schema}}, definitions, parameters)


def declare_body(
    app: FastAPI,
    path: str,
    content: dict,
    definitions: dict | None = None,
    parameters: list | None = None,
) -> None:
    """Declare the body of POST `path` by media type (`content`, OpenAPI's), for a route that
    reads its body by hand."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        spec = generate()
        spec.setdefault("components", {}).setdefault("schemas", {}).update(definitions or {})
        spec["paths"][path]["post"]["requestBody"] = {"required": True, "content": content}
        spec["paths"][path]["post"].setdefault("parameters", []).extend(parameters or [])
        return spec

    app.openapi = openapi


def json_with_nan(raw: bytes, error: msgspec.DecodeError):
    """A body that msgspec refused (`error`), read again if it holds NaN or Infinity: MLflow's
    and Triton's clients write a missing value as NaN, which JSON has not. NaN is read as null
    (then the contract's own rule for a missing value applies), Infinity as a word the
    contract's check names as not a number. Anything else: the 400 for `error`."""
    if b"NaN" not in raw and b"Infinity" not in raw:
        raise refusal(400, "body", f"invalid JSON: {error}") from None
    try:
        # Infinity stays a word, which the contract's check then names as not a number.
        return json.loads(raw, parse_constant=lambda name: None if name == "NaN" else name)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise refusal(400, "body", f"invalid JSON: {error}") from None

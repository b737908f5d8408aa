"""POST /invocations: the bodies `mlflow models serve` takes, read into this API's own records.

MLflow's scoring protocol sends a table in one of four JSON shapes, or as CSV:

    {"dataframe_split": {"columns": [...], "data": [[...], ...]}}   (pandas' orient="split")
    {"dataframe_records": [{...}, ...]}                             (orient="records")
    {"instances": [{...}, ...]} or {"inputs": [{...}, ...]}         (rows)
    {"instances": {"col": [...], ...}} or {"inputs": {...}}          (columns)
    Content-Type: text/csv, a header row then one row per district

Each becomes `{"records": [...]}`, which then takes /predict's own road (housing.web.body's
records_from): the same checks, the same refusals naming the field and the record, the same
record limit. A table
with more rows than the limit is refused before its rows are turned into records.
"""

from __future__ import annotations

import csv
import io
import math

import msgspec
from fastapi import FastAPI, Request

from housing.contract import CATEGORICAL, FEATURES
from housing.web.body import (
    ADAPTER,
    REF_TEMPLATE,
    declare_body,
    json_with_nan,
    refusal,
    too_many,
)
from housing.web.body import MLFLOW_SHAPES as SHAPES

CSV = "text/csv"
JSON = "application/json"
_encode = msgspec.json.Encoder().encode


async def read_table(request: Request, max_records: int) -> bytes:
    """An MLflow scoring body (JSON or CSV) as /predict's `{"records": [...]}`, not yet checked
    (housing.web.body.records_from checks it)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return as_records(media_type, await request.body(), max_records)


def as_records(media_type: str, raw: bytes, max_records: int) -> bytes:
    """`raw`, a table of media type `media_type`, as `{"records": [...]}` (BadBody if it is not
    one of MLflow's shapes, or holds more than `max_records` rows)."""
    if media_type == CSV:
        rows = _csv_rows(raw, max_records)
    elif media_type == JSON:
        rows = _json_rows(raw, max_records)
    else:
        raise refusal(
            415, "body", f"send MLflow's JSON ({JSON}) or CSV ({CSV}), not {media_type or 'none'}"
        )
    return _encode({"records": rows})


def _json_rows(raw: bytes, max_records: int) -> list:
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        data = json_with_nan(raw, exc)
    if not isinstance(data, dict):
        raise refusal(422, "body", f"expected a JSON object with one of {', '.join(SHAPES)}")
    given = [key for key in SHAPES if key in data]
    extra = [key for key in data if key not in SHAPES and key != "params"]
    if len(given) != 1 or extra:
        found = ", ".join(given + extra) or "none of them"
        raise refusal(422, "body", f"expected exactly one of {', '.join(SHAPES)}; got {found}")
    if data.get("params"):
        raise refusal(422, "params", "this model takes no parameters")
    shape = given[0]
    table = data[shape]
    if shape == "dataframe_split":
        return _split_rows(table, max_records)
    if isinstance(table, dict) and shape != "dataframe_records":
        return _column_rows(shape, table, max_records)
    if not isinstance(table, list):
        raise refusal(422, shape, "expected a list of records (objects)")
    if len(table) > max_records:
        raise too_many(len(table), max_records)
    if not all(isinstance(row, dict) for row in table):
        index = next(i for i, row in enumerate(table) if not isinstance(row, dict))
        raise refusal(422, f"{shape}[{index}]", "expected a record: an object of named fields")
    return table


def _split_rows(table, max_records: int) -> list:
    if not isinstance(table, dict) or not isinstance(table.get("columns"), list):
        raise refusal(422, "dataframe_split.columns", "expected the list of column names")
    columns, data = table["columns"], table.get("data")
    if not isinstance(data, list):
        raise refusal(422, "dataframe_split.data", "expected a list of rows")
    if len(data) > max_records:
        raise too_many(len(data), max_records)
    _check_columns("dataframe_split.columns", columns)
    for index, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            message = f"expected a row of {len(columns)} values, one per column"
            raise refusal(422, f"dataframe_split.data[{index}]", message)
    return [dict(zip(columns, row, strict=True)) for row in data]


def _column_rows(shape: str, table: dict, max_records: int) -> list:
    _check_columns(shape, list(table))
    lengths = {len(v) if isinstance(v, list) else -1 for v in table.values()}
    if len(lengths) != 1 or -1 in lengths:
        raise refusal(422, shape, "expected one list of values per column, all of one length")
    (count,) = lengths
    if count > max_records:
        raise too_many(count, max_records)
    return [dict(zip(table, values, strict=True)) for values in zip(*table.values(), strict=True)]


def _check_columns(where: str, columns: list) -> None:
    """Names only, each once: a table whose columns repeat or are not strings has no records."""
    if not all(isinstance(c, str) for c in columns) or len(set(columns)) != len(columns):
        raise refusal(422, where, "expected distinct column names (strings)")


def _csv_rows(raw: bytes, max_records: int) -> list:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refusal(400, "body", "the CSV is not UTF-8") from None
    # A valid table has at most one line per record and its header: counted before parsing.
    if text.count("\n") > max_records + 1:
        raise too_many(text.rstrip("\n").count("\n"), max_records)
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise refusal(400, "body", f"invalid CSV: {exc}") from None
    if not rows:
        raise refusal(422, "body", "the CSV is empty: a header row, then one row per district")
    header, body = rows[0], [row for row in rows[1:] if row]
    _check_columns("header", header)
    for index, row in enumerate(body):
        if len(row) != len(header):
            message = f"expected {len(header)} values, one per column, got {len(row)}"
            raise refusal(422, f"row[{index}]", message)
    return [{name: _cell(name, value) for name, value in zip(header, row, strict=True)}
            for row in body]  # fmt: skip


def _cell(column: str, value: str):
    """A CSV cell as JSON would carry it: empty is null, a number is a number, the category a
    string; anything else stays a string, which the contract's check then names."""
    if value == "":
        return None
    if column == CATEGORICAL or column not in FEATURES:
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value  # "nan", "inf": not a number here


def document(app: FastAPI, path: str = "/invocations") -> None:
    """Declare the bodies POST `path` takes (MLflow's shapes, and CSV) in the app's OpenAPI
    document: the route reads its body by hand. A row is the contract's record (the schema
    /predict declares); what JSON Schema cannot say (a row as long as the column list, columns
    of one length) the route checks itself."""
    fields = ADAPTER.json_schema(ref_template=REF_TEMPLATE)["$defs"]["HousingRecord"]["properties"]
    row = {"$ref": REF_TEMPLATE.format(model="HousingRecord")}
    rows = {"type": "array", "items": row, "minItems": 1}
    columns = {
        "type": "object",
        "description": "One list of values per column, all of one length",
        "properties": {name: {"type": "array", "items": fields[name]} for name in FEATURES},
        "required": list(FEATURES),
        "additionalProperties": False,
    }
    split = {
        "type": "object",
        "required": ["columns", "data"],
        "properties": {
            "columns": {
                "type": "array",
                "items": {"type": "string", "enum": list(FEATURES)},
                "uniqueItems": True,
            },
            "data": {"type": "array", "items": {"type": "array"}, "minItems": 1},
            "index": {"type": "array"},
        },
        "additionalProperties": False,
    }
    shapes = {
        "dataframe_split": split,
        "dataframe_records": rows,
        "instances": {"oneOf": [rows, columns]},
        "inputs": {"oneOf": [rows, columns]},
    }
    schema = {
        "oneOf": [
            {
                "type": "object",
                "required": [key],
                "properties": {key: shape, "params": {"type": "object", "maxProperties": 0}},
                "additionalProperties": False,
            }
            for key, shape in shapes.items()
        ]
    }
    declare_body(
        app,
        path,
        {
            JSON: {"schema": schema},
            CSV: {"schema": {"type": "string", "description": "A header row, then rows"}},
        },
    )

"""The Open Inference Protocol (KServe v2, as Triton and MLServer speak it) for this model:
its metadata, and an infer request read into /predict's `{"records": [...]}`.

A request holds one input tensor per field, all of one length (columnar):

    {"id": "...", "inputs": [{"name": "longitude", "datatype": "FP64", "shape": [2],
                              "data": [-122.23, -118.4]}, ...,
                             {"name": "ocean_proximity", "datatype": "BYTES", "shape": [2],
                              "data": ["NEAR BAY", "INLAND"]}]}

Numbers may come as any numeric datatype, the category as BYTES (strings); shape [n] or [n, 1];
`data` flat or nested row-major. The answer has one output, `predictions` (FP64, shape [n]).
Only JSON tensors are read (no binary extension: a client sends `binary_data=False`), and the
answer is JSON whatever `binary_data_output` asks; other parameters are hints, ignored. A refusal
carries `error`, where v2 clients look for it.
"""

from __future__ import annotations

import msgspec

from housing.contract import CATEGORICAL, FEATURES
from housing.web.body import BadBody, declare_body, json_with_nan, refusal, too_many

OUTPUT = "predictions"
NUMERIC_TYPES = frozenset(
    {"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16",
     "FP32", "FP64"}
)  # fmt: skip
_encode = msgspec.json.Encoder().encode


class _Tensor(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    shape: list[int]
    datatype: str
    data: list
    parameters: dict | None = None


class _Output(msgspec.Struct):
    name: str
    parameters: dict | None = None


class InferRequest(msgspec.Struct, forbid_unknown_fields=True):
    inputs: list[_Tensor]
    id: str | None = None
    parameters: dict | None = None
    outputs: list[_Output] | None = None


_decode = msgspec.json.Decoder(InferRequest).decode


def metadata(name: str) -> dict:
    """The model's metadata: one input per field (FP64 numbers, BYTES for the category; -1: any
    number of rows), and its one output. No version: the one serving may change at any request,
    and each infer answer names its own."""
    inputs = [
        {"name": f, "datatype": "BYTES" if f == CATEGORICAL else "FP64", "shape": [-1]}
        for f in FEATURES
    ]
    return {
        "name": name,
        "versions": [],
        "platform": "housing-mlops",
        "inputs": inputs,
        "outputs": [{"name": OUTPUT, "datatype": "FP64", "shape": [-1]}],
    }


def read_infer(raw: bytes, max_records: int) -> tuple[bytes, str | None]:
    """An infer request as /predict's `{"records": [...]}` (not yet checked: records_from does
    that), and the request's id. BadBody names the tensor that is wrong."""
    try:
        request = _decode(raw)
    except msgspec.ValidationError as exc:
        raise refusal(422, "body", f"not an inference request: {exc}") from None
    except msgspec.DecodeError as exc:  # NaN (a missing value) from a client, perhaps
        try:
            request = msgspec.convert(json_with_nan(raw, exc), InferRequest)
        except msgspec.ValidationError as invalid:
            raise refusal(422, "body", f"not an inference request: {invalid}") from None
    for output in request.outputs or []:
        if output.name != OUTPUT:
            raise refusal(
                422, "outputs", f"the model's one output is {OUTPUT!r}, not {output.name!r}"
            )
    names = [t.name for t in request.inputs]
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise refusal(
            422, f"inputs.{unknown[0]}", f"not an input; the inputs are {', '.join(FEATURES)}"
        )
    missing = [f for f in FEATURES if f not in names]
    if missing or len(names) != len(set(names)):
        which = missing[0] if missing else next(n for n in names if names.count(n) > 1)
        raise refusal(422, f"inputs.{which}", "every input once: " + ", ".join(FEATURES))
    columns = {t.name: _column(t, max_records) for t in request.inputs}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise refusal(422, "inputs", "every input has the same number of rows")
    rows = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    return _encode({"records": rows}), request.id


def _column(tensor: _Tensor, max_records: int) -> list:
    where = f"inputs.{tensor.name}"
    if tensor.shape and len(tensor.shape) <= 2 and all(d >= 0 for d in tensor.shape):
        rows = tensor.shape[0]
        width = tensor.shape[1] if len(tensor.shape) == 2 else 1
    else:
        raise refusal(422, f"{where}.shape", "expected [rows] or [rows, 1]")
    if width != 1:
        raise refusal(422, f"{where}.shape", "one value per row: [rows] or [rows, 1]")
    if rows > max_records:
        raise too_many(rows, max_records)
    data = tensor.data
    if data and all(isinstance(v, list) for v in data):  # row-major nesting: [[v], [v], ...]
        data = [v for row in data for v in row]
    if len(data) != rows:
        raise refusal(
            422, f"{where}.data", f"the shape says {rows} values, the data holds {len(data)}"
        )
    if tensor.name == CATEGORICAL:
        if tensor.datatype != "BYTES":
            raise refusal(422, f"{where}.datatype", "expected BYTES (strings)")
        return data
    if tensor.datatype not in NUMERIC_TYPES:
        raise refusal(422, f"{where}.datatype", "expected a numeric datatype, e.g. FP64")
    return data


def infer_response(name: str, version: str, request_id: str | None, prices: list) -> bytes:
    body = {
        "model_name": name,
        "model_version": version,
        "outputs": [{"name": OUTPUT, "datatype": "FP64", "shape": [len(prices)], "data": prices}],
    }
    if request_id is not None:
        body["id"] = request_id
    return _encode(body)


__all__ = ["BadBody", "InferRequest", "infer_response", "metadata", "read_infer"]


def document(app, path: str) -> None:
    """Declare the infer body of POST `path` in the app's OpenAPI document (the route reads it
    by hand): tensors of one field each. What JSON Schema cannot say (every field once, all of
    one length, data as long as the shape) the route checks itself."""
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string", "enum": list(FEATURES)},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}, "maxItems": 2},
            "datatype": {"type": "string", "enum": sorted(NUMERIC_TYPES | {"BYTES"})},
            "data": {"type": "array"},
            "parameters": {"type": "object"},
        },
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "inputs": {"type": "array", "items": tensor, "minItems": len(FEATURES)},
            "parameters": {"type": "object"},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string", "enum": [OUTPUT]}},
                },
            },
        },
        "additionalProperties": False,
    }
    declare_body(app, path, {"application/json": {"schema": schema}})

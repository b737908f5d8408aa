"""`POST /feedback`: the real price of records the log holds, checked whole, written whole.

Two shapes: `{"request_id": "...", "actuals": [price, ...]}`, one price per record of that
request in order, or `{"items": [{"request_id": "...", "index": 0, "actual": price}, ...]}`.
A body is refused as a whole (nothing written) when any part is wrong; a second price for a
record replaces the first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from housing.predictions.table import actuals, predictions
from housing.web.body import REF_TEMPLATE, UNKNOWN_FIELD, BadBody, refusal
from housing.web.trace import TOKEN_PATTERN, is_token

# The ids /predict gives (X-Request-ID): a plain token; nothing else was ever logged.
RequestIdField = Annotated[
    str, msgspec.Meta(pattern=TOKEN_PATTERN, description="The request id /predict answered")
]
_INSERT = {"postgresql": postgres_insert, "sqlite": sqlite_insert}
_PATH = re.compile(r"^(.*?)(?: - at `\$\.?(.*)`)?$", re.DOTALL)


Price = Annotated[float, msgspec.Meta(gt=0, description="The real price, USD")]
_ONE_OR_MORE = msgspec.Meta(min_length=1)


class Item(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    request_id: RequestIdField
    # An integer, which JSON may also write as 3.0 (JSON Schema's integers include it): read as
    # a number, checked whole in `parse`, documented as an integer (`openapi_schema`).
    index: Annotated[float, msgspec.Meta(ge=0, description="The record's place in its request")]
    actual: Price


class ByRequest(msgspec.Struct, forbid_unknown_fields=True):
    """One price per record of the request, in order."""

    request_id: RequestIdField
    actuals: Annotated[list[Price], _ONE_OR_MORE]


class ByItems(msgspec.Struct, forbid_unknown_fields=True):
    """Prices of records named one by one (of one request or several)."""

    items: Annotated[list[Item], _ONE_OR_MORE]


def openapi_schema() -> tuple[dict, dict]:
    """The body's JSON schema and its definitions, for the route's OpenAPI entry."""
    refs, definitions = msgspec.json.schema_components(
        (ByRequest, ByItems), ref_template=REF_TEMPLATE.replace("{model}", "{name}")
    )
    definitions["Item"]["properties"]["index"]["type"] = "integer"
    return {"oneOf": list(refs)}, definitions


class Labels(msgspec.Struct):
    """What a body asks: (request_id, index, actual) triples, or one request's prices in order."""

    items: list[tuple[str, int, float]]
    whole_request: str | None = None  # the `actuals` shape: its request id


class FeedbackReader:
    """Parses bodies against this gateway's record limit (`max_items`)."""

    def __init__(self, max_items: int):
        self.max_items = max_items
        self._by_request = msgspec.json.Decoder(ByRequest)
        self._by_items = msgspec.json.Decoder(ByItems)

    def parse(self, raw: bytes) -> Labels:
        """The labels of a body, or BadBody (400, 422) naming the field."""
        items = b'"items"' in raw
        # Counted on the bytes before any parsing: a list longer than a request's records is
        # refused for what it costs to count, not to decode. The count is never below the list's
        # length: each price but the last is followed by a ',' (and the body's two fields by one
        # more), each item is an object of its own.
        count = raw.count(b"{") - 1 if items else raw.count(b",")
        field = "items" if items else "actuals"
        if count > self.max_items:
            message = f"at most {self.max_items} per request; the body holds more"
            raise refusal(422, field, message)
        try:
            decoded = (self._by_items if items else self._by_request).decode(raw)
        except msgspec.ValidationError as exc:  # (before DecodeError: it is one)
            raise _invalid(str(exc)) from None
        except msgspec.DecodeError as exc:
            raise refusal(400, "body", f"invalid JSON: {exc}") from None
        if items:
            for position, item in enumerate(decoded.items):
                if not item.index.is_integer():
                    field = _field(True, position, "index")
                    raise refusal(422, field, f"must be a whole number, got {item.index}")
            triples = [(item.request_id, int(item.index), item.actual) for item in decoded.items]
            labels = Labels(triples)
        else:
            rid = decoded.request_id
            labels = Labels([(rid, i, a) for i, a in enumerate(decoded.actuals)], rid)
        # Prices are checked by msgspec (`Price`: above 0; JSON has no NaN, and 1e999 is refused
        # as out of range); its pattern lets a request id with a final newline through.
        for position, (rid, _, _) in enumerate(labels.items):
            if not is_token(rid):
                message = f"not a request id /predict gives: {rid!r}"
                raise refusal(422, _field(items, position, "request_id"), message)
        return labels


def _field(items: bool, position: int, name: str) -> str:
    """Where a record's `name` ("index" or "request_id") stands in the body."""
    return f"items[{position}].{name}" if items else name


def _invalid(error: str) -> BadBody:
    """422 naming the field of msgspec's `error` ("... - at `$.items[0].index`")."""
    unknown = UNKNOWN_FIELD.search(error)
    if unknown:
        name, at = unknown.group(1), (unknown.group(2) or "").lstrip(".")
        return refusal(422, f"{at}.{name}" if at else name, "not a field of this body")
    message, at = _PATH.match(error).groups()
    return refusal(422, at or "body", message)


def record(engine: Engine, labels: Labels) -> int:
    """Write the labels in one transaction, after checking each against the log: an unknown
    request id is a 404, a count or an index the request does not have a 409 (BadBody)."""
    ids = sorted({rid for rid, _, _ in labels.items})
    counted = (
        select(predictions.c.request_id, func.count())
        .where(predictions.c.request_id.in_(ids))
        .group_by(predictions.c.request_id)
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    latest = {(rid, index): actual for rid, index, actual in labels.items}  # the last one wins
    with engine.begin() as connection:
        counts = dict(connection.execute(counted).all())
        _check(labels, counts)
        insert = _INSERT[engine.dialect.name](actuals)
        upsert = insert.on_conflict_do_update(
            index_elements=[actuals.c.request_id, actuals.c.record_index],
            set_={"actual": insert.excluded.actual, "recorded_at": insert.excluded.recorded_at},
        )
        rows = [
            {"request_id": rid, "record_index": index, "actual": actual, "recorded_at": now}
            for (rid, index), actual in latest.items()
        ]
        connection.execute(upsert, rows)
    return len(rows)


def _check(labels: Labels, counts: dict[str, int]) -> None:
    if labels.whole_request is not None:
        rid = labels.whole_request
        if rid not in counts:
            raise _unknown("request_id", rid)
        if counts[rid] != len(labels.items):
            message = f"request {rid} has {counts[rid]} records, got {len(labels.items)} actuals"
            raise refusal(409, "actuals", message)
        return
    for position, (rid, index, _) in enumerate(labels.items):
        if rid not in counts:
            raise _unknown(f"items[{position}].request_id", rid)
        if index >= counts[rid]:
            message = f"request {rid} has {counts[rid]} records (index 0 to {counts[rid] - 1})"
            raise refusal(409, f"items[{position}].index", message)


def _unknown(field: str, rid: str) -> BadBody:
    return refusal(404, field, f"no logged prediction has request id {rid!r}")

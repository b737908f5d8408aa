"""Writing a batch of answered requests in one statement, the cheapest way each store allows.

Built for the predictor's CPU, which is the product: what the writer thread spends, the request
handlers on the same core do not get (make bench measures the log on and off).
- PostgreSQL: the batch goes in as a single JSON text, encoded by msgspec in one call, and the
  server unpacks it into rows (json_array_elements): no value is bound in Python, and the
  unpacking is the database's CPU, on its own host.
- SQLite: sqlite3's executemany of plain row tuples. SQLite's own JSON functions (3.40 here)
  cost several times more per row than building the tuples in Python.

A batch is a list of requests, each `(request, records, predictions, bounds)`: `request` is
(request_id, unix time, interval level | None, model name, model version, run id | None),
`bounds` a (low, high) per record or None.
"""

from __future__ import annotations

from operator import attrgetter

import msgspec

from housing.contract import CATEGORICAL, FEATURES, NUMERIC
from housing.predictions.table import predictions, shadow_predictions

NAMES = [column.name for column in predictions.columns]
_FIELDS_OF = attrgetter(*FEATURES)  # a record's fields in the contract's (and table's) order
_REQUEST = {  # column: its place in a request's JSON array
    "request_id": 0,
    "interval_level": 2,
    "model_name": 3,
    "model_version": 4,
    "run_id": 5,
}
_ROWS = 6  # the request's records: [record, prediction] or [record, prediction, [low, high]]


def _plain(obj):
    """Records that took the contract's road are pydantic models, not msgspec structs."""
    return obj.model_dump()


_encode = msgspec.json.Encoder(enc_hook=_plain).encode


def _checked(exprs: dict[str, str]) -> str:
    differ = set(NAMES) ^ set(exprs)
    if differ:  # the table and this mapping must name the same columns
        raise AssertionError(f"bulk insert and table disagree on {sorted(differ)}")
    return ", ".join(exprs[name] for name in NAMES)


def _postgres_sql() -> str:
    exprs = {name: f"e->>{i}" for name, i in _REQUEST.items()}
    exprs["interval_level"] = "(e->>2)::float8"
    exprs["record_index"] = "(r.i - 1)::int"
    exprs["logged_at"] = "to_timestamp((e->>1)::float8) AT TIME ZONE 'UTC'"
    for name in NUMERIC:
        exprs[name] = f"(r.v->0->>'{name}')::float8"
    exprs[CATEGORICAL] = f"r.v->0->>'{CATEGORICAL}'"
    exprs["prediction"] = "(r.v->>1)::float8"
    exprs["interval_low"] = "(r.v->2->>0)::float8"
    exprs["interval_high"] = "(r.v->2->>1)::float8"
    # Built from the table's own column names and fixed expressions: no value enters the text.
    return (
        f"INSERT INTO {predictions.name} ({', '.join(NAMES)}) SELECT {_checked(exprs)} "  # noqa: S608
        "FROM json_array_elements(%s::json) AS e "
        f"CROSS JOIN LATERAL json_array_elements(e->{_ROWS}) WITH ORDINALITY AS r(v, i) "
        "ON CONFLICT DO NOTHING"  # a request id reused by a caller: the first request's rows stay
    )


def _sqlite_sql() -> str:
    exprs = {name: "?" for name in NAMES}
    # Microseconds written out as SQLAlchemy writes (and reads) a DateTime in SQLite.
    exprs["logged_at"] = "strftime('%Y-%m-%d %H:%M:%f', ?, 'unixepoch') || '000'"
    columns = ", ".join(NAMES)
    return f"INSERT OR IGNORE INTO {predictions.name} ({columns}) VALUES ({_checked(exprs)})"  # noqa: S608


def _sqlite_rows(batch: list[tuple]) -> list[tuple]:
    rows = []
    append = rows.append
    for (request_id, at, level, name, version, run_id), records, values, bounds in batch:
        model = (name, version, run_id)
        if bounds is None:
            for index, (record, value) in enumerate(_pairs(records, values, None)):
                fields = _FIELDS_OF(record)
                append((request_id, index, at, *fields, value, None, None, None, *model))
        else:
            for index, (record, value, (low, high)) in enumerate(_pairs(records, values, bounds)):
                fields = _FIELDS_OF(record)
                append((request_id, index, at, *fields, value, level, low, high, *model))
    return rows


def _pairs(records, values, bounds):
    if bounds is None:
        return zip(records, values, strict=True)
    return zip(records, values, bounds, strict=True)


def write(connection, dialect: str, batch: list[tuple]) -> None:
    """Write `batch` through `connection` (a SQLAlchemy connection in a transaction)."""
    if dialect == "postgresql":
        requests = [
            (*request, list(_pairs(records, values, bounds)))
            for request, records, values, bounds in batch
        ]
        connection.exec_driver_sql(POSTGRES_SQL, (_encode(requests).decode(),))
    elif dialect == "sqlite":
        connection.exec_driver_sql(SQLITE_SQL, _sqlite_rows(batch))
    else:
        raise ValueError(f"the prediction log is SQLite or PostgreSQL, not {dialect}")


def write_shadow(connection, dialect: str, rows: list[dict]) -> None:
    """Write shadow predictions (shadow_predictions' columns, `logged_at` a naive UTC datetime):
    one executemany through SQLAlchemy; a row already there stays (as for `predictions`)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise ValueError(f"the prediction log is SQLite or PostgreSQL, not {dialect}")
    connection.execute(insert(shadow_predictions).on_conflict_do_nothing(), rows)


POSTGRES_SQL = _postgres_sql()
SQLITE_SQL = _sqlite_sql()

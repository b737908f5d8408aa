"""The prediction log's two tables, the one definition that SQLite (`make demo`) and PostgreSQL
(the stack) are written and read through.

`predictions` is append-only, written by the predictors; `actuals` holds the price a caller
posted back (`POST /feedback` on the gateway), one per record, the latest replacing the first.
Kept apart, a predictor's writes never wait on feedback, and a record's actual is a join away.
`shadow_predictions` holds what a model scored in shadow (the challenger, never answered) for
the same records: champion, challenger and actual meet on (request_id, record_index).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)

from housing.contract import CATEGORICAL, NULLABLE, NUMERIC

metadata = MetaData()


def _record() -> tuple[Column, Column]:
    """A record is (request_id, record_index): the request's id (the gateway's X-Request-ID) and
    the record's place in that request, from 0; each table's key."""
    return (
        Column("request_id", String(128), nullable=False),
        Column("record_index", Integer, nullable=False),
    )


def _model() -> tuple[Column, Column, Column]:
    """Which model priced it."""
    return (
        Column("model_name", String(256), nullable=False),
        Column("model_version", String(32), nullable=False),
        Column("run_id", String(64)),
    )


predictions = Table(
    "predictions",
    metadata,
    *_record(),
    Column("logged_at", DateTime, nullable=False),  # UTC
    *(Column(name, Float, nullable=name in NULLABLE) for name in NUMERIC),
    Column(CATEGORICAL, String(16), nullable=False),
    Column("prediction", Float, nullable=False),
    # Only when the request asked `?interval=`: the level, and this record's bounds.
    Column("interval_level", Float),
    Column("interval_low", Float),
    Column("interval_high", Float),
    *_model(),
    PrimaryKeyConstraint("request_id", "record_index"),
    Index("predictions_logged_at", "logged_at"),
)

actuals = Table(
    "actuals",
    metadata,
    *_record(),
    Column("actual", Float, nullable=False),
    Column("recorded_at", DateTime, nullable=False),  # UTC
    PrimaryKeyConstraint("request_id", "record_index"),
)

# One shadow model scores a record at most (the alias the predictor shadows); which one is in
# the row, so that the comparison is by version.
shadow_predictions = Table(
    "shadow_predictions",
    metadata,
    *_record(),
    Column("logged_at", DateTime, nullable=False),  # UTC
    Column("prediction", Float, nullable=False),
    *_model(),
    PrimaryKeyConstraint("request_id", "record_index"),
    Index("shadow_predictions_logged_at", "logged_at"),
)

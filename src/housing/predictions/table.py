"""The prediction log's two tables, the one definition that SQLite (`make demo`) and PostgreSQL
(the stack) are written and read through.

`predictions` is append-only, written by the predictors; `actuals` holds the price a caller
posted back (`POST /feedback` on the gateway), one per record, the latest replacing the first.
Kept apart, a predictor's writes never wait on feedback, and a record's actual is a join away.
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

# A record is (request_id, record_index): the request's id (the gateway's X-Request-ID) and the
# record's place in that request, from 0.
predictions = Table(
    "predictions",
    metadata,
    Column("request_id", String(128), nullable=False),
    Column("record_index", Integer, nullable=False),
    Column("logged_at", DateTime, nullable=False),  # UTC
    *(Column(name, Float, nullable=name in NULLABLE) for name in NUMERIC),
    Column(CATEGORICAL, String(16), nullable=False),
    Column("prediction", Float, nullable=False),
    # Only when the request asked `?interval=`: the level, and this record's bounds.
    Column("interval_level", Float),
    Column("interval_low", Float),
    Column("interval_high", Float),
    Column("model_name", String(256), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("run_id", String(64)),
    PrimaryKeyConstraint("request_id", "record_index"),
    Index("predictions_logged_at", "logged_at"),
)

actuals = Table(
    "actuals",
    metadata,
    Column("request_id", String(128), nullable=False),
    Column("record_index", Integer, nullable=False),
    Column("actual", Float, nullable=False),
    Column("recorded_at", DateTime, nullable=False),  # UTC
    PrimaryKeyConstraint("request_id", "record_index"),
)

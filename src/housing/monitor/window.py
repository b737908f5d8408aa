"""The window a pass reads: the latest logged predictions, each with its actual when one came."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from housing.contract import FEATURES, NUMERIC
from housing.predictions.table import actuals, predictions

ACTUAL = "actual"
COLUMNS = (
    *FEATURES,
    "prediction",
    "interval_level",
    "interval_low",
    "interval_high",
    "model_version",
    "run_id",
    "logged_at",
)
NUMBERS = (*NUMERIC, "prediction", "interval_level", "interval_low", "interval_high", ACTUAL)


@dataclass(frozen=True)
class Window:
    start: datetime  # UTC, naive as the log stores it
    end: datetime
    max_rows: int
    rows: pd.DataFrame  # COLUMNS and ACTUAL (NaN where none), newest first

    @property
    def truncated(self) -> bool:
        """More predictions fell in the window than a pass reads (the oldest were left out)."""
        return len(self.rows) >= self.max_rows

    def describe(self) -> dict:
        return {
            "start": self.start.isoformat() + "Z",
            "end": self.end.isoformat() + "Z",
            "max_rows": self.max_rows,
            "truncated": self.truncated,
        }


def read(engine: Engine, hours: float, max_rows: int, now: datetime | None = None) -> Window:
    end = (now or datetime.now(UTC)).replace(tzinfo=None)
    start = end - timedelta(hours=hours)
    query = (
        select(*(predictions.c[name] for name in COLUMNS), actuals.c.actual.label(ACTUAL))
        .outerjoin(
            actuals,
            (actuals.c.request_id == predictions.c.request_id)
            & (actuals.c.record_index == predictions.c.record_index),
        )
        .where(predictions.c.logged_at >= start, predictions.c.logged_at <= end)
        .order_by(predictions.c.logged_at.desc())
        .limit(max_rows)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=[*COLUMNS, ACTUAL])
    # None (no actual, no interval, no bedrooms count) as NaN, every number a float.
    frame = frame.astype({name: "float64" for name in NUMBERS})
    return Window(start, end, max_rows, frame)

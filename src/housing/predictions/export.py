"""The labelled predictions (a logged record joined to its actual) as a CSV in the raw data's
columns, its price in `median_house_value`: what the monitor and retraining read."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from housing.contract import RAW_COLUMNS, TARGET
from housing.files import atomic_path
from housing.predictions import store
from housing.predictions.settings import DEFAULT_CONNECT_TIMEOUT_S
from housing.predictions.table import actuals, predictions


class NothingLabelled(RuntimeError):
    """The log holds no record with an actual: no file is written."""


def labelled_rows(url: str, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> list[tuple]:
    """(raw columns...) of every labelled record, oldest first."""
    columns = [actuals.c.actual if name == TARGET else predictions.c[name] for name in RAW_COLUMNS]
    query = (
        select(*columns)
        .join_from(
            predictions,
            actuals,
            (actuals.c.request_id == predictions.c.request_id)
            & (actuals.c.record_index == predictions.c.record_index),
        )
        .order_by(predictions.c.logged_at, predictions.c.request_id, predictions.c.record_index)
    )
    log = store.LogStore(url, connect_timeout_s)
    try:
        with log.engine().connect() as connection:
            return [tuple(row) for row in connection.execute(query)]
    finally:
        log.close()


def export(url: str, dest: Path, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> int:
    """Write the labelled records to `dest` (whole, or not at all); returns how many."""
    from housing.data.validate import read_raw  # the training side's: pandas

    rows = labelled_rows(url, connect_timeout_s)
    if not rows:
        raise NothingLabelled("no logged prediction has an actual yet: nothing to export")
    with atomic_path(dest, ".csv") as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")  # as the raw CSV
            writer.writerow(RAW_COLUMNS)
            writer.writerows(("" if value is None else value for value in row) for row in rows)
        read_raw(tmp)  # what prepare reads: a file it would refuse is never written
    return len(rows)

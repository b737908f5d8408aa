"""The prediction log on both of its stores: a SQLite file, and the suite's real PostgreSQL."""

from __future__ import annotations

import json
import types

import pytest

from housing.contract import EXAMPLE_RECORD, HousingRecord
from housing.web.body import fast_records

MODEL = types.SimpleNamespace(name="housing-price", version="3", run_id="0123abcd")


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request, tmp_path):
    """A log with no rows: a new SQLite file, or the PostgreSQL database with its tables dropped."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'predictions.db'}"
    url = request.getfixturevalue("predictions_pg_url")
    from housing.predictions import store
    from housing.predictions.table import metadata

    engine = store.connect(url)
    metadata.drop_all(engine)
    engine.dispose()
    return url


def fast(**changes):
    """A record as /predict's fast road reads it (a msgspec struct)."""
    return fast_records(json.dumps({**EXAMPLE_RECORD, **changes}).encode())[0]


def slow(**changes):
    """A record as the contract's road reads it (pydantic)."""
    return HousingRecord(**{**EXAMPLE_RECORD, **changes})

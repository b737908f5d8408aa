"""POST /feedback on the gateway (in process) against a real log: SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from housing.predictions import store
from housing.predictions.settings import PredictionLogSettings
from housing.predictions.table import actuals
from housing.predictions.writer import PredictionLog
from tests.gateway.conftest import FakePredictors, auth, gateway
from tests.predictions.conftest import MODEL, fast

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def logged(url: str, **requests: int) -> None:
    """Log requests as the predictor does: request id -> number of records."""
    log = PredictionLog(PredictionLogSettings(url=url), CollectorRegistry(), "t")
    for rid, count in requests.items():
        log.record(rid, [fast()] * count, [100_000.0] * count, None, None, MODEL)
    assert log.flush() == sum(requests.values())


def labels(url: str) -> dict[tuple[str, int], float]:
    engine = store.connect(url)
    store.ensure_schema(engine)
    with engine.connect() as connection:
        found = {
            (r.request_id, r.record_index): r.actual for r in connection.execute(select(actuals))
        }
    engine.dispose()
    return found


async def test_both_shapes_are_recorded_and_a_second_actual_replaces_the_first(log_url):
    logged(log_url, one=1, three=3)
    async with gateway(FakePredictors(), log_url=log_url) as client:
        answer = await client.post(
            "/feedback", json={"request_id": "three", "actuals": [1e5, 2e5, 3e5]}, headers=auth()
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["recorded"] == 3 and answer.headers["x-request-id"]
        items = [
            {"request_id": "one", "index": 0.0, "actual": 450_000.0},  # 0.0: JSON's integer too
            {"request_id": "three", "index": 1, "actual": 250_000},
            {"request_id": "three", "index": 1, "actual": 260_000},  # the last one wins
        ]
        answer = await client.post("/feedback", json={"items": items}, headers=auth())
        assert answer.status_code == 202, answer.text
    assert labels(log_url) == {
        ("one", 0): 450_000.0,
        ("three", 0): 1e5,
        ("three", 1): 260_000.0,
        ("three", 2): 3e5,
    }


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"request_id": "nope", "actuals": [1.0]}, 404, "request_id"),
        ({"request_id": "two", "actuals": [1.0]}, 409, "actuals"),
        ({"request_id": "two", "actuals": [1.0, -5]}, 422, "actuals[1]"),
        ({"request_id": "two", "actuals": [1.0, 0]}, 422, "actuals[1]"),
        ({"request_id": "two", "actuals": [1.0, "x"]}, 422, "actuals[1]"),
        ({"request_id": "two", "actuals": [1.0, 2.0], "price": 1}, 422, "price"),
        ({"request_id": "", "actuals": [1.0]}, 422, "request_id"),
        ({"request_id": "two\n", "actuals": [1.0, 2.0]}, 422, "request_id"),
        ({"request_id": "tw\u0000o", "actuals": [1.0, 2.0]}, 422, "request_id"),
        (
            {
                "items": [
                    {"request_id": "two", "index": 0, "actual": 1.0},
                    {"request_id": "gone", "index": 0, "actual": 1.0},
                ]
            },
            404,
            "items[1].request_id",
        ),
        (
            {
                "items": [
                    {"request_id": "two", "index": 0, "actual": 1.0},
                    {"request_id": "two", "index": 2, "actual": 1.0},
                ]
            },
            409,
            "items[1].index",
        ),
        (
            {
                "items": [
                    {"request_id": "two", "index": 0, "actual": 1.0},
                    {"request_id": "two", "index": -1, "actual": 1.0},
                ]
            },
            422,
            "items[1].index",
        ),
        (
            {"items": [{"request_id": "two", "index": 0, "actual": 1.0, "extra": 2}]},
            422,
            "items[0].extra",
        ),
        ({"items": []}, 422, "items"),
        ({"items": [{"request_id": "two", "index": 0.5, "actual": 1.0}]}, 422, "items[0].index"),
        (
            {"items": [{"request_id": "two\n", "index": 0, "actual": 1.0}]},
            422,
            "items[0].request_id",
        ),
    ],
)
async def test_a_bad_body_is_refused_naming_the_field_and_writes_nothing(
    log_url, body, status, field
):
    logged(log_url, two=2)
    async with gateway(FakePredictors(), log_url=log_url) as client:
        answer = await client.post("/feedback", json=body, headers=auth())
    assert answer.status_code == status, answer.text
    assert answer.json()["errors"][0]["field"] == field
    assert answer.json()["detail"].startswith(field)
    assert labels(log_url) == {}


async def test_a_price_too_large_for_a_float_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    logged(url, one=1)
    raw = b'{"request_id": "one", "actuals": [1e999]}'
    headers = {**auth(), "content-type": "application/json"}
    async with gateway(FakePredictors(), log_url=url) as client:
        answer = await client.post("/feedback", content=raw, headers=headers)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "actuals[0]"
    assert labels(url) == {}


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (b"\xff\xfe not utf-8", 400, "body"),
        (b'{"request_id": "one", "actuals": [1.0,', 400, "body"),
        (b"[1, 2]", 422, "body"),
        # Longer than a request's records: refused from the bytes, before any parsing.
        (b'{"request_id": "one", "actuals": [' + b"1.0," * 60 + b"1.0]}", 422, "actuals"),
        (
            b'{"items": [' + b'{"request_id": "one", "index": 0, "actual": 1},' * 60 + b"{}]}",
            422,
            "items",
        ),
    ],
)
async def test_bodies_that_are_not_feedback_are_refused(tmp_path, raw, status, field):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    headers = {**auth(), "content-type": "application/json"}
    async with gateway(FakePredictors(), log_url=url, GATEWAY_MAX_RECORDS=50) as client:
        answer = await client.post("/feedback", content=raw, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["errors"][0]["field"] == field


async def test_feedback_needs_a_key_and_json(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    body = {"request_id": "one", "actuals": [1.0]}
    async with gateway(FakePredictors(), log_url=url) as client:
        assert (await client.post("/feedback", json=body)).status_code == 401
        answer = await client.post(
            "/feedback", content=b"x", headers={**auth(), "content-type": "text/plain"}
        )
        assert answer.status_code == 415


async def test_a_store_that_cannot_be_reached_is_a_503_in_seconds():
    # Nothing listens on port 1: the connection is refused at once.
    url = "postgresql+psycopg2://predictions@127.0.0.1:1/predictions"
    body = {"request_id": "one", "actuals": [1.0]}
    async with gateway(FakePredictors(), log_url=url) as client:
        answer = await client.post("/feedback", json=body, headers=auth())
    assert answer.status_code == 503
    assert answer.headers["retry-after"]
    assert "cannot be reached" in answer.json()["detail"]


async def test_without_a_log_feedback_is_a_503_that_says_so():
    async with gateway(FakePredictors()) as client:
        answer = await client.post(
            "/feedback", json={"request_id": "a", "actuals": [1.0]}, headers=auth()
        )
    assert answer.status_code == 503
    assert "PREDICTION_LOG_URL" in answer.json()["detail"]

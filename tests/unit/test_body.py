"""The fast road for /predict bodies (msgspec) never accepts what the contract (pydantic) refuses.

`housing.web.body.fast_records` only decides "valid"; anything it refuses goes through the
contract's own check. So the property to hold is: whatever the fast road accepts, the contract
accepts too, with the same values. These tests feed both roads the same bodies, edge cases first.
"""

import json
import math
import random

import msgspec
import pytest

from housing.contract import CATEGORIES, EXAMPLE_RECORD, FEATURES, NUMERIC
from housing.defaults import MAX_RECORDS
from housing.web import body as body_module
from housing.web.body import BadBody, checked_records, fast_records

EDGE_NUMBERS = [
    "0", "-0", "-0.0", "1", "-1", "0.5", "1e2", "1E+2", "1e-400", "-1e-400", "5e-324", "1e308",
    "1.7976931348623157e308", "1.8e308", "1e400", "-1e400", "9007199254740993",
    "123456789012345678901234567890", "-181", "-180", "180", "180.0000000001", "90", "-90.5",
    "true", "false", "null", '"3.5"', '"NaN"', "NaN", "Infinity", "-Infinity", "[]", "{}",
]  # fmt: skip
EDGE_CATEGORIES = [
    *(json.dumps(c) for c in CATEGORIES),
    '"NEAR\\u0020BAY"', '"INLAND "', '"inland"', '""', "null", "1", '["INLAND"]',
]  # fmt: skip


def values(records) -> list[tuple]:
    return [tuple(getattr(r, f) for f in FEATURES) for r in records]


def contract_view(raw: bytes):
    try:
        return values(checked_records(raw, MAX_RECORDS))
    except BadBody:
        return None


def assert_agree(raw: bytes) -> bool:
    """Whatever the fast road accepts, the contract accepts with the same values."""
    fast = fast_records(raw)
    if fast is None:
        return False
    slow = contract_view(raw)
    assert slow is not None, f"fast road accepted what the contract refuses: {raw[:300]!r}"
    for fast_row, slow_row in zip(values(fast), slow, strict=True):
        for a, b in zip(fast_row, slow_row, strict=True):
            assert a == b and (a is None) == (b is None), (raw[:300], fast_row, slow_row)
            if isinstance(a, float):
                assert math.copysign(1, a) == math.copysign(1, b)
    return True


def record_text(overrides: dict[str, str]) -> str:
    fields = {k: json.dumps(v) for k, v in EXAMPLE_RECORD.items()} | overrides
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in fields.items()) + "}"


def synthetic_records(n: int, rng: random.Random) -> list[dict]:
    return [
        {
            "longitude": rng.uniform(-124.5, -114),
            "latitude": rng.uniform(32.5, 42),
            "housing_median_age": float(rng.randint(1, 52)),
            "total_rooms": float(rng.randint(2, 40000)),
            "total_bedrooms": None if rng.random() < 0.1 else float(rng.randint(0, 6000)),
            "population": rng.randint(3, 35000),  # a JSON integer
            "households": float(rng.randint(1, 6000)),
            "median_income": rng.uniform(0.5, 15),
            "ocean_proximity": rng.choice(CATEGORIES),
        }
        for _ in range(n)
    ]


def test_valid_bodies_take_the_fast_road_with_the_contracts_values():
    rng = random.Random(7)  # noqa: S311 - reproducible test data
    batch = synthetic_records(500, rng)
    for body in ({"records": batch}, batch[0], {"records": [EXAMPLE_RECORD]}, EXAMPLE_RECORD):
        assert assert_agree(json.dumps(body).encode()), body


@pytest.mark.parametrize("field", NUMERIC)
def test_edge_numbers(field):
    accepted = 0
    for number in EDGE_NUMBERS:
        raw = record_text({field: number}).encode()
        accepted += assert_agree(raw)
        accepted += assert_agree(b'{"records":[' + raw + b"]}")
    assert accepted >= 4  # the plain numbers in range are taken by the fast road


def test_edge_categories():
    accepted = sum(
        assert_agree(record_text({"ocean_proximity": text}).encode()) for text in EDGE_CATEGORIES
    )
    assert accepted == len(CATEGORIES) + 1  # the five, and one spelled with an escape


def test_odd_shapes_agree():
    record = record_text({})
    missing = record_text({}).replace('"households":126.0,', "")
    bodies = [
        record,
        "\ufeff" + record,
        f" \n{record}\t",
        record[:-1] + ',"extra":1}',
        record[:-1] + ',"households":0}',  # a duplicate key: the last one counts
        record[:-1] + ',"households":5}',
        missing,
        f'{{"records":[{record}],"records":[]}}',
        f'{{"records":[{record}],"records":[{record},{record}]}}',
        f'{{"records":[{record}],"extra":1}}',
        '{"records":[]}',
        f'{{"records":{record}}}',
        f"[{record}]",
        f'{{"records":[{record},]}}',
        f'{{"records":[[{record}]]}}',
        record + record,
        "",
        "null",
    ]
    outcomes = [assert_agree(body.encode("utf-8")) for body in bodies]
    assert outcomes[0] and outcomes[5] and not outcomes[4]


def test_random_mutations_agree():
    rng = random.Random(11)  # noqa: S311 - reproducible test data
    tokens = EDGE_NUMBERS + EDGE_CATEGORIES
    for _ in range(400):
        overrides = {rng.choice(FEATURES): rng.choice(tokens) for _ in range(rng.randint(1, 3))}
        raw = record_text(overrides).encode()
        assert_agree(raw)
        assert_agree(b'{"records":[' + record_text({}).encode() + b"," + raw + b"]}")


@pytest.mark.parametrize(
    "body, field",
    [
        ({**EXAMPLE_RECORD, **{f"k{i}": i for i in range(3_000)}}, "k0"),
        (
            {"records": [EXAMPLE_RECORD, {**EXAMPLE_RECORD, **{f"k{i}": i for i in range(3_000)}}]},
            "records[1].k0",
        ),
        ({"records": [EXAMPLE_RECORD], **{f"k{i}": i for i in range(3_000)}}, "k0"),
        ({"records": [{}] * 5_000}, "records[0].longitude"),
    ],
    ids=["record", "record-in-batch", "envelope", "empty-records"],
)
def test_a_refusal_lists_at_most_twenty_fields_and_counts_the_rest(body, field):
    with pytest.raises(BadBody) as refused:
        checked_records(json.dumps(body).encode(), MAX_RECORDS)
    answer = json.loads(refused.value.response.body)
    assert refused.value.response.status_code == 422
    assert len(answer["errors"]) <= 20 and answer["errors"][0]["field"] == field
    assert len(refused.value.response.body) < 4_096
    if "more_errors" in answer:
        assert answer["more_errors"] == 3_000 - 20


def test_more_records_than_the_limit_are_refused_before_any_is_validated():
    raw = b'{"records": [' + b",".join([b"{}"] * (MAX_RECORDS + 1)) + b"]}"
    with pytest.raises(BadBody) as refused:
        checked_records(raw, MAX_RECORDS)
    assert json.loads(refused.value.response.body)["errors"] == [
        {"field": "records", "message": f"at most {MAX_RECORDS} records per request, got 10001"}
    ]


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("one object, unknown keys", "k0"),
        ("empty records", "records"),
        ("records with 60 unknown keys", "records"),
        ("a field holding a list", "body"),
    ],
)
def test_a_body_holding_more_than_the_limit_is_refused_before_it_is_parsed(
    name, field, monkeypatch
):
    """Up to the size limit, a body of many keys or values used to cost json.loads and pydantic
    seconds of CPU; one that no number of allowed records can hold is refused from its bytes."""
    from bench.hostile import bodies

    def parsed(_raw):
        raise AssertionError("json.loads ran on a body that cannot be valid")

    monkeypatch.setattr(body_module.json, "loads", parsed)
    with pytest.raises(BadBody) as refused:
        checked_records(bodies()[name], MAX_RECORDS)
    response = refused.value.response
    assert response.status_code == 422 and len(response.body) <= 64 * 1024
    assert msgspec.json.decode(response.body)["errors"][0]["field"] == field


def test_the_first_unknown_field_of_an_oversized_batch_is_named():
    extra = {f"x{i}": 0 for i in range(MAX_RECORDS * 11)}
    raw = json.dumps({"records": [EXAMPLE_RECORD, {**EXAMPLE_RECORD, **extra}]}).encode()
    with pytest.raises(BadBody) as refused:
        checked_records(raw, MAX_RECORDS)
    assert msgspec.json.decode(refused.value.response.body)["errors"][0]["field"] == "records[1].x0"

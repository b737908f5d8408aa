import json

import pytest
from pydantic import TypeAdapter, ValidationError

from housing.contract import (
    CATEGORIES,
    EXAMPLE_RECORD,
    FEATURES,
    HousingRecord,
    PredictRequest,
    RecordBatch,
    records_of,
)

adapter = TypeAdapter(PredictRequest)


def errors_of(body) -> list[dict]:
    with pytest.raises(ValidationError) as caught:
        adapter.validate_json(json.dumps(body) if not isinstance(body, str) else body)
    return caught.value.errors()


def test_example_record_is_valid_and_has_every_feature():
    record = HousingRecord(**EXAMPLE_RECORD)
    assert tuple(record.model_dump()) == FEATURES


def test_single_record_and_batch_both_parse():
    single = adapter.validate_json(json.dumps(EXAMPLE_RECORD))
    batch = adapter.validate_json(json.dumps({"records": [EXAMPLE_RECORD, EXAMPLE_RECORD]}))
    assert isinstance(single, HousingRecord) and len(records_of(single)) == 1
    assert isinstance(batch, RecordBatch) and len(records_of(batch)) == 2


def test_total_bedrooms_may_be_null():
    record = adapter.validate_json(json.dumps({**EXAMPLE_RECORD, "total_bedrooms": None}))
    assert record.total_bedrooms is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("median_income", "3.5"),  # a string is not a number
        ("households", 0),
        ("population", -1),
        ("latitude", 91),
        ("longitude", -181),
        ("ocean_proximity", "MOON"),
        ("total_rooms", None),
    ],
)
def test_bad_field_is_named(field, value):
    errors = errors_of({**EXAMPLE_RECORD, field: value})
    assert any(field in err["loc"] for err in errors), errors


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_tokens_are_refused(token):
    body = json.dumps(EXAMPLE_RECORD).replace(
        '"median_income": 8.3252', f'"median_income": {token}'
    )
    assert token in body
    errors = errors_of(body)
    assert errors[0]["loc"][-1] == "median_income"


def test_unknown_category_message_lists_the_five():
    [error] = errors_of({**EXAMPLE_RECORD, "ocean_proximity": "MOON"})
    assert all(category in error["msg"] for category in CATEGORIES)


def test_missing_and_extra_fields():
    body = {k: v for k, v in EXAMPLE_RECORD.items() if k != "households"} | {"colour": "red"}
    locs = {err["loc"][-1] for err in errors_of(body)}
    assert {"households", "colour"} <= locs


def test_batch_errors_carry_the_record_index():
    bad = {**EXAMPLE_RECORD, "households": -3}
    errors = errors_of({"records": [EXAMPLE_RECORD, bad]})
    assert errors[0]["loc"][-3:] == ("records", 1, "households")


def test_empty_batch_is_refused():
    assert errors_of({"records": []})[0]["loc"][-1] == "records"


def test_contract_module_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, housing.contract; "
        "print(sorted(m for m in ('pandas', 'sklearn', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

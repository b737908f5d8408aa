"""MLflow's scoring bodies (housing.web.mlflow_body) read into /predict's records: every shape
gives the records /predict would get, and what is not a table is refused naming the field."""

from __future__ import annotations

import json

import msgspec
import pytest

from housing.contract import EXAMPLE_RECORD, FEATURES
from housing.web.body import BadBody, records_from
from housing.web.mlflow_body import CSV, JSON, as_records

MAX = 50
OTHER = {**EXAMPLE_RECORD, "median_income": 2.5, "total_bedrooms": None}
OTHER["ocean_proximity"] = "INLAND"
ROWS = [EXAMPLE_RECORD, OTHER]
COLUMNS = list(FEATURES)


def records(media_type: str, body) -> list[dict]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    checked = records_from(as_records(media_type, raw, MAX), MAX)
    return [{name: getattr(r, name) for name in FEATURES} for r in checked]


def expected() -> list[dict]:
    return [{name: row[name] for name in FEATURES} for row in ROWS]


def csv_text(rows: list[dict]) -> bytes:
    lines = [",".join(COLUMNS)]
    for row in rows:
        lines.append(",".join("" if row[c] is None else str(row[c]) for c in COLUMNS))
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": COLUMNS, "data": [[r[c] for c in COLUMNS] for r in ROWS]}},
        {"dataframe_split": {"index": [7, 9], "columns": COLUMNS,
                             "data": [[r[c] for c in COLUMNS] for r in ROWS]}},
        {"dataframe_records": ROWS},
        {"instances": ROWS},
        {"inputs": ROWS},
        {"inputs": {c: [r[c] for r in ROWS] for c in COLUMNS}},
        {"instances": {c: [r[c] for r in ROWS] for c in COLUMNS}, "params": {}},
    ],
    ids=["split", "split+index", "records", "instances", "inputs", "inputs-columns",
         "instances-columns"],
)  # fmt: skip
def test_every_json_shape_gives_the_records_predict_gets(body):
    assert records(JSON, body) == expected()


def test_a_missing_value_written_as_nan_by_mlflows_client_is_null():
    rows = [[r[c] for c in COLUMNS] for r in ROWS]
    body = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": rows}})
    assert "null" in body
    assert records(JSON, body.replace("null", "NaN").encode()) == expected()
    refused = refusal(JSON, body.replace("null", "NaN").replace("8.3252", "Infinity").encode())
    assert refused["status"] == 422 and "median_income" in refused["detail"]
    # Infinity is no missing value, where a missing value is allowed either.
    infinite = body.replace("null", "Infinity").encode()
    assert refusal(JSON, infinite)["detail"].startswith("records[1].total_bedrooms")
    for word in ("inf", "nan"):
        text = csv_text(ROWS).replace(b",,", f",{word},".encode())
        assert refusal(CSV, text)["detail"].startswith("records[1].total_bedrooms")


def test_csv_gives_the_same_records_an_empty_cell_is_null():
    assert records(CSV, csv_text(ROWS)) == expected()
    assert records(CSV, b"\xef\xbb\xbf" + csv_text(ROWS)) == expected()  # Excel's BOM


def refusal(media_type: str, body) -> dict:
    with pytest.raises(BadBody) as refused:
        records(media_type, body)
    answer = refused.value.response
    return {"status": answer.status_code, **json.loads(answer.body)}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"dataframe_records": ROWS, "inputs": ROWS}, 422, "body"),
        ({"records": ROWS}, 422, "body"),
        ([1, 2], 422, "body"),
        ({"dataframe_split": {"columns": COLUMNS, "data": [[1, 2]]}}, 422,
         "dataframe_split.data[0]"),
        ({"dataframe_split": {"data": []}}, 422, "dataframe_split.columns"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": []}}, 422, "dataframe_split.columns"),
        ({"inputs": {"longitude": [1, 2], "latitude": [1]}}, 422, "inputs"),
        ({"instances": [EXAMPLE_RECORD, 3]}, 422, "instances[1]"),
        ({"inputs": ROWS, "params": {"temperature": 1}}, 422, "params"),
        ({"dataframe_records": [{**EXAMPLE_RECORD, "median_income": "lots"}]}, 422,
         "records[0].median_income"),
        ({"dataframe_records": [OTHER, {**EXAMPLE_RECORD, "colour": "red"}]}, 422,
         "records[1].colour"),
    ],
)  # fmt: skip
def test_what_is_not_a_table_of_districts_is_refused_naming_the_field(body, status, field):
    answer = refusal(JSON, body)
    assert answer["status"] == status
    assert answer["detail"].startswith(field) or field in json.dumps(answer.get("errors")), answer


def test_a_table_over_the_record_limit_is_refused_before_its_rows_are_built():
    many = [EXAMPLE_RECORD] * (MAX + 1)
    rows = [[EXAMPLE_RECORD[c] for c in COLUMNS]] * (MAX + 1)
    for body in ({"dataframe_records": many},
                 {"dataframe_split": {"columns": COLUMNS, "data": rows}},
                 {"inputs": {c: [EXAMPLE_RECORD[c]] * (MAX + 1) for c in COLUMNS}}):  # fmt: skip
        answer = refusal(JSON, body)
        assert answer["status"] == 422 and answer["detail"].startswith("records: at most 50")
    answer = refusal(CSV, csv_text(many))
    assert answer["status"] == 422 and answer["detail"].startswith("records: at most 50")


@pytest.mark.parametrize(
    ("media_type", "body", "status"),
    [(JSON, b"{not json", 400), (CSV, b"\xff\xfe", 400), ("text/plain", b"a,b", 415),
     (CSV, b"", 422), (CSV, csv_text(ROWS).replace(b"INLAND", b"INLAND,extra"), 422)],
)  # fmt: skip
def test_bad_bytes_are_a_clear_refusal(media_type, body, status):
    assert refusal(media_type, body)["status"] == status


def test_an_mlflow_body_sent_to_predict_is_pointed_to_invocations():
    with pytest.raises(BadBody) as refused:
        records_from(msgspec.json.encode({"dataframe_records": ROWS}), MAX)
    answer = json.loads(refused.value.response.body)
    assert answer["detail"] == (
        "dataframe_records: this is MLflow's scoring format: send it to POST /invocations"
    )

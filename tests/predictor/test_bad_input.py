"""Every bad input gets its 4xx with a message naming the field; never a 500, never a NaN out."""

from __future__ import annotations

import json

import pytest

from housing.contract import CATEGORIES, EXAMPLE_RECORD

GOOD = json.dumps(EXAMPLE_RECORD)


def with_field(field, value):
    return {**EXAMPLE_RECORD, field: value}


CASES = {
    "missing field": ({k: v for k, v in EXAMPLE_RECORD.items() if k != "population"}, "population"),
    "extra field": (with_field("garden", True), "garden"),
    "string for a number": (with_field("median_income", "8.3"), "median_income"),
    "string NaN": (with_field("total_rooms", "NaN"), "total_rooms"),
    "negative count": (with_field("population", -5), "population"),
    "zero households": (with_field("households", 0), "households"),
    "latitude off the globe": (with_field("latitude", 123.0), "latitude"),
    "longitude off the globe": (with_field("longitude", -200.0), "longitude"),
    "unknown category": (with_field("ocean_proximity", "LAKE"), "ocean_proximity"),
    "null where not allowed": (with_field("households", None), "households"),
    "empty records": ({"records": []}, "records"),
    "bad record in a batch": (
        {"records": [EXAMPLE_RECORD, with_field("households", -1)]},
        "records[1].households",
    ),
    "too many records": ({"records": [EXAMPLE_RECORD] * 51}, "records"),
}


@pytest.mark.parametrize("case", CASES)
def test_invalid_body_is_422_naming_the_field(predictor, case):
    body, field = CASES[case]
    response = predictor["client"].post("/predict", json=body)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert field in payload["detail"]
    assert any(d["field"].startswith(field) for d in payload["errors"]), payload


def test_batch_error_names_the_record_index(predictor):
    body = {"records": [EXAMPLE_RECORD, EXAMPLE_RECORD, with_field("households", 0)]}
    detail = predictor["client"].post("/predict", json=body).json()["errors"]
    assert detail[0]["record"] == 2


def test_unknown_category_message_lists_the_five(predictor):
    message = predictor["client"].post("/predict", json=with_field("ocean_proximity", "X")).text
    assert all(category in message for category in CATEGORIES)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_bare_non_finite_tokens(predictor, token):
    body = GOOD.replace('"median_income": 8.3252', f'"median_income": {token}')
    response = predictor["client"].post(
        "/predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "median_income" in response.json()["detail"]


def test_invalid_json(predictor):
    response = predictor["client"].post(
        "/predict", content=b'{"longitude": ', headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert "JSON" in response.json()["detail"]


def test_body_over_the_limit_is_413(predictor):
    big = json.dumps({"records": [EXAMPLE_RECORD] * 400})  # ~90 kB > the 64 kB limit
    response = predictor["client"].post(
        "/predict", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_null_bedrooms_is_imputed(predictor):
    response = predictor["client"].post("/predict", json=with_field("total_bedrooms", None))
    assert response.status_code == 200 and response.json()["predictions"][0] > 0


def test_huge_but_finite_numbers_give_a_finite_price(predictor):
    body = {"records": [with_field("total_rooms", 1e308), with_field("households", 1e-300)] * 20}
    response = predictor["client"].post("/predict", json=body)  # 40 rows: the sklearn path
    assert response.status_code == 200, response.text
    assert all(p == p and abs(p) < float("inf") for p in response.json()["predictions"])
    one = predictor["client"].post("/predict", json=with_field("total_rooms", 1e308))
    assert one.status_code == 200  # and the compiled path


def test_wrong_content_type_is_415(predictor):
    response = predictor["client"].post(
        "/predict", content=GOOD, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415 and "Content-Type" in response.json()["detail"]


def test_openapi_documents_the_body(predictor):
    spec = predictor["client"].get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    refs = json.dumps(body["schema"])
    assert "HousingRecord" in refs and "RecordBatch" in refs
    assert "HousingRecord" in spec["components"]["schemas"]

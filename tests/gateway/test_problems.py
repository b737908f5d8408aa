"""What a client of the gateway meets besides a price, over the wire (a real gateway in front of a
real predictor): every error an RFC 9457 problem, an OpenAPI document that says so, /docs and
/redoc that load nothing from elsewhere, and the public GET /model."""

from __future__ import annotations

import re

import httpx
import pytest

from housing.contract import EXAMPLE_RECORD
from tests.conftest import GATEWAY_KEY as KEY

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, path: str) -> dict:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status and isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["instance"] == path
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_a_refused_batch_is_a_problem_naming_each_field_and_its_record(gateway_url):
    bad = {"records": [EXAMPLE_RECORD, {**EXAMPLE_RECORD, "households": -1}]}
    response = httpx.post(
        gateway_url + "/predict", json=bad, headers={"X-API-Key": KEY, "X-Request-ID": "my-id-1"}
    )
    body = assert_problem(response, 422, "/predict")
    assert body["title"] == "Unprocessable Content"
    assert body["request_id"] == "my-id-1"  # the caller's own id, when it is a plain token
    assert body["errors"] == [
        {"field": "records[1].households", "record": 1, "message": body["errors"][0]["message"]}
    ]
    assert body["detail"].startswith("records[1].households: ")


@pytest.mark.parametrize(
    ("path", "send", "status"),
    [
        ("/predict", {"json": EXAMPLE_RECORD}, 401),  # no key
        ("/predict", {"content": b"{", "headers": {"Content-Type": "application/json"}}, 400),
        ("/predict", {"content": b"x", "headers": {"Content-Type": "text/plain"}}, 415),
        ("/predict", {"content": b"x" * 9_000_000}, 413),
        ("/invocations", {"json": {"dataframe_split": {"columns": ["x"], "data": [[1]]}}}, 422),
        ("/feedback", {"json": {"request_id": "nope", "actuals": [1.0]}}, 404),
    ],
)
def test_every_refusal_is_a_problem(gateway_url, path, send, status):
    headers = {**send.pop("headers", {}), **({} if status == 401 else {"X-API-Key": KEY})}
    response = httpx.post(gateway_url + path, headers=headers, timeout=30, **send)
    body = assert_problem(response, status, path)
    assert "request_id" in body and len(body["request_id"]) >= 16  # minted: none was sent


def test_the_open_inference_protocols_errors_are_problems_with_its_error_member(gateway_url):
    response = httpx.get(gateway_url + "/v2/models/other")
    body = assert_problem(response, 404, "/v2/models/other")
    assert body["error"] == body["detail"]  # where tritonclient reads it


def test_the_openapi_document_declares_every_error_as_a_problem(gateway_url):
    spec = httpx.get(gateway_url + "/openapi.json").json()
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "request_id"} <= set(problem["required"])
    errors = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status[0] not in "45":
                    continue
                content = response["content"]
                if path == "/health/ready":  # its own body: {"status": ...}
                    assert content["application/json"]["schema"]["$ref"].endswith("/Readiness")
                    continue
                errors += 1
                assert list(content) == [PROBLEM], (path, method, status)
                assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert errors >= 20
    ids = sorted(op["operationId"] for ops in spec["paths"].values() for op in ops.values())
    assert len(ids) == len(set(ids))
    assert {"predict", "invocations", "feedback", "model", "ready", "live", "v2_infer"} <= set(ids)
    assert set(spec["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
    price = spec["components"]["schemas"]["PredictResponse"]["properties"]["predictions"]
    assert "USD" in price["description"]
    income = spec["components"]["schemas"]["HousingRecord"]["properties"]["median_income"]
    assert "tens of thousands of USD" in income["description"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_load_their_assets_from_the_gateway_not_a_cdn(gateway_url, page):
    html = httpx.get(gateway_url + page).text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert assets, html[:500]
    for asset in assets:
        assert asset.startswith("/"), asset  # this server, nothing from elsewhere
        served = httpx.get(gateway_url + asset)
        assert served.status_code == 200 and len(served.content) > 1_000, asset


def test_the_public_model_says_what_answers_and_nothing_internal(gateway_url, predictor):
    served = predictor["client"].get("/model").json()
    response = httpx.get(gateway_url + "/model")  # no key
    assert response.status_code == 200
    public = response.json()
    assert public == {
        "name": served["name"],
        "version": served["version"],
        "alias": served["alias"],
        "metrics": served["metrics"],
        "trained_at": served["trained_at"],
        "intervals": True,
    }
    assert public["trained_at"] and public["metrics"]["rmse"] > 0

"""MLflow's scoring protocol, spoken by MLflow's own client code to the real predictor and the
real gateway in front of it: the same prices as /predict, in every shape MLflow sends."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd
from mlflow.deployments import PredictionsResponse
from mlflow.pyfunc.scoring_server.client import ScoringServerClient
from mlflow.utils.proto_json_utils import dump_input_data

from housing import __version__
from housing.contract import EXAMPLE_RECORD, FEATURES
from tests.conftest import GATEWAY_KEY

OTHER = {**EXAMPLE_RECORD, "median_income": 2.5, "total_bedrooms": None}
OTHER["ocean_proximity"] = "INLAND"
FRAME = pd.DataFrame([EXAMPLE_RECORD, OTHER], columns=list(FEATURES))


def predicted(url: str, headers: dict | None = None) -> list[float]:
    records = FRAME.astype(object).where(FRAME.notna(), None).to_dict(orient="records")
    answer = httpx.post(f"{url}/predict", json={"records": records}, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["predictions"]


def test_mlflows_scoring_client_gets_the_predictors_prices(predictor):
    """ScoringServerClient is what MLflow itself uses against `mlflow models serve`."""
    where = urlsplit(predictor["url"])
    client = ScoringServerClient(where.hostname, where.port)
    client.wait_server_ready(timeout=30)  # GET /ping
    assert client.get_version() == __version__
    answer = client.invoke(FRAME)  # dataframe_split, its missing value written as NaN
    assert isinstance(answer, PredictionsResponse)
    prices = answer.get_predictions(predictions_format="ndarray")
    np.testing.assert_allclose(prices, predicted(predictor["url"]))


def test_every_shape_through_the_gateway_with_a_key_gives_predicts_prices(gateway_url):
    key = {"X-API-Key": GATEWAY_KEY}
    expected = predicted(gateway_url, key)
    records = FRAME.astype(object).where(FRAME.notna(), None).to_dict(orient="records")
    columns = {name: [r[name] for r in records] for name in FEATURES}
    bodies = {
        "dataframe_split": dump_input_data(FRAME),  # MLflow's own serializer
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs": dump_input_data(records),
        "inputs, by column": {"inputs": columns},
    }
    for shape, body in bodies.items():
        text = body if isinstance(body, str) else json.dumps(body)
        headers = {**key, "Content-Type": "application/json"}
        answer = httpx.post(f"{gateway_url}/invocations", content=text, headers=headers, timeout=30)
        assert answer.status_code == 200, (shape, answer.text)
        assert answer.headers["x-request-id"]
        parsed = PredictionsResponse.from_json(answer.text)
        assert list(parsed) == ["predictions"], shape  # the body `mlflow models serve` gives
        np.testing.assert_allclose(parsed["predictions"], expected, err_msg=shape)
    csv = httpx.post(
        f"{gateway_url}/invocations",
        content=FRAME.to_csv(index=False),
        headers={**key, "Content-Type": "text/csv"},
        timeout=30,
    )
    assert csv.status_code == 200, csv.text
    np.testing.assert_allclose(csv.json()["predictions"], expected)


def test_the_gateways_invocations_keep_its_keys_and_ping_says_ready(gateway_url):
    body = {"dataframe_records": [EXAMPLE_RECORD]}
    assert httpx.post(f"{gateway_url}/invocations", json=body, timeout=10).status_code == 401
    assert httpx.get(f"{gateway_url}/ping", timeout=10).status_code == 200
    assert httpx.get(f"{gateway_url}/version", timeout=10).text == __version__


def test_an_mlflow_body_sent_to_predict_is_told_where_it_goes(gateway_url):
    answer = httpx.post(
        f"{gateway_url}/predict",
        json={"dataframe_records": [EXAMPLE_RECORD]},
        headers={"X-API-Key": GATEWAY_KEY},
        timeout=10,
    )
    assert answer.status_code == 422
    assert "send it to POST /invocations" in answer.json()["detail"]

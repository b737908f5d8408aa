"""The Open Inference Protocol (KServe v2) through the real gateway and predictor, spoken by
Triton's own HTTP client (tritonclient) with the API key as a header: the same prices as
/predict, a missing value as NaN, and refusals that name the tensor."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from housing import defaults
from housing.contract import CATEGORICAL, EXAMPLE_RECORD, FEATURES
from tests.conftest import GATEWAY_KEY

MODEL = defaults.MODEL_NAME
KEY = {"X-API-Key": GATEWAY_KEY}
OTHER = {**EXAMPLE_RECORD, "median_income": 2.5, "total_bedrooms": None}
OTHER[CATEGORICAL] = "INLAND"
ROWS = [EXAMPLE_RECORD, OTHER]


@pytest.fixture
def client(gateway_url):
    where = urlsplit(gateway_url)
    with triton.InferenceServerClient(url=f"{where.hostname}:{where.port}") as client:
        yield client


def tensors(rows: list[dict]) -> list:
    inputs = []
    for name in FEATURES:
        if name == CATEGORICAL:
            data = np.array([r[name] for r in rows], dtype=object)
            tensor = triton.InferInput(name, [len(rows)], "BYTES")
        else:
            values = [np.nan if r[name] is None else r[name] for r in rows]
            data = np.array(values, dtype=np.float64)
            tensor = triton.InferInput(name, [len(rows)], "FP64")
        tensor.set_data_from_numpy(data, binary_data=False)
        inputs.append(tensor)
    return inputs


def test_tritons_client_gets_the_prices_of_predict(client, gateway_url):
    assert client.is_server_live(headers=KEY) and client.is_server_ready(headers=KEY)
    assert client.is_model_ready(MODEL, headers=KEY)
    meta = client.get_model_metadata(MODEL, headers=KEY)
    types = {i["name"]: i["datatype"] for i in meta["inputs"]}
    assert list(types) == list(FEATURES)
    assert types[CATEGORICAL] == "BYTES" and {types[f] for f in FEATURES if f != CATEGORICAL} == {
        "FP64"
    }
    outputs = [triton.InferRequestedOutput("predictions", binary_data=False)]
    result = client.infer(MODEL, tensors(ROWS), outputs=outputs, headers=KEY, request_id="r-7")
    expected = httpx.post(
        f"{gateway_url}/predict", json={"records": ROWS}, headers=KEY, timeout=30
    ).json()
    np.testing.assert_allclose(result.as_numpy("predictions"), expected["predictions"])
    response = result.get_response()
    assert response["id"] == "r-7" and response["model_name"] == MODEL
    assert response["model_version"] == expected["model"]["version"]


def test_refusals_name_the_tensor_and_keep_the_key(client, gateway_url):
    without = [t for t in tensors(ROWS) if t.name() != "median_income"]
    with pytest.raises(InferenceServerException, match="inputs.median_income"):
        client.infer(MODEL, without, headers=KEY)
    with pytest.raises(InferenceServerException, match="this server serves"):
        client.infer("another-model", tensors(ROWS), headers=KEY)
    with pytest.raises(InferenceServerException):
        client.infer(MODEL, tensors(ROWS))  # no key
    bad = httpx.post(
        f"{gateway_url}/v2/models/{MODEL}/infer",
        json={
            "inputs": [
                {"name": f, "shape": [1], "datatype": "FP64", "data": [1.0]} for f in FEATURES
            ]
        },  # fmt: skip
        headers=KEY,
        timeout=10,
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith(
        f"inputs.{CATEGORICAL}.datatype"
    )

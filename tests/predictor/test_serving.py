"""The predictor serves the champion, agrees with the pipeline, swaps without a failed request."""

from __future__ import annotations

import threading
import time

import httpx
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from housing.contract import EXAMPLE_RECORD, FEATURES
from housing.defaults import MODEL_SHA256_TAG
from housing.model import native
from housing.stages.register import register_with_digest
from tests.conftest import PREDICTOR_MODEL as MODEL
from tests.support.apps import predictor_env, service
from tests.support.procs import free_port


def test_serves_the_champion(predictor, registered):
    client = predictor["client"]
    assert client.get("/health/live").status_code == 200
    ready = client.get("/health/ready").json()
    assert ready["model"]["version"] == registered["first"]
    info = client.get("/model").json()
    assert info["name"] == MODEL and info["alias"] == "champion"
    assert info["metrics"]["rmse"] > 0 and info["run_id"] and info["fast_path"]
    assert info["trees"] == ("c" if native.KERNEL else "numpy")  # make install builds the kernel


def test_the_callers_request_id_comes_back_in_the_body_and_a_header(predictor):
    client = predictor["client"]
    traced = client.post("/predict", json=EXAMPLE_RECORD, headers={"X-Request-ID": "trace-42"})
    assert traced.json()["request_id"] == "trace-42" == traced.headers["x-request-id"]
    refused = client.post("/predict", json={"junk": 1}, headers={"X-Request-ID": "trace-43"})
    assert refused.status_code == 422 and refused.headers["x-request-id"] == "trace-43"
    # Without one, the predictor makes one: the prediction log keys on it.
    plain = [client.post("/predict", json=EXAMPLE_RECORD) for _ in range(2)]
    minted = [answer.json()["request_id"] for answer in plain]
    assert minted == [answer.headers["x-request-id"] for answer in plain]
    assert all(minted) and minted[0] != minted[1]


def test_predictions_equal_the_registered_pipeline(predictor, registered):
    test = pd.read_csv(registered["work"] / "prepared/test.csv").head(45)
    records = test[list(FEATURES)].replace({np.nan: None}).to_dict(orient="records")
    mlflow.set_tracking_uri(registered["server"].url)
    expected = mlflow.sklearn.load_model(f"models:/{MODEL}/{registered['first']}").predict(
        test[list(FEATURES)]
    )
    client = predictor["client"]
    batch = client.post("/predict", json={"records": records}).json()["predictions"]
    singles = [client.post("/predict", json=r).json()["predictions"][0] for r in records[:5]]
    np.testing.assert_allclose(batch, expected, rtol=1e-9)
    np.testing.assert_allclose(singles, expected[:5], rtol=1e-6)


def test_intervals_come_only_when_asked_and_hold_the_prediction(predictor, registered):
    test = pd.read_csv(registered["work"] / "prepared/test.csv").head(30)
    records = test[list(FEATURES)].replace({np.nan: None}).to_dict(orient="records")
    client = predictor["client"]
    plain = client.post("/predict", json={"records": records}).json()
    assert "intervals" not in plain
    widths = {}
    for level in (0.5, 0.9):
        answer = client.post(f"/predict?interval={level}", json={"records": records}).json()
        assert answer["predictions"] == plain["predictions"]
        low, high = np.array(answer["intervals"]).T
        predictions = np.array(answer["predictions"])
        assert len(low) == len(records) and (0 <= low).all()
        assert (low <= predictions).all() and (predictions <= high).all()
        widths[level] = high - low
    assert (widths[0.5] < widths[0.9]).all()
    single = client.post("/predict?interval=0.8", json=EXAMPLE_RECORD).json()
    assert len(single["intervals"]) == 1 and len(single["intervals"][0]) == 2


def test_a_level_outside_the_range_is_refused_naming_the_parameter(predictor):
    for level in ("0.3", "1", "0.995", "ninety", "nan"):
        refused = predictor["client"].post(f"/predict?interval={level}", json=EXAMPLE_RECORD)
        assert refused.status_code == 422, (level, refused.text)
        assert "interval" in refused.json()["detail"]


def test_metrics_are_exposed(predictor):
    predictor["client"].post("/predict", json=EXAMPLE_RECORD)
    assert predictor["client"].get("/metrics").status_code == 404  # not on the service's port
    text = httpx.get(predictor["metrics"], timeout=5).text
    labels = '{code="200",method="POST",route="/predict"}'
    assert f"predictor_requests_total{labels}" in text
    assert f"predictor_request_duration_seconds_count{labels}" in text
    served = predictor["client"].get("/model").json()
    info = (
        f'predictor_model_info{{name="{served["name"]}",run_id="{served["run_id"]}",'
        f'version="{served["version"]}"}} 1.0'
    )
    assert info in text and "predictor_model_swaps_total" in text
    assert "process_resident_memory_bytes" in text and "process_open_fds" in text


def test_openapi_documents_predict_with_an_example(predictor):
    spec = predictor["client"].get("/openapi.json").json()
    assert "/predict" in spec["paths"]
    (interval,) = spec["paths"]["/predict"]["post"]["parameters"]
    assert interval["name"] == "interval" and interval["schema"]["maximum"] == 0.99
    assert "HousingRecord" in spec["components"]["schemas"]


class Load:
    """A client sending predictions continuously from a thread, counting what fails."""

    def __init__(self, url: str):
        self.url = url
        self.versions: list[tuple[float, str]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    response = client.post("/predict", json=EXAMPLE_RECORD)
                    if response.status_code != 200:
                        self.failures.append(f"{response.status_code} {response.text[:200]}")
                    else:
                        self.versions.append(
                            (time.monotonic(), response.json()["model"]["version"])
                        )
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


def wait_for_version(client: httpx.Client, version: str, timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if client.get("/model").json()["version"] == version:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"v{version} not served after {timeout_s}s")


def test_alias_move_swaps_without_a_failed_request(predictor, registered):
    registry = MlflowClient(registered["server"].url)
    client = predictor["client"]
    try:
        with Load(predictor["url"]) as load:
            time.sleep(0.5)
            moved_at = time.monotonic()
            registry.set_registered_model_alias(MODEL, "champion", registered["second"])
            took = wait_for_version(client, registered["second"], timeout_s=20)
            time.sleep(0.5)
        assert load.failures == []
        served = [v for _, v in load.versions]
        assert served[0] == registered["first"] and served[-1] == registered["second"]
        first_new = next(t for t, v in load.versions if v == registered["second"])
        # Two poll intervals (1 s each) plus the load and warm-up of the new version.
        assert first_new - moved_at < 2 * 1.0 + 3.0, (took, first_new - moved_at)
        print(f"\nswap: {len(load.versions)} requests, 0 failed, new version after {took:.2f}s")
    finally:
        registry.set_registered_model_alias(MODEL, "champion", registered["first"])
        wait_for_version(client, registered["first"], timeout_s=20)


def test_broken_version_is_refused_and_the_old_one_keeps_serving(predictor, registered):
    from sklearn.dummy import DummyRegressor
    from sklearn.pipeline import Pipeline

    mlflow.set_tracking_uri(registered["server"].url)
    frame = pd.DataFrame([EXAMPLE_RECORD])
    broken = Pipeline([("regressor", DummyRegressor(strategy="constant", constant=-1.0))])
    broken.fit(frame[["median_income"]], [1.0])  # answers -1 for everything: a bad model
    with mlflow.start_run(run_name="broken"):
        info = mlflow.sklearn.log_model(broken, name="model", serialization_format="skops")
    # Registered as the trainer does (with its file's digest), so that the warm-up refuses it.
    version = str(register_with_digest(info.model_uri, MODEL).version)
    registry = MlflowClient(registered["server"].url)
    client = predictor["client"]
    try:
        with Load(predictor["url"]) as load:
            registry.set_registered_model_alias(MODEL, "champion", version)
            deadline = time.monotonic() + 20
            while version not in client.get("/model").json()["refused_versions"]:
                assert time.monotonic() < deadline, "broken version was not refused"
                time.sleep(0.2)
        assert load.failures == []
        assert {v for _, v in load.versions} == {registered["first"]}
        metrics = httpx.get(predictor["metrics"], timeout=5).text
        assert "predictor_model_load_failures_total 1.0" in metrics
    finally:
        registry.set_registered_model_alias(MODEL, "champion", registered["first"])


def test_restart_without_mlflow_serves_from_cache(predictor, registered, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"  # the tracking server is gone
    env = predictor_env(dead, MODEL, predictor["cache"])
    started = time.monotonic()
    with service("predictor", env, tmp_path / "p.log", ready_path="/health/ready") as (url, _, _):
        ready_in = time.monotonic() - started
        response = httpx.post(url + "/predict", json=EXAMPLE_RECORD, timeout=10)
        assert response.status_code == 200
        assert response.json()["model"]["version"] == registered["first"]
        assert httpx.get(url + "/model").json()["source"] == "cache"
    print(f"\nready from cache in {ready_in:.2f}s (process start included)")


def test_before_any_model_is_loaded_503_with_retry_after(registered, tmp_path):
    env = predictor_env(registered["server"].url, "no-such-model", tmp_path / "cache")
    with service("predictor", env, tmp_path / "p.log") as (url, _, _):
        response = httpx.post(url + "/predict", json=EXAMPLE_RECORD, timeout=10)
        assert response.status_code == 503 and response.headers["retry-after"]
        assert "no model" in response.json()["detail"]
        assert httpx.get(url + "/health/ready").status_code == 503
        assert httpx.get(url + "/health/live").status_code == 200


def test_a_new_registry_under_the_same_number_is_served_within_a_poll(registered, tmp_path):
    """A registry made anew (`make clean`, a restored backup, a re-created version) numbers from
    1 again: the predictor, which has the old v1 loaded and cached, serves the new v1 (another
    run, another model file) at its next poll, and says which one in every answer."""
    client = MlflowClient(registered["server"].url)
    name = "housing-price-renewed"

    def as_new_v1(source_version: str):
        """`name` made anew, its v1 a copy of MODEL's `source_version`, champion."""
        if client.search_registered_models(f"name = '{name}'"):
            client.delete_registered_model(name)
        source = client.get_model_version(MODEL, source_version)
        copied = client.copy_model_version(f"models:/{MODEL}/{source_version}", name)
        assert copied.version in (1, "1")
        client.set_model_version_tag(name, "1", MODEL_SHA256_TAG, source.tags[MODEL_SHA256_TAG])
        client.set_registered_model_alias(name, "champion", "1")
        return source.run_id

    old_run = as_new_v1(registered["first"])
    env = predictor_env(registered["server"].url, name, tmp_path / "cache")
    with service("predictor", env, tmp_path / "p.log", ready_path="/health/ready") as (url, _, _):
        before = httpx.post(url + "/predict", json=EXAMPLE_RECORD, timeout=10).json()
        assert before["model"]["version"] == "1" and before["model"]["run_id"] == old_run
        new_run = as_new_v1(registered["second"])
        assert new_run != old_run
        started = time.monotonic()
        while httpx.get(url + "/model", timeout=10).json()["run_id"] != new_run:
            assert time.monotonic() - started < 15, "the new v1 was not served"
            time.sleep(0.1)
        took = time.monotonic() - started
        after = httpx.post(url + "/predict", json=EXAMPLE_RECORD, timeout=10).json()
    assert after["model"] == {**before["model"], "run_id": new_run}
    assert after["predictions"] != before["predictions"]  # another model, truly
    print(f"\na new registry's v1 served {took:.1f}s after it was made (polls every 1 s)")

"""The predictor serves no model file whose sha256 differs from the version's tag.

Wire tests: a real MLflow server whose artifacts are in a real S3 API (moto's server), and real
predictor processes. The tampered file is another valid model of the same shape, so that only the
digest can tell (it would load, warm up and serve).
"""

from __future__ import annotations

import shutil

import httpx
import mlflow
import pytest
from mlflow import MlflowClient

from housing.contract import EXAMPLE_RECORD
from housing.defaults import MODEL_SHA256_TAG
from housing.files import sha256_of
from housing.model import persist
from housing.stages.register import register_with_digest
from tests.conftest import PREDICTOR_MODEL as MODEL
from tests.support.apps import predictor_env, service
from tests.support.procs import free_port, wait_until
from tests.support.services import s3_client


def _other_model_bytes(registered) -> bytes:
    """A valid model file of another version: loads and serves, but is not the one registered."""
    return (registered["work"] / "fewer-trees" / persist.MODEL_FILE).read_bytes()


def test_a_model_tampered_with_in_s3_is_refused(predictor, registered, s3_endpoint):
    mlflow.set_tracking_uri(registered["server"].url)
    pipeline = persist.load_model(registered["work"] / "trained")
    with mlflow.start_run(run_name="to-be-tampered"):
        logged = mlflow.sklearn.log_model(
            pipeline, name="model", skops_trusted_types=persist.TRUSTED_TYPES
        )
    version = str(register_with_digest(logged.model_uri, MODEL).version)
    s3 = s3_client(s3_endpoint)
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="mlflow")
        for o in page.get("Contents", [])
        if logged.model_id in o["Key"] and o["Key"].endswith(".skops")
    ]
    assert len(keys) == 1, keys
    s3.put_object(Bucket="mlflow", Key=keys[0], Body=_other_model_bytes(registered))

    registry = MlflowClient(registered["server"].url)
    client = predictor["client"]
    try:
        registry.set_registered_model_alias(MODEL, "champion", version)
        refused = wait_until(
            lambda: (
                client.get("/model").json()["refused_versions"].get(version, {}).get("reason")
                or _download_refusal(predictor["log"], version)
            ),
            timeout_s=20,
            what=f"v{version} refused",
        )
        assert "sha256" in refused and "not served" in refused, refused
        assert client.get("/model").json()["version"] == registered["first"]
        assert (
            client.post("/predict", json=EXAMPLE_RECORD).json()["model"]["version"]
            == (registered["first"])
        )
        # Nothing of the tampered download entered the cache.
        assert not list(predictor["cache"].glob(f"*/{version}-*"))
    finally:
        registry.set_registered_model_alias(MODEL, "champion", registered["first"])


def _download_refusal(log, version: str) -> str | None:
    for line in log.read_text().splitlines():
        if f"cannot download v{version}" in line:
            return line
    return None


@pytest.fixture
def tampered_cache(predictor, registered, tmp_path):
    """A copy of the serving predictor's cache whose champion file was swapped for another."""
    cache = tmp_path / "cache"
    shutil.copytree(predictor["cache"], cache)
    files = list(cache.glob(f"{MODEL}/{registered['first']}-*/model/**/*.skops"))
    assert len(files) == 1, files
    files[0].write_bytes(_other_model_bytes(registered))
    return cache


def test_a_tampered_cache_is_not_served_without_the_registry(tampered_cache, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    env = predictor_env(dead, MODEL, tampered_cache)
    log = tmp_path / "p.log"
    with service("predictor", env, log) as (url, _, _):
        assert httpx.get(url + "/health/ready").status_code == 503
        assert httpx.post(url + "/predict", json=EXAMPLE_RECORD, timeout=10).status_code == 503
        wait_until(lambda: "not served" in log.read_text(), 10, "the refusal logged")


def test_a_tampered_cache_is_replaced_by_a_good_download(tampered_cache, registered, tmp_path):
    env = predictor_env(registered["server"].url, MODEL, tampered_cache)
    tag = MlflowClient(registered["server"].url).get_model_version(MODEL, registered["first"])
    expected = tag.tags[MODEL_SHA256_TAG]
    with service("predictor", env, tmp_path / "p.log", ready_path="/health/ready") as (url, _, _):
        served = httpx.get(url + "/model").json()
        assert served["version"] == registered["first"] and served["sha256"] == expected
    (folder,) = tampered_cache.glob(f"{MODEL}/{registered['first']}-*")
    (file,) = folder.glob("model/**/*.skops")
    assert sha256_of(file) == expected

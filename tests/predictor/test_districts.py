"""GET /districts/nearest on a real predictor: the district it gives is a row of the served
version's training sample (the reference its run logged), the nearest to the place asked; a
place outside the globe is a 422 naming the field."""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from housing.contract import FEATURES
from housing.model.geography import PROJECTION
from housing.monitor.reference import ARTIFACT_PATH, FRAME_FILE
from tests.conftest import PREDICTOR_MODEL as MODEL


def sample_of(registered, tmp_path) -> pd.DataFrame:
    client = MlflowClient(registered["server"].url)
    run_id = client.get_model_version(MODEL, registered["first"]).run_id
    path = client.download_artifacts(run_id, f"{ARTIFACT_PATH}/{FRAME_FILE}", str(tmp_path))
    return pd.read_csv(path)[list(FEATURES)]


def test_the_nearest_district_is_the_nearest_row_of_the_served_sample(
    predictor, registered, tmp_path
):
    sample = sample_of(registered, tmp_path)
    client = predictor["client"]
    assert client.get("/model").json()["districts"] == len(sample)
    row = sample.iloc[17]
    at_row = client.get(
        "/districts/nearest", params={"longitude": row.longitude, "latitude": row.latitude}
    )
    assert at_row.status_code == 200, at_row.text
    found = at_row.json()
    assert found["distance_km"] == 0 and found["model"]["version"] == registered["first"]
    same_place = sample[(sample.longitude == row.longitude) & (sample.latitude == row.latitude)]
    as_sent = same_place.astype(object).where(same_place.notna(), None).to_dict("records")
    assert found["district"] in as_sent  # several districts may share a place
    # Between places: the one the client computes as nearest, at the distance it computes.
    place = np.array([-119.79, 36.74])
    distances = np.hypot(*((sample[["longitude", "latitude"]].to_numpy() - place) * PROJECTION).T)
    answer = client.get(
        "/districts/nearest", params={"longitude": place[0], "latitude": place[1]}
    ).json()
    assert abs(answer["distance_km"] - distances.min()) < 1e-3
    nearest = sample.iloc[int(distances.argmin())]
    assert (answer["district"]["longitude"], answer["district"]["latitude"]) == (
        nearest.longitude,
        nearest.latitude,
    )
    assert set(answer["district"]) == set(FEATURES)  # features only: no price


def test_a_place_off_the_globe_is_refused_naming_the_field(predictor):
    refused = predictor["client"].get(
        "/districts/nearest", params={"longitude": -119.8, "latitude": 123}
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"] == "query.latitude" for e in refused.json()["errors"]), refused.json()

"""`housing predict` and `housing status` against a real gateway, predictor and MLflow server."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from housing.batch import as_record
from tests.conftest import GATEWAY_KEY as KEY
from tests.conftest import PREDICTOR_MODEL

ROWS = 120  # three chunks of 50 (the suite's predictor takes at most 50 records a request)
CHUNK = "50"


def housing(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "housing.cli", *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, **env},
    )  # fmt: skip


@pytest.fixture(scope="module")
def districts(tmp_path_factory, raw_csv):
    """The data set's first rows, in its own columns (the price too: kept, not used)."""
    path = tmp_path_factory.mktemp("batch") / "districts.csv"
    with open(raw_csv, newline="") as src, open(path, "w", newline="") as out:
        lines = src.readlines()[: ROWS + 1]
        out.writelines(lines)
    return path


def read(path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_predict_through_the_gateway_equals_the_predictor_row_for_row(
    districts, tmp_path, gateway_url, predictor
):
    out = tmp_path / "scored.csv"
    done = housing(
        "predict", "-i", str(districts), "-o", str(out), "--url", gateway_url, "--interval", "0.9",
        "--chunk", CHUNK, HOUSING_API_KEY=KEY, TTY_COMPATIBLE="1",  # stderr drawn as a terminal
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{out}: {ROWS} districts scored"
    assert "scoring" in done.stderr and f"{ROWS}/{ROWS}" in done.stderr  # the progress bar
    scored, source = read(out), read(districts)
    assert len(scored) == ROWS
    assert all(s[name] == r[name] for s, r in zip(scored, source, strict=True) for name in r)
    sample = [0, 49, 50, ROWS - 1]
    direct = predictor["client"].post(
        "/predict?interval=0.9", json={"records": [as_record(source[i]) for i in sample]}
    )
    answer = direct.json()
    for at, index in enumerate(sample):
        row = scored[index]
        assert float(row["predicted_median_house_value"]) == pytest.approx(
            answer["predictions"][at], abs=0.01
        )
        low, high = answer["intervals"][at]
        assert float(row["interval_low"]) == pytest.approx(low, abs=0.01)
        assert float(row["interval_high"]) == pytest.approx(high, abs=0.01)


def test_predict_names_the_row_and_field_that_is_refused_and_writes_nothing(
    districts, tmp_path, gateway_url, registered
):
    rows = read(districts)[:100]
    rows[73]["households"] = "many"
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "scored.csv"
    model_dir = str(registered["work"] / "trained")
    for mode in (["--url", gateway_url], ["--local", "--model-dir", model_dir]):
        done = housing(
            "predict", "-i", str(bad), "-o", str(out), "--chunk", CHUNK, *mode, HOUSING_API_KEY=KEY
        )
        assert done.returncode == 1
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("error: row 74 (line 75): households: "), done.stderr
        assert not out.exists()


def test_predict_local_scores_with_the_trained_model_folder(districts, tmp_path, registered):
    import numpy as np
    import pandas as pd

    from housing.model.persist import load_model

    model_dir = registered["work"] / "trained"
    out = tmp_path / "local.csv"
    done = housing("predict", "-i", str(districts), "-o", str(out), "--local",
                   "--model-dir", str(model_dir))  # fmt: skip
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(districts)
    expected = load_model(model_dir).predict(frame.drop(columns=["median_house_value"]))
    got = pd.read_csv(out)["predicted_median_house_value"].to_numpy()
    assert np.allclose(got, expected, atol=0.01)


def test_predict_without_the_feature_columns_is_one_line(tmp_path, gateway_url):
    bad = tmp_path / "wrong.csv"
    bad.write_text("a,b\n1,2\n")
    done = housing("predict", "-i", str(bad), "--url", gateway_url)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: {bad}: no column longitude")


def test_status_shows_the_aliases_and_what_the_predictor_serves(registered, predictor):
    done = housing(
        "status", "--predictors", f"{predictor['url']},http://127.0.0.1:9",
        MLFLOW_TRACKING_URI=registered["server"].url, HOUSING_MODEL_NAME=PREDICTOR_MODEL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    served = predictor["client"].get("/model").json()
    assert lines[0].startswith(PREDICTOR_MODEL)
    assert any(line.strip().startswith("champion: v") and "rmse" in line for line in lines)
    assert any(line.strip().startswith("challenger:") for line in lines)
    assert f"  predictor {predictor['url']}: v{served['version']} ({served['alias']}" in lines[-2]
    assert lines[-1] == "  predictor http://127.0.0.1:9: unreachable (ConnectError)"

"""What live traffic is compared with: a profile of a version's training set, kept with its run.

The register stage logs it beside the model (`reference/` among the run's artifacts): a seeded
sample of the training rows with the model's prediction for each (the reference for prediction
drift), and a profile (each field's range and missing share over the whole training set, the
categories seen) that out-of-range rates are measured against. A version registered before this
existed gets one built on first use from its lineage (`build_for_run`).

The predictions on training rows are in-sample: each row's neighbours include itself, so they
sit closer to the true prices than live predictions do. Drift of the predictions is read as a
change of distribution, not of accuracy, and the profile says so (`prediction_source`).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from housing.contract import CATEGORICAL, FEATURES, NUMERIC
from housing.files import atomic_path

ARTIFACT_PATH = "reference"  # in the run's artifacts
FRAME_FILE = "reference.csv"
PROFILE_FILE = "profile.json"
PREDICTION = "prediction"
SAMPLE_SEED = 0


@dataclass(frozen=True)
class Reference:
    frame: pd.DataFrame  # FEATURES and PREDICTION
    profile: dict

    def ranges(self) -> dict[str, tuple[float, float]]:
        return {name: tuple(bounds) for name, bounds in self.profile["ranges"].items()}


def build(
    features: pd.DataFrame, pipeline, rows: int, train_sha256: str | None = None
) -> Reference:
    """The reference of a model fitted on `features` (the training rows' FEATURES)."""
    features = features[list(FEATURES)]
    sample = features.sample(n=min(rows, len(features)), random_state=SAMPLE_SEED)
    frame = sample.reset_index(drop=True).copy()
    frame[PREDICTION] = np.asarray(pipeline.predict(sample), dtype=np.float64)
    profile = {
        "training_rows": len(features),
        "sample_rows": len(frame),
        "train_sha256": train_sha256,
        "ranges": {
            name: [float(features[name].min()), float(features[name].max())] for name in NUMERIC
        },
        "missing": {name: float(features[name].isna().mean()) for name in FEATURES},
        "categories": sorted(str(c) for c in features[CATEGORICAL].dropna().unique()),
        "prediction_source": "in-sample predictions of the training sample",
    }
    return Reference(frame, profile)


def save(reference: Reference, folder: Path) -> None:
    """Write the two files, each whole or not at all."""
    with atomic_path(folder / FRAME_FILE, ".csv") as tmp:
        reference.frame.to_csv(tmp, index=False)
    with atomic_path(folder / PROFILE_FILE, ".json") as tmp:
        tmp.write_text(json.dumps(reference.profile, indent=2) + "\n")


def load(folder: Path) -> Reference:
    profile = json.loads((folder / PROFILE_FILE).read_text())
    frame = pd.read_csv(folder / FRAME_FILE, dtype={CATEGORICAL: str})
    missing = [name for name in (*FEATURES, PREDICTION) if name not in frame.columns]
    if missing:
        raise ValueError(f"{folder / FRAME_FILE} lacks columns {missing}")
    return Reference(frame, profile)


def log_to_active_run(reference: Reference) -> None:
    """Log the reference as the active MLflow run's `reference/` artifacts."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        save(reference, Path(tmp))
        mlflow.log_artifacts(tmp, artifact_path=ARTIFACT_PATH)

"""A fitted pipeline on disk: the model folder's layout, and skops with only the types we trust."""

from __future__ import annotations

from pathlib import Path

import skops.io as sio

# skops refuses classes outside its default allow-list at load time: the project's own transformers
# and the two scikit-learn/numpy internals a fitted HistGradientBoosting holds.
TRUSTED_TYPES = [
    "housing.model.features.RatioFeatures",
    "housing.model.geography.GeoFeatures",
    "housing.model.neighbours.NeighbourFeatures",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]


# The train stage's output folder: the pipeline, and what the fit took.
MODEL_FILE = "pipeline.skops"
INFO_FILE = "train.json"


def save(pipeline, path: Path) -> None:
    sio.dump(pipeline, path)


def load_model(model_dir: Path):
    """The pipeline of a model folder written by the train stage."""
    return load(model_dir / MODEL_FILE)


def load(path: Path):
    untrusted = sio.get_untrusted_types(file=path)
    unexpected = [t for t in untrusted if t not in TRUSTED_TYPES]
    if unexpected:
        raise ValueError(f"{path} holds types this project does not trust: {unexpected}")
    return sio.load(path, trusted=untrusted)


def find_skops_file(model_dir: Path) -> Path:
    """The skops file inside an MLflow model folder (or the file itself)."""
    if model_dir.is_file():
        return model_dir
    found = sorted(model_dir.rglob("*.skops"))
    if not found:
        raise FileNotFoundError(f"no .skops model file under {model_dir}")
    return found[0]

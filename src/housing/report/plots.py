"""The model card's plots (matplotlib, PNG): what a reviewer looks at before trusting a version."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, in CI or a container

import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
import numpy as np  # noqa: E402

from housing.contract import PRICE_CAP  # noqa: E402

PREDICTED_VS_ACTUAL = "predicted_vs_actual.png"
RESIDUAL_MAP = "residual_map.png"
IMPORTANCE = "permutation_importance.png"
WIDTH_VS_ERROR = "interval_width_vs_error.png"
DPI = 110


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, out_dir: Path) -> Path:
    figure, axes = plt.subplots(figsize=(6, 6))
    axes.scatter(actual / 1e3, predicted / 1e3, s=4, alpha=0.3, color="tab:blue")
    top = max(actual.max(), predicted.max()) / 1e3
    axes.plot([0, top], [0, top], color="black", linewidth=1, label="predicted = actual")
    axes.axvline(PRICE_CAP / 1e3, color="tab:red", linestyle="--", linewidth=1, label="price cap")
    axes.set(xlabel="actual ($1,000)", ylabel="predicted ($1,000)", title="Test split")
    axes.legend(loc="upper left")
    return _save(figure, out_dir / PREDICTED_VS_ACTUAL)


def residual_map(
    longitude: np.ndarray, latitude: np.ndarray, residual: np.ndarray, out_dir: Path
) -> Path:
    figure, axes = plt.subplots(figsize=(6.5, 7))
    limit = float(np.quantile(np.abs(residual), 0.98)) / 1e3
    shown = axes.scatter(
        longitude, latitude, c=residual / 1e3, s=5, cmap="coolwarm", vmin=-limit, vmax=limit
    )
    figure.colorbar(shown, ax=axes, label="predicted - actual ($1,000)")
    axes.set(xlabel="longitude", ylabel="latitude", title="Errors on the test split, by place")
    axes.set_aspect(1 / np.cos(np.radians(36.5)))  # degrees of longitude are shorter here
    return _save(figure, out_dir / RESIDUAL_MAP)


def permutation_importance(
    fields: list[str], mean: np.ndarray, std: np.ndarray, out_dir: Path
) -> Path:
    order = np.argsort(mean)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.barh(np.array(fields)[order], mean[order] / 1e3, xerr=std[order] / 1e3, color="tab:green")
    axes.set(
        xlabel="test RMSE increase when the field is shuffled ($1,000)",
        title="Permutation importance of the request's fields",
    )
    return _save(figure, out_dir / IMPORTANCE)


def width_vs_error(
    actual: np.ndarray, predicted: np.ndarray, bounds: np.ndarray, level: float, out_dir: Path
) -> Path:
    inside = (actual >= bounds[:, 0]) & (actual <= bounds[:, 1])
    width, error = (bounds[:, 1] - bounds[:, 0]) / 1e3, np.abs(actual - predicted) / 1e3
    figure, axes = plt.subplots(figsize=(6.5, 5))
    for mask, label, color in ((inside, "inside", "tab:blue"), (~inside, "outside", "tab:red")):
        axes.scatter(width[mask], error[mask], s=4, alpha=0.4, color=color, label=label)
    axes.set(
        xlabel=f"width of the {level:.0%} interval ($1,000)",
        ylabel="|predicted - actual| ($1,000)",
        title=f"{level:.0%} intervals on the test split: {inside.mean():.1%} hold the price",
    )
    axes.legend(loc="upper left")
    return _save(figure, out_dir / WIDTH_VS_ERROR)

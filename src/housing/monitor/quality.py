"""Live quality per model version, and the data quality of each input field."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from housing.contract import CATEGORICAL, FEATURES
from housing.monitor.window import ACTUAL


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def by_version(rows: pd.DataFrame) -> dict[str, dict]:
    """Per model version: predictions, labelled ones, RMSE and MAE on those (USD), and the share
    of labelled actuals inside their interval (of those that asked for one; null when none did)."""
    out = {}
    for version, group in rows.groupby("model_version", sort=False):
        labelled = group[group[ACTUAL].notna()]
        error = (labelled["prediction"] - labelled[ACTUAL]).to_numpy(dtype=np.float64)
        with_interval = labelled[labelled["interval_low"].notna()]
        inside = (with_interval[ACTUAL] >= with_interval["interval_low"]) & (
            with_interval[ACTUAL] <= with_interval["interval_high"]
        )
        out[str(version)] = {
            "predictions": len(group),
            "labelled": len(labelled),
            "rmse": _number(np.sqrt(np.mean(error**2))) if len(error) else None,
            "mae": _number(np.mean(np.abs(error))) if len(error) else None,
            "coverage": _number(inside.mean()) if len(with_interval) else None,
            "with_interval": len(with_interval),
        }
    return dict(sorted(out.items(), key=lambda item: _version_key(item[0])))


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 62, version)


def field_quality(rows: pd.DataFrame, ranges: dict[str, tuple[float, float]], categories) -> dict:
    """Per input field: the share missing, and the share outside what training saw (a number
    outside the training set's range, a category it never had)."""
    out = {}
    for name in FEATURES:
        values = rows[name]
        present = values.dropna()
        if name == CATEGORICAL:
            outside = ~present.isin(list(categories))
        else:
            low, high = ranges[name]
            outside = (present < low) | (present > high)
        out[name] = {
            "missing": _number(values.isna().mean()) if len(values) else None,
            "out_of_range": _number(outside.mean()) if len(present) else None,
        }
    return out

"""Validation of the raw data set against the feature contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from housing.contract import (
    CATEGORICAL,
    CATEGORIES,
    NULLABLE,
    NUMERIC,
    NUMERIC_BOUNDS,
    RAW_COLUMNS,
    TARGET,
)


class DataValidationError(ValueError):
    """The data breaks the contract. The message names each column and how many rows."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def read_raw(path: Path) -> pd.DataFrame:
    """Read the raw CSV as text-tolerant columns, so that validation can name bad values."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError([f"{path} is empty: no header and no rows"]) from exc
    return validate(frame)


def validate(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the frame with numeric columns as float64, or raise with every problem found."""
    problems: list[str] = []
    expected = list(RAW_COLUMNS)
    missing = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in expected]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s): {', '.join(map(str, extra))}")
    if problems:
        raise DataValidationError(problems)
    if frame.empty:
        raise DataValidationError(["no rows: the file has a header but no data"])

    out = frame[expected].copy()
    for column in (*NUMERIC, TARGET):
        raw = out[column]
        values = pd.to_numeric(raw, errors="coerce").astype("float64")
        not_numeric = values.isna() & raw.notna()
        if not_numeric.any():
            sample = raw[not_numeric].iloc[0]
            problems.append(
                f"{column}: {int(not_numeric.sum())} row(s) are not numbers (e.g. {sample!r})"
            )
        if column not in NULLABLE and (nulls := int((raw.isna()).sum())):
            problems.append(f"{column}: {nulls} row(s) are empty")
        infinite = np.isinf(values)
        if infinite.any():
            problems.append(f"{column}: {int(infinite.sum())} row(s) are infinite")
        problems.extend(_range_problems(column, values.where(~infinite)))
        out[column] = values

    categories = out[CATEGORICAL]
    unknown = ~categories.isin(CATEGORIES)
    if unknown.any():
        seen = sorted(map(str, categories[unknown].unique()))[:5]
        problems.append(
            f"{CATEGORICAL}: {int(unknown.sum())} row(s) outside {list(CATEGORIES)} (found {seen})"
        )
    if problems:
        raise DataValidationError(problems)
    return out


def _range_problems(column: str, values: pd.Series) -> list[str]:
    if column == TARGET:
        bad = values <= 0
        return [f"{column}: {int(bad.sum())} row(s) are not above 0"] if bad.any() else []
    lower, inclusive, upper = NUMERIC_BOUNDS[column]
    below = values < lower if inclusive else values <= lower
    problems = []
    if below.any():
        sign = ">=" if inclusive else ">"
        problems.append(f"{column}: {int(below.sum())} row(s) are not {sign} {lower:g}")
    if upper is not None and (above := values > upper).any():
        problems.append(f"{column}: {int(above.sum())} row(s) are above {upper:g}")
    return problems

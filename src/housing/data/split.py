"""The stratified train/test split on the income category."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

INCOME_BINS = [0.0, 1.5, 3.0, 4.5, 6.0, np.inf]


def income_category(median_income: pd.Series) -> pd.Series:
    return pd.cut(median_income, bins=INCOME_BINS, labels=[1, 2, 3, 4, 5])


def stratified_split(
    frame: pd.DataFrame, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = train_test_split(
        frame,
        test_size=test_size,
        random_state=seed,
        stratify=income_category(frame["median_income"]),
    )
    return train, test

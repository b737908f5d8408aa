"""Data tests: the real data set meets the contract and splits as documented."""

import numpy as np

from housing.contract import CATEGORICAL, CATEGORIES
from housing.data.split import income_category


def test_real_file_shape_and_gaps(raw_frame):
    assert len(raw_frame) == 20_640
    assert raw_frame["total_bedrooms"].isna().sum() == 207
    assert raw_frame.drop(columns=["total_bedrooms"]).notna().all().all()


def test_every_category_is_present(raw_frame):
    assert set(raw_frame[CATEGORICAL].unique()) == set(CATEGORIES)


def test_split_sizes_and_income_strata(raw_frame, split):
    train, test = split
    assert (len(train), len(test)) == (16_512, 4_128)
    assert set(train.index).isdisjoint(test.index)
    overall = income_category(raw_frame["median_income"]).value_counts(normalize=True)
    in_test = income_category(test["median_income"]).value_counts(normalize=True)
    assert np.allclose(overall.sort_index(), in_test.sort_index(), atol=0.002)

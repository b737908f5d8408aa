import numpy as np

from housing.contract import NUMERIC
from housing.model.features import RATIOS, RatioFeatures, ratio_columns


def row(**values):
    base = dict.fromkeys(NUMERIC, 1.0)
    base.update(values)
    return np.array([[base[name] for name in NUMERIC]])


def test_ratios_are_appended_in_declared_order():
    X = row(total_rooms=600, households=200, total_bedrooms=150, population=800)
    out = RatioFeatures().fit(X).transform(X)
    assert out.shape == (1, len(NUMERIC) + len(RATIOS))
    np.testing.assert_allclose(out[0, len(NUMERIC) :], [3.0, 0.25, 4.0])


def test_zero_denominator_gives_zero_not_inf():
    out = ratio_columns(row(total_rooms=0, total_bedrooms=0))
    assert np.isfinite(out).all() and out[0, 1] == 0.0


def test_feature_names():
    names = RatioFeatures().fit(row()).get_feature_names_out(list(NUMERIC))
    assert list(names[-3:]) == [name for name, _, _ in RATIOS]

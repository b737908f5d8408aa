"""Intervals: split conformal ranks, the cap and the floor, and the coverage they promise on the
real test split (a model trained by the train stage, which calibrates them)."""

from __future__ import annotations

import numpy as np
import pytest

from housing.contract import PRICE_CAP
from housing.model import intervals, persist
from housing.model.pipeline import split_xy
from housing.model.scoring import interval_metrics


def test_the_ranks_are_split_conformal_ones():
    scores = np.sort(np.random.default_rng(0).normal(scale=0.2, size=99))
    # n = 99, level 0.8: the floor(100 * 0.1) = 10th smallest and the ceil(100 * 0.9) = 90th
    assert intervals.factors(scores, 0.8) == (scores[9], scores[89])
    low, high = intervals.factors(scores[:9], 0.95)  # too few scores for 95 %: open bounds
    assert low == -1.0 and high == np.inf


@pytest.mark.parametrize("level", [0.49, 0.995, float("nan")])
def test_levels_outside_the_range_are_refused(level):
    with pytest.raises(ValueError, match="interval level"):
        intervals.factors(np.zeros(10), level)


def test_bounds_stay_between_zero_and_the_cap_unless_the_prediction_is_above_it():
    scores = np.linspace(-2.0, 3.0, 1001)  # errors down to -200 % and up to +300 %
    predictions = np.array([10_000.0, 300_000.0, 600_000.0])
    low, high = intervals.bounds(predictions, scores, 0.99).T
    assert (low == 0).all()
    assert high[0] < PRICE_CAP and high[1] == PRICE_CAP and high[2] == predictions[2]


def test_a_requests_pairs_are_the_batch_bounds():
    scores = np.sort(np.random.default_rng(2).normal(scale=0.3, size=500))
    predictions = np.array([1.0, 50_000.0, 480_000.0, 520_000.0, 2e6])
    for level in (0.5, 0.9, 0.99):
        expected = intervals.bounds(predictions, scores, level).tolist()
        assert intervals.pairs(predictions, scores, level) == expected  # the Python road
        many = np.repeat(predictions, 5)  # more than FEW: the numpy road
        assert intervals.pairs(many, scores, level) == np.repeat(expected, 5, axis=0).tolist()


def test_coverage_holds_on_exchangeable_synthetic_errors():
    rng = np.random.default_rng(1)
    predicted = rng.uniform(50_000, 400_000, 20_000)
    actual = predicted * (1 + rng.gamma(2.0, 0.1, 20_000) - 0.2)  # skewed relative errors
    scores = intervals.relative_residuals(actual[:10_000], predicted[:10_000])
    for level in (0.5, 0.8, 0.9, 0.99):
        low, high = intervals.bounds(predicted[10_000:], scores, level).T
        inside = (actual[10_000:] >= low) & (actual[10_000:] <= high)
        assert abs(inside.mean() - level) <= 0.02, (level, inside.mean())


def test_calibration_refuses_predictions_it_cannot_divide_by():
    with pytest.raises(ValueError, match="positive"):
        intervals.relative_residuals(np.ones(3), np.array([1.0, 0.0, 2.0]))


def test_the_trained_model_keeps_its_calibration_and_covers_the_test_split(stage_inputs):
    """The train stage calibrates on out-of-fold residuals; skops keeps them; on the test split,
    which calibration never saw, the coverage is within 2 points of each level."""
    model = persist.load_model(stage_inputs / "trained")
    scores = intervals.scores_of(model)
    assert scores is not None and np.all(np.diff(scores) >= 0)
    import pandas as pd

    X, y = split_xy(pd.read_csv(stage_inputs / "prepared/test.csv"))
    result = interval_metrics(y, model.predict(X), scores)
    for level in (80, 90):
        assert abs(result[f"interval_{level}_coverage"] - level / 100) <= 0.02, result
    assert result["interval_80_mean_width"] < result["interval_90_mean_width"]

"""Model tests: quality on the test split and behaviour a person would expect."""

import numpy as np
import pandas as pd
import pytest

from housing.contract import CATEGORICAL, EXAMPLE_RECORD, NUMERIC
from housing.model.compiled import NotCompilable, compile_pipeline
from housing.model.pipeline import split_xy
from housing.stages.evaluate import metrics


@pytest.fixture(scope="module")
def test_xy(split):
    return split_xy(split[1])


def test_rmse_meets_the_bar(fitted, test_xy):
    X, y = test_xy
    result = metrics(y, fitted.predict(X))
    assert result["rmse"] <= 45_000, result
    assert result["r2"] > 0.8


def test_predictions_are_finite_and_positive(fitted, test_xy):
    predictions = fitted.predict(test_xy[0])
    assert np.isfinite(predictions).all() and (predictions > 0).all()


def test_higher_income_raises_the_price(fitted):
    incomes = [1.5, 3.0, 5.0, 8.0, 12.0]
    frame = pd.DataFrame([{**EXAMPLE_RECORD, "median_income": m} for m in incomes])
    predictions = fitted.predict(frame)
    assert (np.diff(predictions) > 0).all(), predictions


def test_missing_bedrooms_is_imputed(fitted):
    frame = pd.DataFrame([{**EXAMPLE_RECORD, "total_bedrooms": np.nan}])
    assert np.isfinite(fitted.predict(frame)).all()


def test_unseen_category_does_not_break_the_model(fitted):
    frame = pd.DataFrame([{**EXAMPLE_RECORD, CATEGORICAL: "SOMEWHERE NEW"}])
    assert np.isfinite(fitted.predict(frame)).all()


def test_compiled_form_equals_sklearn_on_every_test_row(fitted, test_xy):
    X, _ = test_xy
    X = X.copy()
    X.loc[X.index[:50], "total_bedrooms"] = np.nan  # the imputer's path too
    expected = fitted.predict(X)
    compiled = compile_pipeline(fitted)
    numeric, categories = X[list(NUMERIC)].to_numpy(np.float64), X[CATEGORICAL].tolist()
    batch = compiled.predict(numeric, categories)  # chunk by chunk
    one_by_one = np.concatenate(  # as single-row requests are
        [compiled.predict(numeric[i : i + 1], categories[i : i + 1]) for i in range(len(X))]
    )
    for got in (batch, one_by_one):
        relative = np.abs(got - expected) / np.abs(expected)
        assert relative.max() <= 1e-6, relative.max()


@pytest.mark.parametrize("leaves", [2, 64])
def test_compiled_form_follows_other_tree_shapes(split, test_xy, leaves):
    """Stumps and trees with as many leaves as a mask has bits; some trees may be one leaf."""
    from housing.model.pipeline import TrainParams, build_pipeline, fit

    params = TrainParams(max_iter=40, max_leaf_nodes=leaves, learning_rate=0.3, progress_every=40)
    pipeline = fit(build_pipeline(params), *split_xy(split[0]), params)
    X, _ = test_xy
    expected = pipeline.predict(X)
    got = compile_pipeline(pipeline).predict(
        X[list(NUMERIC)].to_numpy(np.float64), X[CATEGORICAL].tolist()
    )
    assert (np.abs(got - expected) / np.abs(expected)).max() <= 1e-6


def test_trees_with_more_leaves_than_mask_bits_are_not_compiled(split):
    from housing.model.pipeline import TrainParams, build_pipeline, fit

    params = TrainParams(max_iter=2, max_leaf_nodes=80, min_samples_leaf=5, progress_every=2)
    pipeline = fit(build_pipeline(params), *split_xy(split[0]), params)
    with pytest.raises(NotCompilable, match="more than 64 leaves"):
        compile_pipeline(pipeline)


def test_unknown_pipeline_is_not_compiled(fitted):
    from sklearn.pipeline import Pipeline

    with pytest.raises(NotCompilable):
        compile_pipeline(Pipeline([("regressor", fitted.named_steps["regressor"])]))

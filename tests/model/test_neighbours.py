"""The neighbour features keep the training prices where they belong: a training row's features
never hold its own price or a fold-mate's; other rows query every training district, and are
never added to the index. Small synthetic frames, each price unique so that it can be traced."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree
from sklearn.model_selection import KFold

from housing.contract import NUMERIC
from housing.model import native
from housing.model.compiled_blocks import Neighbours
from housing.model.geography import project
from housing.model.neighbours import STATS, NeighbourFeatures, nearest, squared_km

ROWS, FOLDS = 300, 5
MEAN = STATS.index("log_price_mean")


def districts(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.uniform(1.0, 50.0, (rows, len(NUMERIC)))
    X[:, NUMERIC.index("longitude")] = rng.uniform(-124.0, -114.0, rows)
    X[:, NUMERIC.index("latitude")] = rng.uniform(32.0, 42.0, rows)
    return X


@pytest.fixture
def train():
    X = districts(ROWS, seed=1)
    y = np.exp(11.0 + np.arange(ROWS) / ROWS)  # price i is unique: log price 11 + i / ROWS
    return X, y


def nearest_prices(out: np.ndarray) -> np.ndarray:
    """With ks=(1,), the one neighbour's log price, as the row index it came from."""
    return np.rint((out[:, len(NUMERIC) + MEAN] - 11.0) * ROWS).astype(int)


def test_a_training_row_never_sees_its_own_price_or_a_fold_mates(train):
    X, y = train
    out = NeighbourFeatures(ks=(1,), folds=FOLDS, seed=7).fit_transform(X, y)
    source = nearest_prices(out)
    fold_of = np.empty(ROWS, dtype=int)
    for fold, (_, rows) in enumerate(KFold(FOLDS, shuffle=True, random_state=7).split(X)):
        fold_of[rows] = fold
    assert (source != np.arange(ROWS)).all()
    assert (fold_of[source] != fold_of).all()
    # and each is the nearest district of the other folds, not just any
    xy = NeighbourFeatures(ks=(1,)).fit(X, y).xy_
    for row in range(0, ROWS, 37):
        others = np.flatnonzero(fold_of != fold_of[row])
        distances = np.linalg.norm(xy[others] - xy[row], axis=1)
        assert source[row] == others[np.argmin(distances)]


def test_other_rows_query_every_training_district_and_are_never_indexed(train):
    X, y = train
    fitted = NeighbourFeatures(ks=(1, 4), folds=FOLDS).fit(X, y)
    # A request at a training district's very spot finds that district: all of them are indexed.
    at_training_spots = fitted.transform(X)
    assert (nearest_prices(at_training_spots) == np.arange(ROWS)).all()
    new = districts(50, seed=2)
    before = fitted.table_.copy()
    first = fitted.transform(new)
    assert np.array_equal(fitted.table_, before) and len(fitted.xy_) == ROWS
    assert np.array_equal(fitted.transform(new), first)  # nothing was added between the two
    assert set(nearest_prices(first)) <= set(range(ROWS))


def test_prices_that_cannot_be_logged_or_too_few_rows_are_refused(train):
    X, y = train
    with pytest.raises(ValueError, match="positive price"):
        NeighbourFeatures().fit(X, np.where(np.arange(ROWS) == 5, 0.0, y))
    with pytest.raises(ValueError, match="does not fit"):
        NeighbourFeatures(ks=(ROWS,), folds=FOLDS).fit(X, y)


def test_in_the_fitted_pipeline_the_index_holds_the_training_split_only(fitted, split):
    from housing.model.pipeline import NEIGHBOURS, NUMERIC_BRANCH, PREPROCESS

    numeric = fitted.named_steps[PREPROCESS].named_transformers_[NUMERIC_BRANCH]
    neighbours = numeric.named_steps[NEIGHBOURS]
    train, _ = split
    assert len(neighbours.table_) == len(train)
    # Row for row the training districts, in their order: no test row was indexed.
    assert np.array_equal(neighbours.xy_, project(train[list(NUMERIC)].to_numpy(np.float64)))
    assert np.allclose(neighbours.table_[:, 0], np.log(train["median_house_value"].to_numpy()))


def clustered(rows: int, seed: int) -> np.ndarray:
    """Districts on few distinct spots (many share coordinates, as the data set's do), some on a
    ring around one spot: distances tie often, at the k-th neighbour too."""
    rng = np.random.default_rng(seed)
    X = districts(rows, seed)
    spots = rng.uniform((-124.0, 32.0), (-114.0, 42.0), (12, 2)).round(2)
    X[:, [LON, LAT]] = spots[rng.integers(0, len(spots), rows)]
    ring = rng.choice(rows, rows // 5, replace=False)
    angle = rng.integers(0, 4, len(ring)) * np.pi / 2
    X[ring, LON] = spots[0, 0] + 0.5 * np.cos(angle).round()
    X[ring, LAT] = spots[0, 1] + 0.5 * np.sin(angle).round()
    return X


LON, LAT = NUMERIC.index("longitude"), NUMERIC.index("latitude")


def test_nearest_is_ordered_by_distance_then_index_even_among_ties():
    points = project(clustered(400, seed=3))
    queries = np.vstack([points[::7], project(districts(40, seed=4))])
    d2, found = nearest(cKDTree(points), queries, 40)
    for q, query in enumerate(queries):
        every = squared_km(query[None], points[None])[0]
        expected = np.lexsort((np.arange(len(points)), every))[:40]
        assert np.array_equal(found[q], expected)
        assert np.array_equal(d2[q], every[expected])


@pytest.mark.parametrize("cell_km", [1.0, 8.0, 300.0])
def test_the_kernel_gives_numpys_bits(cell_km):
    """The predictor's C neighbour block against neighbour_columns: the same bits for requests
    on training spots (ties), between them, and off the grid (anywhere on Earth)."""
    if native.KERNEL is None:
        pytest.skip("the kernel is not built here")
    X = clustered(500, seed=5)
    fitted = NeighbourFeatures(ks=(1, 8, 33), folds=FOLDS).fit(X, np.exp(11 + np.arange(500) / 500))
    block = Neighbours.of(fitted, cell_km)
    requests = np.vstack([X[::3], districts(60, seed=6), districts(20, seed=7)])
    requests[-20:, LON] = np.linspace(-180, 180, 20)  # off the grid: every district is scanned
    requests[-20:, LAT] = np.linspace(-90, 90, 20)
    rows = np.zeros((len(requests), len(NUMERIC) + block.columns))
    rows[:, : len(NUMERIC)] = requests
    block(rows, len(NUMERIC), len(NUMERIC))
    expected = fitted.transform(requests)[:, len(NUMERIC) :]
    assert np.array_equal(rows[:, len(NUMERIC) :], expected)

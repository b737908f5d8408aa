"""Where a district is, in forms the trees can split on: rotated coordinates, distances to the big
cities, to the coast and to location clusters fitted on the training districts.

A boosted tree splits on one axis at a time, so a diagonal boundary (the coast runs north-west to
south-east) costs it many splits; the same coordinates turned by a few angles, and distances to
the places that set prices, give it those boundaries in one split each. Monotone transforms of the
other columns (logs of counts) would change nothing: the trees bin every column by its quantiles.

Distances are on an equirectangular projection in kilometres: within California the error
against great-circle distance is a few percent, and the trees only need the order right. For the
same reason a cluster appears as the distance to its center rather than as Géron's similarity
exp(-gamma d^2): one is a decreasing function of the other, so the trees split them alike, and the
distance needs no exp, whose last bit differs between numpy and the C library (the predictor's
kernel, feature_kernels.c, computes these columns too and must give the same bits).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans

from housing.contract import NUMERIC

LON, LAT = NUMERIC.index("longitude"), NUMERIC.index("latitude")
KM_PER_DEGREE = 111.2
# The projection's longitude scale: cos of California's middle latitude.
LON_SCALE = float(np.cos(np.radians(36.5)))

ANGLES_DEG = (15, 30, 45, 60, 75)
CITIES: dict[str, tuple[float, float]] = {  # (longitude, latitude)
    "san_francisco": (-122.42, 37.77),
    "los_angeles": (-118.24, 34.05),
    "san_diego": (-117.16, 32.72),
    "san_jose": (-121.89, 37.34),
    "sacramento": (-121.49, 38.58),
}
# The Pacific shore, north to south, about every 50 km: the distance to the nearest point.
COAST: tuple[tuple[float, float], ...] = (
    (-124.21, 41.75), (-124.16, 40.80), (-124.06, 40.10), (-123.80, 39.44), (-123.70, 38.90),
    (-123.03, 38.33), (-122.97, 38.00), (-122.51, 37.78), (-122.50, 37.50), (-122.30, 37.10),
    (-122.03, 36.96), (-121.80, 36.80), (-121.90, 36.60), (-121.90, 36.25), (-121.45, 35.90),
    (-121.28, 35.66), (-120.85, 35.37), (-120.64, 34.90), (-120.47, 34.45), (-119.70, 34.41),
    (-119.23, 34.15), (-118.80, 34.03), (-118.50, 34.00), (-118.40, 33.75), (-118.18, 33.76),
    (-117.90, 33.60), (-117.60, 33.38), (-117.35, 33.15), (-117.26, 32.85), (-117.13, 32.55),
)  # fmt: skip


PROJECTION = np.array([LON_SCALE, 1.0]) * KM_PER_DEGREE


def project(X: np.ndarray) -> np.ndarray:
    """Rows laid out in `contract.NUMERIC` order -> (n, 2) kilometres east and north."""
    return X[:, [LON, LAT]] * PROJECTION


def _km(points: tuple[tuple[float, float], ...]) -> np.ndarray:
    return np.array(points) * PROJECTION


CITIES_KM = _km(tuple(CITIES.values()))
ANCHORS_KM = np.vstack([CITIES_KM, _km(COAST)])  # the cities, then the coast
TURNS = np.array([[np.cos(a), np.sin(a)] for a in np.radians(ANGLES_DEG)]).T  # (2, n_angles)
N_FIXED = len(ANGLES_DEG) + len(CITIES) + 1  # the columns before the clusters'


def geo_points(centers_km: np.ndarray) -> np.ndarray:
    """Every point a district's distance is taken to: the cities, the coast, the clusters."""
    return np.vstack([ANCHORS_KM, centers_km])


def geo_columns(X: np.ndarray, points: np.ndarray, gamma: float | None = None) -> np.ndarray:
    """The geographic columns of imputed rows laid out in `contract.NUMERIC` order: rotations,
    distances to each city, to the coast and to each cluster center (`points` from
    `geo_points`). Few numpy calls, and each row's bits do not depend on the rows beside it."""
    xy = project(X)
    distance = np.sqrt(np.square(xy[:, None, :] - points[None, :, :]).sum(axis=2))
    cities, anchors = len(CITIES), len(ANCHORS_KM)
    out = np.empty((X.shape[0], N_FIXED + len(points) - anchors))
    # Elementwise, not `xy @ TURNS`: BLAS rounds a batch and a single row differently, and a
    # last-bit difference can cross a tree's threshold.
    out[:, : len(ANGLES_DEG)] = xy[:, :1] * TURNS[0] + xy[:, 1:] * TURNS[1]
    out[:, len(ANGLES_DEG) : N_FIXED - 1] = distance[:, :cities]
    out[:, N_FIXED - 1] = distance[:, cities:anchors].min(axis=1)
    if gamma is None:
        out[:, N_FIXED:] = distance[:, anchors:]
    else:  # a model fitted when these were similarities (see GeoFeatures.gamma_)
        np.exp(-gamma * np.square(distance[:, anchors:]), out=out[:, N_FIXED:])
    return out


class GeoFeatures(TransformerMixin, BaseEstimator):
    """Append `geo_columns` to an imputed array laid out in `contract.NUMERIC` order (after any
    columns already appended). The cluster centers are fitted on the training districts.

    Models registered before the cluster columns became distances hold `gamma_` (their columns
    are similarities exp(-gamma_ d^2)); they still predict as they were trained, through
    scikit-learn (the compiled form refuses them)."""

    def __init__(self, n_clusters: int = 12, seed: int = 42):
        self.n_clusters = n_clusters
        self.seed = seed

    def fit(self, X, y=None):  # noqa: N803 - scikit-learn's signature
        X = np.asarray(X, dtype=np.float64)
        self.n_features_in_ = X.shape[1]
        kmeans = KMeans(n_clusters=self.n_clusters, n_init=4, random_state=self.seed)
        self.points_km_ = geo_points(kmeans.fit(project(X)).cluster_centers_.astype(np.float64))
        return self

    def transform(self, X):  # noqa: N803
        X = np.asarray(X, dtype=np.float64)
        return np.hstack([X, geo_columns(X, self.points_km_, getattr(self, "gamma_", None))])

    def get_feature_names_out(self, input_features=None):
        names = [f"rotated_{a}" for a in ANGLES_DEG]
        names += [f"km_to_{city}" for city in CITIES] + ["km_to_coast"]
        names += [f"km_to_cluster_{i}" for i in range(self.n_clusters)]
        return np.asarray(
            [*(() if input_features is None else input_features), *names], dtype=object
        )
